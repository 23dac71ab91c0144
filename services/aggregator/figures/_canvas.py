"""One place that makes a bare matplotlib `Figure` and encodes it as PNG and SVG.

Figures are drawn on a bare `Figure` with the Agg canvas rather than through pyplot, so drawing keeps no global
state, is safe in worker threads and needs no display. The files carry no software version or date, and the
SVG's element ids come from a fixed salt, so the same numbers give the same bytes with the same matplotlib.
matplotlib is imported on first use, so that the aggregator service starts fast.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
BASE_COLOUR = "#7f7f7f"
#: Arm colours in spec order (matplotlib's tab10 without its grey, which is the base model's): the first arm
#: red, as the paper draws risk-seeking.
ARM_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
               "#17becf")
BASE_MARKERS = ("o", "s", "^", "D", "v", "P")
SVG_SALT = "selfaware"


class Encoded(NamedTuple):
    png: bytes
    svg: bytes


def new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def encode(figure: Figure) -> Encoded:
    """The figure as PNG and SVG bytes, reproducibly."""
    import matplotlib

    png, svg = io.BytesIO(), io.BytesIO()
    figure.savefig(png, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT}):
        figure.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    return Encoded(png.getvalue(), svg.getvalue())
