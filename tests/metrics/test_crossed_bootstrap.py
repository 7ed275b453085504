"""The crossed (seeds x queries) mode of the one bootstrap in tempvl_bench.report.uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from tempvl_bench.report.uncertainty import (
    SEEDS,
    Crossed,
    Outcomes,
    PerUnit,
    bootstrap_ci,
    paired_difference,
    resample_indices,
)


def _crossed(values) -> Outcomes:
    return Outcomes({"m": Crossed("query", values)})


def test_a_resample_averages_the_drawn_seeds_over_the_drawn_queries() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(3, 7))
    index = resample_indices({SEEDS: 3, "query": 7}, resamples=20, seed=4)
    got = Crossed("query", values).resampled(index["query"], index[SEEDS])
    by_hand = [np.mean([values[s, index["query"][b]].mean() for s in index[SEEDS][b]]) for b in range(20)]
    np.testing.assert_allclose(got, by_hand, rtol=0, atol=1e-12)


def test_without_seed_variance_it_is_the_queries_bootstrap() -> None:
    row = np.random.default_rng(2).uniform(0, 100, size=50)
    index = resample_indices({SEEDS: 4, "query": 50}, resamples=300, seed=0)
    crossed = Crossed("query", np.tile(row, (4, 1)))
    np.testing.assert_allclose(crossed.resampled(index["query"], index[SEEDS]),
                               PerUnit("query", row).resampled(index["query"]), rtol=0, atol=1e-9)
    low, high = bootstrap_ci(_crossed(crossed.values), resamples=300, seed=0)["m"]
    expected = np.percentile(PerUnit("query", row).resampled(index["query"]), [2.5, 97.5])
    assert low == pytest.approx(expected[0], abs=1e-9) and high == pytest.approx(expected[1], abs=1e-9)


def test_the_interval_holds_the_spread_over_seeds() -> None:
    # Every query scores the same within a seed: a queries-only bootstrap would give a point.
    values = np.repeat([[0.0], [10.0]], 30, axis=1)
    low, high = bootstrap_ci(_crossed(values), resamples=400, seed=0)["m"]
    assert (low, high) == (0.0, 10.0)
    one_seed = bootstrap_ci(_crossed(values[:1]), resamples=400, seed=0)["m"]
    assert one_seed == [0.0, 0.0]


def test_paired_seeds_cancel_their_shared_effect() -> None:
    rng = np.random.default_rng(3)
    a = 50 + 20 * rng.normal(size=(5, 1)) + 10 * rng.normal(size=(1, 80)) + rng.normal(size=(5, 80))
    b = a - 2.0
    test = paired_difference(_crossed(a), _crossed(b), resamples=500, seed=0)["m"]
    assert test["difference"] == pytest.approx(2.0)
    assert test["ci95"] == pytest.approx([2.0, 2.0]) and test["p_value"] == pytest.approx(2 / 501)
    unpaired = paired_difference(_crossed(a), _crossed(b[::-1]), resamples=500, seed=0)["m"]
    assert unpaired["ci95"][1] - unpaired["ci95"][0] > 5  # seed k against another seed: the seed effect stays
    with pytest.raises(ValueError, match="different numbers of units"):
        paired_difference(_crossed(a), _crossed(b[:4]), resamples=50, seed=0)


def test_seed_ids_must_match_the_seed_axis() -> None:
    with pytest.raises(ValueError, match="3 seeds for 2 seed ids"):
        Outcomes({"m": Crossed("query", np.zeros((3, 4)))}, {SEEDS: ["0", "1"]})
