"""The paper's Figure 3 (risk), Figure 18 (myopia) and Figure 19 (apples): per self-report question, the base
model and each of one family's arms (policy A, base, policy B) as a point with its 95% CI.

A family is the arms' `family` attribute; its figure shows the self-report instances those arms were scored on
(only those of that family when the evaluator's catalogue names a suite's family). Arms without a family
share one figure of every self-report instance they were scored on. Distribution-only questions (Figure 2) have no score and are drawn in `words.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from selfaware.v1 import spec_pb2
from services.aggregator.figures._series import group_series
from services.aggregator.figures.overview import points_figure
from services.aggregator.statistics import InstanceStatistics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The paper's figure of each family's self-report questions.
PAPER_FIGURES = {"risk": "Figure 3", "myopia": "Figure 18", "apples": "Figure 19"}


class FamilyQuestions(NamedTuple):
    #: The arms' `family` attribute; "" for arms without one.
    family: str
    arms: tuple[str, ...]
    stats: tuple[InstanceStatistics, ...]


def families(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics]) -> list[FamilyQuestions]:
    """Per family (in the order its first arm appears), its arms and the self-report instances they scored on."""
    arms_of: dict[str, list[str]] = {}
    for arm in spec.arms:
        arms_of.setdefault(arm.attributes.get("family", ""), []).append(arm.name)
    found = []
    for family, arms in arms_of.items():
        questions = tuple(
            s for s in stats
            if s.kind.cluster_unit == "paraphrases" and s.kind.presentation != "distribution"
            and (not family or s.kind.family in ("", family)) and any(g.arm in arms for g in s.groups))
        if questions:
            found.append(FamilyQuestions(family, tuple(arms), questions))
    return found


def figure_name(family: str) -> str:
    """The file stem of a family's figure: `self-report-risk`, or `self-report` for arms without a family."""
    return f"self-report-{family}" if family else "self-report"


def self_report_figure(spec: spec_pb2.ExperimentSpec, questions: FamilyQuestions) -> Figure:
    """One family's self-report questions: base model and the family's arms, 95% CIs."""
    paper = PAPER_FIGURES.get(questions.family)
    what = f"{questions.family} self-reports" if questions.family else "self-reports"
    title = f"{spec.name}: {what}" + (f" (as the paper's {paper})" if paper else "")
    series = group_series(spec, questions.stats, questions.arms)
    return points_figure(title, questions.stats, series, "score (1 = the suite's target)")
