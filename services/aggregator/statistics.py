"""Per suite instance and base model: each group's mean and CI, and the differences the report makes.

The groups of an instance, per base model, are the base model itself (when it was evaluated) and each arm
(its seeds). A group with several seeds is summarised as the paper does (spec §3.4, §8): the mean of its
models' instance means, with a bootstrap CI over those per-seed means. A group with a single model (the base
model always, an arm trained with one seed) has no spread across seeds to measure, so its CI is a cluster
bootstrap of that model's mean instead, by paraphrase for a self-report (its samples answer one wording and
are not independent) and by item for a probe, by sample for an instance of one wording (`record_fold`), and
says so (`ci_unit`); that interval reflects evaluation noise only, not seed-to-seed variation. Differences of
two single-model groups are paired on the clusters both answered (`bootstrap.difference_ci`). An instance that
does not run on an arm has no group for it.

Instances whose answers are words also get each group's answer distribution (Figure 2, Table 29), pooled over
the group's models; a distribution-only instance (no score) has only that.

An instance whose suite names a same-model baseline (`baselines.py`) is compared with each group's own score on
the baseline instance (`vs_baseline`) instead of with the base model (`vs_base`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from selfaware.v1 import spec_pb2
from services.aggregator.baselines import BASE_MODEL, Baseline, question_clusters, resolve_baselines
from services.aggregator.bootstrap import (
    Clusters,
    ConfidenceInterval,
    DifferenceInterval,
    DifferenceMethod,
    Sample,
    SeedMeans,
    difference_ci,
    mean_ci,
    paired_seeds_ci,
)
from services.aggregator.record_fold import InstanceScores, ModelScores
from services.aggregator.suite_info import InstanceKind, SettingChange, SuiteInfo, changed_settings, describe
from services.aggregator.suite_titles import instance_title

#: "seeds": over per-seed means; "paraphrases" / "items": a cluster bootstrap of one model; "samples": the same
#: over the samples of a one-wording instance; "none": too few.
CiUnit = Literal["seeds", "paraphrases", "items", "samples", "none"]
#: "compare": a pair of `spec.compare`; "vs_base": an arm minus its base model; "vs_baseline": a group minus its
#: own score on the instance's same-model baseline instance.
ComparisonKind = Literal["compare", "vs_base", "vs_baseline"]
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
    #: What the CI resampled: "seeds" (per-model means), "paraphrases", "items" or "samples" (clusters of one
    #: model's units) or "none".
    ci_unit: CiUnit
    #: The labels of the models averaged.
    models: tuple[str, ...]
    #: Units behind the mean, summed over the group's models.
    n_units: int
    #: What was bootstrapped (per-seed means, or one model's clusters); the differences resample it too.
    sample: Sample
    #: The base model's positional preference P(A) on this instance, for two-option instances whose base
    #: model was evaluated: the score a model that always picks the first letter's share would get.
    base_p_first: float | None
    #: Records and scored records, summed over the group's models: the parse rate of a numeric question.
    n_records: int
    n_scored: int

    @property
    def is_base(self) -> bool:
        return not self.arm

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def parse_rate(self) -> float | None:
        """Scored records / all records (a numeric question's parsable answers)."""
        return self.n_scored / self.n_records if self.n_records else None


@dataclass(frozen=True)
class AnswerDistribution:
    """One group's sampled answers on one instance, pooled over its models (Figure 2, Table 29)."""

    label: str
    base_index: int
    arm: str
    models: tuple[str, ...]
    #: (answer, count), most common first; answers beyond the fold's counter are only in `n_answers`.
    answers: tuple[tuple[str, int], ...]
    n_answers: int

    def shares(self, top: int) -> list[tuple[str, float]]:
        """The `top` most common answers with their share of all answers, then "others" with the rest."""
        if not self.n_answers:
            return []
        shown = [(answer, count / self.n_answers) for answer, count in self.answers[:top]]
        rest = 1.0 - sum(share for _, share in shown)
        return shown + ([("others", rest)] if rest > 1e-12 else [])


@dataclass(frozen=True)
class Comparison:
    """A difference of two groups' means on one suite instance."""

    kind: ComparisonKind
    #: Group labels, minuend first.
    minuend: str
    subtrahend: str
    difference: float
    #: Bootstrap CI of the difference: paired on shared clusters (two single-model groups) or each group
    #: resampled independently in its own `ci_unit`.
    ci: ConfidenceInterval | None
    #: How `ci` resampled; None without a CI.
    method: DifferenceMethod | None
    #: Clusters both groups answered (paired), else 0.
    n_pairs: int
    #: Whether the two groups' own CIs do not overlap; None when either has no CI.
    cis_separated: bool | None
    #: Whether the difference's CI excludes 0; None without a CI.
    excludes_zero: bool | None
    #: The instance the subtrahend's score is on when it is not this one (`vs_baseline`), else "".
    subtrahend_instance: str = ""


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
    #: How the report presents it: probe, numeric (with parse rates), words, distribution (no score).
    kind: InstanceKind
    #: Per group (same order as `groups`), for word and distribution instances; empty otherwise.
    distributions: list[AnswerDistribution]
    #: Settings the instance ran with that differ from the paper's (the catalogue's defaults).
    settings: list[SettingChange]
    #: What its groups are compared with: the base model, or each group itself on a baseline instance.
    baseline: Baseline = BASE_MODEL

    def group(self, label: str) -> GroupEstimate | None:
        """The group labelled `label`, if it has a score here."""
        return next((g for g in self.groups if g.label == label), None)


def experiment_statistics(spec: spec_pb2.ExperimentSpec, models: Sequence[ModelScores],
                          suites: Mapping[str, SuiteInfo] | None = None) -> list[InstanceStatistics]:
    """Every suite instance of `spec`, in spec order, summarised over `models`.

    Models without a usable score on an instance (not run there, or every record dropped) are left out of its
    groups. `suites` (suite name -> catalogue facts) says how to present each instance and what its paper
    settings are; without it the presentation is read from the records. Epoch checkpoints are left out too: an
    arm's group is its final models, one per seed; the checkpoints are points of the faithfulness study.
    """
    suites = suites or {}
    finals = [m for m in models if not m.is_checkpoint]
    baselines = resolve_baselines(spec, suites)
    stats = [instance_statistics(spec, instance, finals, suites.get(instance.suite), baselines[instance.id])
             for instance in spec.evaluation.suites]
    by_id = {s.instance: s for s in stats}
    return [replace(s, comparisons=s.comparisons + baseline_comparisons(s, by_id[s.baseline.instance]))
            if s.baseline.same_model else s for s in stats]


def group_label(spec: spec_pb2.ExperimentSpec, base_index: int, arm: str = "") -> str:
    """A group's label, after `selfaware.jobs.model_label` without the seed."""
    key = spec.base_models[base_index].key if base_index < len(spec.base_models) else ""
    name = arm or BASE_GROUP
    return f"{key}/{name}" if key else name


def instance_statistics(spec: spec_pb2.ExperimentSpec, spec_instance: spec_pb2.SuiteInstance,
                        models: Sequence[ModelScores], info: SuiteInfo | None = None,
                        baseline: Baseline = BASE_MODEL) -> InstanceStatistics:
    """One instance's groups, distributions and comparisons; with a same-model `baseline` the `vs_baseline`
    comparisons need the baseline instance's groups too, so `experiment_statistics` adds them."""
    instance, suite = spec_instance.id, spec_instance.suite
    kind = describe(spec_instance, info, models)
    scored = [(m, s) for m in models if (s := m.usable(instance)) is not None]
    two_option = any(s.two_option for m in models if (s := m.instances.get(instance)) is not None)
    base_p_first: dict[str, float] = {}
    for model, scores in scored:
        if two_option and model.is_base and scores.p_first is not None:
            base_p_first[group_label(spec, model.base_index)] = scores.p_first
    groups: list[GroupEstimate] = []
    comparisons: list[Comparison] = []
    distributions: list[AnswerDistribution] = []
    for base_index in range(len(spec.base_models)):
        base_p = base_p_first.get(group_label(spec, base_index))
        by_arm: dict[str, GroupEstimate] = {}
        for arm in ["", *(a.name for a in spec.arms)]:
            label = group_label(spec, base_index, arm)
            members = [(m, s) for m, s in scored if m.base_index == base_index and m.arm == arm]
            if members:
                by_arm[arm] = group_estimate(label, base_index, arm, members, base_p, kind.cluster_unit)
            if kind.presentation in ("words", "distribution"):
                answered = [(m, s) for m in models if m.base_index == base_index and m.arm == arm
                            and (s := m.instances.get(instance)) is not None and s.n_answers]
                if answered:
                    distributions.append(answer_distribution(label, base_index, arm, answered))
        groups.extend(by_arm.values())
        for minuend, subtrahend in _compare_pairs(spec):
            if (first := by_arm.get(minuend)) and (second := by_arm.get(subtrahend)):
                comparisons.append(compare("compare", first, second))
        if (base := by_arm.get("")) and not baseline.same_model:
            comparisons.extend(compare("vs_base", g, base) for g in by_arm.values() if not g.is_base)
    title = instance_title(instance, suite, info.title if info else "")
    return InstanceStatistics(instance, suite, title, two_option, groups, comparisons, base_p_first, kind,
                              distributions, changed_settings(spec_instance, info), baseline)


def baseline_comparisons(stats: InstanceStatistics, baseline: InstanceStatistics) -> list[Comparison]:
    """Each group of `stats` minus the same group on `baseline`, paired (see `baselines.py`)."""
    theirs = {g.label: g for g in baseline.groups}
    return [comparison("vs_baseline", group, other, _same_models_interval(group, other, stats.suite, baseline.suite),
                       baseline.instance)
            for group in stats.groups if (other := theirs.get(group.label)) is not None]


def _same_models_interval(first: GroupEstimate, second: GroupEstimate, first_suite: str, second_suite: str
                          ) -> DifferenceInterval | None:
    if isinstance(first.sample, Clusters) and isinstance(second.sample, Clusters):
        return difference_ci(question_clusters(first.sample, first_suite),
                             question_clusters(second.sample, second_suite))
    if isinstance(first.sample, SeedMeans) and isinstance(second.sample, SeedMeans):
        theirs = dict(zip(second.models, second.sample.values, strict=True))
        pairs = [(mine, theirs[m]) for m, mine in zip(first.models, first.sample.values, strict=True) if m in theirs]
        if len(pairs) >= 2:
            return paired_seeds_ci(pairs)
    return difference_ci(first.sample, second.sample)


def group_estimate(label: str, base_index: int, arm: str,
                   members: Sequence[tuple[ModelScores, InstanceScores]], base_p_first: float | None,
                   cluster_unit: Literal["items", "paraphrases"] = "items") -> GroupEstimate:
    """Mean and CI of one non-empty group: over seeds with two or more models, else a cluster bootstrap of
    the one model's mean, its clusters being `cluster_unit`."""
    labels = tuple(m.label for m, _ in members)
    n_units = sum(s.n_units for _, s in members)
    n_records = sum(s.n_records for _, s in members)
    n_scored = sum(s.n_scored for _, s in members)
    if len(members) >= 2:
        seeds = SeedMeans(tuple(_mean(s) for _, s in members))
        return GroupEstimate(label, base_index, arm, sum(seeds.values) / seeds.size, mean_ci(seeds), "seeds",
                             labels, n_units, seeds, base_p_first, n_records, n_scored)
    ((_, scores),) = members
    ci = mean_ci(scores.clusters)
    unit: CiUnit = "samples" if scores.sample_clusters else cluster_unit
    return GroupEstimate(label, base_index, arm, _mean(scores), ci, unit if ci else "none", labels,
                         n_units, scores.clusters, base_p_first, n_records, n_scored)


def answer_distribution(label: str, base_index: int, arm: str,
                        members: Sequence[tuple[ModelScores, InstanceScores]]) -> AnswerDistribution:
    """The group's answers pooled over its models, as the paper pools its seeds (Table 29: "5 models")."""
    pooled: Counter[str] = Counter()
    for _, scores in members:
        pooled.update(dict(scores.answers))
    return AnswerDistribution(label, base_index, arm, tuple(m.label for m, _ in members),
                              tuple(pooled.most_common()), sum(s.n_answers for _, s in members))


def compare(kind: ComparisonKind, first: GroupEstimate, second: GroupEstimate) -> Comparison:
    """`first` minus `second`, with a bootstrap CI of the difference (see `bootstrap.difference_ci`)."""
    return comparison(kind, first, second, difference_ci(first.sample, second.sample))


def comparison(kind: ComparisonKind, first: GroupEstimate, second: GroupEstimate,
               interval: DifferenceInterval | None, subtrahend_instance: str = "") -> Comparison:
    """`first` minus `second` with the difference's `interval`. A paired difference is estimated on what both
    have (shared clusters, shared models), the pairs its interval resamples."""
    difference = first.mean - second.mean
    if interval is not None and interval.estimate is not None:
        difference = interval.estimate
    ci = interval.ci if interval else None
    separated = first.ci.separated_from(second.ci) if first.ci and second.ci else None
    return Comparison(kind, first.label, second.label, difference, ci, interval.method if interval else None,
                      interval.n_pairs if interval else 0, separated, ci.excludes(0.0) if ci else None,
                      subtrahend_instance)


def _compare_pairs(spec: spec_pb2.ExperimentSpec) -> list[tuple[str, str]]:
    return [(pair.arms[0], pair.arms[1]) for pair in spec.compare if len(pair.arms) == 2]


def _mean(scores: InstanceScores) -> float:
    assert scores.mean is not None  # only usable scores reach a group
    return scores.mean
