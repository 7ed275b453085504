"""Captioning finetuning with several references per video: the loss shares one video encoding
among its references, and the plugin draws references without replacement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tempvl_core.model import TemPVL
from tempvl_plugins.captioning.task import CaptionOptions, sample_references


def test_caption_loss_with_video_index_equals_repeating_the_videos(model: TemPVL, batch: dict) -> None:
    model.eval()  # no dropout: the two computations must agree exactly
    texts = ["a red circle", "the red circle spins around", "a blue square on a black background"]
    index = torch.tensor([1, 1, 3])
    shared = model.caption_loss(texts, batch["frames"], batch["frame_mask"], video_index=index)
    repeated = model.caption_loss(texts, batch["frames"][index], batch["frame_mask"][index])
    assert torch.allclose(shared, repeated, atol=1e-6)


def test_caption_loss_refuses_unpaired_texts(model: TemPVL, batch: dict) -> None:
    with pytest.raises(ValueError, match="video_index"):
        model.caption_loss(["one text", "two"], batch["frames"], batch["frame_mask"])


def test_sample_references_draws_without_replacement() -> None:
    refs = [f"caption {k}" for k in range(6)]
    rng = np.random.default_rng(0)
    assert sample_references(refs, 0, rng) == refs
    assert sample_references(refs, 9, rng) == refs
    for _ in range(20):
        got = sample_references(refs, 3, rng)
        assert len(got) == len(set(got)) == 3 and set(got) <= set(refs)
    # One reference per video draws exactly as before the option existed.
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert [sample_references(refs, 1, a)[0] for _ in range(10)] == [refs[b.integers(6)] for _ in range(10)]


def test_train_references_option() -> None:
    assert CaptionOptions.parse({}, "t.yaml").train_references == 1
    assert CaptionOptions.parse({"train_references": 0}, "t.yaml").train_references == 0
    with pytest.raises(Exception, match="train_references"):
        CaptionOptions.parse({"train_references": -1}, "t.yaml")


def test_repeated_ngram_ends() -> None:
    from tempvl_core.model.inference import repeated_ngram_ends

    assert repeated_ngram_ends([1, 2, 3, 1, 2], 3) == [3]  # "1 2 3" again is forbidden
    assert repeated_ngram_ends([1, 2, 3, 1], 2) == [2]
    assert repeated_ngram_ends([1, 2, 1], 1) == [1, 2]
    assert repeated_ngram_ends([5], 3) == [] and repeated_ngram_ends([], 1) == []


def test_no_repeat_ngram_size_removes_repeated_ngrams(model: TemPVL, batch: dict) -> None:
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():  # a decoder that loops on a few tokens, whatever the video
        model.lm_head.decoder.bias.zero_()
        model.lm_head.decoder.bias[[2023, 2003, 1037]] = 50.0
    frames, mask = batch["frames"][:2], batch["frame_mask"][:2]
    sep, pad = model.text_encoder.special_ids["sep"], model.text_encoder.special_ids["pad"]
    for beams in (1, 3):
        plain = model.generate(frames, max_len=12, num_beams=beams, frame_mask=mask)
        assert any(_has_repeat(row, 2) for row in plain.tolist())  # without the option it repeats
        for n in (1, 2, 3):
            for row in model.generate(frames, max_len=12, num_beams=beams, frame_mask=mask,
                                      no_repeat_ngram_size=n).tolist():
                tokens = [t for t in row if t not in (sep, pad)]
                assert not _has_repeat(tokens, n), (beams, n, row)
            cached = model.generate(frames, max_len=12, num_beams=beams, frame_mask=mask, no_repeat_ngram_size=n)
            uncached = model.generate(frames, max_len=12, num_beams=beams, frame_mask=mask, no_repeat_ngram_size=n,
                                      use_cache=False)
            assert cached.tolist() == uncached.tolist()


def _has_repeat(tokens: list[int], n: int) -> bool:
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(grams) != len(set(grams))


def test_no_repeat_ngram_size_option() -> None:
    assert CaptionOptions.parse({}, "t.yaml").no_repeat_ngram_size == 0
    assert CaptionOptions.parse({"no_repeat_ngram_size": 3}, "t.yaml").no_repeat_ngram_size == 3
