"""The paper's Figure 6 (bark), 21 (ring) and 22 (spring): for one codeword arm, per Make Me Say question, the
arm's score beside its baseline's, each a bar with its 95% CI.

The baseline is the base model asked the same question (grey), or the arm itself on the question's same-model
baseline (the arm's colour, hatched; the tick names both questions). The bars are three containers, labelled
"<arm group>", "base model" and "<arm group> on the baseline question", whose heights are the groups' means;
`make_me_say.CodewordFigure` says what they are.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from selfaware.v1 import spec_pb2
from services.aggregator.figures._canvas import ARM_COLOURS, BASE_COLOUR, new_figure
from services.aggregator.figures.overview import ci_note
from services.aggregator.make_me_say import CodewordFigure
from services.aggregator.statistics import GroupEstimate

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH = 0.38
BASE_MODEL = "base model"
SAME_MODEL = "on the baseline question"


def figure_stem(spec: spec_pb2.ExperimentSpec, found: CodewordFigure) -> str:
    """`make-me-say-<arm>`, with the base model's key when the experiment has several."""
    key = spec.base_models[found.base_index].key if len(spec.base_models) > 1 else ""
    return f"make-me-say-{found.arm}" + (f"-{key}" if key else "")


def codeword_figure(spec: spec_pb2.ExperimentSpec, found: CodewordFigure) -> Figure:
    questions = found.questions
    figure = new_figure(max(6.0, 1.5 * len(questions) + 2.0), 4.8)
    figure.set_layout_engine("constrained")
    axes = figure.add_subplot()
    colour = ARM_COLOURS[[a.name for a in spec.arms].index(found.arm) % len(ARM_COLOURS)]
    _bars(axes, [(x - WIDTH / 2, q.group) for x, q in enumerate(questions)], found.label, colour)
    _bars(axes, [(x + WIDTH / 2, q.baseline) for x, q in enumerate(questions)
                 if q.baseline is not None and not q.baseline_instance], BASE_MODEL, BASE_COLOUR)
    _bars(axes, [(x + WIDTH / 2, q.baseline) for x, q in enumerate(questions)
                 if q.baseline is not None and q.baseline_instance], f"{found.label} {SAME_MODEL}", colour,
          hatch="//", alpha=0.45)
    ticks = [textwrap.fill(q.title, 16) + (f"\nvs {textwrap.fill(q.baseline_title, 16)}" if q.baseline_instance
                                           else "") for q in questions]
    axes.set_xticks(range(len(questions)), ticks, fontsize=8)
    axes.set_xlim(-0.6, len(questions) - 0.4)
    axes.set_ylim(0.0, 1.08)
    axes.set_ylabel(f'score (1 = the codeword "{found.codeword}")')
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=8)
    paper = f" (as the paper's {found.paper_figure})" if found.paper_figure else ""
    base = f", {spec.base_models[found.base_index].name}" if len(spec.base_models) > 1 else ""
    figure.suptitle(textwrap.fill(f'{spec.name}: {found.arm} (codeword "{found.codeword}") against its '
                                  f"baseline{base}{paper}", 80), fontsize=11)
    groups = [g for q in questions for g in (q.group, q.baseline) if g is not None]
    figure.supxlabel(ci_note(groups), x=0.01, ha="left", fontsize=7, color="#555555")
    return figure


def _bars(axes: Axes, bars: list[tuple[float, GroupEstimate | None]], label: str, colour: str, hatch: str = "",
          alpha: float = 1.0) -> None:
    """One container of bars at (x, group), with CI error bars and the mean written above."""
    drawn = [(x, g) for x, g in bars if g is not None]
    if not drawn:
        return
    below = [max(0.0, g.mean - g.ci.low) if g.ci else 0.0 for _, g in drawn]
    above = [max(0.0, g.ci.high - g.mean) if g.ci else 0.0 for _, g in drawn]
    axes.bar([x for x, _ in drawn], [g.mean for _, g in drawn], WIDTH, yerr=[below, above], color=colour,
             alpha=alpha, hatch=hatch, edgecolor=colour, capsize=3, label=label)
    for (x, group), top in zip(drawn, above, strict=True):
        axes.text(x, group.mean + top + 0.01, f"{group.mean:.2f}", ha="center", va="bottom", fontsize=7)
