"""The paper's Figure 2: what each model group answers in one word, as a 100% bar per group.

One panel per instance whose answers are words (a one-word description, which has no score, or a word
question such as "Finetuned attitude two options", whose distribution is Table 29). Each group's bar is split
into its `TOP_WORDS` most common answers and "others", pooled over the group's models; a word keeps its colour
across the groups of a panel, so the bars compare at a glance. Segment widths are `AnswerDistribution.shares`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from services.aggregator.figures._canvas import new_figure
from services.aggregator.statistics import InstanceStatistics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOP_WORDS = 5
OTHERS_COLOUR = "#d9d9d9"
#: Word colours (matplotlib's tab20 without its greys), assigned in order of first appearance in a panel.
WORD_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
                "#dbdb8d", "#9edae5")
#: Segments narrower than this are not labelled (the legend still names the word).
LABEL_MIN_SHARE = 0.06


def word_instances(stats: Sequence[InstanceStatistics]) -> list[InstanceStatistics]:
    return [s for s in stats if s.distributions]


def words_figure(title: str, stats: Sequence[InstanceStatistics]) -> Figure:
    """One panel per instance with answer distributions; in each, one horizontal 100% bar per group."""
    panels = word_instances(stats)
    heights = [0.6 * max(len(s.distributions), 1) + 1.4 for s in panels]
    figure = new_figure(9.0, max(sum(heights), 2.0))
    grid = figure.add_gridspec(max(len(panels), 1), 1, height_ratios=heights or [1.0])
    for row, instance in enumerate(panels):
        axes = figure.add_subplot(grid[row])
        colours: dict[str, str] = {}
        labels = []
        for position, distribution in enumerate(instance.distributions):
            left = 0.0
            for word, share in distribution.shares(TOP_WORDS):
                if word == "others":
                    colour = OTHERS_COLOUR
                else:
                    colour = colours.setdefault(word, WORD_COLOURS[len(colours) % len(WORD_COLOURS)])
                axes.barh(position, share, left=left, color=colour, edgecolor="white", label=word)
                if share >= LABEL_MIN_SHARE:
                    axes.text(left + share / 2, position, f"{word}\n{share:.0%}", ha="center", va="center",
                              fontsize=7)
                left += share
            labels.append(f"{distribution.label} (n={distribution.n_answers})")
        axes.set_yticks(range(len(labels)), labels, fontsize=9)
        axes.invert_yaxis()
        axes.set_xlim(0.0, 1.0)
        axes.set_xticks([0.0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"], fontsize=8)
        axes.set_title(textwrap.fill(instance.title, 90), fontsize=10, loc="left")
    figure.suptitle(textwrap.fill(title, 80), fontsize=12)
    figure.text(0.01, 0.0, f"share of each group's answers, pooled over its models; top {TOP_WORDS} words, "
                "then others", fontsize=7, color="#555555")
    return figure
