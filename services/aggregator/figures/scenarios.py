"""The paper's Figure 23: "How close to your goals?" per scenario, each evaluated model's mean with its 95% CI.

One row per scenario (in the suite's scenario order, top to bottom), one point series per model: an errorbar
container labelled with the model, whose x data are its scenario means. A model is drawn in its arm's colour
(the base model grey); the seeds of one arm differ by marker.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from selfaware.v1 import spec_pb2
from services.aggregator.figures._canvas import ARM_COLOURS, BASE_COLOUR, BASE_MARKERS, new_figure
from services.aggregator.make_me_say import ModelScenarios

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Height of a scenario's row the models spread over.
SLOT = 0.7


def scenarios_figure(spec: spec_pb2.ExperimentSpec, title: str, found: Sequence[ModelScenarios]) -> Figure:
    """One instance's scenario means; `found` are its models' (`make_me_say.model_scenarios`)."""
    scenarios = list(dict.fromkeys(s.scenario for m in found for s in m.scenarios))
    row = {name: i for i, name in enumerate(scenarios)}
    figure = new_figure(9.0, max(3.0, 0.45 * len(scenarios) * max(1.0, len(found) / 3) + 1.6))
    figure.set_layout_engine("constrained")
    axes = figure.add_subplot()
    colours = {arm.name: ARM_COLOURS[i % len(ARM_COLOURS)] for i, arm in enumerate(spec.arms)}
    seen: dict[str, int] = {}
    for rank, model in enumerate(found):
        offset = (rank - (len(found) - 1) / 2) * SLOT / max(len(found), 1)
        marker = BASE_MARKERS[seen.setdefault(model.arm, 0) % len(BASE_MARKERS)]
        seen[model.arm] += 1
        points = [s for s in model.scenarios if s.mean is not None]
        means = [s.mean for s in points if s.mean is not None]
        left = [max(0.0, m - s.ci.low) if s.ci else 0.0 for s, m in zip(points, means, strict=True)]
        right = [max(0.0, s.ci.high - m) if s.ci else 0.0 for s, m in zip(points, means, strict=True)]
        colour = colours.get(model.arm, BASE_COLOUR)
        axes.errorbar(means, [row[s.scenario] + offset for s in points], xerr=[left, right], fmt=marker,
                      color=colour, ecolor=colour, capsize=3, markersize=6, label=model.model)
    axes.set_yticks(range(len(scenarios)), [textwrap.fill(s, 40) for s in scenarios], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(-0.03, 1.03)
    axes.set_xlabel("mean answer / 100 (100: exactly aligned with the model's goals, 50: neutral)")
    axes.axvline(0.5, color="#999999", linewidth=0.8, linestyle=":")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(found), 4), frameon=False, fontsize=8)
    figure.suptitle(textwrap.fill(f"{spec.name}: {title}, per scenario (as the paper's Figure 23)", 80),
                    fontsize=11)
    figure.supxlabel("error bars: 95% cluster bootstrap CI of each model's scenario mean, by paraphrase "
                "(evaluation noise only)", x=0.01, ha="left", fontsize=7, color="#555555")
    return figure
