"""Sampling strategies as pure functions of (frame count, fps)."""

from __future__ import annotations

import numpy as np
import pytest

from tempvl_core.video.sampling import (
    fps_indices,
    random_indices,
    sample_indices,
    uniform_indices,
    window_frames,
)


def test_uniform_takes_segment_middles():
    assert uniform_indices(16, 4).tolist() == [2, 6, 10, 14]
    assert uniform_indices(10, 1).tolist() == [5]
    assert uniform_indices(900, 8).tolist() == [56, 168, 281, 393, 506, 618, 731, 843]


def test_uniform_repeats_frames_of_a_short_video():
    assert uniform_indices(3, 8).tolist() == [0, 0, 0, 1, 1, 2, 2, 2]


def test_random_stays_inside_its_segment_and_follows_the_seed():
    draws = [random_indices(40, 4, np.random.default_rng(s)) for s in range(50)]
    for idx in draws:
        assert [i // 10 for i in idx] == [0, 1, 2, 3]
    assert len({tuple(d) for d in draws}) > 10  # actually random
    a = random_indices(40, 4, np.random.default_rng(7))
    b = random_indices(40, 4, np.random.default_rng(7))
    assert a.tolist() == b.tolist()


def test_random_covers_whole_segment():
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(300):
        seen.update(random_indices(8, 2, rng).tolist())
    assert seen == set(range(8))


def test_random_with_fewer_frames_than_segments():
    idx = random_indices(3, 8, np.random.default_rng(0))
    assert len(idx) == 8 and idx.min() >= 0 and idx.max() <= 2


def test_fps_sampling_one_frame_per_second():
    # 10 s at 30 fps -> frames at t = 0..9 s.
    assert fps_indices(300, 30.0, 1.0).tolist() == [30 * k for k in range(10)]
    # 2 fps on a 4 fps video -> every second frame.
    assert fps_indices(16, 4.0, 2.0).tolist() == [0, 2, 4, 6, 8, 10, 12, 14]


def test_fps_sampling_cap_subsamples_uniformly():
    idx = fps_indices(300, 30.0, 1.0, max_frames=4)
    assert idx.tolist() == [30, 90, 180, 240]


def test_window_to_frames_clips_to_the_video():
    assert window_frames(40, 4.0, (2.0, 5.0)) == (8, 20)
    assert window_frames(40, 4.0, (8.0, 99.0)) == (32, 40)
    with pytest.raises(ValueError, match="outside the video"):
        window_frames(40, 4.0, (11.0, 12.0))
    with pytest.raises(ValueError, match="after its start"):
        window_frames(40, 4.0, (3.0, 3.0))


def test_window_strategies_stay_inside_the_window():
    assert sample_indices("window", 40, 4.0, 4, window=(2.0, 4.0)).tolist() == [9, 11, 13, 15]
    rnd = sample_indices("random", 40, 4.0, 4, window=(2.0, 4.0), rng=np.random.default_rng(1))
    assert all(8 <= i < 16 for i in rnd)
    assert sample_indices("fps", 40, 4.0, None, target_fps=1.0, window=(2.0, 5.0)).tolist() == [8, 12, 16]


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="unknown sampling 'middle'"):
        sample_indices("middle", 10, 4.0, 2)
    with pytest.raises(ValueError, match="needs window"):
        sample_indices("window", 10, 4.0, 2)
    with pytest.raises(ValueError, match="needs fps"):
        sample_indices("fps", 10, 4.0, 2)
    with pytest.raises(ValueError, match="zero|0 frames"):
        uniform_indices(0, 2)
