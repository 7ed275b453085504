"""The localization study: does TemPVL's merging (MR, TL) teach grounding? See
:func:`tempvl_bench.study.runner.run_study` and ``configs/study/demo.yaml``."""

from tempvl_bench.study.runner import run_study

__all__ = ["run_study"]
