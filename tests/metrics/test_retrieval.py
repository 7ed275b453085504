"""Retrieval metrics: hand-worked cases and CLIP4Clip conventions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tempvl_bench.metrics import multi_caption_retrieval_metrics, retrieval_metrics
from tempvl_bench.metrics.retrieval import summarize_ranks


def test_square_hand_case() -> None:
    sim = np.array([
        [0.9, 0.1, 0.0],   # text 0: own video best -> rank 1
        [0.7, 0.5, 0.6],   # text 1: 0.7 and 0.6 beat 0.5 -> rank 3
        [0.2, 0.8, 0.4],   # text 2: 0.8 beats 0.4 -> rank 2
    ])
    out = retrieval_metrics(sim)
    assert out["t2v/R@1"] == pytest.approx(100 / 3)
    assert out["t2v/R@5"] == 100.0
    assert out["t2v/MdR"] == 2.0
    assert out["t2v/MnR"] == 2.0
    # Columns: video 0 own 0.9 -> 1; video 1 own 0.5, 0.8 beats -> 2; video 2 own 0.4, 0.6 beats -> 2.
    assert out["v2t/R@1"] == pytest.approx(100 / 3)
    assert out["v2t/MdR"] == 2.0
    assert out["v2t/MnR"] == pytest.approx(5 / 3)


def test_even_count_median_is_numpy_mean_of_middle() -> None:
    sim = np.array([[1.0, 0.0], [1.0, 0.5]])  # t2v ranks 1, 2
    out = retrieval_metrics(sim)
    assert out["t2v/MdR"] == 1.5


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 100])
def test_constant_matrix_scores_exactly_chance(n: int) -> None:
    """A collapsed model (every score equal) gets chance, not a perfect score."""
    out = retrieval_metrics(np.zeros((n, n), dtype=np.float32))
    for prefix in ("t2v", "v2t"):
        for k in (1, 5, 10):
            assert out[f"{prefix}/R@{k}"] == float(Fraction(100 * min(k, n), n))
        assert out[f"{prefix}/MnR"] == (n + 1) / 2
        assert out[f"{prefix}/MdR"] == (n + 1) / 2


def test_constant_multi_caption_scores_chance() -> None:
    index = np.array([0, 0, 1, 2, 2, 2, 3])
    out = multi_caption_retrieval_metrics(np.full((7, 4), 0.25), index)
    assert out["t2v/R@1"] == float(np.float32(25.0)) and out["t2v/R@5"] == 100.0
    assert out["t2v/MnR"] == 2.5 and out["t2v/MdR"] == 2.5
    assert out["v2t/R@1"] == 25.0 and out["v2t/MnR"] == 2.5


def test_ties_count_the_expectation_over_random_tie_breaking() -> None:
    sim = np.array([
        [0.5, 0.9, 0.5],  # text 0: one higher (0.9), one tied: positions 2 or 3 -> rank 2.5
        [1.0, 1.0, 0.0],  # text 1: one tied, none higher: positions 1 or 2 -> rank 1.5, R@1 half
        [0.0, 0.0, 1.0],  # text 2: alone at the top -> rank 1
    ])
    out = retrieval_metrics(sim)
    assert out["t2v/R@1"] == float(Fraction(100 * 3, 2 * 3))  # (0 + 1/2 + 1) / 3
    assert out["t2v/R@5"] == 100.0
    assert out["t2v/MnR"] == pytest.approx((2.5 + 1.5 + 1) / 3)
    assert out["t2v/MdR"] == 1.5


def _expected_by_positions(values: np.ndarray, target: int, k: int) -> tuple[float, float]:
    """Independent route: the true item lands uniformly on one of its tied sorted positions."""
    ordered = np.sort(values)[::-1]
    first = int(np.flatnonzero(ordered == values[target])[0]) + 1
    last = int(np.flatnonzero(ordered == values[target])[-1]) + 1
    positions = np.arange(first, last + 1)
    return float(np.mean(positions)), float(np.mean(positions <= k))


def test_tied_ranks_match_positions_on_integer_matrix_across_blocks() -> None:
    rng = np.random.default_rng(3)
    sim = rng.integers(0, 4, size=(150, 150)).astype(np.float64)  # many ties; several row blocks
    out = retrieval_metrics(sim)
    for prefix, matrix in (("t2v", sim), ("v2t", sim.T)):
        ranks = [_expected_by_positions(row, i, 1)[0] for i, row in enumerate(matrix)]
        for k in (1, 5, 10):
            credit = sum(_expected_by_positions(row, i, k)[1] for i, row in enumerate(matrix))
            assert out[f"{prefix}/R@{k}"] == pytest.approx(credit * 100 / 150, rel=1e-12)
        assert out[f"{prefix}/MnR"] == pytest.approx(np.mean(ranks), rel=1e-12)
        assert out[f"{prefix}/MdR"] == np.median(ranks)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_similarities_are_refused_with_count_and_position(bad: float) -> None:
    sim = np.eye(40, dtype=np.float32)
    sim[17, 3] = bad
    sim[30, 31] = bad
    for metric in (retrieval_metrics, lambda s: multi_caption_retrieval_metrics(s, np.arange(40))):
        with pytest.raises(ValueError, match=r"2 non-finite.*\[17, 3\]"):
            metric(sim)


def test_large_finite_values_whose_sum_overflows_are_accepted() -> None:
    sim = np.full((3, 3), 3e38, dtype=np.float32)
    np.fill_diagonal(sim, 3.4e38)
    assert retrieval_metrics(sim)["t2v/R@1"] == 100.0


def test_square_matches_sort_based_ranks_without_ties() -> None:
    rng = np.random.default_rng(0)
    sim = rng.standard_normal((700, 700))  # > one row block, continuous: no ties
    expected_t2v = np.array([np.where(np.argsort(-row) == i)[0][0] + 1 for i, row in enumerate(sim)])
    expected_v2t = np.array([np.where(np.argsort(-col) == j)[0][0] + 1 for j, col in enumerate(sim.T)])
    out = retrieval_metrics(sim)
    for prefix, ranks in (("t2v", expected_t2v), ("v2t", expected_v2t)):
        assert out[f"{prefix}/R@10"] == pytest.approx(np.mean(ranks <= 10) * 100)
        assert out[f"{prefix}/MdR"] == np.median(ranks)
        assert out[f"{prefix}/MnR"] == pytest.approx(ranks.mean())


def test_multi_caption_hand_case() -> None:
    sim = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.4]])
    out = multi_caption_retrieval_metrics(sim, [0, 0, 1])
    # t2v ranks [1, 2, 1]; R@1 in float32 as torch computes 200 / 3.
    assert out["t2v/R@1"] == float(np.float32(200) / np.float32(3))
    assert out["t2v/R@1"] != 200 / 3
    assert out["t2v/MdR"] == 1.0
    assert out["t2v/MnR"] == pytest.approx(4 / 3)
    # v2t: video 0 -> best caption group 0 (0.9) rank 1; video 1 -> own 0.4 < group 0's 0.8: rank 2.
    assert out["v2t/R@1"] == 50.0
    assert out["v2t/MdR"] == 1.5


def test_multi_caption_non_contiguous_groups_equal_contiguous() -> None:
    rng = np.random.default_rng(1)
    index = rng.integers(0, 600, size=2000)
    index[:600] = np.arange(600)  # every video has a caption
    sim = rng.standard_normal((2000, 600)).astype(np.float32)
    order = np.argsort(index, kind="stable")
    assert multi_caption_retrieval_metrics(sim, index) == multi_caption_retrieval_metrics(sim[order], index[order])


def test_lower_median_and_float32_recall_match_torch() -> None:
    torch = pytest.importorskip("torch")
    ranks = np.array([4, 1, 3, 2, 7, 1, 9])
    ours = summarize_ranks(np.r_[ranks, 5], "t2v", torch_style=True)
    zero_based = torch.tensor(np.r_[ranks, 5] - 1)
    assert ours["t2v/MdR"] == float(torch.median(zero_based + 1))
    for k in (1, 5, 10):
        assert ours[f"t2v/R@{k}"] == float(torch.sum(zero_based < k) * 100 / len(zero_based))
    assert ours["t2v/MnR"] == float(np.mean(zero_based.numpy() + 1))


def test_square_summary_uses_zero_based_numpy_arithmetic() -> None:
    zero_based = np.array([0, 1, 1, 4, 2, 0, 7])
    ours = summarize_ranks(zero_based + 1, "v2t")
    assert ours["v2t/MdR"] == np.median(zero_based) + 1
    assert ours["v2t/MnR"] == np.mean(zero_based) + 1
    assert ours["v2t/R@5"] == float(np.sum(zero_based < 5)) * 100 / len(zero_based)


@pytest.mark.parametrize("sim, message", [
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN or infinity"),
    (np.ones((2, 3)), "square"),
    (np.ones(3), "2-D"),
])
def test_square_errors(sim: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        retrieval_metrics(sim)


@pytest.mark.parametrize("index, message", [
    ([0, 0, 5], "outside"),
    ([0, 0, 0], "no caption"),
    ([0, 1], "one video per text"),
])
def test_multi_caption_index_errors(index: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        multi_caption_retrieval_metrics(np.zeros((3, 2)), index)


def test_multi_caption_matches_padded_sort_based_ranks() -> None:
    """CLIP4Clip's layout: captions padded per video with -inf, ranks from a descending sort."""
    rng = np.random.default_rng(2)
    n_videos, counts = 50, rng.integers(1, 5, size=50)
    index = np.repeat(np.arange(n_videos), counts)
    sim = rng.standard_normal((index.size, n_videos))
    padded = np.full((n_videos, counts.max(), n_videos), -np.inf)
    for v in range(n_videos):
        padded[v, :counts[v]] = sim[index == v]
    t2v = [int(np.flatnonzero(np.argsort(-padded[v, c]) == v)[0]) + 1
           for v in range(n_videos) for c in range(counts[v])]
    per_video = padded.max(axis=1).T  # [video, caption group]
    v2t = [int(np.flatnonzero(np.argsort(-row) == j)[0]) + 1 for j, row in enumerate(per_video)]
    out = multi_caption_retrieval_metrics(sim, index)
    t2v_sorted = np.sort(t2v)
    assert out["t2v/MdR"] == t2v_sorted[(len(t2v) - 1) // 2]
    assert out["t2v/MnR"] == pytest.approx(np.mean(t2v))
    assert out["t2v/R@5"] == pytest.approx(np.mean(np.array(t2v) <= 5) * 100, rel=1e-6)
    assert out["v2t/MdR"] == np.median(v2t)
    assert out["v2t/R@1"] == pytest.approx(np.mean(np.array(v2t) <= 1) * 100)
