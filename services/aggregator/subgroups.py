"""Group estimates the report's paper sections make beyond one instance's arm groups: several arms pooled, a
subset of an instance's records (the fold's splits by a detail), or a model's mean over several questions. Every
one is a `statistics.group_estimate`, so it is summarised as every other group: over seeds, or one model's
clusters."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from services.aggregator.bootstrap import Clusters
from services.aggregator.record_fold import InstanceScores, ModelScores
from services.aggregator.statistics import Comparison, GroupEstimate, InstanceStatistics, group_estimate

#: What an empty cell says when the arm (or the base model) ran but no record of it scored.
NONE_SCORED = "none scored"
#: ... when no model of it answered the instance at all.
NOT_EVALUATED = "not evaluated"

Members = list[tuple[ModelScores, InstanceScores]]


@dataclass(frozen=True)
class Estimate:
    """A cell: a group's estimate, or why there is none."""

    group: GroupEstimate | None
    why: str = ""


def estimate(label: str, base_index: int, arm: str, members: Sequence[tuple[ModelScores, InstanceScores | None]],
             unit: Literal["items", "paraphrases"] = "items", missing: str = NOT_EVALUATED) -> Estimate:
    """The members' group estimate; without usable members, `NONE_SCORED` when some model answered, else
    `missing`."""
    asked = [(m, s) for m, s in members if s is not None]
    usable = [(m, s) for m, s in asked if s.mean is not None]
    if not usable:
        return Estimate(None, NONE_SCORED if asked else missing)
    return Estimate(group_estimate(label, base_index, arm, usable, None, unit))


def of_group(stats: InstanceStatistics | None, base_index: int, arm: str, label: str,
             models: Sequence[ModelScores]) -> Estimate:
    """The instance's group `label` (of `arm`, "" for the base model), or why it has none."""
    group = stats.group(label) if stats is not None else None
    if group is not None:
        return Estimate(group)
    asked = stats is not None and any(m.base_index == base_index and m.arm == arm and stats.instance in m.instances
                                      for m in models)
    return Estimate(None, NONE_SCORED if asked else NOT_EVALUATED)


def split(scores: InstanceScores | None, detail: str, values: Collection[str]) -> InstanceScores | None:
    """The model's records on the instance whose `detail` is one of `values`, folded together (the fold's split
    sub-folds merged); None when no record has such a value."""
    if scores is None:
        return None
    parts = [s for value, s in scores.splits.get(detail, {}).items() if value in values]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else merged(parts)


def merged(parts: Sequence[InstanceScores], weights: Sequence[float] | None = None,
           prefixes: Sequence[str] | None = None) -> InstanceScores:
    """Several scores as one: their clusters side by side (keys prefixed by `prefixes`, when the parts are
    different questions whose keys may repeat), each part's sums times its weight, records summed. With
    weights 1 / a part's units, the mean is the mean of the parts' means, and resampling the clusters resamples
    that."""
    weights = weights or [1.0] * len(parts)
    prefixes = prefixes or [""] * len(parts)
    keyed = sorted((prefix + key, total * w, count * w)
                   for part, w, prefix in zip(parts, weights, prefixes, strict=True)
                   for key, total, count in zip(part.clusters.keys, part.clusters.totals, part.clusters.counts,
                                                strict=True))
    clusters = Clusters(tuple(k for k, _, _ in keyed), tuple(t for _, t, _ in keyed), tuple(c for _, _, c in keyed))
    weight = sum(clusters.counts)
    return dataclasses.replace(
        parts[0], mean=sum(clusters.totals) / weight if weight else None, clusters=clusters,
        n_records=sum(p.n_records for p in parts), n_scored=sum(p.n_scored for p in parts),
        sample_clusters=all(p.sample_clusters for p in parts), splits={})


def question_mean(parts: Sequence[tuple[str, InstanceScores]]) -> InstanceScores | None:
    """One model's mean over several questions (instance id, its scores), each question weighing the same: the
    paper's "averaged over questions"; None when none has a score."""
    usable = [(instance, s) for instance, s in parts if s.mean is not None and s.n_units]
    if not usable:
        return None
    return merged([s for _, s in usable], [1.0 / s.n_units for _, s in usable], [f"{i}:" for i, _ in usable])


def estimate_json(found: Estimate) -> dict[str, object]:
    """A cell in the JSON report: the group's mean, CI and models, or null numbers and why."""
    group = found.group
    if group is None:
        return {"group": None, "mean": None, "ci_low": None, "ci_high": None, "ci_unit": None, "models": [],
                "why": found.why}
    return {"group": group.label, "mean": group.mean, "ci_low": group.ci.low if group.ci else None,
            "ci_high": group.ci.high if group.ci else None, "ci_unit": group.ci_unit, "models": list(group.models),
            "n_records": group.n_records, "n_scored": group.n_scored, "why": None}


def comparison_json(found: Comparison | None) -> dict[str, object] | None:
    if found is None:
        return None
    return {"difference": found.difference, "ci_low": found.ci.low if found.ci else None,
            "ci_high": found.ci.high if found.ci else None, "ci_method": found.method,
            "excludes_zero": found.excludes_zero, "cis_separated": found.cis_separated}
