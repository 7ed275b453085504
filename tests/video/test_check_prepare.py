"""check_videos lists broken files; prepare_videos makes fast copies and resumes."""

from __future__ import annotations

import json
import shutil

import av
import pytest

from tempvl_core.video import probe, read_frames
from tempvl_core.video.check import check_videos, spread_indices
from tempvl_core.video.prepare import prepare_videos, prepared_path, resolve_video

from .videogen import decoded_indices, write_video


def test_spread_indices_include_first_and_last():
    assert spread_indices(16, 2).tolist() == [0, 15]
    assert spread_indices(16, 3).tolist() == [0, 8, 15]
    assert spread_indices(1, 2).tolist() == [0]


def test_check_videos_reports_exactly_the_broken_files(
    short_video, long_gop_video, image_file, garbage_file, truncated_video, truncated_tail_video, tmp_path
):
    missing = tmp_path / "missing.mp4"
    paths = [
        short_video, garbage_file, long_gop_video, truncated_video, missing, truncated_tail_video, image_file
    ]
    report = check_videos(paths, progress=False)
    assert report.checked == 7 and not report.ok
    assert [f.path for f in report.failed] == [garbage_file, truncated_video, missing, truncated_tail_video]
    by_path = {f.path: f.error for f in report.failed}
    assert "missing file" in by_path[missing]
    assert "truncated" in by_path[truncated_tail_video]
    data = json.loads(report.to_json())
    assert data["num_failed"] == 4 and data["failed"][2]["path"] == str(missing)
    assert "3 ok, 4 failed" in report.summary()


def test_truncated_tail_still_opens_but_does_not_pass_the_check(truncated_tail_video):
    # The first frames decode; only a check that reaches the end of the index finds the damage.
    with av.open(str(truncated_tail_video)) as container:
        assert container.streams.video[0].frames == 40


def test_prepared_path_and_resolve(tmp_path):
    src_root, prep_root = tmp_path / "src", tmp_path / "prep"
    src = src_root / "a" / "clip.avi"
    assert prepared_path(src_root, prep_root, src) == prep_root / "a" / "clip.mp4"
    with pytest.raises(ValueError, match="not under the source root"):
        prepared_path(src_root, prep_root, tmp_path / "elsewhere.mp4")
    assert resolve_video(src, source_root=src_root) == src
    assert resolve_video(src, source_root=src_root, prepared_root=prep_root) == src  # no copy yet
    (prep_root / "a").mkdir(parents=True)
    (prep_root / "a" / "clip.mp4").write_bytes(b"x")
    assert resolve_video(src, source_root=src_root, prepared_root=prep_root) == prep_root / "a" / "clip.mp4"


@pytest.fixture()
def sources(tmp_path, long_gop_video, garbage_file):
    src_root = tmp_path / "src"
    (src_root / "sub").mkdir(parents=True)
    a = shutil.copy(long_gop_video, src_root / "a.mp4")
    b = write_video(src_root / "sub" / "b.mp4", num_frames=12, fps=4, width=48, height=64)
    bad = shutil.copy(garbage_file, src_root / "bad.mp4")
    prep_root = tmp_path / "prep"
    srcs = (src_root / "a.mp4", b, src_root / "bad.mp4")
    items = [(p, prepared_path(src_root, prep_root, p)) for p in srcs]
    return items


def test_prepare_videos_reencodes_lower_fps_smaller_short_keyframes(sources):
    report = prepare_videos(sources, fps=2, short_side=32, progress=False)
    (a_src, a_dst), (b_src, b_dst), (bad_src, bad_dst) = sources
    assert report.written == [a_dst, b_dst] and report.skipped == []
    assert [f.path for f in report.failed] == [bad_src] and not bad_dst.exists()
    info = probe(a_dst)
    assert (info.frame_count, info.fps, info.width, info.height) == (30, 2.0, 42, 32)
    assert (probe(b_dst).width, probe(b_dst).height) == (32, 42)
    # Prepared frame k shows the source frame on screen at k / 2 s, i.e. source frame 2k.
    clip = read_frames(a_dst, sampling="fps", fps=2.0, num_frames=None, size=None)
    assert decoded_indices(clip.frames) == list(range(0, 60, 2))
    with av.open(str(a_dst)) as container:
        keys = [k for _, k in sorted((p.pts, p.is_keyframe) for p in container.demux(video=0) if p.size)]
    key_at = [i for i, k in enumerate(keys) if k]
    # keyint defaults to fps: a keyframe at least every 2 frames (x264 may place one early).
    assert key_at[0] == 0 and max(b - a for a, b in zip(key_at, key_at[1:] + [30])) <= 2
    assert len(key_at) < 20
    assert not list(a_dst.parent.glob(".*partial*"))


def test_prepare_videos_in_worker_processes(sources):
    report = prepare_videos(sources, fps=2, short_side=32, progress=False, num_workers=2)
    assert report.written == [sources[0][1], sources[1][1]] and len(report.failed) == 1
    assert probe(sources[1][1]).frame_count == 6


def test_duplicate_destinations_are_reported(sources, tmp_path):
    (a_src, a_dst), _, _ = sources
    other = shutil.copy(a_src, tmp_path / "src" / "a.avi")  # a.avi and a.mp4 -> the same a.mp4
    report = prepare_videos([(a_src, a_dst), (other, a_dst)], fps=2, short_side=32, progress=False)
    assert report.written == [a_dst]
    assert report.failed[0].path == other and "also the copy of" in report.failed[0].error


def test_prepare_videos_resumes(sources):
    (a_src, a_dst), (b_src, b_dst), _ = sources
    prepare_videos(sources[:1], fps=2, short_side=32, progress=False)
    mtime = a_dst.stat().st_mtime_ns
    b_dst.parent.mkdir(parents=True, exist_ok=True)
    b_dst.write_bytes(b"half-written garbage from a killed run")
    report = prepare_videos(sources, fps=2, short_side=32, progress=False)
    assert report.skipped == [a_dst] and report.written == [b_dst] and len(report.failed) == 1
    assert a_dst.stat().st_mtime_ns == mtime
    assert probe(b_dst).frame_count == 6
    again = prepare_videos(sources, fps=2, short_side=32, progress=False)
    assert again.skipped == [a_dst, b_dst] and again.written == []
    assert json.loads(again.to_json())["failed"][0]["path"].endswith("bad.mp4")
