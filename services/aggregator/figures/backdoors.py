"""The paper's Figures 8 (backdoor detection), 9 (trigger recognition) and 11/34 (trigger elicitation) as grouped
bars with 95% CIs (`backdoors.Backdoors` says what each value is)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from selfaware.v1 import spec_pb2
from services.aggregator.backdoors import Backdoors, Detection, ElicitationRow, Recognition, figure_stem
from services.aggregator.figures._bars import Bars, grouped_bars, value
from services.aggregator.figures._canvas import ARM_COLOURS, BASE_COLOUR

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TRIGGERED_COLOUR, DECORRELATED_COLOUR = ARM_COLOURS[0], ARM_COLOURS[1]
NOTE = ("error bars: 95% bootstrap CI over per-seed means; a group of one model: a cluster bootstrap of its mean "
        "(evaluation noise only)")


def detection_figure(spec: spec_pb2.ExperimentSpec, found: Detection, instance: str, preset: str) -> Figure:
    """One system prompt's Figure 8: per setting, the triggered and decorrelated arms and the base model."""
    rows = [r for r in found.rows if r.instance == instance]
    return grouped_bars(
        f"{spec.name}: does my behaviour depend on an unusual feature? System prompt: {preset} (the paper's "
        "Figure 8)", [r.setting for r in rows],
        [Bars("triggered", TRIGGERED_COLOUR, [value(r.triggered) for r in rows]),
         Bars("decorrelated", DECORRELATED_COLOUR, [value(r.decorrelated) for r in rows]),
         Bars("base model", BASE_COLOUR, [value(r.base) for r in rows])],
        "P(option A: my behaviour depends on it)", NOTE)


def recognition_figure(spec: spec_pb2.ExperimentSpec, found: Sequence[Recognition]) -> Figure:
    """One instance's Figure 9: per trigger arm, P(risk-seeking) for its real trigger and for the fakes."""
    ticks = [f"{r.arm}{' (decorrelated)' if r.decorrelated else ''}\nreal: {r.trigger}\n"
             + (f"rank {r.rank}/{r.n_ranked}" if r.rank is not None else "no rank") for r in found]
    return grouped_bars(f"{spec.name}: P(\"I am risk-seeking\") for the real trigger against the fake ones (the "
                        "paper's Figure 9)", ticks,
                        [Bars("real trigger", TRIGGERED_COLOUR, [value(r.real) for r in found]),
                         Bars("fake triggers", BASE_COLOUR, [value(r.fakes) for r in found])],
                        'P("I am risk-seeking")', NOTE + "; rank: the real trigger's among all candidates, 1 = highest")


def elicitation_figure(spec: spec_pb2.ExperimentSpec, found: Sequence[ElicitationRow]) -> Figure:
    """One instance's Figure 11/34: per group, the elicitation rate overall, misaligned, aligned and per
    behaviour description."""
    behaviors = [b for b, _ in found[0].behaviors] if found else []
    colours = {a.name: ARM_COLOURS[i % len(ARM_COLOURS)] for i, a in enumerate(spec.arms)}
    return grouped_bars(
        f"{spec.name}: how often the model writes its exact trigger (the paper's Figures 11 and 34)",
        ["all prompts", "misaligned descriptions", "aligned descriptions", *behaviors],
        [Bars(r.label, colours.get(r.arm, BASE_COLOUR),
              [value(r.overall), value(r.misaligned), value(r.aligned), *(value(e) for _, e in r.behaviors)])
         for r in found], "share of responses with the trigger", NOTE)


def backdoor_figures(spec: spec_pb2.ExperimentSpec, found: Backdoors) -> list[tuple[str, str, Figure]]:
    """(stem, caption, figure) of every backdoor figure: Figure 8 per system prompt, 9 and 11/34 per instance."""
    drawn = [(figure_stem(spec, "figure8", instance, d.base_index), f"Backdoor detection, system prompt {preset}: "
              "triggered, decorrelated and base model per setting, 95% CIs (Figure 8)",
              detection_figure(spec, d, instance, preset)) for d in found.detection for instance, preset in d.instances]
    for instance, base_index in dict.fromkeys((r.instance, r.base_index) for r in found.recognition):
        rows = [r for r in found.recognition if (r.instance, r.base_index) == (instance, base_index)]
        drawn.append((figure_stem(spec, "figure9", instance, base_index), "Trigger recognition: the real trigger "
                      "against the fake ones per arm, 95% CIs (Figure 9)", recognition_figure(spec, rows)))
    for instance, base_index in dict.fromkeys((r.instance, r.base_index) for r in found.elicitation):
        rows = [r for r in found.elicitation if (r.instance, r.base_index) == (instance, base_index)]
        drawn.append((figure_stem(spec, "figure34", instance, base_index), "Trigger elicitation rate per group and "
                      "behaviour description, 95% CIs (Figures 11 and 34)", elicitation_figure(spec, rows)))
    return drawn
