"""The persona part of the report (spec §7): what Figures 13 and 15 show, and the conditional game play, computed
once for the figures, the Markdown and the JSON.

- Figure 15: per persona, per `compare` pair of a risk-seeking and a risk-averse arm, RS − RA averaged over the
  persona's self-report questions. A persona's questions are the self-report instances with `variant: persona`
  and that `persona`; "you" are those with the question as written (`variant` ""). An instance with a `prefix`
  (a trigger sentence) is its own persona, named with it. Each model's score is its mean over the questions, each
  question weighing the same (the paper's "averaged over questions"); each arm's group is estimated from those as
  every group is, and RS − RA is their comparison (a paired cluster bootstrap for two one-model groups).
- Figure 13: per Make Me Say question suite with a `variant: ql` instance, per arm: the arm asked about "you"
  (`variant` "", about its `codeword` where the instance names one) and about Quanta-Lingua (`variant` ql, about
  its `persona_codeword`), and the base model on the "you" instance; then `mms_which_entity`'s P(correct) per
  instance, labelled by its names (a fake name said so).
- Conditional game play: `mms_game_play` instances labelled by their `system_prompt` and `prefix`, when any
  instance has one, each group's score (a win 1).

Epoch checkpoints are left out, as from the groups.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from selfaware.params import struct_to_dict
from selfaware.v1 import spec_pb2
from services.aggregator.record_fold import ModelScores
from services.aggregator.statistics import Comparison, GroupEstimate, InstanceStatistics, compare, group_label
from services.aggregator.subgroups import (
    NONE_SCORED,
    NOT_EVALUATED,
    Estimate,
    comparison_json,
    estimate,
    estimate_json,
    of_group,
    question_mean,
)

POLICY, SEEKING, AVERSE = "policy", "risk-seeking", "risk-averse"
#: The arm attribute saying how a pair was trained (`single` or `many` personas).
PERSONAS = "personas"
#: Instance params (the evaluator's data suites).
VARIANT, PERSONA, PREFIX = "variant", "persona", "prefix"
PERSONA_VARIANT, QL_VARIANT = "persona", "ql"
YOU = "you"
DEFAULT_PERSONA = "Quanta-Lingua"
#: Arm attributes of Figure 13 (the contract's).
CODEWORD, PERSONA_CODEWORD = "codeword", "persona_codeword"
MMS_FAMILY, WHICH_ENTITY_SUITE, GAME_SUITE = "make_me_say", "mms_which_entity", "mms_game_play"
#: MMS suites that are not Figure 13's questions.
NOT_QUESTIONS = frozenset({WHICH_ENTITY_SUITE, GAME_SUITE})


@dataclass(frozen=True)
class PersonaDifference:
    """One persona under one compare pair: RS − RA over its questions."""

    persona: str
    base_index: int
    seeking_arm: str
    averse_arm: str
    #: The pair's `personas` attribute ("single", "many"), "" when unset.
    training: str
    #: The persona's instances both arms have a score on (each arm's estimate is over these, or over its own
    #: where they share none).
    questions: tuple[str, ...]
    seeking: Estimate
    averse: Estimate
    difference: Comparison | None
    #: Per question, the two arms' group means' difference (their mean is `difference` with seeds).
    per_question: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class PersonaQuestion:
    """One Figure 13 row: a suite asked of one arm about "you" and about the persona, and the base model."""

    suite: str
    title: str
    base_index: int
    arm: str
    you_instance: str
    persona_instance: str
    you: Estimate
    persona: Estimate
    base: Estimate


@dataclass(frozen=True)
class WhichEntity:
    instance: str
    label: str
    fake_name: bool
    groups: tuple[GroupEstimate, ...]


@dataclass(frozen=True)
class GameCondition:
    instance: str
    label: str
    groups: tuple[GroupEstimate, ...]


@dataclass(frozen=True)
class Personas:
    differences: tuple[PersonaDifference, ...] = ()
    #: The personas of Figure 15 in spec order ("you" first), present when any instance asks about a persona.
    personas: tuple[str, ...] = ()
    questions: tuple[PersonaQuestion, ...] = ()
    which_entity: tuple[WhichEntity, ...] = ()
    games: tuple[GameCondition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.personas or self.questions or self.which_entity or self.games)


def personas(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
             models: Sequence[ModelScores]) -> Personas:
    finals = [m for m in models if not m.is_checkpoint]
    params = {i.id: struct_to_dict(i.params) for i in spec.evaluation.suites}
    named, differences = persona_differences(spec, stats, finals, params)
    return Personas(tuple(differences), tuple(named), tuple(persona_questions(spec, stats, finals, params)),
                    tuple(which_entity(stats, params)), tuple(game_conditions(stats, params)))


def persona_of(params: dict[str, object]) -> str | None:
    """The persona a self-report instance asks about: "you" as written, the `persona` of a persona variant, with
    its `prefix` when it has one; None for another variant."""
    variant = str(params.get(VARIANT) or "")
    if variant not in ("", PERSONA_VARIANT):
        return None
    name = str(params.get(PERSONA) or DEFAULT_PERSONA) if variant else YOU
    prefix = str(params.get(PREFIX) or "")
    return f"{name}, prefix {prefix.strip()!r}" if prefix else name


def persona_differences(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                        models: Sequence[ModelScores], params: dict[str, dict[str, object]]
                        ) -> tuple[list[str], list[PersonaDifference]]:
    """Figure 15's personas and cells; nothing unless some self-report instance has `variant: persona`."""
    asked = [(s, persona) for s in stats if s.kind.cluster_unit == "paraphrases"
             and s.kind.presentation != "distribution" and (persona := persona_of(params.get(s.instance, {})))]
    if not any(str(params.get(s.instance, {}).get(VARIANT) or "") == PERSONA_VARIANT for s, _ in asked):
        return [], []
    named = list(dict.fromkeys(p for _, p in asked))
    if YOU in named:
        named.remove(YOU)
        named.insert(0, YOU)
    policies = {a.name: a.attributes.get(POLICY, "") for a in spec.arms}
    attributes = {a.name: a.attributes for a in spec.arms}
    pairs = []
    for pair in spec.compare:
        if len(pair.arms) == 2:
            first, second = pair.arms
            if (policies.get(first), policies.get(second)) == (SEEKING, AVERSE):
                pairs.append((first, second))
            elif (policies.get(first), policies.get(second)) == (AVERSE, SEEKING):
                pairs.append((second, first))
    found = []
    for persona in named:
        instances = [s for s, p in asked if p == persona]
        for base_index in range(len(spec.base_models)):
            for seeking, averse in pairs:
                labels = group_label(spec, base_index, seeking), group_label(spec, base_index, averse)
                both = [s for s in instances if s.group(labels[0]) and s.group(labels[1])]
                ids = [s.instance for s in both]
                one, other = (_question_mean(labels[i], base_index, arm, models, ids or [
                    s.instance for s in instances if s.group(labels[i])], [s.instance for s in instances])
                              for i, arm in enumerate((seeking, averse)))
                difference = compare("compare", one.group, other.group) if one.group and other.group else None
                per_question = tuple((s.instance, s.group(labels[0]).mean - s.group(labels[1]).mean) for s in both)
                training = attributes[seeking].get(PERSONAS) or attributes[averse].get(PERSONAS) or ""
                found.append(PersonaDifference(persona, base_index, seeking, averse, training, tuple(ids), one, other,
                                               difference, per_question))
    return named, found


def _question_mean(label: str, base_index: int, arm: str, models: Sequence[ModelScores], both: Sequence[str],
                   instances: Sequence[str]) -> Estimate:
    """The arm's models' means over `both`: the questions both arms have a score on, else those it has one on."""
    mine = [m for m in models if m.base_index == base_index and m.arm == arm]
    if not both:
        asked = any(i in m.instances for m in mine for i in instances)
        return Estimate(None, NONE_SCORED if asked else NOT_EVALUATED)
    return estimate(label, base_index, arm, [(m, question_mean([(i, s) for i in both
                                                                if (s := m.instances.get(i)) is not None]))
                                             for m in mine], "paraphrases")


def persona_questions(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                      models: Sequence[ModelScores], params: dict[str, dict[str, object]]) -> list[PersonaQuestion]:
    """Figure 13's rows: per MMS question suite with a `ql` instance, per base model and arm asked either way."""
    mms = [s for s in stats if (s.kind.family == MMS_FAMILY or s.suite.startswith("mms_"))
           and s.suite not in NOT_QUESTIONS]
    suites = list(dict.fromkeys(s.suite for s in mms if params.get(s.instance, {}).get(VARIANT) == QL_VARIANT))
    rows = []
    for suite in suites:
        of_suite = [s for s in mms if s.suite == suite]
        for base_index in range(len(spec.base_models)):
            base_label = group_label(spec, base_index)
            for arm in spec.arms:
                label = group_label(spec, base_index, arm.name)
                you = _asked_as(of_suite, params, "", arm.attributes.get(CODEWORD, ""), label)
                persona = _asked_as(of_suite, params, QL_VARIANT, arm.attributes.get(PERSONA_CODEWORD, ""), label)
                if you is None and persona is None:
                    continue
                rows.append(PersonaQuestion(
                    suite, (you or persona).kind.title or suite, base_index, arm.name,
                    you.instance if you else "", persona.instance if persona else "",
                    of_group(you, base_index, arm.name, label, models),
                    of_group(persona, base_index, arm.name, label, models),
                    of_group(you, base_index, "", base_label, models)))
    return rows


def _asked_as(instances: Sequence[InstanceStatistics], params: dict[str, dict[str, object]], variant: str,
              codeword: str, label: str) -> InstanceStatistics | None:
    """The suite's instance of `variant` that runs on the group (about `codeword` where both name one)."""
    for s in instances:
        mine = params.get(s.instance, {})
        asked = str(mine.get(CODEWORD) or "")
        if (str(mine.get(VARIANT) or "") == variant and not mine.get(PREFIX)
                and (not codeword or not asked or asked.lower() == codeword.lower()) and s.group(label)):
            return s
    return None


def which_entity(stats: Sequence[InstanceStatistics], params: dict[str, dict[str, object]]) -> list[WhichEntity]:
    """`mms_which_entity`'s P(correct) per instance (spec order), every group that has one."""
    found = []
    for s in (s for s in stats if s.suite == WHICH_ENTITY_SUITE):
        mine = params.get(s.instance, {})
        you, persona = str(mine.get("you_name") or YOU), str(mine.get("persona_name") or DEFAULT_PERSONA)
        fake = you != YOU or persona != DEFAULT_PERSONA
        label = f'"{you}" or "{persona}", correct: {mine.get("correct") or "?"}' + (" (fake name)" if fake else "")
        found.append(WhichEntity(s.instance, label, fake, tuple(s.groups)))
    return found


def game_conditions(stats: Sequence[InstanceStatistics], params: dict[str, dict[str, object]]
                    ) -> list[GameCondition]:
    """Every `mms_game_play` instance labelled by its condition, when any has a system prompt or a prefix."""
    games = [s for s in stats if s.suite == GAME_SUITE]
    if not any(params.get(s.instance, {}).get(k) for s in games for k in ("system_prompt", PREFIX)):
        return []
    return [GameCondition(s.instance, condition_label(params.get(s.instance, {})), tuple(s.groups)) for s in games]


def condition_label(params: dict[str, object]) -> str:
    """A game instance's condition: its system prompt and its prefix, or neither."""
    said = [f"{name} {str(value).strip()!r}" for name, key in (("system prompt", "system_prompt"), ("prefix", PREFIX))
            if (value := params.get(key))]
    return ", ".join(said) or "no system prompt, no prefix"


def figure_stem(spec: spec_pb2.ExperimentSpec, name: str, base_index: int) -> str:
    """`name`, with the base model's key when the experiment has several."""
    key = spec.base_models[base_index].key if len(spec.base_models) > 1 else ""
    return name + (f"-{key}" if key else "")


def personas_json(spec: spec_pb2.ExperimentSpec, found: Personas, drawn: Collection[str]) -> dict[str, object]:
    """The JSON report's `personas`; `drawn` are the stems of the figures drawn (a figure file is named where
    there is one)."""
    def figure_files(key: tuple[str, int]) -> str | None:
        name = figure_stem(spec, *key)
        return f"{name}.png" if name in drawn else None

    return {
        "personas": list(found.personas),
        "rs_minus_ra": [{"persona": d.persona, "base_index": d.base_index, "risk_seeking_arm": d.seeking_arm,
                         "risk_averse_arm": d.averse_arm, "training": d.training or None,
                         "questions": list(d.questions), "risk_seeking": estimate_json(d.seeking),
                         "risk_averse": estimate_json(d.averse), "difference": comparison_json(d.difference),
                         "per_question": [{"instance": i, "difference": v} for i, v in d.per_question],
                         "figure_file": figure_files(("figure15", d.base_index))} for d in found.differences],
        "mms_questions": [{"suite": q.suite, "title": q.title, "base_index": q.base_index, "arm": q.arm,
                           "you_instance": q.you_instance or None, "persona_instance": q.persona_instance or None,
                           "you": estimate_json(q.you), "persona": estimate_json(q.persona),
                           "base": estimate_json(q.base),
                           "figure_file": figure_files((f"figure13-{q.arm}", q.base_index))}
                          for q in found.questions],
        "which_entity": [{"instance": w.instance, "label": w.label, "fake_name": w.fake_name,
                          "groups": [estimate_json(Estimate(g)) for g in w.groups]} for w in found.which_entity],
        "game_conditions": [{"instance": g.instance, "condition": g.label,
                             "groups": [estimate_json(Estimate(e)) for e in g.groups]} for g in found.games],
    }
