"""The paper's Table 2 as bars (spec §5.3): one figure per row, a bar per column (each arm, then the base model).

A bar is the column's mean with its 95% CI as the error bar (over the per-seed means, or one model's cluster
bootstrap); an arm's seeds are drawn as points on it, so the spread the table's ± std summarises is visible. The
bars are one container labelled "mean" whose heights are the cells' means; the seed points are one collection
labelled "seeds" (`vulnerable_code.Row` says what they are).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from selfaware.v1 import spec_pb2
from services.aggregator.figures._canvas import ARM_COLOURS, BASE_COLOUR, new_figure
from services.aggregator.vulnerable_code import Row, Table2

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH = 0.6
SEED_SPREAD = 0.25


def figure_stem(spec: spec_pb2.ExperimentSpec, table: Table2, row: Row) -> str:
    """`table2-<row key>`, with the base model's key when the experiment has several."""
    key = spec.base_models[table.base_index].key if len(spec.base_models) > 1 else ""
    return f"table2-{row.key}" + (f"-{key}" if key else "")


def table2_figure(spec: spec_pb2.ExperimentSpec, table: Table2, row: Row) -> Figure:
    colours = {a.name: ARM_COLOURS[i % len(ARM_COLOURS)] for i, a in enumerate(spec.arms)}
    shown = [(c, cell) for c in table.columns if (cell := row.cell(c.label)) is not None]
    figure = new_figure(max(4.5, 1.3 * len(shown) + 2.0), 4.2)
    figure.set_layout_engine("constrained")
    axes = figure.add_subplot()
    below = [max(0.0, cell.mean - cell.ci.low) if cell.ci else 0.0 for _, cell in shown]
    above = [max(0.0, cell.ci.high - cell.mean) if cell.ci else 0.0 for _, cell in shown]
    axes.bar(range(len(shown)), [cell.mean for _, cell in shown], WIDTH, yerr=[below, above], capsize=4,
             color=[BASE_COLOUR if c.is_base else colours.get(c.arm, BASE_COLOUR) for c, _ in shown],
             alpha=0.8, label="mean")
    seeds = [(x + SEED_SPREAD * ((i + 0.5) / len(cell.values) - 0.5), value)
             for x, (_, cell) in enumerate(shown) if len(cell.values) > 1 for i, value in enumerate(cell.values)]
    if seeds:
        axes.scatter([x for x, _ in seeds], [y for _, y in seeds], s=14, color="black", zorder=3, label="seeds")
    for x, ((_, cell), top) in enumerate(zip(shown, above, strict=True)):
        spread = f" ± {cell.std:.2f}" if cell.std is not None else ""
        axes.text(x, cell.mean + top + 0.01, f"{cell.mean:.2f}{spread}", ha="center", va="bottom", fontsize=8)
    axes.set_xticks(range(len(shown)), [f"{'base model' if c.is_base else c.arm}\n(n={len(cell.models)})"
                                        for c, cell in shown], fontsize=9)
    axes.set_xlim(-0.6, len(shown) - 0.4)
    axes.set_ylim(0.0, 1.1)
    axes.set_ylabel(textwrap.fill(row.title, 40), fontsize=9)
    axes.grid(axis="y", alpha=0.3)
    if seeds:
        axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=8)
    base = f", {spec.base_models[table.base_index].name}" if len(spec.base_models) > 1 else ""
    figure.suptitle(textwrap.fill(f"{spec.name}: {row.title}{base} (the paper's Table 2)", 70), fontsize=11)
    figure.supxlabel("bars: mean over seeds (labels: mean ± std); error bars: 95% bootstrap CI over per-seed "
                     "means, one-model columns: cluster bootstrap (evaluation noise only); points: seeds",
                     x=0.01, ha="left", fontsize=6, color="#555555")
    return figure
