"""The report's figures, drawn as the paper draws them, each written as PNG and SVG.

| file stem | what | paper | module |
|---|---|---|---|
| `report` | every suite instance, every group, 95% CIs | Figure 3's layout | `overview.py` |
| `self-report-<family>` | one family's self-report questions: its arms and the base model | Figures 3, 18, 19 | `self_report.py` |
| `words` | each group's one-word answers as 100% bars | Figure 2 (and Table 29's data) | `words.py` |
| `ablation` | behaviour and self-report by training rows × epochs | Table 28 | `grid.py` |
| `faithfulness` | every finetuned model's self-report against its behaviour, r and CI per cluster, base starred | Figure 4 | `scatter.py` |

`draw_figures` returns the matplotlib figures (tests read the drawn values back from them); `render_figures`
encodes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from selfaware.v1 import spec_pb2
from services.aggregator.ablation import AblationGrid
from services.aggregator.faithfulness import Faithfulness
from services.aggregator.figures._canvas import encode
from services.aggregator.figures.grid import grid_figure
from services.aggregator.figures.overview import overview_figure
from services.aggregator.figures.scatter import scatter_figure, scatter_panels
from services.aggregator.figures.self_report import families, figure_name, self_report_figure
from services.aggregator.figures.words import word_instances, words_figure
from services.aggregator.statistics import InstanceStatistics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

OVERVIEW = "report"


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
                 grids: Sequence[AblationGrid], found: Sequence[Faithfulness] = ()) -> list[DrawnFigure]:
    """Every figure the report's numbers support, the overview first."""
    drawn = [DrawnFigure(OVERVIEW, "Scores by group, 95% CIs", overview_figure(spec, stats))]
    for questions in families(spec, stats):
        what = f"{questions.family} self-report questions" if questions.family else "Self-report questions"
        drawn.append(DrawnFigure(figure_name(questions.family), f"{what.capitalize()}, 95% CIs",
                                 self_report_figure(spec, questions)))
    if word_instances(stats):
        drawn.append(DrawnFigure("words", "One-word answers per group", words_figure(spec.name, stats)))
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


def render_figures(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                   grids: Sequence[AblationGrid], found: Sequence[Faithfulness] = ()) -> list[FigureFile]:
    files = []
    for stem, caption, figure in draw_figures(spec, stats, grids, found):
        png, svg = encode(figure)
        files.append(FigureFile(stem, caption, png, svg))
    return files


__all__ = ["OVERVIEW", "DrawnFigure", "FigureFile", "draw_figures", "render_figures"]
