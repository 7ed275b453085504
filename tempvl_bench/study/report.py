"""study.md (means, 95% intervals, paired differences against the reference) and study.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tempvl_bench.study.stats import crossed_difference, crossed_estimate, crossed_ratio, crossed_ratio_difference

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


RIGHT_EVENT = "right-event rate"
#: (evaluation, metric, title) of the seen / held-out motion table.
MOTION_COLUMNS = (
    ("zero-shot", "mr/R1@0.5", "ZS mr/R1@0.5"),
    ("zero-shot", RIGHT_EVENT, "ZS right-event rate"),
    ("zero-shot", "probe/hit", "probe hit"),
    ("finetuned", "mr/R1@0.5", "FT mr/R1@0.5"),
    ("finetuned", RIGHT_EVENT, "FT right-event rate"),
)


def _event_ratio(study: dict, variant: str, evaluation: str, queries: np.ndarray | None = None):
    """``(num, den)`` of the right-event rate over ``[seeds, queries]`` and of its chance, or None."""
    right = _outcomes(study, variant, evaluation, "event/right")
    matched = _outcomes(study, variant, evaluation, "event/matched")
    if right is None or matched is None:
        return None
    chance = np.asarray(study["data"]["event_chance"], dtype=np.float64)
    if queries is not None:
        right, matched, chance = right[:, queries], matched[:, queries], chance[queries]
    den = matched / 100.0
    return (right, den), (chance[None, :] * den, den)


def _motion_groups(study: dict) -> dict[str, np.ndarray]:
    """Query indices whose motion the pretraining episodes show, and those they leave out."""
    motions = study["data"].get("query_motions")
    if not motions:
        return {}
    seen = np.isin(np.asarray(motions), study["data"]["pretraining_motions"])
    return {"seen in pretraining": np.nonzero(seen)[0], "held out of pretraining": np.nonzero(~seen)[0]}


def grounding_summary(study: dict, cfg) -> dict:
    """Per variant and evaluation (zero-shot, finetuned): the right-event rate, its chance and
    their difference (ratio estimator), and R1@0.5 with the texts swapped within each video
    against R1@0.5 on the same queries; then the seen / held-out motion table."""
    b = cfg.bootstrap
    kw = {"resamples": b["resamples"], "seed": b["seed"]}
    swapped_queries = np.asarray(study["data"].get("swapped_queries", []), dtype=np.int64)
    out: dict = {"events": {}, "motions": {}}
    for v in cfg.variants:
        out["events"][v.name] = {}
        for evaluation in ("zero-shot", "finetuned"):
            ratios = _event_ratio(study, v.name, evaluation)
            if ratios is None:
                continue
            rate, chance = ratios
            row = {"matched": crossed_estimate(rate[1] * 100.0, **kw), "rate": crossed_ratio(*rate, **kw),
                   "chance": crossed_ratio(*chance, **kw), "rate - chance": crossed_ratio_difference(rate, chance, **kw)}
            swapped = _outcomes(study, v.name, evaluation, "swapped/R1@0.5")
            own = _outcomes(study, v.name, evaluation, "mr/R1@0.5")
            if swapped is not None and own is not None and swapped_queries.size:
                row["swapped"] = crossed_estimate(swapped, **kw)
                row["own"] = crossed_estimate(own[:, swapped_queries], **kw)
                row["own - swapped"] = crossed_difference(own[:, swapped_queries], swapped, **kw)
            out["events"][v.name][evaluation] = row
    for group, queries in _motion_groups(study).items():
        table = out["motions"][group] = {"queries": int(queries.size)}
        if not queries.size:
            continue
        for v in cfg.variants:
            table[v.name] = {}
            for evaluation, metric, title in MOTION_COLUMNS:
                if metric == RIGHT_EVENT:
                    ratios = _event_ratio(study, v.name, evaluation, queries)
                    if ratios is not None and ratios[0][1].sum() > 0:
                        table[v.name][title] = crossed_ratio(*ratios[0], **kw)
                    continue
                values = _outcomes(study, v.name, evaluation, metric)
                if values is not None:
                    table[v.name][title] = crossed_estimate(values[:, queries], **kw)
        for name, metrics in study["baselines"].items():
            table[f"*{name}*"] = {title: crossed_estimate(np.asarray(metrics[metric])[queries], **kw)
                                  for evaluation, metric, title in MOTION_COLUMNS
                                  if metric in metrics and not (evaluation == "finetuned" and metric == "probe/hit")}
    return out


def _baseline_values(study: dict, target: str, metric: str, seeds: int) -> np.ndarray:
    """A baseline's outcomes of ``metric`` as ``[seeds, queries]``. A baseline ignores the text,
    so its swapped-text score is its own score on the swappable queries."""
    swapped = metric.startswith("swapped/")
    if swapped:
        metric = "mr/" + metric.split("/", 1)[1]
    if metric not in study["baselines"].get(target, {}):
        raise ValueError(f"claim against {target!r}: the baseline has no {metric!r} (it has "
                         f"{sorted(study['baselines'].get(target, {}))})")
    values = np.asarray(study["baselines"][target][metric], dtype=np.float64)
    if swapped:  # swapped outcomes cover the swappable queries only
        values = values[np.asarray(study["data"]["swapped_queries"], dtype=np.int64)]
    return np.tile(values, (seeds, 1))


def _finite(value: float, digits: int = 4) -> float | None:
    """``value`` rounded, or None where no query defines it (study.json stays strict JSON)."""
    return round(float(value), digits) if np.isfinite(value) else None


def evaluate_claims(study: dict, cfg) -> list[dict]:
    """Each pre-registered claim (``claims:`` of the config) with its paired difference ``a - b``,
    95% interval, p-value, the seeds it paired and whether its rule holds."""
    b = cfg.bootstrap
    kw = {"resamples": b["resamples"], "seed": b["seed"]}
    variants = {v.name for v in cfg.variants}
    out = []
    for claim in cfg.claims:
        evaluation, metric = claim.metric.split("/", 1)
        seeds_a = sorted(r["seed"] for r in study["runs"].values() if r["variant"] == claim.a)
        if metric == RIGHT_EVENT:
            rate, chance = _event_ratio(study, claim.a, evaluation)
            if claim.b == "chance":
                diff, seeds = crossed_ratio_difference(rate, chance, **kw), seeds_a
            elif claim.b in variants:
                other, _ = _event_ratio(study, claim.b, evaluation)
                seeds_b = sorted(r["seed"] for r in study["runs"].values() if r["variant"] == claim.b)
                diff, seeds = crossed_ratio_difference(rate, other, **kw), sorted(set(seeds_a) & set(seeds_b))
            else:
                raise ValueError(f"claim {claim.name!r}: the right-event rate compares with a variant or 'chance', "
                                 f"not {claim.b!r}")
        else:
            values = _outcomes(study, claim.a, evaluation, metric)
            if values is None:
                raise ValueError(f"claim {claim.name!r}: no {evaluation} {metric!r} outcomes for {claim.a}")
            if claim.b == "swapped texts":  # the same model, each query given a sibling's text
                if metric != "mr/R1@0.5":
                    raise ValueError(f"claim {claim.name!r}: swapped texts are scored on mr/R1@0.5 only")
                other = _outcomes(study, claim.a, evaluation, "swapped/R1@0.5")
                values, seeds = values[:, np.asarray(study["data"]["swapped_queries"], dtype=np.int64)], seeds_a
            elif claim.b in variants:
                other = _outcomes(study, claim.b, evaluation, metric)
                seeds_b = sorted(r["seed"] for r in study["runs"].values() if r["variant"] == claim.b)
                seeds = sorted(set(seeds_a) & set(seeds_b))
            else:
                other, seeds = _baseline_values(study, claim.b, metric, len(values)), seeds_a
            diff = crossed_difference(values, other, **kw)
        held = diff.low > 0 if claim.rule == "lower > 0" else diff.high < 0  # False when undefined (NaN)
        out.append({"name": claim.name, "metric": claim.metric, "a": claim.a, "b": claim.b, "rule": claim.rule,
                    "difference": _finite(diff.mean), "ci95": [_finite(diff.low), _finite(diff.high)],
                    "p_value": _finite(diff.p_value, 6), "seeds": seeds, "held": bool(held)})
    return out


def study_summary(study: dict, cfg) -> dict:
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
            "against_control": against_control, "against_constant": against_constant,
            "grounding": grounding_summary(study, cfg), "claims": evaluate_claims(study, cfg)}


def _cell(e) -> str:
    if not np.isfinite(e.mean):
        return "- (no query matches an event)"
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
    lines += _grounding_lines(study, cfg, summary["grounding"])
    lines += _claim_lines(study, summary["claims"])
    return "\n".join(lines) + "\n"


def _diff_cell(d) -> str:
    if not np.isfinite(d.mean):
        return "-"
    return f"{d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}] (p={d.p_value:.3g})"


def _grounding_lines(study: dict, cfg, grounding: dict) -> list[str]:
    lines = ["", "## Choosing the right event", "",
             "Among the queries whose top-1 window matches *some* event of its video (IoU > 0.5), the share that "
             "match the query's *own* event; chance is 1 / events in the video. The rate is a pooled ratio "
             "(right / matched) recomputed on every crossed resample of seeds and queries. Swapped: R1@0.5 when each "
             "query's window is the one predicted from another query's text of the same video, beside R1@0.5 on the "
             "same queries; reading the text makes the swapped score fall.", "",
             "| variant | eval | matched % | right-event rate | chance | rate - chance | R1@0.5 (same queries) "
             "| swapped R1@0.5 | R1@0.5 - swapped |", "|---|---|---|---|---|---|---|---|---|"]
    for v in cfg.variants:
        for evaluation, row in grounding["events"].get(v.name, {}).items():
            cells = [_cell(row["matched"]), _cell(row["rate"]), _cell(row["chance"]), _diff_cell(row["rate - chance"])]
            cells += [_cell(row["own"]), _cell(row["swapped"]), _diff_cell(row["own - swapped"])] if "swapped" in row \
                else ["-", "-", "-"]
            lines.append(f"| {v.label} | {evaluation} | " + " | ".join(cells) + " |")
    if grounding["motions"]:
        titles = [c[2] for c in MOTION_COLUMNS]
        lines += ["", "## Motions seen in pretraining and motions held out of it", "",
                  f"The pretraining episodes show {', '.join(study['data']['pretraining_motions'])}; every other motion "
                  "(appear, disappear) is held out of them. Each test query is tagged with its event's motion from the "
                  "generator's record (the `actions` column of Charades_v1_test.csv).", "",
                  "| queries | variant | " + " | ".join(titles) + " |", "|---|---|" + "---|" * len(titles)]
        for group, table in grounding["motions"].items():
            for name, row in table.items():
                if name == "queries":
                    continue
                label = cfg.variant(name).label if not name.startswith("*") else name
                cells = [_cell(row[t]) if t in row else "-" for t in titles]
                lines.append(f"| {group} ({table['queries']}) | {label} | " + " | ".join(cells) + " |")
    return lines


def _claim_lines(study: dict, claims: list[dict]) -> list[str]:
    if not claims:
        return []
    plan = study.get("plan", {})
    lines = ["", "## Pre-registered claims", "",
             f"Fixed in `{study['config']['file']}` at commit {plan.get('config_commit') or 'none'}"
             + (" (the file had uncommitted changes: not a plan)" if plan.get("dirty") else "")
             + " before the study ran. Each claim is the paired difference a - b (seed k with seed k, the same "
               "queries) with its 95% crossed-bootstrap interval; it holds when its rule holds.", "",
             "| claim | metric | a - b | difference [95% interval] (p) | seeds | rule | held |",
             "|---|---|---|---|---|---|---|"]
    for c in claims:
        value = "undefined (no query matches an event)" if c["difference"] is None else (
            f"{c['difference']:+.2f} [{c['ci95'][0]:+.2f}, {c['ci95'][1]:+.2f}] (p={c['p_value']:.3g})")
        lines.append(f"| {c['name']} | {c['metric']} | {c['a']} - {c['b']} | {value} | "
                     f"{','.join(str(s) for s in c['seeds'])} | {c['rule']} | {'held' if c['held'] else 'not held'} |")
    return lines


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
    summary = study_summary(study, cfg)
    (output / "study.md").write_text(markdown(study, cfg, summary), encoding="utf-8")
    plot(study, cfg, summary, output / "study.png")
    return summary
