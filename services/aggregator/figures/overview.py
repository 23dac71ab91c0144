"""The report's figure in the style of the paper's Figure 3: per suite instance, one point per group, 95% CIs.

x holds the suite instances in spec order; each arm is one coloured series (the first red, as the paper
draws risk-seeking) and the base model is grey; with several base models each gets its own marker. It draws on
a bare `Figure` with the Agg canvas rather than through pyplot, so it keeps no global state, is safe in worker
threads and needs no display. PNG metadata carries no software version, so the same numbers give the same
bytes with the same matplotlib. matplotlib is imported on first use, for the same reason as scipy in
`bootstrap.py`: a fast service start.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

from selfaware.v1 import spec_pb2
from services.aggregator.statistics import InstanceStatistics, group_label

BASE_COLOUR = "#7f7f7f"
#: Arm colours in spec order (matplotlib's tab10 without its grey, which is the base model's).
ARM_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
               "#17becf")
BASE_MARKERS = ("o", "s", "^", "D", "v", "P")
#: Width of an instance's slot the series spread over.
SLOT = 0.6
DPI = 100


def render_png(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics]) -> bytes:
    """PNG bytes of one x position per suite instance, one point with 95% CI error bars per group."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = _series(spec, stats)
    figure = Figure(figsize=(max(6.0, (1.0 + 0.15 * len(series)) * len(stats) + 2.0), 4.8), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for rank, (label, colour, marker) in enumerate(series):
        offset = (rank - (len(series) - 1) / 2) * SLOT / max(len(series), 1)
        xs, ys, below, above = [], [], [], []
        for position, instance in enumerate(stats):
            group = next((g for g in instance.groups if g.label == label), None)
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
    axes.set_ylabel("score (1 = the suite's target)")
    axes.grid(axis="y", alpha=0.3)
    if series:
        axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(series), 4), frameon=False)
    figure.suptitle(textwrap.fill(spec.name, 80), fontsize=12)
    figure.text(0.01, 0.01, "error bars: 95% bootstrap CI", fontsize=7, color="#555555")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def _series(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics]) -> list[tuple[str, str, str]]:
    """(group label, colour, marker) of every group that has a point somewhere, base models first."""
    present = {g.label for s in stats for g in s.groups}
    colours = {arm.name: ARM_COLOURS[i % len(ARM_COLOURS)] for i, arm in enumerate(spec.arms)}
    series = []
    for index in range(len(spec.base_models)):
        marker = BASE_MARKERS[index % len(BASE_MARKERS)]
        for arm, colour in [("", BASE_COLOUR), *colours.items()]:
            label = group_label(spec, index, arm)
            if label in present:
                series.append((label, colour, marker))
    return series

