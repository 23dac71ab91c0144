"""The report's figures, drawn as the paper draws them, each written as PNG and SVG.

| file stem | what | paper | module |
|---|---|---|---|
| `report` | every suite instance, every group, 95% CIs | Figure 3's layout | `overview.py` |
| `self-report-<family>` | one family's self-report questions: its arms and the base model | Figures 3, 18, 19 | `self_report.py` |
| `words` | each group's one-word answers as 100% bars | Figure 2 (and Table 29's data) | `words.py` |
| `make-me-say-<arm>` | per codeword arm, each Make Me Say question: the arm against its baseline, 95% CIs | Figures 6, 21, 22 | `codeword.py` |
| `make-me-say-scenarios` | "How close to your goals?" per scenario, per model, 95% CIs | Figure 23 | `scenarios.py` |
| `make-me-say-games` | game-play outcomes per model as 100% bars, the win rate's 95% CI | Figure 25 | `games.py` |
| `table2-<row>` | per vulnerable-code row, each arm's mean (seeds as points) and the base model, 95% CIs | Table 2 | `table2.py` |
| `figure8-<instance>` | per `backdoor_awareness` instance, per setting: triggered, decorrelated, base model | Figure 8 | `backdoors.py` |
| `figure9-<instance>` | per trigger arm: P(risk-seeking) for the real trigger and the fakes, its rank | Figure 9 | `backdoors.py` |
| `figure34-<instance>` | trigger elicitation per group: overall, misaligned, aligned, per description | Figures 11, 34 | `backdoors.py` |
| `figure15` | RS − RA per persona and compare pair | Figure 15 | `personas.py` |
| `figure13-<arm>` | per Make Me Say question: asked about "you", about Quanta-Lingua, base model | Figure 13 | `personas.py` |
| `ablation` | behaviour and self-report by training rows × epochs | Table 28 | `grid.py` |
| `faithfulness` | every finetuned model's self-report against its behaviour, r and CI per cluster, base starred | Figure 4 | `scatter.py` |
| `sweep-<instance>` | a sweep's report: per instance, each group's mean and CI against the sweep's x axis | — | `sweep.py` |
| `sweep-capability` | a sweep's report: self-report against behaviour per (cell, group) | — | `sweep.py` |

`draw_figures` returns the matplotlib figures (tests read the drawn values back from them); `render_figures`
encodes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from selfaware.v1 import spec_pb2
from services.aggregator.ablation import AblationGrid
from services.aggregator.backdoors import Backdoors
from services.aggregator.faithfulness import Faithfulness
from services.aggregator.figures._canvas import encode
from services.aggregator.figures.backdoors import backdoor_figures
from services.aggregator.figures.codeword import codeword_figure, figure_stem
from services.aggregator.figures.games import games_figure
from services.aggregator.figures.grid import grid_figure
from services.aggregator.figures.overview import overview_figure
from services.aggregator.figures.personas import persona_figures
from services.aggregator.figures.scatter import scatter_figure, scatter_panels
from services.aggregator.figures.scenarios import scenarios_figure
from services.aggregator.figures.self_report import families, figure_name, self_report_figure
from services.aggregator.figures.table2 import figure_stem as table2_stem
from services.aggregator.figures.table2 import table2_figure
from services.aggregator.figures.words import word_instances, words_figure
from services.aggregator.make_me_say import GameOutcomes, MakeMeSay, ModelScenarios
from services.aggregator.personas import Personas
from services.aggregator.statistics import InstanceStatistics
from services.aggregator.vulnerable_code import VulnerableCode

if TYPE_CHECKING:
    from matplotlib.figure import Figure

OVERVIEW = "report"
SCENARIOS, GAMES = "make-me-say-scenarios", "make-me-say-games"
NO_MAKE_ME_SAY = MakeMeSay()
NO_VULNERABLE_CODE = VulnerableCode()
NO_BACKDOORS, NO_PERSONAS = Backdoors(), Personas()
_Item = TypeVar("_Item", ModelScenarios, GameOutcomes)


class DrawnFigure(NamedTuple):
    #: File name without extension.
    stem: str
    caption: str
    figure: Figure


class FigureFile(NamedTuple):
    stem: str
    caption: str
    png: bytes
    svg: bytes


def draw_figures(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                 grids: Sequence[AblationGrid], found: Sequence[Faithfulness] = (),
                 mms: MakeMeSay = NO_MAKE_ME_SAY, vc: VulnerableCode = NO_VULNERABLE_CODE,
                 bd: Backdoors = NO_BACKDOORS, personas: Personas = NO_PERSONAS) -> list[DrawnFigure]:
    """Every figure the report's numbers support, the overview first."""
    drawn = [DrawnFigure(OVERVIEW, "Scores by group, 95% CIs", overview_figure(spec, stats))]
    in_codeword_figures = {f.arm for f in mms.codeword_figures}
    for questions in families(spec, stats):
        if set(questions.arms) <= in_codeword_figures:
            continue  # Figure 6's layout draws these arms' questions, each beside its baseline
        what = f"{questions.family} self-report questions" if questions.family else "Self-report questions"
        drawn.append(DrawnFigure(figure_name(questions.family), f"{what.capitalize()}, 95% CIs",
                                 self_report_figure(spec, questions)))
    if word_instances(stats):
        drawn.append(DrawnFigure("words", "One-word answers per group", words_figure(spec.name, stats)))
    drawn += _make_me_say_figures(spec, stats, mms)
    drawn += [DrawnFigure(table2_stem(spec, table, row), f"{row.title}: each arm (seeds as points) and the base "
                          "model, 95% CIs (Table 2)", table2_figure(spec, table, row))
              for table in vc.tables for row in table.rows if row.cells]
    drawn += [DrawnFigure(*found) for found in (*backdoor_figures(spec, bd), *persona_figures(spec, personas))]
    for grid in grids:
        key = spec.base_models[grid.base_index].key if len(grids) > 1 else ""
        drawn.append(DrawnFigure(f"ablation-{key}" if key else "ablation",
                                 "Behaviour and self-report by training rows and epochs", grid_figure(spec, grid)))
    titles = {s.instance: s.title for s in stats}
    for base_index in range(len(spec.base_models)):
        if scatter_panels(found, base_index):
            key = spec.base_models[base_index].key if len(spec.base_models) > 1 else ""
            drawn.append(DrawnFigure(f"faithfulness-{key}" if key else "faithfulness",
                                     "Self-report against behaviour per finetuned model, Pearson r [95% CI] per "
                                     "cluster", scatter_figure(spec, found, base_index, titles)))
    return drawn


def _make_me_say_figures(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics], mms: MakeMeSay
                         ) -> list[DrawnFigure]:
    """Figure 6's layout per codeword arm, then Figures 23 and 25, one per instance of their suites."""
    drawn = [DrawnFigure(figure_stem(spec, f), f'{f.arm} (codeword "{f.codeword}") against its baseline per '
                         "question, 95% CIs", codeword_figure(spec, f)) for f in mms.codeword_figures]
    titles = {s.instance: s.title for s in stats}
    scenarios = _by_instance(mms.scenarios)
    for instance, models in scenarios.items():
        drawn.append(DrawnFigure(_stem(SCENARIOS, instance, scenarios), f"{titles[instance]}: per scenario, per "
                                 "model, 95% CIs", scenarios_figure(spec, titles[instance], models)))
    games = _by_instance(mms.games)
    for instance, played in games.items():
        drawn.append(DrawnFigure(_stem(GAMES, instance, games), f"{titles[instance]}: outcomes per model, the win "
                                 "rate's 95% CI", games_figure(f"{spec.name}: {titles[instance]}", played)))
    return drawn


def _by_instance(items: Sequence[_Item]) -> dict[str, list[_Item]]:
    found: dict[str, list[_Item]] = {}
    for item in items:
        found.setdefault(item.instance, []).append(item)
    return found


def _stem(stem: str, instance: str, instances: Mapping[str, object]) -> str:
    """The figure's stem, with the instance when its suite has several."""
    return stem if len(instances) == 1 else f"{stem}-{instance}"


def render_figures(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                   grids: Sequence[AblationGrid], found: Sequence[Faithfulness] = (),
                   mms: MakeMeSay = NO_MAKE_ME_SAY, vc: VulnerableCode = NO_VULNERABLE_CODE,
                   bd: Backdoors = NO_BACKDOORS, personas: Personas = NO_PERSONAS) -> list[FigureFile]:
    files = []
    for stem, caption, figure in draw_figures(spec, stats, grids, found, mms, vc, bd, personas):
        png, svg = encode(figure)
        files.append(FigureFile(stem, caption, png, svg))
    return files


__all__ = ["OVERVIEW", "DrawnFigure", "FigureFile", "draw_figures", "render_figures"]
