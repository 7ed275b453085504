"""Clip transforms: shapes, normalisation, one crop/flip per clip."""

from __future__ import annotations

import numpy as np
import torch

from tempvl_core.video.transforms import CLIP_MEAN, CLIP_STD, eval_transform, train_transform


def _ramp_clip(t: int = 3, h: int = 40, w: int = 60) -> np.ndarray:
    # Horizontal ramp, identical in every frame: any per-frame crop or flip difference shows up.
    row = np.linspace(0, 255, w).astype(np.uint8)
    return np.broadcast_to(row[None, None, :, None], (t, h, w, 3)).copy()


def test_eval_transform_shape_and_normalisation():
    frames = np.full((2, 40, 60, 3), 255, dtype=np.uint8)
    out = eval_transform(32)(frames)
    assert out.shape == (2, 3, 32, 32) and out.dtype == torch.float32
    expected = (1.0 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    torch.testing.assert_close(out[0, :, 5, 5], expected)


def test_eval_transform_is_a_centre_crop():
    clip = _ramp_clip()
    out = eval_transform(40)(clip)  # 40 high already: crop columns 10..49 of 60
    ramp = clip[0, 0, 10:50, 0] / 255.0
    expected = (torch.tensor(ramp, dtype=torch.float32) - CLIP_MEAN[0]) / CLIP_STD[0]
    torch.testing.assert_close(out[0, 0, 0], expected, atol=1e-4, rtol=0)


def test_eval_accepts_torch_uint8():
    out = eval_transform(16)(torch.zeros(1, 20, 20, 3, dtype=torch.uint8))
    assert out.shape == (1, 3, 16, 16)


def test_train_transform_same_crop_for_all_frames_and_seeded():
    clip = _ramp_clip()
    tf = train_transform(24, hflip=True)
    outs = [tf(clip, rng=np.random.default_rng(s)) for s in range(8)]
    for out in outs:
        assert out.shape == (3, 3, 24, 24)
        torch.testing.assert_close(out[0], out[1])
        torch.testing.assert_close(out[0], out[2])
    assert len({round(float(o[0, 0, 0, 0]), 4) for o in outs}) > 1  # crops differ between seeds
    again = tf(clip, rng=np.random.default_rng(5))
    torch.testing.assert_close(again, outs[5])


def test_hflip_off_by_default_keeps_left_to_right_order():
    clip = _ramp_clip()
    tf = train_transform(24)
    for s in range(10):
        row = tf(clip, rng=np.random.default_rng(s))[0, 0, 0]
        assert row[0] < row[-1]  # the ramp still rises to the right
    flip = train_transform(24, hflip=True)
    flipped = [flip(clip, rng=np.random.default_rng(s))[0, 0, 0] for s in range(20)]
    assert any(r[0] > r[-1] for r in flipped)
