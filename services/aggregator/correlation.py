"""Pearson r with its 95% CI, as the paper reports faithfulness (spec §3.5, Figure 4): scipy's `pearsonr`, and
its `confidence_interval` (the Fisher z transform), across models' scores on two suite instances."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.aggregator.bootstrap import CONFIDENCE_LEVEL, ConfidenceInterval

#: The Fisher z interval has standard error 1/sqrt(n - 3): it needs at least four pairs.
MIN_PAIRS_FOR_CI = 4


@dataclass(frozen=True)
class Correlation:
    r: float
    #: None with fewer than `MIN_PAIRS_FOR_CI` pairs.
    ci: ConfidenceInterval | None
    #: Two-sided p-value of r = 0 (scipy's exact test under normality).
    p_value: float
    n: int


def pearson(x: Sequence[float], y: Sequence[float]) -> Correlation | None:
    """r of paired `x`, `y`; None with fewer than three pairs, or when either side is constant (r undefined)."""
    if len(x) != len(y):
        raise ValueError(f"pearson needs paired values, got {len(x)} and {len(y)}")
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xs) < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return None
    from scipy import stats

    result = stats.pearsonr(xs, ys)
    ci = None
    if len(xs) >= MIN_PAIRS_FOR_CI:
        bounds = result.confidence_interval(confidence_level=CONFIDENCE_LEVEL)
        ci = ConfidenceInterval(float(bounds.low), float(bounds.high))
    r = float(result.statistic)
    return Correlation(r, ci, float(result.pvalue) if math.isfinite(result.pvalue) else 1.0, len(xs))
