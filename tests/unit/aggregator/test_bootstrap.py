from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from services.aggregator.bootstrap import ConfidenceInterval, bootstrap_difference_ci, bootstrap_mean_ci

SEED_MEANS = [0.62, 0.71, 0.80, 0.77, 0.66]


def test_mean_ci_contains_the_mean_and_matches_the_papers_call() -> None:
    ci = bootstrap_mean_ci(SEED_MEANS)
    assert ci is not None
    assert ci.low < float(np.mean(SEED_MEANS)) < ci.high
    # The paper's call (spec §2): default batching, percentile, 10k resamples, random_state=0.
    paper = stats.bootstrap((np.array(SEED_MEANS),), np.mean, method="percentile", n_resamples=10_000,
                            confidence_level=0.95, random_state=0).confidence_interval
    assert (ci.low, ci.high) == (pytest.approx(paper.low), pytest.approx(paper.high))


def test_mean_ci_is_deterministic() -> None:
    assert bootstrap_mean_ci(SEED_MEANS) == bootstrap_mean_ci(list(SEED_MEANS))


@pytest.mark.parametrize("values", [[], [0.7]])
def test_no_ci_from_fewer_than_two_values(values: list[float]) -> None:
    assert bootstrap_mean_ci(values) is None
    assert bootstrap_difference_ci(values, SEED_MEANS) is None
    assert bootstrap_difference_ci(SEED_MEANS, values) is None


def test_constant_values_give_a_point_interval() -> None:
    assert bootstrap_mean_ci([0.5, 0.5, 0.5]) == ConfidenceInterval(0.5, 0.5)


def test_difference_ci_has_the_sign_of_the_difference() -> None:
    high, low = [0.9, 0.85, 0.95, 0.8], [0.1, 0.2, 0.15, 0.05]
    up = bootstrap_difference_ci(high, low)
    down = bootstrap_difference_ci(low, high)
    assert up is not None and down is not None
    assert 0 < up.low < np.mean(high) - np.mean(low) < up.high
    assert down.high < 0
    assert up.excludes(0.0) and down.excludes(0.0)


def test_difference_ci_straddles_zero_for_overlapping_groups() -> None:
    ci = bootstrap_difference_ci([0.4, 0.6, 0.5, 0.55], [0.45, 0.58, 0.52, 0.5])
    assert ci is not None and ci.low < 0 < ci.high and not ci.excludes(0.0)


def test_separated_intervals() -> None:
    assert ConfidenceInterval(0.6, 0.9).separated_from(ConfidenceInterval(0.1, 0.3))
    assert ConfidenceInterval(0.1, 0.3).separated_from(ConfidenceInterval(0.6, 0.9))
    assert not ConfidenceInterval(0.2, 0.7).separated_from(ConfidenceInterval(0.6, 0.9))
