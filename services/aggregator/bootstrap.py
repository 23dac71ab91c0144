"""The paper's confidence intervals: `scipy.stats.bootstrap`, percentile, 10,000 resamples, 95%, seed 0.

The paper (spec §2 "CIs", §8) bootstraps the per-seed (per-model) means of a group of finetuned models:
`SeedMeans`. A group with a single model has no seeds to resample, so it is bootstrapped by cluster instead:
`Clusters`, one per paraphrase of a self-report question (its samples are not independent of each other: they
answer the same wording) or one per probe item. Each resample draws clusters with replacement and takes the
mean over every unit in them (the ratio of summed scores to summed units), the same estimator as the model's
mean, so the point estimate and its interval agree. In scipy's terms the clusters' (total, count) pairs are
two paired samples.

Differences: two single-model groups answered the same questions, so their difference is bootstrapped paired
on the clusters both have (the same paraphrases or items drawn for both models). Otherwise (a group with
seeds) the two groups are different models: each group's own bootstrap distribution is drawn (seeds
`RANDOM_STATE` and `RANDOM_STATE + 1`, so that two groups of the same size are not accidentally paired by
resample index) and the interval is the percentiles of their difference. A difference of the same models on two
questions (a question against its same-model baseline, spec §4.4) is paired by model instead: the interval is
over the per-model differences, as a group's over its per-seed means (`paired_seeds_ci`).

Resamples are drawn in batches of `BATCH`, which keeps memory bounded and is the same random stream as
unbatched. scipy is imported on first use, not at module import, so that the aggregator service starts (and
answers submissions and health checks) without paying for `scipy.stats` until it builds a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

CONFIDENCE_LEVEL = 0.95
N_RESAMPLES = 10_000
RANDOM_STATE = 0
METHOD = "percentile"
BATCH = 1_000

#: "paired": resampled together on shared clusters; "paired_seeds": the same models' per-model differences;
#: "independent": each group's own resamples differenced.
DifferenceMethod = Literal["paired", "paired_seeds", "independent"]


@dataclass(frozen=True)
class ConfidenceInterval:
    low: float
    high: float

    def separated_from(self, other: ConfidenceInterval) -> bool:
        """True when the two intervals do not overlap: the paper's by-eye criterion for a difference."""
        return self.low > other.high or other.low > self.high

    def excludes(self, value: float) -> bool:
        return value < self.low or value > self.high


@dataclass(frozen=True)
class SeedMeans:
    """A group's per-seed (per-model) means: what the paper bootstraps."""

    values: tuple[float, ...]

    @property
    def size(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Clusters:
    """One model's unit scores summed per cluster (a paraphrase, or a probe item), in a stable key order."""

    keys: tuple[str, ...]
    totals: tuple[float, ...]
    counts: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.keys)

    def restricted(self, keys: Sequence[str]) -> Clusters:
        """These clusters' sums for `keys` (all of which must be present), in that order."""
        index = {key: i for i, key in enumerate(self.keys)}
        return Clusters(tuple(keys), tuple(self.totals[index[k]] for k in keys),
                        tuple(self.counts[index[k]] for k in keys))


Sample = SeedMeans | Clusters


@dataclass(frozen=True)
class DifferenceInterval:
    ci: ConfidenceInterval
    method: DifferenceMethod
    #: Clusters both groups had (paired), models both had (paired_seeds), or 0.
    n_pairs: int
    #: The difference the interval is about: over the shared clusters when paired (a cluster only one group
    #: has would otherwise move the estimate but not the interval), else None (the groups' own means).
    estimate: float | None = None


def bootstrap_mean_ci(values: Sequence[float]) -> ConfidenceInterval | None:
    """95% CI of the mean of `values`; None for fewer than two values, where no interval can be estimated."""
    return mean_ci(SeedMeans(tuple(values)))


def mean_ci(sample: Sample) -> ConfidenceInterval | None:
    """95% CI of a group's mean: over seeds, or a cluster bootstrap; None with fewer than two values/clusters."""
    if sample.size < 2:
        return None
    return _interval(_bootstrap(sample, RANDOM_STATE).confidence_interval)


def difference_ci(first: Sample, second: Sample) -> DifferenceInterval | None:
    """95% CI of mean(first) - mean(second): paired on shared clusters when both are clusters, else independent.

    None when fewer than two clusters are shared, or either group has fewer than two values.
    """
    from scipy import stats

    if isinstance(first, Clusters) and isinstance(second, Clusters):
        second_keys = set(second.keys)
        shared = [key for key in first.keys if key in second_keys]
        if len(shared) < 2:
            return None
        one, two = first.restricted(shared), second.restricted(shared)
        data = tuple(np.asarray(v, dtype=float) for v in (one.totals, one.counts, two.totals, two.counts))
        result = stats.bootstrap(data, _ratio_difference, n_resamples=N_RESAMPLES,
                                 confidence_level=CONFIDENCE_LEVEL, method=METHOD, random_state=RANDOM_STATE,
                                 batch=BATCH, vectorized=True, paired=True)
        estimate = float(_ratio_difference(*(v[np.newaxis] for v in data))[0])
        return DifferenceInterval(_interval(result.confidence_interval), "paired", len(shared), estimate)
    if first.size < 2 or second.size < 2:
        return None
    differences = (_bootstrap(first, RANDOM_STATE).bootstrap_distribution
                   - _bootstrap(second, RANDOM_STATE + 1).bootstrap_distribution)
    alpha = (1 - CONFIDENCE_LEVEL) / 2
    low, high = stats.quantile(differences, np.asarray([alpha, 1 - alpha]))
    return DifferenceInterval(ConfidenceInterval(float(low), float(high)), "independent", 0)


def paired_seeds_ci(pairs: Sequence[tuple[float, float]]) -> DifferenceInterval | None:
    """95% CI of the mean of first - second over (first, second) means of the same models; None under two."""
    differences = SeedMeans(tuple(first - second for first, second in pairs))
    ci = mean_ci(differences)
    if ci is None:
        return None
    return DifferenceInterval(ci, "paired_seeds", differences.size, sum(differences.values) / differences.size)


def cluster_mean(clusters: Clusters) -> float:
    return float(sum(clusters.totals) / sum(clusters.counts))


def _bootstrap(sample: Sample, random_state: int) -> Any:
    """scipy's `BootstrapResult` for the sample (its interval and its resampled means)."""
    from scipy import stats

    common = dict(n_resamples=N_RESAMPLES, confidence_level=CONFIDENCE_LEVEL, method=METHOD,
                  random_state=random_state, batch=BATCH)
    if isinstance(sample, SeedMeans):
        return stats.bootstrap((np.asarray(sample.values, dtype=float),), np.mean, **common)
    data = (np.asarray(sample.totals, dtype=float), np.asarray(sample.counts, dtype=float))
    return stats.bootstrap(data, _ratio, vectorized=True, paired=True, **common)


def _ratio(totals: np.ndarray, counts: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sum(totals, axis=axis) / np.sum(counts, axis=axis)


def _ratio_difference(first_totals: np.ndarray, first_counts: np.ndarray, second_totals: np.ndarray,
                      second_counts: np.ndarray, axis: int = -1) -> np.ndarray:
    return _ratio(first_totals, first_counts, axis) - _ratio(second_totals, second_counts, axis)


def _interval(ci: Any) -> ConfidenceInterval:
    return ConfidenceInterval(float(ci.low), float(ci.high))
