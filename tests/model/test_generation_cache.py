"""Caption generation with the decoder's key/value cache gives what full recomputation gives."""

from __future__ import annotations

import torch

from tempvl_core.model import TemPVL
from tempvl_core.model.inference import _CachedDecoder


def test_cached_step_logits_equal_full_decoding_at_every_position(model: TemPVL, batch: dict) -> None:
    model.eval()
    special = model.text_encoder.special_ids
    # A [PAD] in the middle: the uncached decoder masks it as a key, the cached one must too.
    tokens = [special["cls"], 2023, 2003, special["pad"], 1037, 3899, 2005]
    feats = model.video_frame_features(batch["frames"][1:2], batch["frame_mask"][1:2])
    mask = batch["frame_mask"][1:2]
    step = _CachedDecoder(model, feats, mask)
    with torch.no_grad():
        for n in range(1, len(tokens) + 1):
            cached = step([0], [tokens[:n]])
            full = model._decode_step_logits(torch.tensor([tokens[:n]]), feats, mask)[:, -1]
            assert torch.allclose(cached, full, atol=1e-5), n


def test_generate_with_and_without_cache_gives_identical_captions(model: TemPVL, batch: dict) -> None:
    model.eval()
    torch.manual_seed(3)
    with torch.no_grad():  # make the decoder's output depend on the video, so beams diverge
        for p in model.lm_head.parameters():
            p.add_(0.5 * torch.randn_like(p))
    frames, mask = batch["frames"], batch["frame_mask"]
    for beams in (1, 3):
        cached = model.generate(frames, max_len=10, num_beams=beams, frame_mask=mask)
        plain = model.generate(frames, max_len=10, num_beams=beams, frame_mask=mask, use_cache=False)
        assert cached.tolist() == plain.tolist()
    assert cached.shape[1] > 3  # long enough for the cache (and beam reordering) to matter
