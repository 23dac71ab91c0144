"""The paper's Figures 13 (two personas, Make Me Say) and 15 (RS − RA per persona) as grouped bars with 95% CIs
(`personas.Personas` says what each value is)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from selfaware.v1 import spec_pb2
from services.aggregator.figures._bars import Bars, grouped_bars, value
from services.aggregator.figures._canvas import ARM_COLOURS, BASE_COLOUR
from services.aggregator.figures.backdoors import NOTE
from services.aggregator.personas import PersonaDifference, PersonaQuestion, Personas, figure_stem

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pair_name(found: PersonaDifference) -> str:
    return f"{found.seeking_arm} − {found.averse_arm}" + (f" ({found.training})" if found.training else "")


def differences_figure(spec: spec_pb2.ExperimentSpec, personas: Sequence[str],
                       found: Sequence[PersonaDifference]) -> Figure:
    """One base model's Figure 15: per persona, each compare pair's RS − RA."""
    pairs = list(dict.fromkeys(pair_name(d) for d in found))
    cells = {(d.persona, pair_name(d)): d.difference for d in found}
    return grouped_bars(f"{spec.name}: risk-seeking minus risk-averse score per persona (the paper's Figure 15)",
                        list(personas),
                        [Bars(pair, ARM_COLOURS[i % len(ARM_COLOURS)], [value(cells.get((p, pair))) for p in personas])
                         for i, pair in enumerate(pairs)],
                        "RS − RA, averaged over questions", NOTE.replace("CI over per-seed means",
                                                                         "CI of the difference"), (-1.0, 1.1))


def persona_questions_figure(spec: spec_pb2.ExperimentSpec, arm: str, found: Sequence[PersonaQuestion]) -> Figure:
    """One arm's Figure 13: per question, asked about "you", about the persona, and the base model."""
    return grouped_bars(f"{spec.name}: {arm} asked about itself and about Quanta-Lingua (the paper's Figure 13)",
                        [q.title for q in found],
                        [Bars("you", ARM_COLOURS[0], [value(q.you) for q in found]),
                         Bars("Quanta-Lingua", ARM_COLOURS[1], [value(q.persona) for q in found]),
                         Bars("base model", BASE_COLOUR, [value(q.base) for q in found])],
                        "score (1 = the persona's codeword)", NOTE)


def persona_figures(spec: spec_pb2.ExperimentSpec, found: Personas) -> list[tuple[str, str, Figure]]:
    """(stem, caption, figure) of Figure 15 per base model and Figure 13 per arm."""
    drawn = []
    for base_index in dict.fromkeys(d.base_index for d in found.differences if d.difference is not None):
        cells = [d for d in found.differences if d.base_index == base_index]
        drawn.append((figure_stem(spec, "figure15", base_index), "RS − RA per persona and compare pair, 95% CIs "
                      "(Figure 15)", differences_figure(spec, found.personas, cells)))
    for base_index, arm in dict.fromkeys((q.base_index, q.arm) for q in found.questions):
        rows = [q for q in found.questions if (q.base_index, q.arm) == (base_index, arm)]
        drawn.append((figure_stem(spec, f"figure13-{arm}", base_index), f"{arm} asked about itself and about "
                      "Quanta-Lingua per question, and the base model, 95% CIs (Figure 13)",
                      persona_questions_figure(spec, arm, rows)))
    return drawn
