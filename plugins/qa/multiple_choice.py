"""Runs MSR-VTT multiple choice: pick, among 5 captions, the one that describes the video.

The reference protocol (JSFusion, ClipBERT, ALPRO) is zero-shot from a retrieval model: each
option is scored against the video in the joint space (``options.mc_scorer: similarity``) or by
the VTM head (``fused``). ``--mode finetune`` first trains the dual encoder with VTC on the
MSR-VTT 9k training captions (no multiple-choice video is among them), as retrieval finetuning
does. Accuracy goes through ``qa_metrics`` with the option index as the answer string; options
tied for the top score are scored as a uniformly random pick among them (``top_answer``).
"""

from __future__ import annotations

import torch

from tempvl_bench.clips import ClipLoaderFactory
from tempvl_bench.finetune import finetune_vtc
from tempvl_bench.metrics import QAItem as ScoredQuestion
from tempvl_bench.metrics import prediction_credit, qa_metrics, top_answer
from tempvl_bench.runner import RunContext, TaskOutput

from tempvl_plugins.qa.datasets import ADAPTERS, load_msrvtt_mc_training
from tempvl_plugins.qa.options import QAOptions, write_score_files


def run_multiple_choice(ctx: RunContext) -> TaskOutput:
    adapter = ADAPTERS[ctx.spec.name]
    options = QAOptions.parse(ctx.config.options, ctx.config.source)
    split = ctx.config.splits.eval
    items, files = adapter.load(ctx.annotation_dir, split)
    items = ctx.limited(items)
    clips = ClipLoaderFactory(ctx)
    model = ctx.model()
    if ctx.mode == "finetune":
        train_items, train_files = load_msrvtt_mc_training(ctx.annotation_dir, ctx.train_split)
        files = train_files + files
        finetune_vtc(ctx, model, train_items, clips)
    scores, kept, failed = _score_options(ctx, model, items, options.mc_scorer, clips)
    evaluated = [items[i] for i in kept]
    chosen = {item.item_id: top_answer(s, [str(i) for i in range(len(s))]) for item, s in zip(evaluated, scores)}
    ground_truth = [ScoredQuestion(item.item_id, str(item.answer_index)) for item in evaluated]
    metrics = qa_metrics(chosen, ground_truth)
    write_score_files(ctx.run_dir, chosen, ground_truth, None)
    return TaskOutput(
        metrics=metrics,
        split=split,
        num_samples=len(evaluated),
        predictions=_predictions(evaluated, scores, chosen),
        failed_videos=failed,
        annotation_files=files,
    )


@torch.no_grad()
def _score_options(ctx: RunContext, model, items, scorer: str, clips: ClipLoaderFactory):
    """Per evaluated item, one score per option; the indices of the items kept; failed videos."""
    scores: list[list[float]] = []
    kept: list[int] = []
    max_length = ctx.config.text.max_length
    batches = clips.batches(items, train=False, desc="score options")
    for batch in batches:
        index = batch["index"].tolist()
        frames, mask = batch["frames"], batch["frame_mask"]
        if scorer == "similarity":
            video = model.encode_video(frames.to(model.device), mask.to(model.device)).float()
            for row, i in enumerate(index):
                text = model.encode_text(model.tokenize(list(items[i].options), max_length)).float()
                scores.append((text @ video[row]).tolist())
        else:
            for row, i in enumerate(index):
                n = len(items[i].options)
                probs = model.fused_match_scores(
                    model.tokenize(list(items[i].options), max_length),
                    frames[row : row + 1].expand(n, *frames.shape[1:]),
                    mask[row : row + 1].expand(n, -1),
                )
                scores.append(probs.float().tolist())
        kept.extend(index)
    return scores, kept, batches.failed_videos


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
