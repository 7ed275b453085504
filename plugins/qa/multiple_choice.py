"""The MSR-VTT multiple-choice family: pick, among 5 captions, the one that describes the video.

The reference protocol (JSFusion, ClipBERT, ALPRO) is zero-shot from a retrieval model: each
option is scored against the video in the joint space (``options.mc_scorer: similarity``) or by
the VTM head (``fused``). ``--mode finetune`` first trains the dual encoder with VTC on the
MSR-VTT 9k training captions (no multiple-choice video is among them), as retrieval finetuning
does. Accuracy goes through ``qa_metrics`` with the option index as the answer string; options
tied for the top score are scored as a uniformly random pick among them (``top_answer``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tempvl_bench.api import (
    CLIP_EMBEDDINGS, MATCHING, FAMILIES, Outcomes, QAGroundTruth, RunContext, Scores, Split, TaskFamily,
    catalogue, encode_videos, finetune_vtc, prediction_credit, qa_metrics, qa_outcomes, similarity,
    top_answer,
)

from tempvl_plugins.qa.datasets import qa_adapter_for
from tempvl_plugins.qa.options import QAOptions, write_qa_score_files


@dataclass
class OptionScores:
    """Per evaluated item (those whose video decoded, in order), one score per option."""

    items: list
    scores: list[list[float]]


class MultipleChoiceQA(TaskFamily):
    options = QAOptions
    baselines_use_train = False  # chance needs no training statistics

    def capabilities_needed(self, config, options, mode: str) -> tuple[str, ...]:
        scorer = CLIP_EMBEDDINGS if options.mc_scorer == "similarity" else MATCHING
        return (scorer,) + (("finetuning",) if mode == "finetune" else ())

    def metric_names(self, options) -> tuple[str, ...]:
        return FAMILIES["qa"].metric_names()

    def load(self, ctx: RunContext, split: str) -> Split:
        adapter = qa_adapter_for(ctx.config)
        annotations = catalogue.load(adapter.dataset, ctx.annotation_dir, adapter.annotation_kind, split)
        return Split(split, annotations.records, annotations.files)

    def load_train(self, ctx: RunContext, split: str) -> Split:
        """MSR-VTT captions (``train_9k``/``train_7k``): the 9k list leaves out every JSFusion
        test video, hence every multiple-choice video."""
        annotations = catalogue.load("msrvtt", ctx.annotation_dir, "retrieval", split)
        return Split(split, annotations.records, annotations.files)

    def finetune(self, ctx: RunContext, model, train: Split, evaluation: Split) -> None:
        finetune_vtc(ctx, model, train.records, ctx.clips)

    def predict(self, ctx: RunContext, model, evaluation: Split, train: Split | None) -> OptionScores:
        return _score_options(ctx, model, evaluation.records, ctx.task_options.mc_scorer)

    def score(self, ctx: RunContext, evaluation: Split, result: OptionScores) -> Scores:
        evaluated, scores = result.items, result.scores
        chosen = {item.item_id: top_answer(s, [str(i) for i in range(len(s))]) for item, s in zip(evaluated, scores)}
        ground_truth = [QAGroundTruth(item.item_id, str(item.answer_index)) for item in evaluated]
        metrics = qa_metrics(chosen, ground_truth)
        write_qa_score_files(ctx.run_dir, chosen, ground_truth, None)
        return Scores(metrics, len(evaluated), _predictions(evaluated, scores, chosen),
                      outcomes=_outcomes(chosen, ground_truth))

    def baselines(self, ctx: RunContext, train: Split | None, evaluation: Split) -> dict[str, Scores]:
        """Chance: every option tied, i.e. a uniformly random pick (credit 1 / options per item)."""
        items = evaluation.records
        chosen = {item.item_id: [str(i) for i in range(len(item.options))] for item in items}
        ground_truth = [QAGroundTruth(item.item_id, str(item.answer_index)) for item in items]
        return {"chance": Scores(qa_metrics(chosen, ground_truth), len(items),
                                 outcomes=_outcomes(chosen, ground_truth))}


def _outcomes(chosen, ground_truth) -> Outcomes:
    return Outcomes.per_unit("question", [q.question_id for q in ground_truth], qa_outcomes(chosen, ground_truth))


@torch.no_grad()
def _score_options(ctx: RunContext, model, items, scorer: str) -> OptionScores:
    max_length = ctx.config.text.max_length
    level = "clip" if scorer == "similarity" else "pixels"

    def score(batch) -> tuple[list[int], list[list[float]]]:
        scores: list[list[float]] = []
        index = batch["index"].tolist()
        if scorer == "similarity":
            video = batch["video_emb"]
            for row, i in enumerate(index):
                text = model.encode_text(model.tokenize(list(items[i].options), max_length)).float().cpu()
                scores.append(similarity(model, text, video[row : row + 1])[:, 0].tolist())
        else:
            frames, mask = batch["frames"], batch["frame_mask"]
            for row, i in enumerate(index):
                n = len(items[i].options)
                probs = model.fused_match_scores(
                    model.tokenize(list(items[i].options), max_length),
                    frames[row : row + 1].expand(n, *frames.shape[1:]),
                    mask[row : row + 1].expand(n, -1),
                )
                scores.append(probs.float().tolist())
        return index, scores

    kept: list[int] = []
    scores: list[list[float]] = []
    for index, part in encode_videos(ctx.clips, model, items, level=level, desc="score options").map(score):
        kept.extend(index)  # in batch order (under torchrun each rank scores its own batches)
        scores.extend(part)
    return OptionScores([items[i] for i in kept], scores)


def _predictions(items, scores, chosen):
    for item, option_scores in zip(items, scores):
        choice = chosen[item.item_id]
        tied = [int(i) for i in ([choice] if isinstance(choice, str) else choice)]
        yield {
            "item_id": item.item_id,
            "video_id": item.video_id,
            "options": list(item.options),
            "answer_index": item.answer_index,
            "prediction_index": tied[0],
            "tied_indices": tied,
            # Expected correctness under uniform tie breaking: 1 or 0 unless options tie.
            "correct": float(prediction_credit(choice, str(item.answer_index))),
            "scores": [round(float(s), 6) for s in option_scores],
        }
