"""Inference paths of TemPVL beyond the dual encoder: re-ranking (VTM), moment
localization (MR heads), captioning (causal fusion decoder + LM head) and QA.

Written as a mixin of :class:`tempvl_core.model.tempvl.TemPVL`; every method works on
batches except :meth:`InferenceMixin.localize`, which ranks windows for one query.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from tempvl_core import losses
from tempvl_core.model.heads import ClassifierHead
from tempvl_core.model.layers import DecodeCache
from tempvl_core.model.objectives import match_logits


class InferenceMixin:
    """Methods mixed into ``TemPVL`` (they use its encoders and heads)."""

    # ------------------------------------------------------------ re-ranking
    def fused_match_scores(self, texts, frames: Tensor, frame_mask: Tensor | None = None) -> Tensor:
        """Match probability ``[B]`` of each pair (text i, video i) from the VTM head.

        For re-ranking, repeat the query text (or the video) to pair it with each candidate.
        """
        ids, mask = self._tokens(texts)
        frame_feats, _ = self.video_features(frames, frame_mask)
        frame_mask = self.feature_mask(frame_mask)
        if ids.shape[0] != frame_feats.shape[0]:
            raise ValueError(f"fused_match_scores pairs texts and videos: got {ids.shape[0]} and {frame_feats.shape[0]}")
        logits = match_logits(self, self.text_features(ids, mask), mask, frame_feats, frame_mask)
        return logits.softmax(-1)[:, 1]

    # ---------------------------------------------------------- localization
    def moment_logits(self, texts, frames: Tensor, frame_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Start and end logits over frame positions ``([B, T], [B, T])`` for paired
        (text i, video i); padded frames get the dtype's minimum."""
        frame_feats, _ = self.video_features(frames, frame_mask)
        frame_mask = self.feature_mask(frame_mask)
        return self.moment_logits_from_features(texts, frame_feats, frame_mask)

    def moment_logits_from_features(self, texts, frame_feats: Tensor, frame_mask: Tensor | None = None
                                    ) -> tuple[Tensor, Tensor]:
        """:meth:`moment_logits` from per-frame features already computed (``video_features``),
        so one video's features serve all of its queries."""
        ids, mask = self._tokens(texts)
        grounded = self.grounding(frame_feats, frame_mask, self.text_features(ids, mask), mask)
        start, end = self.mr_head(grounded)
        if frame_mask is not None:
            fill = torch.finfo(start.dtype).min
            start, end = start.masked_fill(~frame_mask, fill), end.masked_fill(~frame_mask, fill)
        return start, end

    @torch.no_grad()
    def localize(
        self,
        text: str,
        frames: Tensor,
        top_k: int = 5,
        frame_mask: Tensor | None = None,
        max_window: int | None = None,
    ) -> list[tuple[int, int, float]]:
        """Ranked windows ``(start_frame, end_frame, score)`` (inclusive frame indices) for one
        text in one video (``frames`` ``[T,3,H,W]`` or ``[1,T,3,H,W]``).

        ``score(s, e) = p_start(s) * p_end(e)`` with ``s <= e`` (and ``e - s + 1 <=
        max_window`` when given), softmax over real frames. With a clip backbone the indices
        are feature positions: position ``k`` starts at frame ``k * temporal_stride``.
        """
        if frames.dim() == 4:
            frames = frames.unsqueeze(0)
            frame_mask = None if frame_mask is None else frame_mask.unsqueeze(0)
        return self.localize_batch([text], frames, top_k, frame_mask, max_window)[0]

    @torch.no_grad()
    def localize_batch(
        self,
        texts,
        frames: Tensor,
        top_k: int = 5,
        frame_mask: Tensor | None = None,
        max_window: int | None = None,
    ) -> list[list[tuple[int, int, float]]]:
        """:meth:`localize` for paired (text i, video i), one forward pass for the batch."""
        start, end = self.moment_logits(texts, frames, frame_mask)
        frame_mask = self.feature_mask(frame_mask)
        return [
            top_frame_windows(start[i], end[i], top_k, None if frame_mask is None else frame_mask[i], max_window)
            for i in range(start.shape[0])
        ]

    # ------------------------------------------------------------ captioning
    def _decode_step_logits(
        self, ids: Tensor, frame_feats: Tensor, frame_mask: Tensor | None, last_only: bool = False
    ) -> Tensor:
        """Causal fusion decoder over token embeddings, cross-attending to frames. With
        ``last_only`` the vocabulary projection (the costly part) runs on the last position."""
        mask = (ids != self.text_encoder.special_ids["pad"]).long()
        hidden = self.fusion(self.text_encoder.embed_tokens(ids), mask, frame_feats, frame_mask, causal=True)
        return self.lm_head(hidden[:, -1:] if last_only else hidden)

    def caption_loss(self, texts, frames: Tensor, frame_mask: Tensor | None = None,
                     video_index: Tensor | None = None) -> Tensor:
        """Teacher-forced next-token loss of the captioning path (``[CLS]`` is the BOS,
        ``[SEP]`` the EOS); used to finetune on captioning benchmarks.

        Text ``i`` describes video ``i``, or video ``video_index[i]`` when given: then several
        references of one video share its features, which are computed once."""
        ids, mask = self._tokens(texts)
        frame_feats, _ = self.video_features(frames, frame_mask)
        frame_mask = self.feature_mask(frame_mask)
        if video_index is not None:
            video_index = video_index.to(frame_feats.device)
            frame_feats = frame_feats[video_index]
            frame_mask = None if frame_mask is None else frame_mask[video_index]
        if ids.shape[0] != frame_feats.shape[0]:
            raise ValueError(f"caption_loss pairs texts and videos: got {ids.shape[0]} texts and "
                             f"{frame_feats.shape[0]} videos (pass video_index to give a video several texts)")
        logits = self._decode_step_logits(ids[:, :-1], frame_feats, frame_mask)
        targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, losses.IGNORE_INDEX)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=losses.IGNORE_INDEX)

    @torch.no_grad()
    def generate(
        self, frames: Tensor, max_len: int = 20, num_beams: int = 1, frame_mask: Tensor | None = None,
        use_cache: bool = True, no_repeat_ngram_size: int = 0,
    ) -> Tensor:
        """Caption token ids ``[B, <= max_len]`` (greedy when ``num_beams == 1``, beam search
        otherwise), without the BOS, padded with ``[PAD]`` after ``[SEP]``.
        Turn them into strings with :meth:`decode_tokens`. ``use_cache`` keeps each decoder
        layer's keys/values so a step feeds one token, not the whole prefix (same captions).
        ``no_repeat_ngram_size`` ``n > 0`` forbids any token ``n``-gram to occur twice in a
        caption (as Hugging Face ``generate`` does); 0 allows repeats."""
        frame_feats, _ = self.video_features(frames, frame_mask)
        frame_mask = self.feature_mask(frame_mask)
        rows = [
            self._beam_search(frame_feats[i : i + 1], None if frame_mask is None else frame_mask[i : i + 1], max_len,
                              num_beams, use_cache, no_repeat_ngram_size)
            for i in range(frame_feats.shape[0])
        ]
        pad = self.text_encoder.special_ids["pad"]
        out = torch.full((len(rows), max(1, max(len(r) for r in rows))), pad, dtype=torch.long, device=self.device)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return out

    def _beam_search(self, feats: Tensor, mask: Tensor | None, max_len: int, num_beams: int,
                     use_cache: bool = True, no_repeat_ngram_size: int = 0) -> list[int]:
        special = self.text_encoder.special_ids
        bos, eos = special["cls"], special["sep"]
        beams: list[tuple[list[int], float]] = [([bos], 0.0)]
        finished: list[tuple[list[int], float]] = []
        step = _CachedDecoder(self, feats, mask) if use_cache else None
        parents: list[int] = [0]
        for _ in range(max_len):
            ids = torch.tensor([b[0] for b in beams], device=self.device)
            n = ids.shape[0]
            if step is not None:
                logits = step(parents, [b[0] for b in beams])
            else:
                logits = self._decode_step_logits(
                    ids, feats.expand(n, -1, -1), None if mask is None else mask.expand(n, -1), last_only=True
                )[:, -1]
            logp = logits.float().log_softmax(-1)
            if no_repeat_ngram_size > 0:
                for row, (seq, _) in enumerate(beams):
                    banned = repeated_ngram_ends(seq[1:], no_repeat_ngram_size)
                    if banned:
                        logp[row, banned] = float("-inf")
            cand = (logp + torch.tensor([b[1] for b in beams], device=self.device)[:, None]).flatten()
            top = cand.topk(num_beams)
            vocab = logp.shape[1]
            beams, parents = [], []
            for score, flat in zip(top.values.tolist(), top.indices.tolist()):
                seq = ids[flat // vocab].tolist() + [flat % vocab]
                (finished if flat % vocab == eos else beams).append((seq, score))
                if flat % vocab != eos:
                    parents.append(flat // vocab)
            if not beams or len(finished) >= num_beams:
                break
        pool = finished or beams
        # Length-normalized log-probability so beams do not favour short captions.
        best = max(pool, key=lambda b: b[1] / max(1, len(b[0]) - 1))
        return best[0][1:]

    def decode_tokens(self, ids: Tensor) -> list[str]:
        """Token ids (e.g. from :meth:`generate`) to strings, special tokens removed."""
        return self.text_encoder.tokenizer.batch_decode(ids.tolist(), skip_special_tokens=True)

    # -------------------------------------------------------------------- QA
    def ensure_qa_head(self, num_answers: int) -> ClassifierHead:
        """Create (or replace, if the size differs) the answer classifier. Call it before
        building the optimizer so its parameters are trained; the size is stored in the
        config so checkpoints rebuild it."""
        if num_answers < 1:
            raise ValueError(f"num_answers must be >= 1, got {num_answers}")
        if self.qa_head is None or self.qa_head.num_classes != num_answers:
            self.qa_head = ClassifierHead(self.text_encoder.hidden_size, num_answers).to(self.device)
            self.config.qa_num_answers = num_answers
        return self.qa_head

    def answer_logits(
        self, questions, frames: Tensor, num_answers: int | None = None, frame_mask: Tensor | None = None
    ) -> Tensor:
        """Logits ``[B, num_answers]`` over the answer vocabulary from the fused CLS token of
        (question i, video i)."""
        if num_answers is not None:
            self.ensure_qa_head(num_answers)
        if self.qa_head is None:
            raise ValueError("no QA head: pass num_answers or call ensure_qa_head(num_answers) first")
        ids, mask = self._tokens(questions)
        frame_feats, _ = self.video_features(frames, frame_mask)
        frame_mask = self.feature_mask(frame_mask)
        fused = self.fusion(self.text_features(ids, mask), mask, frame_feats, frame_mask)
        return self.qa_head(fused[:, 0])


class _CachedDecoder:
    """The caption decoder one token per step: :meth:`InferenceMixin._decode_step_logits` of
    the last position, from the keys/values cached by the fusion layers (see ``DecodeCache``)."""

    def __init__(self, model, feats: Tensor, mask: Tensor | None) -> None:
        self.model = model
        self.pad = model.text_encoder.special_ids["pad"]
        self.cache = DecodeCache(feats, mask)
        self.fed: list[list[int]] = []  # the tokens behind the cache, per row

    def __call__(self, parents: list[int], sequences: list[list[int]]) -> Tensor:
        """Logits ``[n, vocab]`` after each of ``sequences`` (row ``i`` extends row ``parents[i]``
        of the previous call by its last token)."""
        device = self.model.device
        if self.fed:
            self.cache.reorder(torch.tensor(parents, device=device))
            new = [seq[-1:] for seq in sequences]
        else:
            new = sequences
        self.fed = [list(seq) for seq in sequences]
        ids = torch.tensor(new, device=device)
        # [PAD] tokens are masked out as keys exactly as in the uncached path (ids != pad).
        key_mask = None
        if any(self.pad in seq for seq in self.fed):
            key_mask = torch.tensor([[t != self.pad for t in seq] for seq in self.fed], device=device)
        x = self.model.text_encoder.embed_tokens(ids, start=self.cache.length)
        hidden = self.model.fusion.stack.decode_step(x, self.cache, key_mask)
        return self.model.lm_head(hidden[:, -1:])[:, -1]


def repeated_ngram_ends(tokens: list[int], n: int) -> list[int]:
    """The tokens that would complete, after ``tokens``, an ``n``-gram already in ``tokens``."""
    if n < 1 or len(tokens) < n - 1:
        return []
    prefix = tokens[len(tokens) - (n - 1):] if n > 1 else []
    return sorted({tokens[i + n - 1] for i in range(len(tokens) - n + 1) if tokens[i : i + n - 1] == prefix})


def top_frame_windows(
    start_logits: Tensor, end_logits: Tensor, top_k: int, frame_mask: Tensor | None = None, max_window: int | None = None
) -> list[tuple[int, int, float]]:
    """Top ``top_k`` frame windows ``(s, e, p_start(s) * p_end(e))`` over ``s <= e`` (frame indices,
    inclusive) from one query's ``[T]`` start/end logits, softmax over the real frames only."""
    real = torch.ones_like(start_logits, dtype=torch.bool) if frame_mask is None else frame_mask.to(start_logits.device).bool()
    fill = torch.finfo(torch.float32).min
    p_start = start_logits.float().masked_fill(~real, fill).softmax(-1)
    p_end = end_logits.float().masked_fill(~real, fill).softmax(-1)
    scores = p_start[:, None] * p_end[None, :]
    t = scores.shape[0]
    valid = torch.ones(t, t, dtype=torch.bool, device=scores.device).triu()
    if max_window is not None:
        valid &= ~torch.ones_like(valid).triu(max_window)
    valid &= real[:, None] & real[None, :]
    scores = scores.masked_fill(~valid, -1.0).flatten()
    best = scores.topk(min(top_k, int(valid.sum())))
    return [(int(i) // t, int(i) % t, float(v)) for v, i in zip(best.values, best.indices)]
