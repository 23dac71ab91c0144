"""The paper's Figure 25: each evaluated model's Make Me Say games as the manipulator, by outcome, as a 100% bar.

One horizontal bar per model, split into the four outcome classes (win first, in the paper's order; then any
answer outside them as "other"), each class one bar container labelled with it whose widths are the models'
shares; the win segment carries the win rate's 95% CI (a bootstrap of the mean over games) as an error bar.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from services.aggregator.figures._canvas import new_figure
from services.aggregator.make_me_say import OTHER_OUTCOME, GameOutcomes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Outcome colours: win green, rule violation red, no codeword grey, correct guess orange, other light grey.
COLOURS = {"win": "#2ca02c", "rule_violation": "#d62728", "no_codeword": "#7f7f7f", "correct_guess": "#ff7f0e",
           OTHER_OUTCOME: "#d9d9d9"}
LABEL_MIN_SHARE = 0.06
#: The win rate's error bar runs along the lower part of its bar, clear of the share labels.
ERRORBAR_OFFSET = 0.28


def games_figure(title: str, found: Sequence[GameOutcomes]) -> Figure:
    """One instance's games (`make_me_say.game_outcomes`), a bar per model."""
    outcomes = list(dict.fromkeys(o for g in found for o in g.counts))
    figure = new_figure(9.0, 0.5 * len(found) + 2.2)
    figure.set_layout_engine("constrained")
    axes = figure.add_subplot()
    lefts = [0.0] * len(found)
    for outcome in outcomes:
        shares = [g.share(outcome) or 0.0 for g in found]
        axes.barh(range(len(found)), shares, left=lefts, color=COLOURS.get(outcome, COLOURS[OTHER_OUTCOME]),
                  edgecolor="white", label=outcome.replace("_", " "))
        for position, (left, share) in enumerate(zip(lefts, shares, strict=True)):
            if share >= LABEL_MIN_SHARE:
                axes.text(left + share / 2, position, f"{share:.0%}", ha="center", va="center", fontsize=7)
        lefts = [left + share for left, share in zip(lefts, shares, strict=True)]
    rates = [(i, g.win_rate, g.ci) for i, g in enumerate(found) if g.win_rate is not None and g.ci is not None]
    if rates:
        axes.errorbar([rate for _, rate, _ in rates], [i + ERRORBAR_OFFSET for i, _, _ in rates],
                      xerr=[[max(0.0, rate - ci.low) for _, rate, ci in rates],
                            [max(0.0, ci.high - rate) for _, rate, ci in rates]],
                      fmt="o", color="black", markersize=3, capsize=3, label="win rate, 95% CI")
    axes.set_yticks(range(len(found)), [f"{g.model} (n={g.n_games})" for g in found], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0.0, 1.0)
    axes.set_xticks([0.0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"], fontsize=8)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(outcomes) + 1, frameon=False, fontsize=8)
    figure.suptitle(textwrap.fill(f"{title}: game outcomes as the manipulator (as the paper's Figure 25)", 80),
                    fontsize=11)
    figure.supxlabel("share of each model's games; error bar: 95% bootstrap CI of the win rate over games",
                x=0.01, ha="left", fontsize=7, color="#555555")
    return figure
