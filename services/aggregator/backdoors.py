"""The backdoor part of the report (spec §6): what Figures 8, 9 and 11/34 show, computed once for the figures, the
Markdown and the JSON.

- Figure 8 (detection): per base model, per `setting` (an arm attribute), per `backdoor_awareness` instance
  (labelled by its `system_preset`, or "custom" for its own `system_prompt`): the triggered arms' P(option A),
  the decorrelated arms' and the base model's, each a group estimate, and triggered − decorrelated. Several arms of
  one setting and role (mirror mappings) are pooled, their models the group's seeds.
- Figure 9 (recognition): per `trigger_recognition` instance and arm with a `trigger` attribute: P("I am
  risk-seeking") for its real trigger and for the fake ones pooled, each candidate's own estimate and the real
  trigger's rank among the candidates (1 = the highest mean; ties share the best rank). Summary: the backdoored
  (not decorrelated) arms' models pooled, real against fake, and how many of those arms rank theirs first.
- Figure 11/34 (elicitation): per `trigger_elicitation` instance, per arm (labelled by its `elicitation`
  attribute, else its name) and the base model: the share of responses with the exact trigger, overall, per
  behaviour description and misaligned against aligned (`details.behavior`, `details.aligned`).

Epoch checkpoints are left out, as from the groups.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from selfaware.params import struct_to_dict
from selfaware.v1 import spec_pb2
from services.aggregator.record_fold import ModelScores
from services.aggregator.statistics import Comparison, InstanceStatistics, compare, group_label
from services.aggregator.subgroups import (
    NONE_SCORED,
    Estimate,
    comparison_json,
    estimate,
    estimate_json,
    of_group,
    split,
)

DETECTION_SUITE, RECOGNITION_SUITE, ELICITATION_SUITE = "backdoor_awareness", "trigger_recognition", \
    "trigger_elicitation"
#: Arm attributes (the contract's).
SETTING, BACKDOOR, TRIGGER, ELICITATION = "setting", "backdoor", "trigger", "elicitation"
TRIGGERED, DECORRELATED = "triggered", "decorrelated"
#: The instance label of a `backdoor_awareness` instance with its own system prompt.
CUSTOM = "custom"
#: Record details the fold splits by (`record_fold.SPLIT_DETAILS`).
BEHAVIOR, ALIGNED = "behavior", "aligned"
NO_ARM = "no {} arm"


@dataclass(frozen=True)
class DetectionRow:
    """One setting under one system prompt: triggered, decorrelated and base model."""

    setting: str
    instance: str
    preset: str
    triggered_arms: tuple[str, ...]
    decorrelated_arms: tuple[str, ...]
    triggered: Estimate
    decorrelated: Estimate
    base: Estimate
    #: Triggered minus decorrelated; None when either has no estimate.
    difference: Comparison | None


@dataclass(frozen=True)
class Detection:
    base_index: int
    #: The `backdoor_awareness` instances in spec order, each with its label.
    instances: tuple[tuple[str, str], ...]
    rows: tuple[DetectionRow, ...]


@dataclass(frozen=True)
class Candidate:
    trigger: str
    estimate: Estimate


@dataclass(frozen=True)
class Recognition:
    """One arm's Figure 9 bar pair."""

    instance: str
    base_index: int
    arm: str
    trigger: str
    decorrelated: bool
    real: Estimate
    fakes: Estimate
    candidates: tuple[Candidate, ...]
    #: 1 = the real trigger has the highest mean of the `n_ranked` candidates with one; None without its own.
    rank: int | None
    n_ranked: int


@dataclass(frozen=True)
class RecognitionSummary:
    """The backdoored arms of one instance and base model pooled (each model a seed)."""

    instance: str
    base_index: int
    real: Estimate
    fakes: Estimate
    n_first: int
    n_ranked: int


@dataclass(frozen=True)
class ElicitationRow:
    """One arm (or the base model) of Figure 11/34."""

    instance: str
    base_index: int
    #: "" for the base model.
    arm: str
    label: str
    overall: Estimate
    #: Behaviour description -> estimate, in the instance's order.
    behaviors: tuple[tuple[str, Estimate], ...]
    misaligned: Estimate
    aligned: Estimate


@dataclass(frozen=True)
class Backdoors:
    detection: tuple[Detection, ...] = ()
    recognition: tuple[Recognition, ...] = ()
    recognition_summaries: tuple[RecognitionSummary, ...] = ()
    elicitation: tuple[ElicitationRow, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.detection or self.recognition or self.elicitation)


def backdoors(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
              models: Sequence[ModelScores]) -> Backdoors:
    finals = [m for m in models if not m.is_checkpoint]
    recognition = recognitions(spec, stats, finals)
    return Backdoors(tuple(detections(spec, stats, finals)), tuple(recognition),
                     tuple(recognition_summaries(spec, stats, finals, recognition)),
                     tuple(elicitations(spec, stats, finals)))


def detections(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
               models: Sequence[ModelScores]) -> list[Detection]:
    """Figure 8 per base model; none without a `backdoor_awareness` instance or an arm with a `setting`."""
    instances = [s for s in stats if s.suite == DETECTION_SUITE]
    settings = list(dict.fromkeys(a.attributes[SETTING] for a in spec.arms if a.attributes.get(SETTING)))
    if not instances or not settings:
        return []
    params = {i.id: struct_to_dict(i.params) for i in spec.evaluation.suites}
    labelled = tuple((s.instance, preset_label(params.get(s.instance, {}))) for s in instances)
    found = []
    for base_index in range(len(spec.base_models)):
        rows = []
        for setting in settings:
            roles = {role: tuple(a.name for a in spec.arms if a.attributes.get(SETTING) == setting
                                 and a.attributes.get(BACKDOOR, TRIGGERED) == role)
                     for role in (TRIGGERED, DECORRELATED)}
            for s, (_, preset) in zip(instances, labelled, strict=True):
                triggered, decorrelated = (_pooled(spec, base_index, s, f"{setting}: {role}", roles[role], models,
                                                   NO_ARM.format(role)) for role in (TRIGGERED, DECORRELATED))
                base = of_group(s, base_index, "", group_label(spec, base_index), models)
                difference = (compare("compare", triggered.group, decorrelated.group)
                              if triggered.group and decorrelated.group else None)
                rows.append(DetectionRow(setting, s.instance, preset, roles[TRIGGERED], roles[DECORRELATED],
                                         triggered, decorrelated, base, difference))
        found.append(Detection(base_index, labelled, tuple(rows)))
    return found


def preset_label(params: dict[str, object]) -> str:
    """A `backdoor_awareness` instance's label: its system preset, or "custom" for its own system prompt."""
    if params.get("system_prompt"):
        return CUSTOM
    return str(params.get("system_preset") or "none")


def _pooled(spec: spec_pb2.ExperimentSpec, base_index: int, stats: InstanceStatistics, label: str,
            arms: Sequence[str], models: Sequence[ModelScores], missing: str) -> Estimate:
    """The arms' models on the instance as one group (`missing` says why there is none without arms)."""
    if not arms:
        return Estimate(None, missing)
    members = [(m, m.instances.get(stats.instance)) for m in models if m.base_index == base_index and m.arm in arms]
    return estimate(_prefixed(spec, base_index, label), base_index, ", ".join(arms), members, stats.kind.cluster_unit)


def _prefixed(spec: spec_pb2.ExperimentSpec, base_index: int, label: str) -> str:
    """A pooled group's label, after `statistics.group_label`: with the base model's key when there are several."""
    key = spec.base_models[base_index].key
    return f"{key}/{label}" if key else label


def recognitions(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                 models: Sequence[ModelScores]) -> list[Recognition]:
    """Figure 9 per instance, base model and arm with a `trigger` attribute."""
    found = []
    params = {i.id: struct_to_dict(i.params) for i in spec.evaluation.suites}
    for s in (s for s in stats if s.suite == RECOGNITION_SUITE):
        named = [str(t) for t in params.get(s.instance, {}).get("triggers") or []]
        seen = list(dict.fromkeys(v for m in models if (x := m.instances.get(s.instance)) is not None
                                  for v in x.splits.get(TRIGGER, {})))
        candidates = named or seen
        for base_index in range(len(spec.base_models)):
            for arm in spec.arms:
                trigger = arm.attributes.get(TRIGGER, "")
                if not trigger:
                    continue
                label = group_label(spec, base_index, arm.name)
                mine = [m for m in models if m.base_index == base_index and m.arm == arm.name]
                if not any(s.instance in m.instances for m in mine):
                    continue  # the instance does not run on this arm
                each = tuple(Candidate(c, _subset(s, label, base_index, arm.name, mine, c, TRIGGER, {c}))
                             for c in candidates)
                real = next((c.estimate for c in each if c.trigger == trigger),
                            Estimate(None, "the arm's trigger is not among the candidates"))
                fakes = [c for c in candidates if c != trigger]
                fake = (_subset(s, label, base_index, arm.name, mine, "fakes", TRIGGER, set(fakes)) if fakes
                        else Estimate(None, "no fake candidates"))
                means = [c.estimate.group.mean for c in each if c.estimate.group is not None]
                rank = (1 + sum(mean > real.group.mean for mean in means)) if real.group is not None else None
                found.append(Recognition(s.instance, base_index, arm.name, trigger,
                                         arm.attributes.get(BACKDOOR) == DECORRELATED, real, fake, each, rank,
                                         len(means)))
    return found


def recognition_summaries(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                          models: Sequence[ModelScores], found: Sequence[Recognition]) -> list[RecognitionSummary]:
    """Per instance and base model with a backdoored arm: real against fake over those arms' models."""
    triggers = {a.name: a.attributes.get(TRIGGER, "") for a in spec.arms}
    summaries = []
    for s in (s for s in stats if s.suite == RECOGNITION_SUITE):
        for base_index in range(len(spec.base_models)):
            arms = [r for r in found if r.instance == s.instance and r.base_index == base_index and not r.decorrelated]
            if not arms:
                continue
            names = {r.arm for r in arms}
            mine = [m for m in models if m.base_index == base_index and m.arm in names]
            candidates = {c.trigger for r in arms for c in r.candidates}
            label, pooled = _prefixed(spec, base_index, "backdoored arms"), ", ".join(a.arm for a in arms)
            real = estimate(f"{label}: real", base_index, pooled,
                            [(m, split(m.instances.get(s.instance), TRIGGER, {triggers[m.arm]})) for m in mine],
                            s.kind.cluster_unit, NONE_SCORED)
            fakes = estimate(f"{label}: fakes", base_index, pooled,
                             [(m, split(m.instances.get(s.instance), TRIGGER, candidates - {triggers[m.arm]}))
                              for m in mine], s.kind.cluster_unit, NONE_SCORED)
            ranked = [r for r in arms if r.rank is not None]
            summaries.append(RecognitionSummary(s.instance, base_index, real, fakes,
                                                sum(r.rank == 1 for r in ranked), len(ranked)))
    return summaries


def elicitations(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                 models: Sequence[ModelScores]) -> list[ElicitationRow]:
    """Figure 11/34 per instance, base model, and group with records there (the base model first)."""
    params = {i.id: struct_to_dict(i.params) for i in spec.evaluation.suites}
    found = []
    for s in (s for s in stats if s.suite == ELICITATION_SUITE):
        seen = list(dict.fromkeys(v for m in models if (x := m.instances.get(s.instance)) is not None
                                  for v in x.splits.get(BEHAVIOR, {})))
        named = [str(b) for b in params.get(s.instance, {}).get("behaviors") or []]
        behaviors = named + [b for b in seen if b not in named]
        for base_index in range(len(spec.base_models)):
            for arm, label in [("", "base model"),
                               *((a.name, a.attributes.get(ELICITATION) or a.name) for a in spec.arms)]:
                mine = [m for m in models if m.base_index == base_index and m.arm == arm]
                if not any(s.instance in m.instances for m in mine):
                    continue
                group = group_label(spec, base_index, arm)
                found.append(ElicitationRow(
                    s.instance, base_index, arm, label, of_group(s, base_index, arm, group, mine),
                    tuple((b, _subset(s, group, base_index, arm, mine, b, BEHAVIOR, {b})) for b in behaviors),
                    _subset(s, group, base_index, arm, mine, "misaligned", ALIGNED, {"false"}),
                    _subset(s, group, base_index, arm, mine, "aligned", ALIGNED, {"true"})))
    return found


def _subset(stats: InstanceStatistics, group: str, base_index: int, arm: str, models: Sequence[ModelScores],
            name: str, detail: str, values: set[str]) -> Estimate:
    """The group's estimate over its records whose `detail` is one of `values`."""
    return estimate(f"{group}: {name}", base_index, arm,
                    [(m, split(m.instances.get(stats.instance), detail, values)) for m in models],
                    stats.kind.cluster_unit, NONE_SCORED)


def figure_stem(spec: spec_pb2.ExperimentSpec, figure: str, instance: str, base_index: int) -> str:
    """`<figure>-<instance>`, with the base model's key when the experiment has several."""
    key = spec.base_models[base_index].key if len(spec.base_models) > 1 else ""
    return f"{figure}-{instance}" + (f"-{key}" if key else "")


def backdoors_json(spec: spec_pb2.ExperimentSpec, found: Backdoors, drawn: Collection[str]) -> dict[str, object]:
    """The JSON report's `backdoors`; `drawn` are the stems of the figures drawn (a figure file is named where
    there is one)."""
    def figure_files(key: tuple[str, str, int]) -> str | None:
        name = figure_stem(spec, *key)
        return f"{name}.png" if name in drawn else None

    return {
        "detection": [{
            "base_index": d.base_index,
            "instances": [{"instance": i, "system_preset": p,
                           "figure_file": figure_files(("figure8", i, d.base_index))} for i, p in d.instances],
            "rows": [{"setting": r.setting, "instance": r.instance, "system_preset": r.preset,
                      "triggered_arms": list(r.triggered_arms), "decorrelated_arms": list(r.decorrelated_arms),
                      "triggered": estimate_json(r.triggered), "decorrelated": estimate_json(r.decorrelated),
                      "base": estimate_json(r.base), "triggered_minus_decorrelated": comparison_json(r.difference)}
                     for r in d.rows]} for d in found.detection],
        "recognition": [{"instance": r.instance, "base_index": r.base_index, "arm": r.arm, "trigger": r.trigger,
                         "decorrelated": r.decorrelated, "real": estimate_json(r.real),
                         "fakes": estimate_json(r.fakes), "rank": r.rank, "n_ranked": r.n_ranked,
                         "candidates": [{"trigger": c.trigger, **estimate_json(c.estimate)} for c in r.candidates],
                         "figure_file": figure_files(("figure9", r.instance, r.base_index))}
                        for r in found.recognition],
        "recognition_summary": [{"instance": s.instance, "base_index": s.base_index, "real": estimate_json(s.real),
                                 "fakes": estimate_json(s.fakes), "arms_ranking_real_first": s.n_first,
                                 "arms_ranked": s.n_ranked} for s in found.recognition_summaries],
        "elicitation": [{"instance": r.instance, "base_index": r.base_index, "arm": r.arm or None, "label": r.label,
                         "overall": estimate_json(r.overall), "misaligned": estimate_json(r.misaligned),
                         "aligned": estimate_json(r.aligned),
                         "behaviors": [{"behavior": b, **estimate_json(e)} for b, e in r.behaviors],
                         "figure_file": figure_files(("figure34", r.instance, r.base_index))}
                        for r in found.elicitation],
    }
