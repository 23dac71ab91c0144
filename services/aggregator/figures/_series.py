"""Which groups a figure draws, and in what colour and marker: the same group looks the same in every figure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from selfaware.v1 import spec_pb2
from services.aggregator.figures._canvas import ARM_COLOURS, BASE_COLOUR, BASE_MARKERS
from services.aggregator.statistics import InstanceStatistics, group_label


class Series(NamedTuple):
    label: str
    colour: str
    marker: str


def group_series(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                 arms: Iterable[str] | None = None) -> list[Series]:
    """Every group with a point in `stats`, base models first, then the arms in spec order (only `arms` when
    given); an arm keeps its spec-order colour whichever arms a figure shows."""
    present = {g.label for s in stats for g in s.groups}
    colours = {arm.name: ARM_COLOURS[i % len(ARM_COLOURS)] for i, arm in enumerate(spec.arms)}
    shown = set(colours if arms is None else arms)
    series = []
    for index in range(len(spec.base_models)):
        marker = BASE_MARKERS[index % len(BASE_MARKERS)]
        for arm, colour in [("", BASE_COLOUR), *((a, c) for a, c in colours.items() if a in shown)]:
            label = group_label(spec, index, arm)
            if label in present:
                series.append(Series(label, colour, marker))
    return series
