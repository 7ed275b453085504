"""Feature packs read as the community writes them: one test per layout, time bases checked by
hand, and one test per bad-pack case."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tempvl_core.data.features import (
    ClipTimeBase,
    LayoutError,
    PackError,
    PackReader,
    SpanTimeBase,
    StrideTimeBase,
    layout_from_mapping,
    resample_rows,
)


def _rows(t: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(t, d)).astype(np.float32)


def _layout(preset: str, dataset: str | None = None, **overrides):
    return layout_from_mapping({"preset": preset, **overrides}, "test: key 'features'", dataset)


def test_moment_detr_npz_streams_normalised_cut_and_concatenated(tmp_path):
    slowfast, clip = _rows(75, 2304, 1) * 3, _rows(74, 512, 2)
    (tmp_path / "slowfast_features").mkdir()
    (tmp_path / "clip_features").mkdir()
    np.savez(tmp_path / "slowfast_features" / "vid1.npz", features=slowfast)
    np.savez(tmp_path / "clip_features" / "vid1.npz", features=clip)
    rows = PackReader(tmp_path, _layout("moment-detr")).read("vid1", duration=150.0)
    assert rows.features.shape == (74, 2816)
    assert np.allclose(np.linalg.norm(rows.features[:, :2304], axis=1), 1.0, atol=1e-5)
    assert np.allclose(rows.features[:, :2304], slowfast[:74] / np.linalg.norm(slowfast[:74], axis=1, keepdims=True),
                       atol=1e-6)
    assert np.allclose(rows.features[:, 2304:], clip[:74] / np.linalg.norm(clip[:74], axis=1, keepdims=True), atol=1e-6)
    assert rows.starts[:3].tolist() == [0.0, 2.0, 4.0]
    assert [p.name for p, _ in rows.files] == ["vid1.npz", "vid1.npz"]


def test_moment_detr_keeps_max_v_l_rows(tmp_path):
    for stream, d in (("slowfast_features", 2304), ("clip_features", 512)):
        (tmp_path / stream).mkdir()
        np.savez(tmp_path / stream / "v.npz", features=_rows(80, d))
    assert PackReader(tmp_path, _layout("moment-detr")).read("v", duration=160.0).features.shape == (75, 2816)


def test_lighthouse_clip_length_is_one_second_and_two_for_qvhighlights(tmp_path):
    for stream, d in (("slowfast", 2304), ("clip", 512)):
        (tmp_path / stream).mkdir()
        np.savez(tmp_path / stream / "v.npz", features=_rows(30, d))
    charades = PackReader(tmp_path, _layout("lighthouse", "charades-sta")).read("v", duration=30.0)
    assert charades.time_base == ClipTimeBase(1.0) and charades.starts[:3].tolist() == [0.0, 1.0, 2.0]
    qvh = PackReader(tmp_path, _layout("lighthouse", "qvhighlights")).read("v", duration=60.0)
    assert qvh.time_base == ClipTimeBase(2.0) and qvh.starts[1] == 2.0


def test_actionformer_thumos14_npy(tmp_path):
    (tmp_path / "i3d_features").mkdir()
    feats = _rows(100, 2048)
    np.save(tmp_path / "i3d_features" / "video_test_0000004.npy", feats)
    rows = PackReader(tmp_path, _layout("actionformer-thumos14")).read("video_test_0000004", duration=13.9)
    assert rows.features.shape == (100, 2048) and np.array_equal(rows.features, feats)  # no normalisation
    # (13.9 * 30 - 16) / 4 + 1 = 101.25 -> 101 windows expected; 100 is within the tolerance.


def test_actionformer_anet_per_video_fps_and_resampling(tmp_path):
    (tmp_path / "tsp_features").mkdir()
    np.save(tmp_path / "tsp_features" / "v_abc.npy", _rows(90, 512))
    reader = PackReader(tmp_path, _layout("actionformer-anet"))
    rows = reader.read("abc", duration=96.0, fps=15.0)  # 96 * 15 / 16 = 90 rows
    assert rows.features.shape == (192, 512) and rows.time_base == SpanTimeBase()
    assert rows.starts[1] == pytest.approx(96.0 / 192)


def test_2d_tan_charades_hdf5_dataset_per_id(tmp_path):
    feats = _rows(40, 4096)
    with h5py.File(tmp_path / "vgg_rgb_features.hdf5", "w") as h5:
        h5.create_dataset("3MSZA", data=feats)
        h5.create_dataset("AO8RW", data=_rows(20, 4096))
    reader = PackReader(tmp_path, _layout("2d-tan-charades"))
    rows = reader.read("3MSZA", duration=30.0)
    assert rows.features.shape == (40, 4096)
    assert np.allclose(rows.features, feats / np.linalg.norm(feats, axis=1, keepdims=True), atol=1e-6)
    assert rows.starts[:2].tolist() == [0.0, 0.75]  # 30 s over 40 rows
    assert reader.read("AO8RW", duration=10.0).features.shape == (20, 4096)
    reader.close()


def test_mmn_anet_captions_hdf5_group_per_id(tmp_path):
    with h5py.File(tmp_path / "sub_activitynet_v1-3.c3d.hdf5", "w") as h5:
        h5.create_dataset("v_QOlSCBRmfWY/c3d_features", data=_rows(50, 500))
    rows = PackReader(tmp_path, _layout("mmn-anet-captions")).read("v_QOlSCBRmfWY", duration=82.7)
    assert rows.features.shape == (50, 500)


# ---------------------------------------------------------------- time bases, checked by hand

def test_clip_time_base_by_hand():
    base = ClipTimeBase(2.0)
    assert base.seconds_to_index(7.0) == 3.5 and base.index_to_seconds(3) == 6.0
    assert base.expected_rows(150.0) == 75.0


def test_actionformer_half_window_offset_by_hand():
    base = StrideTimeBase(feat_stride=4, num_frames=16, fps=30.0)
    # t = 10 s: frame 300, window centre offset 8 frames: (300 - 8) / 4 = 73
    assert base.seconds_to_index(10.0) == pytest.approx(73.0)
    # row 0 is the window of frames 0..15, centred on frame 8 = 0.2667 s
    assert base.index_to_seconds(0) == pytest.approx(8 / 30)
    assert base.index_to_seconds(73) == pytest.approx(10.0)
    assert base.seconds_to_index(base.index_to_seconds(12.25)) == pytest.approx(12.25)
    # the cell of row 1 starts half a stride before its centre: (4 + 8 - 2) / 30
    assert base.cell_starts(3)[1] == pytest.approx(10 / 30)
    assert base.expected_rows(10.0) == 72  # floor((300 - 16) / 4) + 1
    anet = StrideTimeBase(16, 16, 15.0).with_fps(30.0)
    assert anet.seconds_to_index(2.0) == pytest.approx((60 - 8) / 16)


def test_span_time_base_by_hand():
    base = SpanTimeBase()
    assert base.index_to_seconds(4, duration=30.0, rows=40) == 3.0
    assert base.seconds_to_index(3.0, duration=30.0, rows=40) == 4.0


def test_resample_matches_linear_interpolation():
    import torch

    feats = _rows(7, 3)
    expected = torch.nn.functional.interpolate(torch.from_numpy(feats.T[None]), size=12, mode="linear",
                                               align_corners=False)[0].T.numpy()
    assert np.allclose(resample_rows(feats, 12), expected, atol=1e-6)


# ---------------------------------------------------------------- bad packs: errors naming the file

@pytest.fixture
def thumos(tmp_path):
    (tmp_path / "i3d_features").mkdir()
    return tmp_path, PackReader(tmp_path, _layout("actionformer-thumos14"))


def test_missing_file_is_an_error_naming_it(thumos):
    root, reader = thumos
    with pytest.raises(PackError, match=r"i3d_features/nope\.npy: missing"):
        reader.read("nope", duration=10.0)


def test_wrong_dimension_is_an_error(thumos):
    root, reader = thumos
    np.save(root / "i3d_features" / "v.npy", _rows(80, 1024))
    with pytest.raises(PackError, match=r"v\.npy: has 1024 features per row, expected 2048"):
        reader.read("v", duration=10.0)


def test_wrong_orientation_is_an_error(thumos):
    root, reader = thumos
    np.save(root / "i3d_features" / "v.npy", _rows(80, 2048).T)
    with pytest.raises(PackError, match=r"v\.npy: shape \(2048, 80\) is \(features, rows\)"):
        reader.read("v", duration=10.0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_is_an_error(thumos, value, dtype):
    root, reader = thumos
    feats = _rows(80, 2048).astype(dtype)
    feats[5, 7] = value
    np.save(root / "i3d_features" / "v.npy", feats)
    with pytest.raises(PackError, match=r"v\.npy: holds 1 NaN or inf values \(first in row 5\)"):
        reader.read("v", duration=10.0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_large_finite_values_are_read(thumos, dtype):
    """Values whose squares overflow are still finite: the fast sum-of-squares check must not refuse them."""
    root, reader = thumos
    feats = _rows(80, 2048).astype(dtype)
    feats[3, :] = np.finfo(dtype).max / 2
    np.save(root / "i3d_features" / "v.npy", feats)
    assert np.array_equal(np.asarray(reader.read("v", duration=10.0).features), feats)


def test_too_few_rows_beyond_the_tolerance_is_an_error(thumos):
    root, reader = thumos
    np.save(root / "i3d_features" / "short.npy", _rows(67, 2048))  # 72 expected, tolerance 3.6
    np.save(root / "i3d_features" / "ok.npy", _rows(69, 2048))
    assert reader.read("ok", duration=10.0).features.shape == (69, 2048)
    with pytest.raises(PackError, match=r"short\.npy: has 67 rows but a 10 s video needs about 72"):
        reader.read("short", duration=10.0)


def test_npz_without_the_key_and_hdf5_without_the_id_are_errors(tmp_path):
    (tmp_path / "slowfast_features").mkdir()
    np.savez(tmp_path / "slowfast_features" / "v.npz", feats=_rows(3, 2304))
    with pytest.raises(PackError, match=r"v\.npz: no array 'features'"):
        PackReader(tmp_path, _layout("moment-detr")).read("v", duration=6.0)
    with h5py.File(tmp_path / "vgg_rgb_features.hdf5", "w") as h5:
        h5.create_dataset("A", data=_rows(4, 4096))
    with pytest.raises(PackError, match=r"vgg_rgb_features\.hdf5:/B: missing"):
        PackReader(tmp_path, _layout("2d-tan-charades")).read("B", duration=6.0)


def test_pickled_npy_is_refused(thumos):
    root, reader = thumos
    np.save(root / "i3d_features" / "v.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(PackError, match=r"v\.npy: holds Python objects \(a pickled array\), which are never loaded"):
        reader.read("v")


@pytest.mark.parametrize("damage", ["truncated", "header announces more", "not npy"])
def test_a_damaged_npy_is_refused_naming_it(thumos, damage):
    root, reader = thumos
    path = root / "i3d_features" / "v.npy"
    np.save(path, _rows(80, 2048))
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:-100])
    elif damage == "header announces more":
        path.write_bytes(data.replace(b"(80, 2048)", b"(90, 2048)"))
    else:
        path.write_bytes(b"not an npy file at all" * 10)
    expected = r"cannot be read as npy" if damage == "not npy" else r"holds \d+ bytes of data, but its header announces"
    with pytest.raises(PackError, match=r"v\.npy: " + expected):
        reader.read("v", duration=10.0)


def test_layout_errors_name_the_key():
    with pytest.raises(LayoutError, match=r"preset: unknown preset 'moment_detr'"):
        layout_from_mapping({"preset": "moment_detr"}, "t.yaml: key 'features'")
    with pytest.raises(LayoutError, match=r"time_base"):
        layout_from_mapping({"preset": "moment-detr", "time_base": {"clip": 2}}, "t.yaml: key 'features'")
    with pytest.raises(LayoutError, match=r"unknown key 'stream'"):
        layout_from_mapping({"preset": "moment-detr", "stream": ["a"]}, "t.yaml: key 'features'")


# ---------------------------------------------------------------- writing packs

@pytest.mark.parametrize("preset", ["moment-detr", "actionformer-thumos14", "2d-tan-charades"])
def test_written_packs_read_back_in_their_layout(tmp_path, preset):
    from dataclasses import replace

    from tempvl_core.data.features.writer import assemble_hdf5, write_video_rows

    layout = _layout(preset)
    layout = replace(layout, streams=layout.streams[:1], dims=None)
    rows = {"a": _rows(80, 6, 1), "b": _rows(75, 6, 2)}
    for vid, array in rows.items():
        write_video_rows(tmp_path, layout, vid, [array])
    if layout.container == "hdf5":
        assemble_hdf5(tmp_path, layout, list(rows))
    assert not list(tmp_path.rglob("*.tmp"))
    reader = PackReader(tmp_path, replace(layout, normalize=False, max_rows=None))
    for vid, array in rows.items():
        assert np.array_equal(reader.read(vid, duration=10.0).features, array)


def test_row_windows_follow_each_time_base():
    from tempvl_core.data.features.timebase import row_windows

    starts, ends = row_windows(ClipTimeBase(2.0), 7.0, 0)
    assert starts.tolist() == [0, 2, 4, 6] and ends.tolist() == [2, 4, 6, 7]
    starts, ends = row_windows(StrideTimeBase(4, 16, 30.0), 2.0, 0)
    assert len(starts) == 12 and starts[1] == pytest.approx(4 / 30) and ends[0] == pytest.approx(16 / 30)
    starts, ends = row_windows(SpanTimeBase(), 8.0, 4)
    assert starts.tolist() == [0, 2, 4, 6] and ends.tolist() == [2, 4, 6, 8]
