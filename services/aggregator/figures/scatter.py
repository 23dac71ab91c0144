"""The paper's Figure 4 as a figure: per (self-report, behaviour) pair, every finetuned model as a point (x = its
self-report score, y = its behaviour score), coloured by policy, with each cluster's Pearson r and 95% CI in the
legend and the base model marked as a star.

The points are the `Faithfulness.points` of the correlations (epoch checkpoints included); a model in no policy
cluster is drawn in the base colour's ring. Scores are on the report's 0..1 scale (a 0-100 self-report / 100).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from selfaware.v1 import spec_pb2
from services.aggregator.faithfulness import ALL_MODELS, Faithfulness
from services.aggregator.figures._canvas import ARM_COLOURS, BASE_COLOUR, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PANEL = 4.2
COLUMNS = 3


def scatter_panels(found: Sequence[Faithfulness], base_index: int) -> list[tuple[str, str]]:
    """The (self-report, behaviour) instance pairs of one base model that have a correlation, in report order."""
    return list(dict.fromkeys((f.self_report, f.behaviour) for f in found if f.base_index == base_index))


def scatter_figure(spec: spec_pb2.ExperimentSpec, found: Sequence[Faithfulness], base_index: int,
                   titles: Mapping[str, str]) -> Figure:
    panels = scatter_panels(found, base_index)
    policies = list(dict.fromkeys(f.cluster for f in found if f.cluster != ALL_MODELS))
    colours = {policy: ARM_COLOURS[i % len(ARM_COLOURS)] for i, policy in enumerate(policies)}
    n_cols = min(COLUMNS, len(panels))
    n_rows = -(-len(panels) // n_cols)
    figure = new_figure(PANEL * n_cols, PANEL * n_rows + 0.6)
    figure.set_layout_engine("constrained")
    for index, (report, behaviour) in enumerate(panels):
        axes = figure.add_subplot(n_rows, n_cols, index + 1)
        pair = [f for f in found if f.base_index == base_index and (f.self_report, f.behaviour) == (report, behaviour)]
        clustered = set()
        for f in pair:
            if f.cluster == ALL_MODELS:
                continue
            clustered |= set(f.models)
            axes.scatter([p.self_report for p in f.points], [p.behaviour for p in f.points], s=28,
                         color=colours[f.cluster], label=f"{f.cluster}: {_correlation(f)}")
        pooled = next((f for f in pair if f.cluster == ALL_MODELS), None)
        if pooled is not None:
            rest = [p for p in pooled.points if p.label not in clustered]
            if rest:
                axes.scatter([p.self_report for p in rest], [p.behaviour for p in rest], s=28,
                             facecolors="none", edgecolors=BASE_COLOUR, label="no policy")
            axes.set_title(textwrap.fill(f"all finetuned models: {_correlation(pooled)}", 48), fontsize=8)
        base = next((f.base for f in pair if f.base is not None), None)
        if base is not None:
            axes.scatter([base[0]], [base[1]], s=140, marker="*", color="black", zorder=3, label="base model")
        axes.set_xlabel(textwrap.fill(f"self-report: {titles.get(report, report)}", 44), fontsize=8)
        axes.set_ylabel(textwrap.fill(f"behaviour: {titles.get(behaviour, behaviour)}", 40), fontsize=8)
        axes.set_xlim(-0.03, 1.03)
        axes.set_ylim(-0.03, 1.03)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="best")
    name = spec.base_models[base_index].name if len(spec.base_models) > 1 else ""
    figure.suptitle(textwrap.fill(f"{spec.name}: self-report against behaviour (as the paper's Figure 4)"
                                  f"{f', {name}' if name else ''}", 80), fontsize=11)
    return figure


def _correlation(f: Faithfulness) -> str:
    c = f.correlation
    ci = f" [{c.ci.low:.2f}, {c.ci.high:.2f}]" if c.ci is not None else ""
    return f"r = {c.r:.2f}{ci}, n = {c.n}"
