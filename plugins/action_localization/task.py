"""The temporal action localization family: optional head training, then detection and mAP.

Zero-shot: text-prompted per-frame class scores (no trained detector exists). Finetune: a 1D
conv head trained on the training split. Both decode the same way (:mod:`.decode`), are written
as the official submission file, and are scored with :func:`tempvl_bench.metrics.tal_metrics`.
"""

from __future__ import annotations

import numpy as np

from tempvl_bench.api import (
    FAMILIES, Outcomes, RunContext, Scores, Split, TaskFamily, catalogue, class_prior_segments,
    tal_class_ap, tal_metrics, tal_outcomes,
)
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


class ActionLocalizationFamily(TaskFamily):
    options = LocalizationOptions

    def metric_names(self, options: LocalizationOptions) -> tuple[str, ...]:
        return FAMILIES["tal"].metric_names(options.protocol)

    def load(self, ctx: RunContext, split: str) -> Split:
        cfg = ctx.config
        if cfg.dataset not in ADAPTERS:
            raise ValueError(f"{cfg.source}: key 'dataset': no localization adapter for {cfg.dataset!r}; "
                             f"expected one of {sorted(ADAPTERS)}")
        annotations = catalogue.load(cfg.dataset, ctx.annotation_dir, "action", split)
        return Split(split, annotations.records, annotations.files)

    def finetune(self, ctx: RunContext, model, train: Split, evaluation: Split):
        """The trained localization head (saved into the run folder)."""
        classes = class_names(train.records, evaluation.records)
        head = train_head(ctx, model, train.records, classes, ctx.clips, ctx.task_options)
        save_head(head, ctx.run_dir)
        return head

    def predict(self, ctx: RunContext, model, evaluation: Split, train: Split | None) -> dict[str, list[dict]]:
        """Detections per video id (a video that failed to decode has none)."""
        options: LocalizationOptions = ctx.task_options
        videos = evaluation.records
        if not any(v.instances for v in videos):
            raise ValueError(f"{ctx.config.source}: key 'splits.eval': split {evaluation.name!r} of "
                             f"{ctx.annotation_dir} has no ground-truth segments to evaluate (ActivityNet's "
                             "'testing' labels are hidden; use 'validation')")
        if ctx.finetuned is not None:
            classes = ctx.finetuned.config.classes
            scorer = HeadScorer(ctx.finetuned, model.device)
        else:
            classes = class_names(videos)
            adapter = ADAPTERS[ctx.config.dataset]
            prompts = [options.prompt_template.format(adapter.prompt_words(c)) for c in classes]
            scorer = PromptScorer(model, prompts, ctx.config.text.max_length)
        feats, _ = extract_features(model, ctx.clips, videos, desc="localize")
        # A trained head may know classes the evaluated videos never contain (the metric would
        # ignore them with a warning); the benchmark's class list is the evaluated set's.
        evaluated = set(class_names(videos))
        results: dict[str, list[dict]] = {v.video_id: [] for v in videos}
        for f in feats:
            video = videos[f.index]
            rows = detection_rows(decode(scorer(f, video_duration(video, f.times)), options.decode), list(classes))
            results[video.video_id] = [r for r in rows if r["label"] in evaluated]
        return results

    def score(self, ctx: RunContext, evaluation: Split, results: dict[str, list[dict]]) -> Scores:
        videos = evaluation.records
        write_submission(ctx.run_dir / SUBMISSION_FILE, results)
        write_ground_truth(ctx.run_dir / GROUND_TRUTH_FILE, videos)
        return _scores(videos, results, ctx.task_options.protocol, _predictions(videos, results))

    def baselines(self, ctx: RunContext, train: Split | None, evaluation: Split) -> dict[str, Scores]:
        """Class-prior segments: in every evaluated video, each training class's mean normalized
        training segment, scored with the class's training frequency (videos without a duration
        are skipped when fitting and get no segment)."""
        if train is None:
            return {}
        instances = [(i.label, i.start / v.duration, i.end / v.duration)
                     for v in train.records if v.duration for i in v.instances]
        if not instances:
            return {}
        priors = class_prior_segments([i[0] for i in instances], np.clip([i[1:] for i in instances], 0, 1))
        evaluated = set(class_names(evaluation.records))
        results = {v.video_id: [{"label": label, "score": frequency,
                                 "segment": [start * v.duration, end * v.duration]}
                                for label, (start, end, frequency) in priors.items() if label in evaluated]
                   if v.duration else [] for v in evaluation.records}
        return {"class-prior segments": _scores(evaluation.records, results, ctx.task_options.protocol)}


def _scores(videos, results: dict[str, list[dict]], protocol: str, predictions=()) -> Scores:
    truth, detections = ground_truth_table(videos), prediction_table(results)
    metrics = tal_metrics(truth, detections, protocol=protocol)
    per_video = tal_outcomes(truth, detections, [v.video_id for v in videos], protocol=protocol)
    units = per_video.pop("_units")
    return Scores(metrics, len(videos), predictions, outcomes=Outcomes(per_video, {"video": units}),
                  breakdowns={"tal/AP per class": tal_class_ap(truth, detections, protocol=protocol)})


def _predictions(videos, results: dict[str, list[dict]]):
    for video in videos:
        yield {
            "video_id": video.video_id,
            "subset": video.subset,
            "num_ground_truth": len(video.instances),
            "detections": results[video.video_id],
        }
