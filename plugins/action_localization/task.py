"""Runs a temporal action localization task: optional head training, then detection and mAP.

Zero-shot: text-prompted per-frame class scores (no trained detector exists). Finetune: a 1D
conv head trained on the training split. Both decode the same way (:mod:`.decode`), are written
as the official submission file, and are scored with :func:`tempvl_bench.metrics.tal_metrics`.
"""

from __future__ import annotations

from tempvl_bench.clips import ClipLoaderFactory
from tempvl_bench.metrics import tal_metrics
from tempvl_bench.runner import RunContext, TaskOutput
from tempvl_plugins.action_localization.datasets import ADAPTERS
from tempvl_plugins.action_localization.decode import decode
from tempvl_plugins.action_localization.features import HeadScorer, PromptScorer, extract_features, video_duration
from tempvl_plugins.action_localization.head import save_head
from tempvl_plugins.action_localization.options import LocalizationOptions
from tempvl_plugins.action_localization.submission import (
    GROUND_TRUTH_FILE,
    SUBMISSION_FILE,
    detection_rows,
    ground_truth_table,
    prediction_table,
    write_ground_truth,
    write_submission,
)
from tempvl_plugins.action_localization.training import train_head


def class_names(*video_lists) -> list[str]:
    """Sorted labels of every instance (THUMOS14's alphabetical ids, ActivityNet's sorted names)."""
    return sorted({i.label for videos in video_lists for v in videos for i in v.instances})


def run_action_localization(ctx: RunContext) -> TaskOutput:
    cfg = ctx.config
    if cfg.dataset not in ADAPTERS:
        raise ValueError(f"{cfg.source}: key 'dataset': no localization adapter for {cfg.dataset!r}; "
                         f"expected one of {sorted(ADAPTERS)}")
    adapter = ADAPTERS[cfg.dataset]
    options = LocalizationOptions.from_config(cfg)
    split = cfg.splits.eval
    videos, files = adapter.load(ctx.annotation_dir, split)
    videos = ctx.limited(videos)
    if not any(v.instances for v in videos):
        raise ValueError(f"{cfg.source}: key 'splits.eval': split {split!r} of {ctx.annotation_dir} has no "
                         "ground-truth segments to evaluate (ActivityNet's 'testing' labels are hidden; use "
                         "'validation')")
    clips = ClipLoaderFactory(ctx)
    model = ctx.model()
    if ctx.mode == "finetune":
        train_videos, train_files = adapter.load(ctx.annotation_dir, ctx.train_split)
        files = list(dict.fromkeys(train_files + files))
        classes = class_names(train_videos, videos)
        head = train_head(ctx, model, train_videos, classes, clips, options)
        save_head(head, ctx.run_dir)
        scorer = HeadScorer(head, model.device)
    else:
        classes = class_names(videos)
        prompts = [options.prompt_template.format(adapter.prompt_words(c)) for c in classes]
        scorer = PromptScorer(model, prompts, cfg.text.max_length)

    feats, failed = extract_features(model, clips, videos, desc="localize")
    # A trained head may know classes the evaluated videos never contain (the metric would
    # ignore them with a warning); the benchmark's class list is the evaluated set's.
    evaluated = set(class_names(videos))
    results: dict[str, list[dict]] = {v.video_id: [] for v in videos}  # failed videos: no detections
    for f in feats:
        video = videos[f.index]
        rows = detection_rows(decode(scorer(f, video_duration(video, f.times)), options.decode), classes)
        results[video.video_id] = [r for r in rows if r["label"] in evaluated]
    write_submission(ctx.run_dir / SUBMISSION_FILE, results)
    write_ground_truth(ctx.run_dir / GROUND_TRUTH_FILE, videos)
    metrics = tal_metrics(ground_truth_table(videos), prediction_table(results), protocol=options.protocol)
    return TaskOutput(
        metrics=metrics,
        split=split,
        num_samples=len(videos),
        predictions=_predictions(videos, results),
        failed_videos=[{"path": str(f.path), "error": f.error} for f in failed],
        annotation_files=files,
    )


def _predictions(videos, results: dict[str, list[dict]]):
    for video in videos:
        yield {
            "video_id": video.video_id,
            "subset": video.subset,
            "num_ground_truth": len(video.instances),
            "detections": results[video.video_id],
        }
