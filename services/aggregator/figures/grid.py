"""The paper's Table 28 as a figure: per instance (rows of panels) and policy (columns), a heatmap of the
group means by training-set size (y, largest on top) and epochs (x), each cell labelled with its mean and CI.

The heatmap's array is the cells' `GroupEstimate.mean` (NaN where an arm has no score); the base model's mean
is in the panel title, as the paper's last row.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from selfaware.v1 import spec_pb2
from services.aggregator.ablation import AblationGrid
from services.aggregator.figures._canvas import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PANEL = 3.2


def grid_axes_values(grid: AblationGrid) -> tuple[list[int | None], list[int]]:
    """The panels' y (sizes, largest first) and x (epochs, ascending) values."""
    sizes = list(dict.fromkeys(rows for rows, _ in grid.settings))
    epochs = sorted({e for _, e in grid.settings})
    return sizes, epochs


def grid_figure(spec: spec_pb2.ExperimentSpec, grid: AblationGrid) -> Figure:
    import numpy as np

    sizes, epochs = grid_axes_values(grid)
    n_rows, n_cols = len(grid.instances), len(grid.policies)
    figure = new_figure(PANEL * n_cols + 1.0, 0.6 * PANEL * n_rows + 1.2)
    figure.set_layout_engine("constrained")
    for row, instance in enumerate(grid.instances):
        for col, policy in enumerate(grid.policies):
            axes = figure.add_subplot(n_rows, n_cols, row * n_cols + col + 1)
            values = np.full((len(sizes), len(epochs)), np.nan)
            for y, size in enumerate(sizes):
                for x, epoch in enumerate(epochs):
                    group = grid.cells.get((instance.instance, policy, (size, epoch)))
                    if group is None:
                        continue
                    values[y, x] = group.mean
                    ci = f"\n[{group.ci.low:.2f}, {group.ci.high:.2f}]" if group.ci else ""
                    axes.text(x, y, f"{group.mean:.2f}{ci}", ha="center", va="center", fontsize=7)
            axes.imshow(values, cmap="RdYlBu_r", vmin=0.0, vmax=1.0, aspect="auto")
            axes.set_xticks(range(len(epochs)), [str(e) for e in epochs], fontsize=8)
            axes.set_yticks(range(len(sizes)), ["?" if s is None else str(s) for s in sizes], fontsize=8)
            if row == n_rows - 1:
                axes.set_xlabel("epochs", fontsize=8)
            if col == 0:
                axes.set_ylabel("training rows", fontsize=8)
            base = grid.base.get(instance.instance)
            title = f"{instance.title}" + (f" · {policy}" if policy else "")
            if base is not None:
                title += f" (base {base.mean:.2f})"
            axes.set_title(textwrap.fill(title, 36), fontsize=8)
    key = spec.base_models[grid.base_index].name if grid.base_index < len(spec.base_models) else ""
    figure.suptitle(textwrap.fill(f"{spec.name}: behaviour and self-report by size and epochs "
                                  f"(as the paper's Table 28){f', {key}' if key else ''}", 80), fontsize=11)
    return figure
