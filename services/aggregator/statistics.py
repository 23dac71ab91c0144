"""Per suite instance and base model: each group's mean and CI, and the differences the report makes.

The groups of an instance, per base model, are the base model itself (when it was evaluated) and each arm
(its seeds). A group with several seeds is summarised as the paper does (spec §3.4, §8): the mean of its
models' instance means, with a bootstrap CI over those per-seed means. A group with a single model (the base
model always, an arm trained with one seed) has no spread across seeds to measure, so its CI is over that
model's unit scores instead, and says so (`ci_unit`); that interval reflects evaluation noise only, not
seed-to-seed variation. An instance that does not run on an arm simply has no group for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from selfaware.v1 import spec_pb2
from services.aggregator.bootstrap import ConfidenceInterval, bootstrap_difference_ci, bootstrap_mean_ci
from services.aggregator.record_fold import InstanceScores, ModelScores
from services.aggregator.suite_titles import instance_title

CiUnit = Literal["seeds", "items", "none"]
#: "compare": a pair of `spec.compare`; "vs_base": an arm minus its base model.
ComparisonKind = Literal["compare", "vs_base"]
BASE_GROUP = "base"


@dataclass(frozen=True)
class GroupEstimate:
    """One group's score on one suite instance."""

    #: "base" or the arm name, prefixed "<base key>/" when the experiment has several base models.
    label: str
    base_index: int
    #: Empty for the base model's group.
    arm: str
    mean: float
    ci: ConfidenceInterval | None
    #: What the CI resampled: "seeds" (per-model means), "items" (one model's unit scores) or "none".
    ci_unit: CiUnit
    #: The labels of the models averaged.
    models: tuple[str, ...]
    #: Units behind the mean, summed over the group's models.
    n_units: int
    #: The values that were bootstrapped; the differences resample the same ones.
    units: tuple[float, ...]
    #: The base model's positional preference P(A) on this instance, for two-option instances whose base
    #: model was evaluated: the score a model that always picks the first letter's share would get.
    base_p_first: float | None

    @property
    def is_base(self) -> bool:
        return not self.arm

    @property
    def n_models(self) -> int:
        return len(self.models)


@dataclass(frozen=True)
class Comparison:
    """A difference of two groups' means on one suite instance."""

    kind: ComparisonKind
    #: Group labels, minuend first.
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
class InstanceStatistics:
    """One suite instance: its groups per base model and the differences between them."""

    instance: str
    suite: str
    title: str
    #: Whether the instance asks two-option questions (its records carry next-token probabilities).
    two_option: bool
    #: Per base model, then the base group and the arms in spec order; groups without scores are absent.
    groups: list[GroupEstimate]
    comparisons: list[Comparison]
    #: Base model group label -> its P(A) on this instance (two-option instances, evaluated base models).
    base_p_first: dict[str, float]


def experiment_statistics(spec: spec_pb2.ExperimentSpec, models: Sequence[ModelScores]
                          ) -> list[InstanceStatistics]:
    """Every suite instance of `spec`, in spec order, summarised over `models`.

    Models without a usable score on an instance (not run there, or every record dropped) are left out of it.
    """
    return [instance_statistics(spec, instance.id, instance.suite, models)
            for instance in spec.evaluation.suites]


def group_label(spec: spec_pb2.ExperimentSpec, base_index: int, arm: str = "") -> str:
    """A group's label, after `selfaware.jobs.model_label` without the seed."""
    key = spec.base_models[base_index].key if base_index < len(spec.base_models) else ""
    name = arm or BASE_GROUP
    return f"{key}/{name}" if key else name


def instance_statistics(spec: spec_pb2.ExperimentSpec, instance: str, suite: str,
                        models: Sequence[ModelScores]) -> InstanceStatistics:
    scored = [(m, s) for m in models if (s := m.usable(instance)) is not None]
    two_option = any(s.two_option for m in models if (s := m.instances.get(instance)) is not None)
    base_p_first: dict[str, float] = {}
    for model, scores in scored:
        if two_option and model.is_base and scores.p_first is not None:
            base_p_first[group_label(spec, model.base_index)] = scores.p_first
    groups: list[GroupEstimate] = []
    comparisons: list[Comparison] = []
    for base_index in range(len(spec.base_models)):
        base_p = base_p_first.get(group_label(spec, base_index))
        by_arm: dict[str, GroupEstimate] = {}
        for arm in ["", *(a.name for a in spec.arms)]:
            members = [(m, s) for m, s in scored if m.base_index == base_index and m.arm == arm]
            if members:
                label = group_label(spec, base_index, arm)
                by_arm[arm] = group_estimate(label, base_index, arm, members, base_p)
        groups.extend(by_arm.values())
        for minuend, subtrahend in _compare_pairs(spec):
            if (first := by_arm.get(minuend)) and (second := by_arm.get(subtrahend)):
                comparisons.append(compare("compare", first, second))
        if base := by_arm.get(""):
            comparisons.extend(compare("vs_base", g, base) for g in by_arm.values() if not g.is_base)
    return InstanceStatistics(instance, suite, instance_title(instance, suite), two_option, groups,
                              comparisons, base_p_first)


def group_estimate(label: str, base_index: int, arm: str,
                   members: Sequence[tuple[ModelScores, InstanceScores]], base_p_first: float | None
                   ) -> GroupEstimate:
    """Mean and CI of one non-empty group: over seeds with two or more models, else over the model's units."""
    labels = tuple(m.label for m, _ in members)
    n_units = sum(s.n_units for _, s in members)
    if len(members) >= 2:
        units = tuple(_mean(s) for _, s in members)
        return GroupEstimate(label, base_index, arm, sum(units) / len(units), bootstrap_mean_ci(units),
                             "seeds", labels, n_units, units, base_p_first)
    ((_, scores),) = members
    ci = bootstrap_mean_ci(scores.units)
    return GroupEstimate(label, base_index, arm, _mean(scores), ci, "items" if ci else "none", labels,
                         n_units, scores.units, base_p_first)


def compare(kind: ComparisonKind, first: GroupEstimate, second: GroupEstimate) -> Comparison:
    """`first` minus `second`, with a bootstrap CI of the difference over the units each group used."""
    difference = first.mean - second.mean
    ci = bootstrap_difference_ci(first.units, second.units)
    separated = first.ci.separated_from(second.ci) if first.ci and second.ci else None
    return Comparison(kind, first.label, second.label, difference, ci, separated,
                      ci.excludes(0.0) if ci else None)


def _compare_pairs(spec: spec_pb2.ExperimentSpec) -> list[tuple[str, str]]:
    return [(pair.arms[0], pair.arms[1]) for pair in spec.compare if len(pair.arms) == 2]


def _mean(scores: InstanceScores) -> float:
    assert scores.mean is not None  # only usable scores reach a group
    return scores.mean
