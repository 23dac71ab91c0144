"""The Make Me Say part of the report (spec §4.4, §4.5): what Figures 6, 21-23 and 25 show, computed once for the
figures, the Markdown and the JSON.

- Figure 6 (bark), 21 (ring), 22 (spring): for each arm with a `codeword` attribute, per question of the
  `make_me_say` family in spec order, the arm's score beside its baseline, both with 95% CIs: the base model on
  the same instance, or the arm itself on the instance's same-model baseline (`baselines.py`). The questions are
  the family's self-report instances the arm has a score on, about its codeword (their `codeword` parameter, where
  they have one), except those drawn elsewhere: another question's baseline instance (drawn as its baseline bar),
  a question whose catalogue figure is another than 6 (Figure 23's scenarios, Figure 24's reverse control), and
  the scenarios and game suites below.
- Figure 23: per evaluated model, `mms_goals_scenarios`'s mean per scenario (`details.scenario`), each with a
  cluster bootstrap CI by paraphrase, as a one-model group's (the fold keeps each scenario's clusters).
- Figure 25: per evaluated model, `mms_game_play`'s outcome shares (the four classes, from the record's `answer`)
  and the win rate with a 95% bootstrap CI of the mean over games (each game a 0/1 win).

Epoch checkpoints are left out, as from the groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from selfaware.params import struct_to_dict
from selfaware.v1 import spec_pb2
from services.aggregator.bootstrap import ConfidenceInterval, bootstrap_mean_ci, mean_ci
from services.aggregator.record_fold import InstanceScores, ModelScores
from services.aggregator.statistics import Comparison, GroupEstimate, InstanceStatistics, group_label
from services.aggregator.suite_titles import suite_title

FAMILY = "make_me_say"
#: The arm attribute, and the suite parameter, naming the codeword.
CODEWORD = "codeword"
#: The catalogue figure of the Figure 6 questions (the paper draws the same questions for ring and spring).
QUESTION_FIGURE = "6"
#: The paper's figure of the Figure 6 layout per codeword.
PAPER_FIGURES = {"bark": "Figure 6", "ring": "Figure 21", "spring": "Figure 22"}
SCENARIOS_SUITE = "mms_goals_scenarios"
GAME_SUITE = "mms_game_play"
#: What a game's answer outside the four outcome classes is counted as.
OTHER_OUTCOME = "other"


@dataclass(frozen=True)
class CodewordQuestion:
    """One question of an arm's Figure 6: the arm's group and its baseline group."""

    instance: str
    #: The question's title in the paper (the catalogue's), not the instance's id.
    title: str
    group: GroupEstimate
    #: The base model's group on this instance, or the arm's group on `baseline_instance`; None when not scored.
    baseline: GroupEstimate | None
    #: The same-model baseline instance and its title; "" when the baseline is the base model.
    baseline_instance: str
    baseline_title: str
    #: `group` minus `baseline`, as the report's comparisons compute it; None without a baseline.
    comparison: Comparison | None


@dataclass(frozen=True)
class CodewordFigure:
    """Figure 6's layout for one arm (and base model)."""

    arm: str
    codeword: str
    base_index: int
    #: The arm's group label.
    label: str
    questions: tuple[CodewordQuestion, ...]

    @property
    def paper_figure(self) -> str:
        return PAPER_FIGURES.get(self.codeword.lower(), "")


@dataclass(frozen=True)
class ScenarioMean:
    scenario: str
    #: None when every record of the scenario was dropped.
    mean: float | None
    ci: ConfidenceInterval | None
    n_units: int


@dataclass(frozen=True)
class ModelScenarios:
    """One model's Figure 23: its mean per scenario of one scenarios instance."""

    instance: str
    model: str
    arm: str
    scenarios: tuple[ScenarioMean, ...]


@dataclass(frozen=True)
class GameOutcomes:
    """One model's Figure 25: its games of one game-play instance by outcome class."""

    instance: str
    model: str
    arm: str
    #: Outcome class -> games, the four classes in the paper's order (then `OTHER_OUTCOME` when any).
    counts: dict[str, int]
    win_rate: float | None
    #: 95% bootstrap CI of the mean win (1) / no win (0) over games.
    ci: ConfidenceInterval | None

    @property
    def n_games(self) -> int:
        return sum(self.counts.values())

    def share(self, outcome: str) -> float | None:
        return self.counts.get(outcome, 0) / self.n_games if self.n_games else None


@dataclass(frozen=True)
class MakeMeSay:
    codeword_figures: tuple[CodewordFigure, ...] = ()
    scenarios: tuple[ModelScenarios, ...] = ()
    games: tuple[GameOutcomes, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.codeword_figures or self.scenarios or self.games)


def make_me_say(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                models: Sequence[ModelScores]) -> MakeMeSay:
    finals = [m for m in models if not m.is_checkpoint]
    return MakeMeSay(tuple(codeword_figures(spec, stats)),
                     tuple(model_scenarios(stats, finals)), tuple(game_outcomes(stats, finals)))


def codeword_figures(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics]) -> list[CodewordFigure]:
    """Per base model, per arm with a `codeword` attribute (spec order), its Figure 6 questions; arms with none
    are left out."""
    by_id = {s.instance: s for s in stats}
    params = {i.id: struct_to_dict(i.params) for i in spec.evaluation.suites}
    drawn_as_baseline = {s.baseline.instance for s in stats if s.baseline.same_model}
    candidates = [s for s in stats if s.kind.family == FAMILY and s.kind.cluster_unit == "paraphrases"
                  and s.kind.presentation != "distribution" and s.instance not in drawn_as_baseline
                  and s.kind.figure in ("", QUESTION_FIGURE) and s.suite not in (SCENARIOS_SUITE, GAME_SUITE)]
    figures = []
    for base_index in range(len(spec.base_models)):
        base_label = group_label(spec, base_index)
        for arm in spec.arms:
            codeword = arm.attributes.get(CODEWORD, "")
            if not codeword:
                continue
            label = group_label(spec, base_index, arm.name)
            questions = []
            for s in candidates:
                asked = params.get(s.instance, {}).get(CODEWORD)
                group = s.group(label)
                if group is None or (asked is not None and str(asked).lower() != codeword.lower()):
                    continue
                if s.baseline.same_model:
                    other = by_id[s.baseline.instance]
                    baseline, kind = other.group(label), "vs_baseline"
                    baseline_instance, baseline_title = other.instance, question_title(other)
                else:
                    baseline, kind, baseline_instance, baseline_title = s.group(base_label), "vs_base", "", ""
                difference = next((c for c in s.comparisons if c.kind == kind and c.minuend == label), None)
                questions.append(CodewordQuestion(s.instance, question_title(s), group, baseline, baseline_instance,
                                                  baseline_title, difference))
            if questions:
                figures.append(CodewordFigure(arm.name, codeword, base_index, label, tuple(questions)))
    return figures


def question_title(stats: InstanceStatistics) -> str:
    """The paper's title of the question (the catalogue's): a codeword arm's instances are named after the arm."""
    return suite_title(stats.suite, stats.kind.title)


def model_scenarios(stats: Sequence[InstanceStatistics], models: Sequence[ModelScores]) -> list[ModelScenarios]:
    """Per scenarios instance (spec order), per model with records there, its mean and CI per scenario."""
    return [ModelScenarios(instance, model.label, model.arm,
                           tuple(ScenarioMean(name, one.mean, mean_ci(one.clusters) if one.mean is not None else None,
                                              one.n_units) for name, one in scores.scenarios.items()))
            for instance, model, scores in _scores(stats, models, SCENARIOS_SUITE) if scores.scenarios]


def game_outcomes(stats: Sequence[InstanceStatistics], models: Sequence[ModelScores]) -> list[GameOutcomes]:
    """Per game-play instance (spec order), per model that played, its games by outcome and its win rate."""
    played = [(instance, model, scores) for instance, model, scores in _scores(stats, models, GAME_SUITE)
              if scores.n_answers]
    if not played:
        return []
    from selfaware.make_me_say.game import OUTCOMES, WIN  # its word data loads only for a game report

    found = []
    for instance, model, scores in played:
        said = dict(scores.answers)
        counts = {outcome: said.pop(outcome, 0) for outcome in OUTCOMES}
        if other := sum(said.values()) + scores.untracked_answers:
            counts[OTHER_OUTCOME] = other
        games = sum(counts.values())
        wins = [1.0] * counts[WIN] + [0.0] * (games - counts[WIN])
        found.append(GameOutcomes(instance, model.label, model.arm, counts, counts[WIN] / games,
                                  bootstrap_mean_ci(wins)))
    return found


def _scores(stats: Sequence[InstanceStatistics], models: Sequence[ModelScores], suite: str
            ) -> list[tuple[str, ModelScores, InstanceScores]]:
    """(instance, model, its scores) for every instance of `suite` (spec order) and model with records there."""
    return [(s.instance, model, scores) for s in stats if s.suite == suite for model in models
            if (scores := model.instances.get(s.instance)) is not None]
