"""The open-ended QA family (MSRVTT-QA, MSVD-QA): answer vocabulary, optional finetuning of
the answer classifier with cross-entropy, then answering every evaluation question.

Questions are grouped by video so each video is decoded once per pass, whatever its number of
questions; its frames are then repeated for each of its questions. Zero-shot answering without a
trained classifier scores "question answer" texts against the video in the joint space (a real
zero-shot baseline, unlike an untrained head, which sits at chance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from tempvl_bench.api import QAGroundTruth
from tempvl_bench.api import (
    GENERATION,
    FAMILIES,
    QAPrediction,
    RunContext,
    Scores,
    Split,
    TaskFamily,
    Outcomes,
    catalogue,
    encode_videos,
    finetune,
    majority,
    prediction_credit,
    qa_metrics,
    qa_outcomes,
    top_answer,
    trainable_parameters,
)

from tempvl_plugins.qa.datasets import qa_adapter_for
from tempvl_plugins.qa.options import QAOptions, write_qa_score_files
from tempvl_plugins.qa.vocab import AnswerVocab, candidates_by_type


@dataclass(frozen=True)
class VideoQuestions:
    """One video and its questions (the unit the clip loader decodes)."""

    video_id: str
    video_name: str
    questions: tuple  # tempvl_core.data.records.QAItem, file order


def group_questions_by_video(items: Sequence) -> list[VideoQuestions]:
    """Questions grouped by video, videos in order of first appearance."""
    groups: dict[str, list] = {}
    names: dict[str, str] = {}
    for item in items:
        groups.setdefault(item.video_id, []).append(item)
        names.setdefault(item.video_id, item.video_name)
    return [VideoQuestions(v, names[v], tuple(qs)) for v, qs in groups.items()]


@dataclass
class Answers:
    answers: dict[str, QAPrediction]
    vocab: AnswerVocab
    method: str


class OpenEndedQA(TaskFamily):
    """MSRVTT-QA, MSVD-QA: the answer vocabulary comes from the training split, even zero-shot."""

    options = QAOptions
    needs_train_split = True
    needs = (GENERATION,)

    def metric_names(self, options) -> tuple[str, ...]:
        return (*FAMILIES["qa"].metric_names(), "qa/acc/*")  # one accuracy per question type of the data

    def load(self, ctx: RunContext, split: str) -> Split:
        adapter = qa_adapter_for(ctx.config)
        annotations = catalogue.load(adapter.dataset, ctx.annotation_dir, adapter.annotation_kind, split)
        return Split(split, annotations.records, annotations.files)

    def finetune(self, ctx: RunContext, model, train: Split, evaluation: Split) -> None:
        vocab = _vocab(ctx, train)
        model.ensure_qa_head(len(vocab))
        _finetune(ctx, model, train.records, vocab, ctx.task_options, ctx.clips)

    def predict(self, ctx: RunContext, model, evaluation: Split, train: Split | None) -> Answers:
        options: QAOptions = ctx.task_options
        vocab = _vocab(ctx, train)
        method = "head" if ctx.mode == "finetune" else _zero_shot_method(options, model, vocab)
        videos = group_questions_by_video(evaluation.records)
        if method == "head":
            answers = _answer_with_head(ctx, model, videos, vocab)
        else:
            per_type, fallback = candidates_by_type(train.records, vocab, options.zero_shot_candidates)
            answers = _answer_by_similarity(ctx, model, videos, vocab, per_type, fallback)
        return Answers(answers, vocab, method)

    def score(self, ctx: RunContext, evaluation: Split, result: Answers) -> Scores:
        answers, vocab = result.answers, result.vocab
        evaluated = [item for item in evaluation.records if item.question_id in answers]
        ground_truth = [QAGroundTruth(item.question_id, item.answer, item.question_type) for item in evaluated]
        metrics = qa_metrics(answers, ground_truth, vocab.answers)
        # A question type the task file lists but the evaluated questions lack has no accuracy.
        undefined = tuple(m for m in ctx.config.metrics if m.startswith("qa/acc/") and m not in metrics)
        write_qa_score_files(ctx.run_dir, answers, ground_truth, vocab.answers)
        return Scores(metrics, len(evaluated), _predictions(evaluated, answers, vocab, result.method), undefined,
                      _outcomes(answers, ground_truth, vocab))

    def baselines(self, ctx: RunContext, train: Split | None, evaluation: Split) -> dict[str, Scores]:
        """The most frequent training answer for every question, and the most frequent training
        answer of the question's type (the overall one for a type unseen in training)."""
        if train is None or not train.records:
            return {}
        vocab = _vocab(ctx, train)
        overall = majority(item.answer for item in train.records)
        by_type = {}
        for item in train.records:
            by_type.setdefault(item.question_type, []).append(item.answer)
        by_type = {qtype: majority(answers) for qtype, answers in by_type.items()}
        ground_truth = [QAGroundTruth(item.question_id, item.answer, item.question_type) for item in evaluation.records]
        out = {}
        for name, answer_of in (("majority answer", lambda item: overall),
                                ("majority answer per type", lambda item: by_type.get(item.question_type, overall))):
            answers = {item.question_id: answer_of(item) for item in evaluation.records}
            out[name] = Scores(qa_metrics(answers, ground_truth, vocab.answers), len(ground_truth),
                               outcomes=_outcomes(answers, ground_truth, vocab))
        return out


def _outcomes(answers, ground_truth, vocab: AnswerVocab) -> Outcomes:
    return Outcomes.per_unit("question", [q.question_id for q in ground_truth],
                             qa_outcomes(answers, ground_truth, vocab.answers))


def _vocab(ctx: RunContext, train: Split) -> AnswerVocab:
    return AnswerVocab.build((item.answer for item in train.records), ctx.task_options.answer_vocab_size)


def _zero_shot_method(options: QAOptions, model, vocab: AnswerVocab) -> str:
    head = getattr(model, "qa_head", None)
    has_head = head is not None and head.num_classes == len(vocab)
    if options.zero_shot == "head" and not has_head:
        size = "none" if head is None else f"{head.num_classes} answers"
        raise ValueError(f"options.zero_shot is 'head' but the model's QA head ({size}) does not match the "
                         f"{len(vocab)}-answer vocabulary; pass a --checkpoint finetuned on this task or use "
                         "zero_shot: similarity")
    if options.zero_shot == "auto":
        return "head" if has_head else "similarity"
    return options.zero_shot


def _finetune(ctx: RunContext, model, train_items, vocab: AnswerVocab, options: QAOptions, clips) -> None:
    cfg = ctx.config
    index = vocab.index()
    # Training questions whose answer is outside the vocabulary have no class: left out (just-ask).
    videos = group_questions_by_video([item for item in train_items if item.answer in index])
    if not videos:
        raise ValueError(f"{ctx.spec.name}: no training question has an answer in the vocabulary")
    rng = np.random.default_rng(ctx.seed)
    per_video = options.train_questions_per_video

    def batches(epoch: int):
        for batch in clips.batches(videos, train=True, epoch=epoch):
            rows, questions, targets = [], [], []
            for b, i in enumerate(batch["index"].tolist()):
                chosen = videos[i].questions
                if per_video is not None and len(chosen) > per_video:
                    chosen = [chosen[j] for j in sorted(rng.choice(len(chosen), per_video, replace=False))]
                for item in chosen:
                    rows.append(b)
                    questions.append(item.question)
                    targets.append(index[item.answer])
            rows_t = torch.tensor(rows)
            yield batch["frames"][rows_t], batch["frame_mask"][rows_t], questions, torch.tensor(targets)

    def loss_fn(model, batch):
        frames, mask, questions, targets = batch
        logits = model.answer_logits(questions, frames, frame_mask=mask)
        return F.cross_entropy(logits.float(), targets.to(logits.device))

    steps = clips.steps_per_epoch(len(videos))
    params = trainable_parameters(model, cfg.finetune.train_text_layers)
    finetune(model, batches, loss_fn, cfg.finetune, steps_per_epoch=steps, run_dir=ctx.run_dir,
             resume=ctx.options.resume, progress=ctx.options.progress, parameters=params, generators={"questions": rng})


def _question_rows(videos: Sequence[VideoQuestions], batch_index: torch.Tensor) -> tuple[list[int], list]:
    """(row of the batch, question) for every question of the batch's videos."""
    rows, questions = [], []
    for b, i in enumerate(batch_index.tolist()):
        for item in videos[i].questions:
            rows.append(b)
            questions.append(item)
    return rows, questions


@torch.no_grad()
def _answer_with_head(ctx: RunContext, model, videos, vocab: AnswerVocab) -> dict[str, QAPrediction]:
    size = ctx.config.batch.eval

    def answer(batch) -> dict[str, QAPrediction]:
        found: dict[str, QAPrediction] = {}
        rows, questions = _question_rows(videos, batch["index"])
        for start in range(0, len(rows), size):
            chunk = torch.tensor(rows[start : start + size])
            texts = [item.question for item in questions[start : start + size]]
            logits = model.answer_logits(texts, batch["frames"][chunk], frame_mask=batch["frame_mask"][chunk])
            for item, row in zip(questions[start : start + size], logits.float().cpu().numpy()):
                found[item.question_id] = top_answer(row, vocab.answers)  # ties: a list, scored fairly
        return found

    answers: dict[str, QAPrediction] = {}
    for part in encode_videos(ctx.clips, model, videos, level="pixels", desc="answer questions").map(answer):
        answers.update(part)  # in batch order (under torchrun each rank answers its own batches)
    return answers


class TextEmbeddingCache:
    """Joint-space embeddings of texts, each encoded once: the same question (and so the same
    "question answer" candidates) recurs across videos. Holds at most ``capacity`` texts;
    beyond that new texts are encoded per call without being kept."""

    def __init__(self, model, max_length: int, batch_size: int, capacity: int = 200_000) -> None:
        self.model, self.max_length, self.batch_size, self.capacity = model, max_length, batch_size, capacity
        self.store: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """``[len(texts), D]`` float32 embeddings, in order."""
        fresh: dict[str, torch.Tensor] = {}
        missing = [t for t in dict.fromkeys(texts) if t not in self.store]
        for s in range(0, len(missing), self.batch_size):
            chunk = missing[s : s + self.batch_size]
            emb = self.model.encode_text(self.model.tokenize(chunk, self.max_length)).float().cpu()
            for text, row in zip(chunk, emb):
                (self.store if len(self.store) < self.capacity else fresh)[text] = row
        return torch.stack([self.store[t] if t in self.store else fresh[t] for t in texts])


@torch.no_grad()
def _answer_by_similarity(ctx: RunContext, model, videos, vocab: AnswerVocab, per_type,
                          fallback) -> dict[str, QAPrediction]:
    answers: dict[str, QAPrediction] = {}
    cache = TextEmbeddingCache(model, ctx.config.text.max_length, ctx.config.batch.eval)
    for batch in encode_videos(ctx.clips, model, videos, level="clip", desc="score answers"):
        video_emb = batch["video_emb"]
        rows, questions = _question_rows(videos, batch["index"])
        candidates = [per_type.get(item.question_type, fallback) for item in questions]
        texts = [f"{item.question} {vocab.answers[c]}" for item, cands in zip(questions, candidates) for c in cands]
        text_emb = cache.embed(texts)
        offset = 0
        for row, item, cands in zip(rows, questions, candidates):
            scores = text_emb[offset : offset + len(cands)] @ video_emb[row]
            answers[item.question_id] = top_answer(scores.numpy(), [vocab.answers[c] for c in cands])
            offset += len(cands)
    return answers


def _predictions(items, answers: dict, vocab: AnswerVocab, method: str):
    known = set(vocab.answers)
    for item in items:
        answer = answers[item.question_id]
        tied = [answer] if isinstance(answer, str) else list(answer)
        yield {
            "question_id": item.question_id,
            "video_id": item.video_id,
            "question": item.question,
            "question_type": item.question_type,
            "answer": item.answer,
            "prediction": tied[0],
            "tied_predictions": tied,
            # Expected correctness under uniform tie breaking: 1 or 0 unless answers tie.
            "correct": float(prediction_credit(answer, item.answer, known)),
            "answer_in_vocab": item.answer in known,
            "method": method,
        }
