"""Per-suite statistics of an experiment: each policy's mean and CI, the base model's, and their differences.

A group with several seeds is summarised as the paper does (spec §3.4, §8): the mean of its models' suite
means, with a bootstrap CI over those per-seed means. A group with a single model (the base model always, a
policy trained with one seed) has no spread across seeds to measure, so its CI is over that model's item
scores instead, and says so (`ci_unit`); that interval reflects evaluation noise only, not seed-to-seed
variation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.aggregator.bootstrap import ConfidenceInterval, bootstrap_difference_ci, bootstrap_mean_ci

#: Group roles, in the order reports show them.
ROLES = ("policy", "base", "opposite")
#: (name, minuend role, subtrahend role) of every comparison a report makes.
COMPARISONS = (
    ("policy_minus_opposite", "policy", "opposite"),
    ("policy_minus_base", "policy", "base"),
    ("opposite_minus_base", "opposite", "base"),
)


@dataclass(frozen=True)
class ModelScores:
    """One evaluated model: the base model or one adapter."""

    #: "base" or "<policy>/s<seed>".
    label: str
    #: The policy the adapter was trained on; "" for the base model.
    policy: str
    seed: int
    is_base: bool
    #: Suite name -> the model's mean score on it.
    suite_means: dict[str, float]
    #: Suite name -> the per-record scores behind that mean (dropped records excluded).
    item_scores: dict[str, list[float]] = field(default_factory=dict)
    #: Suite name -> the most common sampled answers with their counts, for suites that sample text. Scores
    #: alone hide why a self-report sits at 0.5 or was dropped; the answers show it.
    top_answers: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def has(self, suite: str) -> bool:
        """Whether the model has a usable score on `suite` (it was run, and not every record was dropped)."""
        return suite in self.suite_means and math.isfinite(self.suite_means[suite])


@dataclass(frozen=True)
class GroupEstimate:
    """One group's score on one suite."""

    role: str
    #: The policy name, or "base".
    name: str
    mean: float
    ci: ConfidenceInterval | None
    #: What the CI resampled: "seeds" (per-model means), "items" (one model's item scores) or "none".
    ci_unit: str
    n_models: int
    #: Item scores behind the mean, summed over the group's models.
    n_items: int
    #: The values that were bootstrapped; the differences resample the same ones.
    units: tuple[float, ...]


@dataclass(frozen=True)
class Comparison:
    """A difference of two groups' means on one suite."""

    name: str
    minuend: str
    subtrahend: str
    difference: float
    #: Bootstrap CI of the difference, each group resampled independently in its own `ci_unit`.
    ci: ConfidenceInterval | None
    #: Whether the two groups' own CIs do not overlap; None when either has no CI.
    cis_separated: bool | None
    #: Whether the difference's CI excludes 0; None without a CI.
    excludes_zero: bool | None


@dataclass(frozen=True)
class SuiteStatistics:
    suite: str
    #: Role ("policy", "base", "opposite") -> estimate; a role without any scored model is absent.
    groups: dict[str, GroupEstimate]
    comparisons: list[Comparison]


def suite_statistics(suite: str, models: Sequence[ModelScores], policy: str,
                     opposite_policy: str) -> SuiteStatistics:
    """Summarise `suite` over `models`; models without a usable score on it are left out."""
    members = {
        "policy": [m for m in models if not m.is_base and m.policy == policy and m.has(suite)],
        "base": [m for m in models if m.is_base and m.has(suite)],
        "opposite": [m for m in models if not m.is_base and m.policy == opposite_policy and m.has(suite)],
    }
    names = {"policy": policy, "base": "base", "opposite": opposite_policy}
    groups = {role: group_estimate(role, names[role], suite, members[role])
              for role in ROLES if members[role]}
    comparisons = [compare(name, groups[first], groups[second])
                   for name, first, second in COMPARISONS if first in groups and second in groups]
    return SuiteStatistics(suite, groups, comparisons)


def group_estimate(role: str, name: str, suite: str, models: Sequence[ModelScores]) -> GroupEstimate:
    """Mean and CI of one non-empty group: over seeds with two or more models, else over the model's items."""
    n_items = sum(len(m.item_scores.get(suite, [])) for m in models)
    if len(models) >= 2:
        units = tuple(m.suite_means[suite] for m in models)
        return GroupEstimate(role, name, sum(units) / len(units), bootstrap_mean_ci(units), "seeds",
                             len(models), n_items, units)
    (model,) = models
    items = tuple(model.item_scores.get(suite, []))
    ci = bootstrap_mean_ci(items)
    unit = "items" if ci else "none"
    return GroupEstimate(role, name, model.suite_means[suite], ci, unit, 1, n_items, items)


def compare(name: str, first: GroupEstimate, second: GroupEstimate) -> Comparison:
    """`first` minus `second`, with a bootstrap CI of the difference over the units each group used."""
    difference = first.mean - second.mean
    ci = bootstrap_difference_ci(first.units, second.units)
    separated = first.ci.separated_from(second.ci) if first.ci and second.ci else None
    return Comparison(name, first.name, second.name, difference, ci, separated,
                      ci.excludes(0.0) if ci else None)
