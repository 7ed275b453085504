"""study.md (means, 95% intervals, paired differences against the reference) and study.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tempvl_bench.study.stats import crossed_difference, crossed_estimate

#: (evaluation, metric, column title) in table order.
COLUMNS = (
    ("zero-shot", "mr/R1@0.5", "ZS mr/R1@0.5"),
    ("zero-shot", "mr/mIoU", "ZS mr/mIoU"),
    ("zero-shot", "probe/hit", "probe hit"),
    ("finetuned", "mr/R1@0.5", "FT mr/R1@0.5"),
    ("finetuned", "mr/mIoU", "FT mr/mIoU"),
    ("retrieval zero-shot", "t2v/R@1", "ZS t2v/R@1"),
    ("retrieval finetuned", "t2v/R@1", "FT t2v/R@1"),
)
#: Baseline rows: which columns each one answers (the finetuned MR columns are compared with
#: the same zero-knowledge predictors, they need no model).
BASELINE_EVALS = {"zero-shot": "mr", "finetuned": "mr", "retrieval zero-shot": "t2v", "retrieval finetuned": "t2v"}


def _outcomes(study: dict, variant: str, evaluation: str, metric: str) -> np.ndarray | None:
    runs = sorted((r for r in study["runs"].values() if r["variant"] == variant), key=lambda r: r["seed"])
    rows = [r["outcomes"][evaluation][metric] for r in runs if metric in r["outcomes"].get(evaluation, {})]
    return np.array(rows) if rows else None


def summarize(study: dict, cfg) -> dict:
    """Per variant and column: mean and interval, and paired differences against the reference,
    the shuffled-text control (merging variants) and the best constant window (MR columns)."""
    b = cfg.bootstrap

    def diff(values: np.ndarray, other: np.ndarray):
        return crossed_difference(values, other, resamples=b["resamples"], seed=b["seed"])

    control = next((v.name for v in cfg.variants if v.shuffled_texts), None)
    constant = study["baselines"]["best constant window"]
    table, diffs, against_control, against_constant = {}, {}, {}, {}
    for v in cfg.variants:
        table[v.name], diffs[v.name], against_control[v.name], against_constant[v.name] = {}, {}, {}, {}
        for evaluation, metric, title in COLUMNS:
            values = _outcomes(study, v.name, evaluation, metric)
            if values is None:
                continue
            table[v.name][title] = crossed_estimate(values, resamples=b["resamples"], seed=b["seed"])
            reference = _outcomes(study, cfg.reference, evaluation, metric)
            if v.name != cfg.reference and reference is not None:
                diffs[v.name][title] = diff(values, reference)
            other = None if control is None else _outcomes(study, control, evaluation, metric)
            if v.merges and not v.shuffled_texts and other is not None:
                against_control[v.name][title] = diff(values, other)
            if metric.startswith("mr/") and metric in constant:
                against_constant[v.name][title] = diff(values, np.tile(np.asarray(constant[metric]), (len(values), 1)))
    baselines = {}
    for name, metrics in study["baselines"].items():
        baselines[name] = {}
        for evaluation, metric, title in COLUMNS:
            if metric in metrics and (metric.startswith(BASELINE_EVALS[evaluation]) or metric == "probe/hit"):
                if evaluation == "finetuned" and metric == "probe/hit":
                    continue
                baselines[name][title] = crossed_estimate(np.array(metrics[metric]), resamples=b["resamples"],
                                                          seed=b["seed"])
    return {"table": table, "differences": diffs, "baselines": baselines, "control": control,
            "against_control": against_control, "against_constant": against_constant}


def _cell(e) -> str:
    return f"{e.mean:.2f} [{e.low:.2f}, {e.high:.2f}]"


def _seeds(study: dict, variant: str) -> int:
    return sum(1 for r in study["runs"].values() if r["variant"] == variant)


def _distinct(study: dict, variant: str) -> str:
    counts = [r["distinct_top1_windows"] for r in study["runs"].values() if r["variant"] == variant]
    return "/".join(str(c) for c in counts) or "-"


def markdown(study: dict, cfg, summary: dict) -> str:
    titles = [c[2] for c in COLUMNS]
    data = study["data"]
    lines = [
        "# TemPVL localization study (demo data)",
        "",
        f"Pretraining on {data['episodes']} demo episodes ({data['episode_clips']} event clips), "
        f"{cfg.pretrain['steps']} steps of {cfg.pretrain['episodes_per_batch']} episodes; evaluation on demo "
        f"Charades-STA test ({data['charades_test_queries']} queries, {data['charades_test_videos']} videos) and "
        f"DiDeMo test ({data['didemo_test_videos']} videos). ZS = zero-shot, FT = after the fixed finetuning "
        f"budget ({cfg.finetune['mr_steps']} MR steps / {cfg.finetune['retrieval_steps']} VTC steps). "
        f"Cells: mean [95% bootstrap interval] over queries and seeds "
        f"({cfg.bootstrap['resamples']} resamples, seed {cfg.bootstrap['seed']}). "
        f"Best constant window (fitted on train, normalized time): {study['best_constant_window']}.",
        "",
        "| variant | seeds | distinct top-1 windows | " + " | ".join(titles) + " |",
        "|---|---|---|" + "---|" * len(titles),
    ]
    for v in cfg.variants:
        cells = [_cell(summary["table"][v.name][t]) if t in summary["table"][v.name] else "-" for t in titles]
        lines.append(f"| {v.label} | {_seeds(study, v.name)} | {_distinct(study, v.name)} | " + " | ".join(cells) + " |")
    for name, row in summary["baselines"].items():
        cells = [_cell(row[t]) if t in row else "-" for t in titles]
        lines.append(f"| *{name}* | - | - | " + " | ".join(cells) + " |")
    ref = cfg.variant(cfg.reference).label
    lines += _difference_table(f"Paired difference against {ref}",
                               "Mean difference [95% interval] (p-value); seed k of a variant is paired with seed k of "
                               "the reference (same initial weights), and both are scored on the same queries.",
                               cfg, summary["differences"], titles)
    if summary["control"] is not None:
        lines += _difference_table(f"Paired difference against {cfg.variant(summary['control']).label}",
                                   "Merging variants against the shuffled-text control (seed k with seed k, same queries): "
                                   "what reading the text adds.", cfg, summary["against_control"], titles)
    lines += _difference_table("Paired difference against the best constant window",
                               "Moment-retrieval columns only; the window is fitted on the train split and scored on the "
                               "same test queries.", cfg, summary["against_constant"], titles)
    return "\n".join(lines) + "\n"


def _difference_table(title: str, intro: str, cfg, rows: dict, titles: list[str]) -> list[str]:
    lines = ["", f"## {title}", "", intro, "", "| variant | " + " | ".join(titles) + " |", "|---|" + "---|" * len(titles)]
    for v in cfg.variants:
        row = rows.get(v.name) or {}
        if not row:
            continue
        cells = [f"{row[t].mean:+.2f} [{row[t].low:+.2f}, {row[t].high:+.2f}] (p={row[t].p_value:.3g})" if t in row
                 else "-" for t in titles]
        lines.append(f"| {v.label} | " + " | ".join(cells) + " |")
    return lines


def plot(study: dict, cfg, summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [c[2] for c in COLUMNS]
    fig, axes = plt.subplots(2, 4, figsize=(18, 8))
    for ax, title in zip(axes.flat, panels):
        names = [v.label for v in cfg.variants if title in summary["table"][v.name]]
        est = [summary["table"][v.name][title] for v in cfg.variants if title in summary["table"][v.name]]
        for name, row in summary["baselines"].items():
            if title in row:
                names.append(name)
                est.append(row[title])
        y = np.arange(len(names))
        means = np.array([e.mean for e in est])
        err = np.array([[e.mean - e.low for e in est], [e.high - e.mean for e in est]])
        colours = ["tab:blue"] * (len(names) - sum(title in r for r in summary["baselines"].values()))
        colours += ["tab:gray"] * (len(names) - len(colours))
        ax.barh(y, means, xerr=err, color=colours, capsize=3)
        ax.set_yticks(y, names, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
    axes.flat[-1].axis("off")
    fig.suptitle("TemPVL localization study on demo data: means with 95% bootstrap intervals (grey: baselines)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(study: dict, cfg, output: Path) -> dict:
    summary = summarize(study, cfg)
    (output / "study.md").write_text(markdown(study, cfg, summary), encoding="utf-8")
    plot(study, cfg, summary, output / "study.png")
    return summary
