"""The paper's confidence intervals: `scipy.stats.bootstrap`, percentile, 10,000 resamples, 95%, seed 0.

The paper (spec §2 "CIs", §8) bootstraps the per-seed (per-model) means of a group of finetuned models.
These functions bootstrap whatever units they are given; `statistics.py` decides which units a group uses.
Resamples are drawn in batches of `BATCH`: one-sample intervals are the same as unbatched ones (same random
stream), and memory stays bounded when thousands of item scores are resampled.

scipy is imported on first use, not at module import, so that the aggregator service starts (and answers
submissions and health checks) without paying for `scipy.stats` until it builds a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE_LEVEL = 0.95
N_RESAMPLES = 10_000
RANDOM_STATE = 0
METHOD = "percentile"
BATCH = 1_000


@dataclass(frozen=True)
class ConfidenceInterval:
    low: float
    high: float

    def separated_from(self, other: ConfidenceInterval) -> bool:
        """True when the two intervals do not overlap: the paper's by-eye criterion for a difference."""
        return self.low > other.high or other.low > self.high

    def excludes(self, value: float) -> bool:
        return value < self.low or value > self.high


def bootstrap_mean_ci(values: Sequence[float]) -> ConfidenceInterval | None:
    """95% CI of the mean of `values`; None for fewer than two values, where no interval can be estimated."""
    if len(values) < 2:
        return None
    from scipy import stats

    result = stats.bootstrap((np.asarray(values, dtype=float),), np.mean, n_resamples=N_RESAMPLES,
                             confidence_level=CONFIDENCE_LEVEL, method=METHOD, random_state=RANDOM_STATE,
                             batch=BATCH)
    return ConfidenceInterval(*(float(bound) for bound in result.confidence_interval))


def bootstrap_difference_ci(first: Sequence[float], second: Sequence[float]) -> ConfidenceInterval | None:
    """95% CI of mean(first) - mean(second), resampling each group independently (the groups are unpaired:
    different models). None when either group has fewer than two values."""
    if len(first) < 2 or len(second) < 2:
        return None
    from scipy import stats

    samples = (np.asarray(first, dtype=float), np.asarray(second, dtype=float))
    result = stats.bootstrap(samples, _mean_difference, n_resamples=N_RESAMPLES,
                             confidence_level=CONFIDENCE_LEVEL, method=METHOD, random_state=RANDOM_STATE,
                             batch=BATCH, vectorized=True, paired=False)
    return ConfidenceInterval(*(float(bound) for bound in result.confidence_interval))


def _mean_difference(first: np.ndarray, second: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(first, axis=axis) - np.mean(second, axis=axis)
