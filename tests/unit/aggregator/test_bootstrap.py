"""Every interval checked against the scipy call that defines it, on fixed data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from services.aggregator.bootstrap import (
    Clusters,
    ConfidenceInterval,
    SeedMeans,
    bootstrap_mean_ci,
    cluster_mean,
    difference_ci,
    mean_ci,
)

SEED_MEANS = [0.62, 0.71, 0.80, 0.77, 0.66]
PAPER = dict(method="percentile", n_resamples=10_000, confidence_level=0.95, random_state=0)


def _clusters(scores_per_cluster: list[list[float]], prefix: str = "p") -> Clusters:
    return Clusters(tuple(f"{prefix}{i}" for i in range(len(scores_per_cluster))),
                    tuple(float(sum(s)) for s in scores_per_cluster), tuple(len(s) for s in scores_per_cluster))


#: Ten paraphrases of 20 samples each: the first five always answered 1, the rest 0, except a few.
PARAPHRASES = [[1.0] * 20 if p < 5 else [0.0] * 18 + [1.0] * (p % 3) for p in range(10)]


def test_seed_ci_is_the_papers_call() -> None:
    ci = bootstrap_mean_ci(SEED_MEANS)
    assert ci is not None and ci.low < float(np.mean(SEED_MEANS)) < ci.high
    # The paper's call (spec §2): default batching, percentile, 10k resamples, random_state=0.
    paper = stats.bootstrap((np.array(SEED_MEANS),), np.mean, **PAPER).confidence_interval
    assert (ci.low, ci.high) == (pytest.approx(paper.low), pytest.approx(paper.high))
    assert mean_ci(SeedMeans(tuple(SEED_MEANS))) == ci == bootstrap_mean_ci(list(SEED_MEANS))


def test_cluster_ci_resamples_whole_clusters() -> None:
    clusters = _clusters([[1.0, 1.0, 0.0], [0.0], [1.0, 0.5], [0.0, 0.0, 0.0, 1.0], [1.0, 1.0]])
    ci = mean_ci(clusters)
    totals, counts = np.array(clusters.totals), np.array(clusters.counts, dtype=float)

    def ratio_of(index: np.ndarray, axis: int = -1) -> np.ndarray:
        return totals[index].sum(axis=axis) / counts[index].sum(axis=axis)

    # scipy resampling cluster indices, with the mean over every unit of the drawn clusters.
    reference = stats.bootstrap((np.arange(len(totals)),), ratio_of, vectorized=True, **PAPER)
    assert ci is not None
    assert (ci.low, ci.high) == (pytest.approx(reference.confidence_interval.low),
                                 pytest.approx(reference.confidence_interval.high))
    assert cluster_mean(clusters) == pytest.approx(totals.sum() / counts.sum())


def test_samples_of_one_paraphrase_are_not_independent() -> None:
    clustered = mean_ci(_clusters(PARAPHRASES))
    units = [score for samples in PARAPHRASES for score in samples]
    as_if_independent = stats.bootstrap((np.array(units),), np.mean, **PAPER).confidence_interval
    assert clustered is not None
    # 200 samples of 10 paraphrases carry about 10 observations' worth of information, not 200.
    assert clustered.high - clustered.low > 2 * (as_if_independent.high - as_if_independent.low)
    assert clustered.low < 0.35 and clustered.high > 0.7


def test_paired_difference_resamples_shared_clusters_together() -> None:
    # Two models on the same ten paraphrases: each paraphrase moves both the same way, the second is 0.1 lower.
    first = _clusters([[0.2 + 0.08 * p] * 4 for p in range(10)])
    second = _clusters([[0.1 + 0.08 * p] * 4 for p in range(10)] + [[1.0]])  # p10: only the second has it
    interval = difference_ci(first, second)
    assert interval is not None and interval.method == "paired" and interval.n_pairs == 10
    shared = second.restricted(first.keys)
    t1, c1, t2, c2 = (np.array(v, dtype=float) for v in (first.totals, first.counts, shared.totals, shared.counts))

    def difference(index: np.ndarray, axis: int = -1) -> np.ndarray:
        return t1[index].sum(axis) / c1[index].sum(axis) - t2[index].sum(axis) / c2[index].sum(axis)

    reference = stats.bootstrap((np.arange(10),), difference, vectorized=True, **PAPER).confidence_interval
    assert (interval.ci.low, interval.ci.high) == (pytest.approx(reference.low), pytest.approx(reference.high))
    assert interval.ci.low == pytest.approx(0.1) and interval.ci.high == pytest.approx(0.1)
    # The estimate is over the same ten shared paraphrases, not the second group's eleven.
    assert interval.estimate == pytest.approx(0.1)
    # Unpaired, the spread between paraphrases would swamp the 0.1.
    unpaired = difference_ci(SeedMeans(tuple(t / c for t, c in zip(first.totals, first.counts, strict=True))),
                             SeedMeans(tuple(t / c for t, c in zip(shared.totals, shared.counts, strict=True))))
    assert unpaired is not None and unpaired.method == "independent" and unpaired.ci.low < 0 < unpaired.ci.high


def test_a_paired_estimate_lies_in_its_interval_when_only_some_clusters_are_shared() -> None:
    # As seen on the tiny model's 0-100 scales: one model parsed 8 paraphrases' numbers, the other only 2. The
    # groups' own means differ by far more than the two shared paraphrases do.
    first = _clusters([[0.1], [0.05, 0.05]], prefix="p")
    second = _clusters([[0.9, 0.95], [0.9], [1.0], [0.2]] + [[0.7]] * 4, prefix="p")
    interval = difference_ci(first, second)
    assert interval is not None and interval.n_pairs == 2
    assert interval.estimate == pytest.approx((0.1 + 0.1) / 3 - (1.85 + 0.9) / 3)
    assert interval.ci.low <= interval.estimate <= interval.ci.high


def test_independent_difference_differences_each_groups_own_resamples() -> None:
    high, low = [0.9, 0.85, 0.95, 0.8], [0.1, 0.2, 0.15, 0.05]
    interval = difference_ci(SeedMeans(tuple(high)), SeedMeans(tuple(low)))
    first = stats.bootstrap((np.array(high),), np.mean, **PAPER).bootstrap_distribution
    second = stats.bootstrap((np.array(low),), np.mean, **{**PAPER, "random_state": 1}).bootstrap_distribution
    expected = np.percentile(first - second, [2.5, 97.5])
    assert interval is not None and interval.method == "independent" and interval.n_pairs == 0
    assert (interval.ci.low, interval.ci.high) == (pytest.approx(expected[0]), pytest.approx(expected[1]))
    assert 0 < interval.ci.low < np.mean(high) - np.mean(low) < interval.ci.high
    down = difference_ci(SeedMeans(tuple(low)), SeedMeans(tuple(high)))
    assert down is not None and down.ci.high < 0


def test_a_seed_group_against_one_model_is_independent() -> None:
    interval = difference_ci(SeedMeans(tuple(SEED_MEANS)), _clusters(PARAPHRASES))
    assert interval is not None and interval.method == "independent"
    assert interval.ci.low < float(np.mean(SEED_MEANS)) - cluster_mean(_clusters(PARAPHRASES)) < interval.ci.high


def test_difference_ci_straddles_zero_for_overlapping_groups() -> None:
    interval = difference_ci(SeedMeans((0.4, 0.6, 0.5, 0.55)), SeedMeans((0.45, 0.58, 0.52, 0.5)))
    assert interval is not None and interval.ci.low < 0 < interval.ci.high and not interval.ci.excludes(0.0)


@pytest.mark.parametrize("values", [[], [0.7]])
def test_no_ci_from_fewer_than_two_values(values: list[float]) -> None:
    assert bootstrap_mean_ci(values) is None
    assert mean_ci(_clusters([values] if values else [])) is None
    assert difference_ci(SeedMeans(tuple(values)), SeedMeans(tuple(SEED_MEANS))) is None
    assert difference_ci(_clusters([[0.1], [0.2]]), _clusters([[0.3]])) is None  # one shared cluster


def test_constant_values_give_a_point_interval() -> None:
    assert bootstrap_mean_ci([0.5, 0.5, 0.5]) == ConfidenceInterval(0.5, 0.5)


def test_separated_intervals() -> None:
    assert ConfidenceInterval(0.6, 0.9).separated_from(ConfidenceInterval(0.1, 0.3))
    assert ConfidenceInterval(0.1, 0.3).separated_from(ConfidenceInterval(0.6, 0.9))
    assert not ConfidenceInterval(0.2, 0.7).separated_from(ConfidenceInterval(0.6, 0.9))
