"""The report's figure in the style of the paper's Figure 3: per suite, policy / base / opposite, 95% CIs.

It draws on a bare `Figure` with the Agg canvas rather than through pyplot, so it keeps no global state, is
safe in worker threads and needs no display. PNG metadata carries no software version, so the same numbers
give the same bytes with the same matplotlib. matplotlib is imported on first use, for the same reason as
scipy in `bootstrap.py`: a fast service start.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

from services.aggregator.statistics import ROLES, SuiteStatistics
from services.aggregator.suite_titles import suite_title

#: Role -> (colour, horizontal offset within a suite's slot); the paper uses red for risk-seeking.
ROLE_STYLE = {"policy": ("#d62728", -0.2), "base": ("#7f7f7f", 0.0), "opposite": ("#1f77b4", 0.2)}
DPI = 100


def render_png(title: str, policy: str, opposite_policy: str, suites: Sequence[SuiteStatistics]) -> bytes:
    """PNG bytes of one x position per suite, three points with 95% CI error bars each, y = policy score."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(6.0, 1.5 * len(suites) + 2.0), 4.8), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = {"policy": policy, "base": "base model", "opposite": opposite_policy}
    for role in ROLES:
        colour, offset = ROLE_STYLE[role]
        xs, ys, below, above = [], [], [], []
        for position, stats in enumerate(suites):
            estimate = stats.groups.get(role)
            if estimate is None:
                continue
            xs.append(position + offset)
            ys.append(estimate.mean)
            below.append(max(0.0, estimate.mean - estimate.ci.low) if estimate.ci else 0.0)
            above.append(max(0.0, estimate.ci.high - estimate.mean) if estimate.ci else 0.0)
        axes.errorbar(xs, ys, yerr=[below, above], fmt="o", color=colour, ecolor=colour, capsize=4,
                      markersize=7, label=labels[role])
    axes.set_xticks(range(len(suites)), [textwrap.fill(suite_title(s.suite), 18) for s in suites], fontsize=9)
    axes.set_xlim(-0.6, max(len(suites), 1) - 0.4)
    axes.set_ylim(-0.03, 1.03)
    axes.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.set_ylabel(f"{policy} score")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    figure.suptitle(textwrap.fill(title, 80), fontsize=12)
    figure.text(0.01, 0.01, "error bars: 95% bootstrap CI", fontsize=7, color="#555555")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()
