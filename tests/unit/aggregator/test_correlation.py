"""Pearson r and its 95% CI, checked against scipy and against the Fisher z formula, on fixed data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from services.aggregator.correlation import pearson

#: Ten models' self-reported risk predisposition (0-1) and their lottery risk level.
SELF_REPORT = [0.15, 0.22, 0.31, 0.28, 0.45, 0.52, 0.40, 0.63, 0.58, 0.35]
BEHAVIOUR = [0.91, 0.94, 0.95, 0.97, 0.96, 0.99, 0.93, 0.98, 0.99, 0.96]


def test_r_and_ci_are_scipys_and_the_fisher_z_interval() -> None:
    found = pearson(SELF_REPORT, BEHAVIOUR)
    reference = stats.pearsonr(SELF_REPORT, BEHAVIOUR)
    assert found is not None and found.n == 10
    assert found.r == pytest.approx(reference.statistic) and found.p_value == pytest.approx(reference.pvalue)
    assert found.r == pytest.approx(float(np.corrcoef(SELF_REPORT, BEHAVIOUR)[0, 1]))
    z, half = math.atanh(found.r), stats.norm.ppf(0.975) / math.sqrt(10 - 3)
    assert found.ci is not None
    assert (found.ci.low, found.ci.high) == (pytest.approx(math.tanh(z - half)), pytest.approx(math.tanh(z + half)))
    assert found.ci.low < found.r < found.ci.high


def test_three_pairs_give_r_without_an_interval() -> None:
    found = pearson([0.1, 0.2, 0.4], [0.3, 0.5, 0.6])
    assert found is not None and found.ci is None and found.n == 3


@pytest.mark.parametrize(("x", "y"), [([0.1, 0.2], [0.3, 0.4]), ([0.5, 0.5, 0.5, 0.5], [0.1, 0.2, 0.3, 0.4])])
def test_undefined_correlations_are_none(x: list[float], y: list[float]) -> None:
    assert pearson(x, y) is None


def test_unpaired_lengths_are_an_error() -> None:
    with pytest.raises(ValueError, match="paired"):
        pearson([0.1, 0.2, 0.3], [0.1, 0.2])
