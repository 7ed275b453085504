"""Inference paths: localization windows, captioning (greedy and beam), QA, re-ranking."""

from __future__ import annotations

import pytest
import torch

from tempvl_core.model import TemPVL


def test_localize_returns_valid_ranked_windows(model: TemPVL, batch: dict) -> None:
    model.eval()
    windows = model.localize("a dog runs", batch["frames"][0], top_k=5)
    assert len(windows) == 5
    scores = [w[2] for w in windows]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    for s, e, _ in windows:
        assert isinstance(s, int) and isinstance(e, int) and 0 <= s <= e < 4
    # The best window's score is exactly p_start(s) * p_end(e).
    start, end = model.moment_logits(["a dog runs"], batch["frames"][:1])
    s, e, score = windows[0]
    assert score == pytest.approx((start[0].softmax(-1)[s] * end[0].softmax(-1)[e]).item(), rel=1e-5)


def test_localize_respects_padding_and_window_length(model: TemPVL, batch: dict) -> None:
    model.eval()
    windows = model.localize("a dog", batch["frames"][2], top_k=100, frame_mask=batch["frame_mask"][2], max_window=1)
    assert sorted((s, e) for s, e, _ in windows) == [(0, 0), (1, 1)]  # 2 real frames, length-1 windows
    all_windows = model.localize("a dog", batch["frames"][0], top_k=100)
    assert len(all_windows) == 10  # every s <= e over 4 frames


def test_localize_batch_matches_single_queries(model: TemPVL, batch: dict) -> None:
    model.eval()
    texts = ["a dog runs", "a man cooks"]
    many = model.localize_batch(texts, batch["frames"][1:3], top_k=3, frame_mask=batch["frame_mask"][1:3])
    for i, text in enumerate(texts):
        one = model.localize(text, batch["frames"][1 + i], top_k=3, frame_mask=batch["frame_mask"][1 + i])
        assert [w[:2] for w in one] == [w[:2] for w in many[i]]
        assert [w[2] for w in one] == pytest.approx([w[2] for w in many[i]], rel=1e-5)
    assert all(e < 3 for _, e, _ in many[0]) and all(e < 2 for _, e, _ in many[1])  # real frames only
    # Longer than the grounding encoder's position table: interpolated, still valid.
    long = torch.randn(1, model.config.max_merged_frames + 4, 3, 32, 32)
    windows = model.localize("a dog", long, top_k=2)
    assert all(0 <= s <= e < long.shape[1] for s, e, _ in windows)


def test_generate_greedy_and_beam_return_token_ids(model: TemPVL, batch: dict) -> None:
    model.eval()
    greedy = model.generate(batch["frames"][:2], max_len=6, frame_mask=batch["frame_mask"][:2])
    beam = model.generate(batch["frames"][:2], max_len=6, num_beams=3, frame_mask=batch["frame_mask"][:2])
    vocab = model.text_encoder.word_embeddings.num_embeddings
    for ids in (greedy, beam):
        assert ids.dtype == torch.long and ids.shape[0] == 2 and 1 <= ids.shape[1] <= 6
        assert ((ids >= 0) & (ids < vocab)).all()
    assert all(isinstance(t, str) for t in model.decode_tokens(greedy))
    # Greedy equals step-by-step argmax decoding.
    ids = torch.tensor([[model.text_encoder.special_ids["cls"]]])
    feats = model.video_frame_features(batch["frames"][:1], batch["frame_mask"][:1])
    for _ in range(greedy.shape[1]):
        nxt = model._decode_step_logits(ids, feats, batch["frame_mask"][:1])[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], 1)
        if nxt.item() == model.text_encoder.special_ids["sep"]:
            break
    got = greedy[0][: ids.shape[1] - 1]
    assert got.tolist() == ids[0, 1:].tolist()


def test_caption_loss_trains_the_decoder(model: TemPVL, batch: dict) -> None:
    loss = model.caption_loss(batch["texts"], batch["frames"], batch["frame_mask"])
    loss.backward()
    assert torch.isfinite(loss)
    assert model.lm_head.dense.weight.grad.abs().sum() > 0
    assert model.fusion.stack.blocks[0].cross_attn.kv.weight.grad.abs().sum() > 0


def test_causal_mask_hides_future_tokens(model: TemPVL, batch: dict) -> None:
    model.eval()
    feats = model.video_frame_features(batch["frames"][:1])
    ids = torch.tensor([[101, 2000, 2001, 2002]])
    changed = ids.clone()
    changed[0, 3] = 3000
    a = model._decode_step_logits(ids, feats, None)
    b = model._decode_step_logits(changed, feats, None)
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-5) and not torch.allclose(a[:, 3], b[:, 3])


def test_answer_logits_and_match_scores(model: TemPVL, batch: dict) -> None:
    with pytest.raises(ValueError, match="ensure_qa_head"):
        model.answer_logits(batch["texts"], batch["frames"])
    logits = model.answer_logits(batch["texts"], batch["frames"], num_answers=11, frame_mask=batch["frame_mask"])
    assert logits.shape == (4, 11) and model.config.qa_num_answers == 11
    logits.sum().backward()
    assert model.qa_head.mlp[0].weight.grad is not None
    scores = model.fused_match_scores(batch["texts"], batch["frames"], batch["frame_mask"])
    assert scores.shape == (4,) and ((scores > 0) & (scores < 1)).all()
    with pytest.raises(ValueError, match="pairs texts and videos"):
        model.fused_match_scores(batch["texts"][:2], batch["frames"])
