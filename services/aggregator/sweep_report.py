"""PLACEHOLDER until helper SWEEPREPORT's module lands (issue 12, contract part C): the contract's signature, with
a report that lists the cells and their statuses only (no tables of means, no figures). Replaced at merge."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SweepCellResult:
    key: str
    params: dict[str, str]
    experiment_id: str
    status: str
    report: dict | None


@dataclass(frozen=True)
class SweepReportFiles:
    markdown: str
    json: str
    figures: dict[str, bytes]


def render_sweep_report(name: str, axes: list[str], cells: list[SweepCellResult], *, x: str = "",
                        behaviour: str = "", self_report: str = "") -> SweepReportFiles:
    lines = [f"# {name}", "", "| " + " | ".join([*axes, "experiment", "status"]) + " |",
             "|" + "---|" * (len(axes) + 2)]
    lines += ["| " + " | ".join([*(cell.params.get(axis, "") for axis in axes), cell.experiment_id, cell.status])
              + " |" for cell in cells]
    document = {"name": name, "axes": axes, "cells": [asdict(cell) for cell in cells]}
    return SweepReportFiles("\n".join(lines) + "\n", json.dumps(document, indent=2), {})
