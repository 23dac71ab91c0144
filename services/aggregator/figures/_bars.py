"""Grouped bars with 95% CIs, the layout of the paper's Figures 8, 9, 13, 15 and 34: one bar per (category,
series), each series one container labelled with its name whose heights are the values (tests read them back)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from services.aggregator.bootstrap import ConfidenceInterval
from services.aggregator.figures._canvas import new_figure
from services.aggregator.statistics import Comparison, GroupEstimate
from services.aggregator.subgroups import Estimate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SPAN = 0.8


class Value(NamedTuple):
    mean: float
    ci: ConfidenceInterval | None


class Bars(NamedTuple):
    label: str
    colour: str
    #: One value per category; None draws no bar there.
    values: Sequence[Value | None]


def value(found: Estimate | GroupEstimate | Comparison | None) -> Value | None:
    """What a bar shows of an estimate (a group's mean, a difference) and its CI."""
    if isinstance(found, Estimate):
        found = found.group
    if isinstance(found, Comparison):
        return Value(found.difference, found.ci)
    return None if found is None else Value(found.mean, found.ci)


def grouped_bars(title: str, categories: Sequence[str], series: Sequence[Bars], ylabel: str, note: str,
                 ylim: tuple[float, float] = (0.0, 1.1)) -> Figure:
    width = SPAN / max(1, len(series))
    figure = new_figure(max(6.0, (0.5 + 0.35 * len(series)) * len(categories) + 2.0), 4.6)
    figure.set_layout_engine("constrained")
    axes = figure.add_subplot()
    for i, bars in enumerate(series):
        drawn = [(x - SPAN / 2 + width * (i + 0.5), v) for x, v in enumerate(bars.values) if v is not None]
        if not drawn:
            continue
        below = [max(0.0, v.mean - v.ci.low) if v.ci else 0.0 for _, v in drawn]
        above = [max(0.0, v.ci.high - v.mean) if v.ci else 0.0 for _, v in drawn]
        axes.bar([x for x, _ in drawn], [v.mean for _, v in drawn], width, yerr=[below, above], capsize=3,
                 color=bars.colour, label=bars.label)
        for (x, v), top in zip(drawn, above, strict=True):
            axes.text(x, v.mean + top + 0.01, f"{v.mean:.2f}", ha="center", va="bottom", fontsize=7)
    axes.set_xticks(range(len(categories)), [textwrap.fill(c, 18) for c in categories], fontsize=8)
    axes.set_xlim(-0.6, len(categories) - 0.4)
    axes.set_ylim(*ylim)
    if ylim[0] < 0:
        axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(4, len(series)), frameon=False, fontsize=8)
    figure.suptitle(textwrap.fill(title, 80), fontsize=11)
    figure.supxlabel(textwrap.fill(note, 150), x=0.01, ha="left", fontsize=6, color="#555555")
    return figure
