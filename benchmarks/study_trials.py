"""Shared set-up of the benchmarks that pretrain the study's +MR+TL variant under a few settings
and score them zero-shot on the demo Charades-STA *train* split (grounding_depth.py,
merge_order.py): the same config, data, dataset and variant for every setting."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tempvl_bench.manager import load_plugins  # noqa: E402
from tempvl_bench.study import runner  # noqa: E402
from tempvl_bench.study.config import StudyConfig, Variant, load_study_config  # noqa: E402
from tempvl_bench.study.data import EpisodeTensors  # noqa: E402


def parser(doc: str | None) -> argparse.ArgumentParser:
    """``--config``, ``--steps`` and ``--output``; a script adds its own options."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=REPO / "configs" / "study" / "demo.yaml")
    p.add_argument("--steps", type=int, default=None, help="pretraining steps (default: the study's)")
    p.add_argument("--output", type=Path, default=None)
    return p


@dataclass
class Trials:
    cfg: StudyConfig
    output: Path
    host: Any
    data: dict
    dataset: EpisodeTensors
    variant: Variant
    text_len: int

    def pretrain(self, name: str, overrides: dict[str, Any]):
        """Pretrain the variant (seed 0) with ``model.overrides`` updated by ``overrides``."""
        cfg = dataclasses.replace(self.cfg, model={**self.cfg.model,
                                                   "overrides": {**self.cfg.model["overrides"], **overrides}})
        return runner._pretrain(cfg, self.variant, 0, self.dataset, self.output / name, self.host, progress=False)


def prepare(args: argparse.Namespace, prefix: str, variant: str = "mr_tl") -> Trials:
    """Load the study config (``--steps`` applied), plugins and decoded data (cached in the output)."""
    torch.set_num_threads(1)
    cfg = load_study_config(args.config)
    if args.steps:
        cfg.pretrain["steps"] = args.steps
    output = args.output or Path(tempfile.mkdtemp(prefix=prefix))
    data = runner._load_data(cfg, output / "cache", progress=True)
    return Trials(cfg, output, load_plugins(), data, EpisodeTensors(data["episodes"], cfg.pretrain["clip_frames"]),
                  cfg.variant(variant), int(cfg.model["overrides"].get("max_text_len", 32)))
