"""A sweep's figures: per suite instance, each group's mean with its 95% CI against the sweep's `x` axis (one panel
per combination of the other axes' labels), and the capability-scaling scatter (behaviour on x, self-report on y,
one point per (cell, group), coloured by cell).

x positions are the axis's labels in grid order (categories, never sorted). Each series is one errorbar container
labelled with its group (`sweep-<instance>`) or `<cell key> · <group>` (the scatter), whose data are the means the
cells' reports give (tests read them back). Colours follow the experiment figures: the base model grey, the arms
in order.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from services.aggregator.figures._canvas import ARM_COLOURS, BASE_COLOUR, BASE_MARKERS, new_figure
from services.aggregator.figures.overview import SLOT
from services.aggregator.sweep_content import Column, Estimate, InstanceTable, Row, Scatter, SweepContent

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PANEL_WIDTH, PANEL_HEIGHT = 4.6, 3.6
COLUMNS = 3
SCATTER = "sweep-capability"
#: Markers of the scatter's groups: the base model a star (as the paper's Figure 4), then the arms in order.
ARM_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
YLABEL = "score (1 = the suite's target)"


def instance_stem(instance: str) -> str:
    """`sweep-<instance>`, with anything but letters, digits, `.`, `_` and `-` replaced."""
    return "sweep-" + re.sub(r"[^A-Za-z0-9._-]+", "-", instance)


def x_label(content: SweepContent, row: Row) -> str:
    """A cell's position on x: its label on the `x` axis (its key in a sweep without axes)."""
    return row.cell.params.get(content.x, row.cell.key or "—")


def panels(content: SweepContent, rows: Sequence[Row]) -> dict[str, list[Row]]:
    """Title -> rows, one panel per combination of the labels of the axes other than `x`, in grid order."""
    found: dict[str, list[Row]] = {}
    for row in rows:
        title = ", ".join(f"{a.path}={row.cell.params.get(a.path, '—')}" for a in content.axes
                          if a.path != content.x)
        found.setdefault(title, []).append(row)
    return found


def column_colours(columns: Sequence[Column]) -> dict[str, str]:
    arms = list(dict.fromkeys(c.arm for c in columns if not c.is_base))
    return {c.name: BASE_COLOUR if c.is_base else ARM_COLOURS[arms.index(c.arm) % len(ARM_COLOURS)]
            for c in columns}


def instance_figure(content: SweepContent, table: InstanceTable) -> Figure:
    rows = [r for r in table.rows if r.evaluated]
    found = panels(content, rows)
    categories = list(dict.fromkeys(x_label(content, r) for r in rows))
    n_cols = min(COLUMNS, len(found))
    n_rows = -(-len(found) // n_cols)
    width = max(PANEL_WIDTH, (0.8 + 0.15 * len(table.columns)) * len(categories) + 1.5)
    figure = new_figure(width * n_cols, PANEL_HEIGHT * n_rows + 1.0)
    figure.set_layout_engine("constrained")
    colours = column_colours(table.columns)
    for index, (title, shown) in enumerate(found.items()):
        axes = figure.add_subplot(n_rows, n_cols, index + 1)
        for rank, column in enumerate(table.columns):
            offset = (rank - (len(table.columns) - 1) / 2) * SLOT / max(len(table.columns), 1)
            points = [(categories.index(x_label(content, r)) + offset, value) for r in shown
                      if (value := r.values.get(column.name)) is not None and value.mean is not None]
            if points:
                _errorbar(axes, [p for p, _ in points], [v for _, v in points], colours[column.name],
                          BASE_MARKERS[column.base_index % len(BASE_MARKERS)], column.name)
        axes.set_xticks(range(len(categories)), [textwrap.fill(c, 16) for c in categories], fontsize=8)
        axes.set_xlim(-0.6, max(len(categories), 1) - 0.4)
        axes.set_ylim(-0.03, 1.03)
        axes.set_xlabel(content.x or "cell", fontsize=8)
        axes.set_ylabel(YLABEL, fontsize=8)
        axes.grid(axis="y", alpha=0.3)
        if title:
            axes.set_title(textwrap.fill(title, 48), fontsize=8)
    handles = {label: handle for axes in figure.axes for handle, label in zip(*axes.get_legend_handles_labels(),
                                                                              strict=True)}
    if handles:
        figure.legend(handles.values(), handles.keys(), loc="outside right upper", fontsize=8, frameon=False,
                      title="group", title_fontsize=8)
    figure.suptitle(textwrap.fill(f"{content.name}: {table.title}, by {content.x or 'cell'} (95% CIs)", 80),
                    fontsize=11)
    return figure


def scatter_figure(content: SweepContent, scatter: Scatter) -> Figure:
    """Self-report (y) against behaviour (x), each point with both CIs; colour: the cell, marker: the group."""
    from matplotlib.lines import Line2D

    cells = list(dict.fromkeys(p.cell.key for p in scatter.points))
    cell_colours = dict(zip(cells, _palette(len(cells)), strict=True))
    columns = list(dict.fromkeys(p.column for p in scatter.points))
    arms = [c for c in columns if not c.is_base]
    markers = {c.name: "*" if c.is_base else ARM_MARKERS[arms.index(c) % len(ARM_MARKERS)] for c in columns}
    figure = new_figure(7.5, 6.0)
    figure.set_layout_engine("constrained")
    axes = figure.add_subplot()
    for point in scatter.points:
        marker = markers[point.column.name]
        axes.errorbar([point.behaviour.mean], [point.self_report.mean], xerr=_spread([point.behaviour]),
                      yerr=_spread([point.self_report]), fmt=marker, color=cell_colours[point.cell.key],
                      markersize=12 if marker == "*" else 7, capsize=2, elinewidth=0.8, alpha=0.9,
                      label=f"{point.cell.key} · {point.column.name}")
    axes.set_xlim(-0.03, 1.03)
    axes.set_ylim(-0.03, 1.03)
    axes.set_xlabel(textwrap.fill(f"behaviour: {scatter.behaviour.title}", 60), fontsize=9)
    axes.set_ylabel(textwrap.fill(f"self-report: {scatter.self_report.title}", 50), fontsize=9)
    axes.grid(alpha=0.3)
    by_cell = [Line2D([], [], linestyle="", marker="o", color=cell_colours[k], label=_cell_name(content, k))
               for k in cells]
    by_group = [Line2D([], [], linestyle="", marker=markers[c.name], color="black", label=c.name) for c in columns]
    axis_names = ", ".join(a.path for a in content.axes) or "cell"
    header = Line2D([], [], linestyle="", label="marker: group")
    figure.legend(handles=[*by_cell, header, *by_group], loc="outside right upper", fontsize=7, frameon=False,
                  title=textwrap.fill(f"colour: {axis_names}", 32), title_fontsize=7, alignment="left")
    figure.suptitle(textwrap.fill(f"{content.name}: self-report against behaviour per cell and group (95% CIs)",
                                  80), fontsize=11)
    return figure


def _cell_name(content: SweepContent, key: str) -> str:
    cell = next(c for c in content.cells if c.key == key)
    return ", ".join(cell.params.values()) or key


def _palette(n: int) -> list[str]:
    """Distinct colours for `n` cells: tab10 up to ten, else evenly spaced viridis."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if n <= 10:
        return [to_hex(colormaps["tab10"](i)) for i in range(n)]
    return [to_hex(colormaps["viridis"](i / (n - 1))) for i in range(n)]


def _spread(values: Sequence[Estimate]) -> list[list[float]]:
    """Error bar lengths below and above each mean (0 without a CI)."""
    below = [max(0.0, v.mean - v.ci.low) if v.ci and v.mean is not None else 0.0 for v in values]
    above = [max(0.0, v.ci.high - v.mean) if v.ci and v.mean is not None else 0.0 for v in values]
    return [below, above]


def _errorbar(axes: Axes, xs: list[float], values: Sequence[Estimate], colour: str, marker: str, label: str
              ) -> None:
    axes.errorbar(xs, [v.mean for v in values], yerr=_spread(values), fmt=marker, color=colour, ecolor=colour,
                  capsize=4, markersize=7, label=label)
