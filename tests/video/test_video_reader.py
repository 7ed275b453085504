"""The reader decodes the frames the sampling asked for, with either backend."""

from __future__ import annotations

import numpy as np
import pytest

from tempvl_core.video import VideoDecodeError, probe, read_frames
from tempvl_core.video import backends
from tempvl_core.video.backends import BackendError

from .videogen import decoded_indices

BACKENDS = ["decord", "pyav"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_probe(short_video, backend):
    info = probe(short_video, backend=backend)
    assert (info.frame_count, info.fps, info.duration) == (16, 4.0, 4.0)
    assert (info.width, info.height) == (64, 48)


@pytest.mark.parametrize("backend", BACKENDS)
def test_uniform_decodes_the_sampled_frames(short_video, backend):
    clip = read_frames(short_video, num_frames=4, size=None, backend=backend)
    assert clip.backend == backend
    assert decoded_indices(clip.frames) == [2, 6, 10, 14]
    np.testing.assert_allclose(clip.timestamps, [0.5, 1.5, 2.5, 3.5])
    assert clip.frames.dtype == np.uint8 and clip.frames.shape == (4, 48, 64, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_long_gop_sparse_frames(long_gop_video, backend):
    clip = read_frames(long_gop_video, num_frames=8, size=None, backend=backend)
    expected = np.floor((np.arange(8) + 0.5) * 60 / 8).astype(int).tolist()
    assert decoded_indices(clip.frames) == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_sampling_follows_the_generator(long_gop_video, backend):
    a = read_frames(long_gop_video, sampling="random", num_frames=6, size=None,
                    rng=np.random.default_rng(3), backend=backend)
    b = read_frames(long_gop_video, sampling="random", num_frames=6, size=None,
                    rng=np.random.default_rng(3), backend=backend)
    got = decoded_indices(a.frames)
    assert got == decoded_indices(b.frames)
    assert [i // 10 for i in got] == list(range(6))  # one frame per 10-frame segment
    np.testing.assert_allclose(a.timestamps, np.array(got) / 4.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fps_and_window_sampling(long_gop_video, backend):
    clip = read_frames(long_gop_video, sampling="fps", fps=1.0, num_frames=None, size=None, backend=backend)
    assert decoded_indices(clip.frames) == list(range(0, 60, 4))
    np.testing.assert_allclose(clip.timestamps, np.arange(15.0))
    win = read_frames(long_gop_video, sampling="window", window=(10.0, 12.0), num_frames=4,
                      size=None, backend=backend)
    assert decoded_indices(win.frames) == [41, 43, 45, 47]


def test_backends_agree_pixel_for_pixel(long_gop_video):
    a = read_frames(long_gop_video, num_frames=5, size=None, backend="decord")
    b = read_frames(long_gop_video, num_frames=5, size=None, backend="pyav")
    assert np.abs(a.frames.astype(int) - b.frames.astype(int)).max() <= 1


def test_short_video_repeats_frames(tiny_video):
    clip = read_frames(tiny_video, num_frames=8, size=None)
    assert decoded_indices(clip.frames) == [0, 0, 0, 1, 1, 2, 2, 2]


def test_resize_and_crop_shapes(short_video):
    assert read_frames(short_video, num_frames=2, size=32).frames.shape == (2, 32, 32, 3)
    # crop="none": short side 32, aspect ratio kept (64x48 -> 43x32).
    assert read_frames(short_video, num_frames=2, size=32, crop="none").frames.shape == (2, 32, 43, 3)
    assert read_frames(short_video, num_frames=2, size=96).frames.shape == (2, 96, 96, 3)
    # Resizing keeps the colour code readable.
    assert decoded_indices(read_frames(short_video, num_frames=2, size=32).frames) == [4, 12]


def test_auto_picks_pyav_for_sparse_and_decord_for_dense(long_gop_video):
    assert read_frames(long_gop_video, num_frames=8, size=None).backend == "pyav"
    dense = read_frames(long_gop_video, sampling="fps", fps=4.0, num_frames=None, size=None)
    assert dense.backend == "decord"
    assert decoded_indices(dense.frames) == list(range(60))


def _broken(*args):
    raise BackendError("simulated failure")


def test_decord_failure_falls_back_to_pyav(short_video, monkeypatch):
    monkeypatch.setattr(backends, "DecordSource", _broken)
    clip = read_frames(short_video, sampling="fps", fps=4.0, num_frames=None, size=None)
    assert clip.backend == "pyav"
    assert decoded_indices(clip.frames) == list(range(16))


def test_pyav_failure_falls_back_to_decord(short_video, monkeypatch):
    monkeypatch.setattr(backends, "PyAVSource", _broken)
    clip = read_frames(short_video, num_frames=4, size=None)
    assert clip.backend == "decord"
    assert decoded_indices(clip.frames) == [2, 6, 10, 14]


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nope.mp4"
    with pytest.raises(VideoDecodeError, match="nope.mp4.*missing file") as err:
        read_frames(path)
    assert err.value.path == path and "missing" in err.value.reason


@pytest.mark.parametrize("fixture", ["garbage_file", "truncated_video"])
def test_corrupted_files_raise_video_decode_error(fixture, request):
    path = request.getfixturevalue(fixture)
    with pytest.raises(VideoDecodeError) as err:
        read_frames(path)
    assert err.value.path == path and path.name in str(err.value)
    assert "pyav" in err.value.reason  # the fallback was tried too


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoDecodeError, match="empty file"):
        probe(path)


def test_image_is_a_one_frame_video(image_file):
    clip = read_frames(image_file, num_frames=8, size=None)
    assert clip.backend == "pil" and clip.frames.shape == (1, 30, 50, 3)
    assert clip.info.frame_count == 1 and clip.timestamps.tolist() == [0.0]
    cropped = read_frames(image_file, size=20).frames
    assert cropped.shape == (1, 20, 20, 3)
    assert tuple(cropped[0, 10, 0]) != tuple(cropped[0, 10, 19])  # both halves survive the crop


def test_window_outside_the_video_is_an_argument_error(short_video):
    with pytest.raises(ValueError, match="outside the video"):
        read_frames(short_video, sampling="window", window=(10.0, 11.0))


@pytest.mark.parametrize(
    "indices",
    [
        [52, 57, 51],  # last GOP only: one seek past two GOPs
        [3, 55],  # first and last GOP: stop GOP 0 early, seek over GOP 1
        [20, 27, 30],  # end of GOP 0 then GOP 1: read on without seeking
        list(range(60)),  # everything
        [0, 0, 59, 59],  # repeats, first and last frame
    ],
)
@pytest.mark.parametrize("read_on", [0, 128])  # 0: seek to every wanted GOP
def test_pyav_selective_decoder_is_exact_without_the_sequential_fallback(
    long_gop_video, indices, read_on, monkeypatch
):
    monkeypatch.setattr(backends, "READ_ON_PACKETS", read_on)

    def no_fallback(self, idx):
        raise AssertionError("selective decoding fell back to sequential decoding")

    monkeypatch.setattr(backends.PyAVSource, "_decode_sequential", no_fallback)
    source = backends.PyAVSource(long_gop_video)
    frames = source.get(np.array(indices))
    source.close()
    assert decoded_indices(frames) == indices


def test_pyav_sequential_path_agrees(long_gop_video):
    source = backends.PyAVSource(long_gop_video)
    frames = source._decode_sequential(np.array([5, 33, 58]))
    source.close()
    assert decoded_indices(np.stack(frames)) == [5, 33, 58]


def test_backends_agree_after_resizing_textured_frames(tmp_path):
    import av

    path = tmp_path / "textured.mp4"
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for i in range(12):
            img = np.kron(np.roll(blocks, i, axis=1), np.ones((16, 16, 1), dtype=np.uint8))
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    a = read_frames(path, num_frames=3, size=40, crop="none", backend="decord")
    b = read_frames(path, num_frames=3, size=40, crop="none", backend="pyav")
    assert a.frames.shape == b.frames.shape == (3, 40, 53, 3)
    assert (a.info.width, a.info.height) == (b.info.width, b.info.height) == (128, 96)
    assert np.abs(a.frames.astype(int) - b.frames.astype(int)).mean() < 3.0


def test_without_decord_everything_goes_through_pyav(long_gop_video, monkeypatch):
    from tempvl_core.video import reader

    monkeypatch.setattr(reader, "HAVE_DECORD", False)
    dense = read_frames(long_gop_video, sampling="fps", fps=4.0, num_frames=None, size=None)
    assert dense.backend == "pyav" and decoded_indices(dense.frames) == list(range(60))
