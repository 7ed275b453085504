"""Grounding diagnostics (tempvl_bench/metrics/grounding.py) on hand-made videos whose answers
can be counted by eye, and against brute force on random ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tempvl_bench.metrics.grounding import (best_constant_frame, event_outcomes, frame_hits, grounding_diagnostics,
                                            shared_window, swap_within_video, swappable, swapped_text_hits,
                                            text_blind_ceiling)
from tempvl_bench.metrics.priors import frame_windows, window_iou

#: One video, three disjoint events (seconds), one query each; a second video with two queries
#: of the same event.
GT = np.array([[0, 10], [10, 20], [20, 30], [5, 15], [5, 15]], dtype=float)
VIDEO = ["a", "a", "a", "b", "b"]


def test_a_text_blind_event_detector_chooses_the_right_event_at_chance():
    top1 = np.array([[0, 10]] * 3 + [[5, 15]] * 2, dtype=float)  # one event per video, whatever the text
    out = event_outcomes(top1, GT, VIDEO)
    assert out.matched.tolist() == [100.0] * 5
    assert out.right.tolist() == [100.0, 0.0, 0.0, 100.0, 100.0]
    assert out.chance.tolist() == pytest.approx([100 / 3] * 3 + [100.0] * 2)
    assert out.right_event_rate() == pytest.approx(60.0)  # (100 + 0 + 0 + 100 + 100) / 5
    assert out.chance_rate() == pytest.approx(60.0)  # (3 * 100/3 + 2 * 100) / 5: no better than chance


def test_a_grounding_model_chooses_its_own_event():
    out = event_outcomes(GT.copy(), GT, VIDEO)
    assert out.right_event_rate() == 100.0
    assert out.chance_rate() == pytest.approx((3 * 100 / 3 + 2 * 100) / 5)


def test_windows_that_match_no_event_leave_the_rate_undefined():
    out = event_outcomes(np.array([[40, 50]] * 5, dtype=float), GT, VIDEO)
    assert out.matched.sum() == 0 and out.chosen.size == 0
    assert math.isnan(out.right_event_rate()) and math.isnan(out.chance_rate())


def test_the_match_is_strict_as_r1_counts_it():
    # IoU exactly 0.5 ([0, 10] against [0, 20]) is not a hit for R1@0.5 (2D-TAN: IoU > m).
    out = event_outcomes(np.array([[0, 10]]), np.array([[0, 20]]), ["v"])
    assert out.matched.tolist() == [0.0]
    out = event_outcomes(np.array([[0, 10.5]]), np.array([[0, 20]]), ["v"])
    assert out.matched.tolist() == [100.0]


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="must both be"):
        event_outcomes(np.zeros((2, 3)), np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="video ids"):
        event_outcomes(np.zeros((2, 2)), np.zeros((2, 2)), ["a"])


@pytest.mark.parametrize("seed", range(5))
def test_swapping_gives_every_query_another_text_of_its_own_video(seed):
    video = ["a"] * 4 + ["b"] + ["c"] * 2 + ["a"]
    perm = swap_within_video(video, seed=seed)
    assert sorted(perm.tolist()) == list(range(len(video)))  # a permutation
    for q, p in enumerate(perm):
        assert video[p] == video[q]
        assert (p != q) == (video[q] != "b")
    assert swappable(perm).tolist() == [q for q in range(len(video)) if video[q] != "b"]


def test_the_swap_is_seeded():
    video = ["a"] * 6
    assert swap_within_video(video, 3).tolist() == swap_within_video(video, 3).tolist()
    assert len({tuple(swap_within_video(video, s)) for s in range(10)}) > 1


def test_text_blind_ceiling_counts_one_event_per_video():
    normalized = GT / 30.0
    ceiling = text_blind_ceiling(normalized, VIDEO)
    assert ceiling.tolist() == [100.0, 0.0, 0.0, 100.0, 100.0]


@pytest.mark.parametrize("seed", range(3))
def test_no_window_shared_by_a_video_scores_above_the_ceiling(seed):
    rng = np.random.default_rng(seed)
    starts = rng.uniform(0, 0.8, 40)
    gt = np.stack([starts, starts + rng.uniform(0.05, 0.5, 40)], 1).clip(0, 1)
    video = rng.integers(0, 8, 40).tolist()
    ceiling = text_blind_ceiling(gt, video)
    grid = frame_windows(400)  # every window on a 1/400 grid: brute force
    for v in set(video):
        members = np.array([q for q in range(40) if video[q] == v])
        hits = (window_iou(grid[:, None, :], gt[None, members, :]) > 0.5)  # [windows, queries]
        assert hits.sum(1).max() <= ceiling[members].sum() / 100
        # the queries the ceiling counts are matched by one window (checked with window_iou)
        chosen = gt[members][ceiling[members] > 0]
        witness = shared_window(chosen)
        assert witness is not None and (window_iou(witness[None, :], chosen) > 0.5).all()


def test_best_constant_frame_is_fitted_on_the_windows():
    train = np.array([[0.5, 0.75]] * 3 + [[0.0, 0.2]])
    assert best_constant_frame(train, 4) == 2  # centre 0.625 lies in three windows
    assert frame_hits(np.array([2, 0, 1]), np.array([[0.5, 0.75], [0.0, 0.2], [0.5, 0.75]]), 4).tolist() == \
        [100.0, 100.0, 0.0]


def test_a_shared_window_is_found_where_a_grid_misses_it():
    # Two events that a window can match together only within a sliver: IoU > 0.5 with both.
    gt = np.array([[0.0, 0.4], [0.2, 0.6]])
    witness = shared_window(gt)
    assert witness is not None and (window_iou(witness[None, :], gt) > 0.5).all()
    assert shared_window(np.array([[0.0, 0.3], [0.31, 0.6]])) is None  # disjoint: no window matches both


def test_swapped_texts_find_the_other_event_when_the_text_is_read():
    durations = np.array([30.0] * 5)
    grounded = grounding_diagnostics(GT.copy(), GT, VIDEO, durations)  # each query finds its own event
    assert grounded["queries swapped"] == 5
    # Video a: another text finds another event (0). Video b: both texts describe one event (100).
    assert grounded["swapped-text R1@0.5"] == pytest.approx(200 / 5)
    assert grounded["unswapped R1@0.5 (same queries)"] == 100.0
    assert grounded["right-event rate"] == 100.0 and grounded["text-blind ceiling R1@0.5"] == pytest.approx(60.0)
    blind = np.array([[0, 10]] * 3 + [[5, 15]] * 2, dtype=float)  # one event per video, whatever the text
    moved, swapped = swapped_text_hits(blind, GT, VIDEO)
    assert moved.tolist() == [0, 1, 2, 3, 4]
    assert swapped.tolist() == event_outcomes(blind, GT, VIDEO).right.tolist()  # text-blind: swapping changes nothing
    alone = grounding_diagnostics(GT[:1], GT[:1], ["a"], durations[:1])  # no other text to swap in
    assert alone["queries swapped"] == 0 and "swapped-text R1@0.5" not in alone
