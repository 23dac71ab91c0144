"""How the Markdown report writes a number, an interval or a table cell, in one place."""

from __future__ import annotations

import re

from services.aggregator.bootstrap import ConfidenceInterval
from services.aggregator.statistics import Comparison, GroupEstimate


def interval(ci: ConfidenceInterval | None, digits: int = 3) -> str:
    return f"[{ci.low:.{digits}f}, {ci.high:.{digits}f}]" if ci is not None else "[—]"


def number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


def yes_no(flag: bool | None) -> str:
    return "—" if flag is None else ("yes" if flag else "no")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fenced(text: str, language: str) -> str:
    """`text` in a code fence longer than any backtick run inside it, so the spec can never break out."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def estimate(group: GroupEstimate) -> str:
    """A group's mean [95% CI] (what the CI resampled, n)."""
    n = f"n={group.n_models}" if group.ci_unit == "seeds" else f"n={group.sample.size}"
    return f"{group.mean:.3f} {interval(group.ci)} ({group.ci_unit}, {n})"


def difference(comparison: Comparison) -> str:
    return f"{comparison.difference:+.3f} {interval(comparison.ci)}"


def ci_method(comparison: Comparison) -> str:
    """How a difference's CI resampled."""
    if comparison.method == "paired":
        return f"paired, {comparison.n_pairs} shared clusters"
    if comparison.method == "paired_seeds":
        return f"paired by model, {comparison.n_pairs} models"
    return comparison.method or "—"
