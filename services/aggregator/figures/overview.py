"""The report's overview figure, in the style of the paper's Figure 3: per suite instance, one point per group
with its 95% CI.

x holds the suite instances in spec order; each arm is one coloured series and the base model is grey; with
several base models each gets its own marker. `self_report.py` draws the same kind of figure for one family's
self-report questions only (Figures 3, 18 and 19).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from selfaware.v1 import spec_pb2
from services.aggregator.figures._canvas import new_figure
from services.aggregator.figures._series import Series, group_series
from services.aggregator.statistics import GroupEstimate, InstanceStatistics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Width of an instance's slot the series spread over.
SLOT = 0.6


def overview_figure(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics]) -> Figure:
    """One x position per suite instance, one point with 95% CI error bars per group."""
    return points_figure(spec.name, stats, group_series(spec, stats), "score (1 = the suite's target)")


def ci_note(groups: Iterable[GroupEstimate]) -> str:
    """What the error bars of `groups` resampled, from their CI units."""
    units = {g.ci_unit for g in groups if g.ci is not None}
    parts = []
    if "seeds" in units:
        parts.append("over per-seed means")
    clusters = sorted(units & {"paraphrases", "items", "samples"})
    if clusters:
        parts.append(f"one-model groups: cluster bootstrap by {' / '.join(u[:-1] for u in clusters)} "
                     "(evaluation noise only)")
    return "error bars: 95% bootstrap CI" + (f" {'; '.join(parts)}" if parts else "")


def points_figure(title: str, stats: Sequence[InstanceStatistics], series: Sequence[Series], ylabel: str
                  ) -> Figure:
    """Per instance (x), one point per series with its CI; a series' points are one errorbar container, labelled
    with the group, whose data are the group means."""
    figure = new_figure(max(6.0, (1.0 + 0.15 * len(series)) * len(stats) + 2.0), 4.8)
    axes = figure.add_subplot()
    for rank, (label, colour, marker) in enumerate(series):
        offset = (rank - (len(series) - 1) / 2) * SLOT / max(len(series), 1)
        xs, ys, below, above = [], [], [], []
        for position, instance in enumerate(stats):
            group = instance.group(label)
            if group is not None:
                xs.append(position + offset)
                ys.append(group.mean)
                below.append(max(0.0, group.mean - group.ci.low) if group.ci else 0.0)
                above.append(max(0.0, group.ci.high - group.mean) if group.ci else 0.0)
        axes.errorbar(xs, ys, yerr=[below, above], fmt=marker, color=colour, ecolor=colour, capsize=4,
                      markersize=7, label=label)
    axes.set_xticks(range(len(stats)), [textwrap.fill(s.title, 18) for s in stats], fontsize=9)
    axes.set_xlim(-0.6, max(len(stats), 1) - 0.4)
    axes.set_ylim(-0.03, 1.03)
    axes.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", alpha=0.3)
    if series:
        axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(series), 4), frameon=False)
    figure.suptitle(textwrap.fill(title, 80), fontsize=12)
    figure.text(0.01, 0.01, ci_note(g for s in stats for g in s.groups), fontsize=7, color="#555555")
    return figure
