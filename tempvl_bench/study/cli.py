"""The ``tempvl-bench study`` subcommand."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_study_parser(sub, common: argparse.ArgumentParser, bind) -> None:
    p = sub.add_parser("study", parents=[common],
                       help="does TemPVL's localization pretraining learn grounding? variants x seeds, with intervals")
    p.add_argument("--config", type=Path, required=True, help="study YAML, e.g. configs/study/demo.yaml")
    p.add_argument("--output", type=Path, required=True, help="folder for study.json, study.md, study.png")
    p.add_argument("--quick", action="store_true", help="the config's quick: budgets (structure only, minutes)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is fastest when other processes share the cores)")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                   help="one of N processes sharing a study (e.g. 0/2 and 1/2): it starts with every N-th run "
                        "from I (0-based), then takes any run no process has started")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=bind(cmd_study))


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N such as 0/2, got {text!r}") from None
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"expected 0 <= I < N, got {text!r}")
    return index, count


def cmd_study(host, args: argparse.Namespace) -> int:
    import torch

    from tempvl_bench.study.runner import run_study

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    run_study(args.config, args.output, quick=args.quick, progress=not args.no_progress, host=host,
              shard=args.shard)
    if (args.output / "study.md").is_file():
        print(f"wrote {args.output / 'study.json'}, {args.output / 'study.md'} and {args.output / 'study.png'}")
    return 0
