"""Shared set-up of the benchmarks that pretrain the study's variants under a few settings and
score them zero-shot on the demo Charades-STA *train* split (grounding_depth.py, merge_order.py,
merged_saliency.py): the same config, data, dataset and variant for every setting, and one
table of zero-shot moment retrieval, probe and any-event hits."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tempvl_bench.plugin.manager import load_plugins  # noqa: E402
from tempvl_bench.study import runner  # noqa: E402
from tempvl_bench.study.config import StudyConfig, Variant, load_study_config  # noqa: E402
from tempvl_bench.study import evaluate as ev  # noqa: E402
from tempvl_bench.study.data import EpisodeTensors  # noqa: E402
from tempvl_bench.study.stats import crossed_estimate  # noqa: E402

#: Columns of :meth:`Trials.zero_shot_row` after the setting's name.
ZERO_SHOT_HEADERS = ["mr/R1@0.5", "mr/mIoU", "probe hit", "any event R1@0.5", "window s", "distinct top-1", "seconds"]


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

    def pretrain(self, name: str, overrides: dict[str, Any], variant: str | None = None):
        """Pretrain the variant (seed 0; ``variant`` names another of the study's) with
        ``model.overrides`` updated by ``overrides``."""
        cfg = dataclasses.replace(self.cfg, model={**self.cfg.model,
                                                   "overrides": {**self.cfg.model["overrides"], **overrides}})
        chosen = self.cfg.variant(variant) if variant else self.variant
        return runner._pretrain(cfg, chosen, 0, self.dataset, self.output / name, self.host, progress=False)

    def zero_shot_row(self, name: str, model, seconds: float) -> list:
        """Zero-shot on the train queries (``ZERO_SHOT_HEADERS``): R1@0.5, mIoU, probe and
        any-event hits with 95% intervals, mean top-1 window length, distinct top-1 windows."""
        moments = self.data["mr_train"]
        outcomes, top1 = ev.moment_outcomes(model, moments, self.cfg.eval["batch_videos"], self.text_len)
        outcomes["any event R1@0.5"], lengths = any_event_hits(moments, top1)
        cells = [crossed_estimate(outcomes[m], resamples=1000, seed=0)
                 for m in ("mr/R1@0.5", "mr/mIoU", "probe/hit", "any event R1@0.5")]
        return [name, *(f"{c.mean:.2f} [{c.low:.2f}, {c.high:.2f}]" for c in cells), f"{lengths.mean():.1f}",
                len(set(top1)), f"{seconds:.0f}"]

    def print_zero_shot(self, title: str, first_header: str, rows: list[list]) -> None:
        """The rows of :meth:`zero_shot_row` under ``title``, then the baselines on the same queries."""
        moments = self.data["mr_train"]
        print(title)
        print(tabulate(rows, headers=[first_header, *ZERO_SHOT_HEADERS]))
        baselines = ev.baseline_outcomes(moments, moments, self.cfg.eval["mr_frames"], 50, seed=0)
        print("baselines on the same queries: " + ", ".join(
            f"{name} R1@0.5 {values['mr/R1@0.5'].mean():.2f}" for name, values in baselines.items()
            if "mr/R1@0.5" in values))


def any_event_hits(moments, top1: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per query: 100 if the top-1 window has IoU > 0.5 with any event of its video; and the
    window's length in seconds."""
    step = ev.frame_seconds(moments)
    t = np.asarray(top1)
    pred = np.stack([t[:, 0] * step, (t[:, 1] + 1) * step], 1)
    hits = np.zeros(len(pred))
    for q in range(len(pred)):
        same = np.nonzero(moments.video == moments.video[q])[0]
        hits[q] = 100.0 * float((ev.iou(np.repeat(pred[q:q + 1], len(same), 0), moments.windows[same]) > 0.5).any())
    return hits, pred[:, 1] - pred[:, 0]


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
