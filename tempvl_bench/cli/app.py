"""The ``tempvl-bench`` command line: parsers (help texts, examples) and the commands run, list,
plugins, leaderboard and compare; the others live in :mod:`tempvl_bench.cli.commands`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from tempvl_bench import __version__
from tempvl_bench.plugin.manager import AUTOLOAD_ENV

if TYPE_CHECKING:
    from tempvl_bench.plugin.manager import PluginHost

# Commands import what they need when they run: ``score`` never pays for the config, the
# plugin manager's entry points or the runner.


DESCRIPTION = ("Benchmarks for video-language models: run tasks zero-shot or finetuned, score prediction "
               "files, compare runs and build leaderboards.")

EXAMPLES = """examples:
  tempvl-bench run --task didemo --demo --mode finetune     built-in synthetic data, CPU-sized model
  tempvl-bench run --task retrieval --data-root /data       a whole task group on real data
  tempvl-bench run --task ./my-task.yaml --data-root /data  a task file of your own
  tempvl-bench validate --task charades-sta --data-root /data
  tempvl-bench leaderboard --format markdown --task didemo
  tempvl-bench compare results/didemo/RUN_A results/didemo/RUN_B
  tempvl-bench score --family tal --protocol activitynet --predictions p.json --ground-truth gt.json

"tempvl-bench COMMAND --help" describes a command's options."""

RUN_EXAMPLES = """examples:
  tempvl-bench run --task didemo --demo --limit 8           a smoke test: 8 queries, not a result
  tempvl-bench run --task msrvtt --data-root /data --mode finetune --set finetune.epochs=3
  tempvl-bench run --task didemo --checkpoint results/pretrain/step_000060 --data-root /data"""


class UserError(Exception):
    """An error the user can fix; printed without a traceback."""


def _common(dest: str = "plugin_options") -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-p", dest=dest, action="append", default=[], metavar="NAME",
        help=f"no:NAME disables the plugin NAME; MODULE loads a plugin module (autoloading off: {AUTOLOAD_ENV}=1)",
    )
    return parent


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    # Before the subcommand ``-p`` lands in its own list: the subcommand's default ([]) would
    # otherwise overwrite it (argparse applies sub-parser defaults last). main() joins the two.
    parser = argparse.ArgumentParser(prog="tempvl-bench", description=DESCRIPTION, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     parents=[_common("global_plugin_options")])
    parser.add_argument("--version", action="version", version=f"tempvl-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", parents=[common], help="list tasks, groups, models or backbones")
    p.add_argument("what", nargs="?", choices=["tasks", "backbones", "text-encoders", "groups", "models"], default="tasks",
                   help="what to list (default: tasks)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("plugins", parents=[common], help="loaded plugins, their versions and hooks")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("run", parents=[common], help="run tasks (zero-shot or finetune) and write results",
                       description="Run tasks (zero-shot or finetuned) and write results/<task>/<run-id>/results.json.",
                       epilog=RUN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", required=True,
                   help="task name, group name, a task file of your own (./my-task.yaml), or a comma list")
    p.add_argument("--model", help="model to evaluate (default: the task's model.name, tempvl); "
                   "see `tempvl-bench list models`")
    p.add_argument("--backbone", help="video backbone (default: the task's)")
    p.add_argument("--text-encoder", help="text encoder (default: the task's)")
    p.add_argument("--checkpoint", type=Path, help="TemPVL checkpoint folder or .safetensors file")
    p.add_argument("--mode", choices=["zero-shot", "finetune"], default="zero-shot",
                   help="zero-shot: evaluate the model as it is; finetune: train on the task's training split "
                        "first (default: %(default)s)")
    p.add_argument("--data-root", type=Path, help="data root (default: $TEMPVL_DATA)")
    p.add_argument("--demo", action="store_true", help="use the built-in synthetic demo data")
    p.add_argument("--output", type=Path, default=Path("results"), help="results folder (default: results)")
    p.add_argument("--limit", type=_positive_int, metavar="N",
                   help="evaluate at most N queries: a smoke test of the pipeline, not a result to report or "
                        "rank against full runs")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of every random draw (sampling, initialisation, finetuning order; default: 0)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a task-config key, e.g. --set finetune.epochs=3")
    p.add_argument("--device", choices=["cpu", "cuda"], help="where the model runs (default: cuda when available)")
    p.add_argument("--resume", action="store_true", help="continue the latest run with the same settings")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--no-cache", action="store_true",
                   help="decode and encode every video, neither reading nor writing the feature cache")
    p.add_argument("--features", type=Path, metavar="DIR",
                   help="read a feature pack instead of the videos (MR and TAL tasks, --mode finetune; docs/data.md)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("leaderboard", parents=[common], help="tables from results files")
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="the --output folder of the runs: reads <results>/<task>/<run-id>/results.json (default: results)")
    p.add_argument("--task", help="only this task's runs (default: every task found)")
    p.add_argument("--format", choices=["markdown", "latex", "csv", "html"], default="markdown",
                   help="table format (default: markdown)")
    p.add_argument("--output", type=Path, help="write to FILE instead of stdout")
    p.add_argument("--include-limited", action="store_true",
                   help="also list runs made with --limit (smoke tests), each in its own section, never ranked "
                        "with full runs (default: left out, with a note)")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("compare", parents=[common],
                       help="paired bootstrap of two runs over the same queries: difference, 95%% CI, p-value")
    p.add_argument("run_a", type=Path, metavar="RUN_A", help="run folder (or its results.json)")
    p.add_argument("run_b", type=Path, metavar="RUN_B", help="the other run folder (or its results.json)")
    p.add_argument("--metric", action="append", help="compare only this metric (repeatable); default: all shared")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("score", parents=[common], help="score a prediction file against ground truth")
    from tempvl_bench.cli import score

    score.configure_parser(p)
    p.set_defaults(func=lambda args: score.run(args))

    from tempvl_bench.cli import commands

    commands.add_parsers(sub, common, lambda fn: lambda args: fn(_host(args), args))
    from tempvl_bench.study.cli import add_study_parser

    add_study_parser(sub, common, lambda fn: lambda args: fn(_host(args), args))
    from tempvl_bench.packs.extract import add_extract_parser

    add_extract_parser(sub, common, lambda fn: lambda args: fn(_host(args), args))
    return parser


def _host(args: argparse.Namespace) -> PluginHost:
    from tempvl_bench.plugin.manager import PluginLoadWarning, load_plugins

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginLoadWarning)
        host = load_plugins(args.plugin_options)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return host


def cmd_list(args: argparse.Namespace) -> int:
    host = _host(args)
    if args.what == "tasks":
        rows = [(t.name, _family_name(t), ",".join(t.groups), t.plugin) for t in host.tasks]
        _print_rows(("task", "family", "groups", "plugin"), rows)
    elif args.what == "groups":
        _print_rows(("group", "tasks"), [(g, ",".join(ts)) for g, ts in sorted(host.tasks.groups().items())])
    elif args.what == "models":
        rows = [(m.name, ", ".join(sorted(m.capabilities)), m.plugin, m.description) for m in host.models]
        _print_rows(("model", "capabilities", "plugin", "description"), rows)
    elif args.what == "backbones":
        rows = [(b.name + (":<arg>" if b.takes_argument else ""), b.plugin, b.description) for b in host.backbones]
        _print_rows(("backbone", "plugin", "description"), rows)
    else:
        _print_rows(("text encoder", "plugin", "description"), [(t.name, t.plugin, t.description) for t in host.text_encoders])
    return 0


def _family_name(spec) -> str:
    """The ``family:`` of the task's file (the one place a task's family is named)."""
    from tempvl_bench.config import ConfigError, load_task_config

    try:
        return load_task_config(spec.config_path).family
    except (ConfigError, OSError) as exc:
        return f"? ({exc})"


def cmd_plugins(args: argparse.Namespace) -> int:
    host = _host(args)
    rows = [(p.name, p.version or "-", p.module, ", ".join(p.hooks)) for p in host.plugins()]
    rows += [(f.name, "-", "FAILED", f.error) for f in host.failures]
    rows += [(name, "-", "disabled", "-p no:" + name) for name in host.disabled]
    _print_rows(("plugin", "version", "module", "hooks"), rows)
    return 0


def _print_rows(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    from tabulate import tabulate

    print(tabulate(rows, headers=list(headers), tablefmt="simple"))


def cmd_run(args: argparse.Namespace) -> int:
    from tempvl_bench.run.runner import run_task
    from tempvl_bench.run.types import RunOptions

    host = _host(args)
    from tempvl_bench.cli.task_files import expand_tasks

    names = expand_tasks(host, args.task)
    options = RunOptions(
        mode=args.mode, model=args.model, backbone=args.backbone, text_encoder=args.text_encoder, checkpoint=args.checkpoint,
        data_root=args.data_root, demo=args.demo, output=args.output, limit=args.limit, seed=args.seed,
        overrides=args.overrides, device=args.device, resume=args.resume, progress=not args.no_progress,
        feature_cache=not args.no_cache, features=args.features,
    )
    from tempvl_bench.run.distributed import is_main, leave_process_group

    try:
        for name in names:
            path = run_task(host, name, options)
            if is_main():  # under torchrun, rank 0 wrote the one results.json
                _print_summary(path)
    finally:
        leave_process_group()
    return 0


def _print_summary(path: Path) -> None:
    from tempvl_bench.report.results import read_results

    record = read_results(path)
    metrics = "  ".join(f"{k}={v:.2f}" for k, v in record["metrics"].items())
    print(f"{record['task']} [{record['mode']}] {metrics}")
    versus = record.get("vs_best_baseline")
    if versus:
        ci = record.get("ci95", {}).get(versus["metric"])
        shown = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        paired = (f", difference {versus['difference']:+.2f} [{versus['ci95'][0]:+.2f}, {versus['ci95'][1]:+.2f}] "
                  f"p={versus['p_value']:.3g}: {'beats it' if versus['beats'] else 'does not beat it'}"
                  if versus.get("ci95") else "")
        print(f"  {versus['metric']} {versus['model']:.2f}{shown} (95% CI) vs best baseline {versus['baseline']!r} "
              f"{versus['baseline_value']:.2f}{paired}")
    print(f"  -> {path}")


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from tempvl_bench.report.leaderboard import collect, render

    from tempvl_bench.report.results import write_text_atomic

    if args.output and args.output.is_dir():
        raise UserError(f"--output {args.output}: is a folder; expected the file to write the leaderboard to")
    if not args.results.is_dir():
        what = "is not a folder" if args.results.exists() else "no such folder"
        raise UserError(f"--results {args.results}: {what}; expected the folder runs write their results to")
    boards = collect(args.results, args.task, include_limited=args.include_limited)
    text = render(boards, args.format, groups=_host(args).tasks.groups())
    if args.output:
        try:
            write_text_atomic(args.output, text)
        except OSError as exc:
            raise UserError(f"--output {args.output}: cannot write it: {exc.strerror or exc}") from None
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from tempvl_bench.report.compare import compare_runs, render_comparison

    result = compare_runs(args.run_a, args.run_b, args.metric)
    print(json.dumps(result, indent=2) if args.json else render_comparison(result), end="\n" if args.json else "")
    return 0


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors printed as one line with exit 2 (evaluated only once an exception is raised)."""
    from tempvl_bench.config import ConfigError
    from tempvl_bench.plugin.registry import RegistryError
    from tempvl_bench.run.types import RunError

    return ConfigError, RegistryError, RunError, UserError, ValueError, FileNotFoundError


def main(argv: Sequence[str] | None = None) -> int:
    from tempvl_bench.run.interrupts import handling_interrupts

    parser = build_parser()
    args = parser.parse_args(argv)
    args.plugin_options = [*args.global_plugin_options, *getattr(args, "plugin_options", [])]
    with handling_interrupts():
        try:
            return int(args.func(args) or 0)
        except BaseException as exc:
            return _exit_status(exc, args.command)


def _exit_status(exc: BaseException, command: str) -> int:
    """The exit status of a command that raised ``exc``, after one line on stderr; anything
    unexpected is raised again (a traceback is a bug to report)."""
    from tempvl_bench.run.interrupts import received

    if isinstance(exc, KeyboardInterrupt) or received():  # whatever an interrupt led to, it was one
        hint = "; run the same command with --resume to continue" if command == "run" else ""
        print(f"tempvl-bench: interrupted{hint}", file=sys.stderr)
        return 130
    if isinstance(exc, _user_errors()):
        print(f"tempvl-bench: error: {exc}", file=sys.stderr)
        return 2
    if isinstance(exc, BrokenPipeError):  # the reader went away (``| head``): nothing left to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if isinstance(exc, OSError):  # a folder where a file belongs, a file where a folder belongs, permissions
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"tempvl-bench: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    if isinstance(exc, RuntimeError):
        from tempvl_core.data.pipeline import TooManyFailedVideos

        if isinstance(exc, TooManyFailedVideos):
            print(f"tempvl-bench: error: {exc}", file=sys.stderr)
            return 2
    raise exc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
