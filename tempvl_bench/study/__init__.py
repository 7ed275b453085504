"""The localization study: does TemPVL's merging (MR, TL) teach grounding? See
:func:`tempvl_bench.study.runner.run_study` and ``configs/study/demo.yaml``.

Nothing is imported here: the CLI builds its parser from :mod:`tempvl_bench.study.cli` on every
command, and the runner pulls in torch.
"""
