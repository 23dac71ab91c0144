"""What a sweep report shows, read from each cell's experiment report.json: one table per suite instance (rows:
the cells that succeeded, columns: the groups), and the capability-scaling points.

Nothing is recomputed: each cell is its own experiment, so every mean, CI and presentation fact (the instance's
title, how it is presented, what its CI resampled) is the cell's report's own. Cells are in grid order and so are
each axis's labels, which are names (`smollm2-135m`, `3`), never sorted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.aggregator.bootstrap import ConfidenceInterval

if TYPE_CHECKING:
    from services.aggregator.sweep_report import SweepCellResult

SUCCEEDED = "SUCCEEDED"
#: The column of a cell's base model when the cell has one base model (its group label in the cell's report).
BASE_COLUMN = "base"
#: What a report's instance says its clusters are: a behaviour probe's items, a self-report's paraphrases.
ROLE_UNITS = {"behaviour": "items", "self_report": "paraphrases"}
ROLE_WORDS = {"behaviour": "behaviour instance (a probe, its CI by item)",
              "self_report": "self-report instance (its CI by paraphrase)"}


@dataclass(frozen=True)
class Axis:
    path: str
    #: In grid order (the order the cells first use them).
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Column:
    """One group of the cells' reports: a base model or an arm."""

    #: The group's label, without the base model's key when its cell has one base model (so cells over different
    #: base models share the columns `base`, `<arm>`, ...).
    name: str
    #: Empty for a base model.
    arm: str
    #: The group's base model index in a cell of several, else 0 (the figures' marker).
    base_index: int

    @property
    def is_base(self) -> bool:
        return not self.arm


@dataclass(frozen=True)
class Estimate:
    """A group's mean and 95% CI on one instance, as its cell's report gives them."""

    mean: float | None
    ci: ConfidenceInterval | None
    #: What the CI resampled ("seeds", "paraphrases", "items", "samples", "none").
    ci_unit: str
    n_models: int
    parse_rate: float | None


@dataclass(frozen=True)
class Row:
    cell: SweepCellResult
    #: Column name -> estimate.
    values: Mapping[str, Estimate]
    #: The cell's base models' positional preference P(A) on a two-option instance, by group label.
    base_p_a: Mapping[str, float]
    #: Whether the cell's report has the instance (a distribution-only instance has no values).
    evaluated: bool


@dataclass(frozen=True)
class InstanceTable:
    instance: str
    suite: str
    title: str
    #: "probe", "words", "numeric", "score" or "distribution" (no score), from the first report that has it.
    presentation: str
    two_option: bool
    cluster_unit: str
    columns: tuple[Column, ...]
    #: Every cell that succeeded, in grid order.
    rows: tuple[Row, ...]

    @property
    def scored(self) -> bool:
        return self.presentation != "distribution" and any(r.values for r in self.rows)


@dataclass(frozen=True)
class Point:
    """One (cell, group): its behaviour score (x) and self-report score (y)."""

    cell: SweepCellResult
    column: Column
    behaviour: Estimate
    self_report: Estimate


@dataclass(frozen=True)
class Scatter:
    behaviour: InstanceTable
    self_report: InstanceTable
    points: tuple[Point, ...]


@dataclass(frozen=True)
class SweepContent:
    name: str
    axes: tuple[Axis, ...]
    #: The axis the figures put on x; "" for a sweep without axes.
    x: str
    cells: tuple[SweepCellResult, ...]
    tables: tuple[InstanceTable, ...]
    scatter: Scatter | None
    #: Why there is no scatter; "" when there is one.
    scatter_note: str

    @property
    def reported(self) -> tuple[SweepCellResult, ...]:
        return tuple(c for c in self.cells if has_report(c))


def has_report(cell: SweepCellResult) -> bool:
    return cell.status == SUCCEEDED and cell.report is not None


def sweep_content(name: str, axes: Sequence[str], cells: Sequence[SweepCellResult], x: str = "",
                  behaviour: str = "", self_report: str = "") -> SweepContent:
    """The sweep's tables and scatter. `x` must be one of `axes` (default: the first); `behaviour` and
    `self_report` name a suite instance or a suite of one instance (chosen when there is a single candidate)."""
    if x and x not in axes:
        raise ValueError(f"report.x: {x!r} is not an axis of the sweep (axes: {', '.join(axes) or 'none'})")
    found_axes = tuple(Axis(path, tuple(dict.fromkeys(c.params[path] for c in cells if path in c.params)))
                       for path in axes)
    tables = tuple(_tables(cells))
    scatter, note = _scatter(tables, behaviour, self_report)
    return SweepContent(name, found_axes, x or (axes[0] if axes else ""), tuple(cells), tables, scatter, note)


def _tables(cells: Sequence[SweepCellResult]) -> list[InstanceTable]:
    """One table per instance id, in the order the cells' reports first list them."""
    reported = [c for c in cells if has_report(c)]
    first: dict[str, dict[str, Any]] = {}
    columns: dict[str, dict[str, Column]] = {}
    for cell in reported:
        assert cell.report is not None
        several = len(cell.report.get("base_models", ())) > 1
        for instance in cell.report.get("instances", ()):
            first.setdefault(instance["id"], instance)
            shown = columns.setdefault(instance["id"], {})
            for group in instance.get("groups", ()):
                column = _column(group, several)
                shown.setdefault(column.name, column)
    tables = []
    for instance_id, instance in first.items():
        rows = tuple(_row(cell, instance_id) for cell in reported)
        tables.append(InstanceTable(instance_id, instance.get("suite", instance_id), instance.get("title", instance_id),
                                    instance.get("presentation", ""), bool(instance.get("two_option")),
                                    instance.get("cluster_unit", ""), tuple(columns[instance_id].values()), rows))
    return tables


def _column(group: Mapping[str, Any], several_bases: bool) -> Column:
    arm = group.get("arm", "")
    name = group["label"] if several_bases else (arm or BASE_COLUMN)
    return Column(name, arm, group.get("base_index", 0) if several_bases else 0)


def _row(cell: SweepCellResult, instance_id: str) -> Row:
    assert cell.report is not None
    several = len(cell.report.get("base_models", ())) > 1
    instance = next((i for i in cell.report.get("instances", ()) if i["id"] == instance_id), None)
    if instance is None:
        return Row(cell, {}, {}, evaluated=False)
    values = {_column(g, several).name: _estimate(g) for g in instance.get("groups", ())}
    return Row(cell, values, dict(instance.get("base_p_a") or {}), evaluated=True)


def _estimate(group: Mapping[str, Any]) -> Estimate:
    low, high = group.get("ci_low"), group.get("ci_high")
    ci = ConfidenceInterval(low, high) if low is not None and high is not None else None
    return Estimate(group.get("mean"), ci, group.get("ci_unit", ""), group.get("n_models", 0),
                    group.get("parse_rate"))


def _scatter(tables: Sequence[InstanceTable], behaviour: str, self_report: str) -> tuple[Scatter | None, str]:
    scored = [t for t in tables if t.scored]
    chosen, reasons = {}, []
    for role, name in (("behaviour", behaviour), ("self_report", self_report)):
        table, reason = _choose(scored, role, name)
        if table is None:
            reasons.append(reason)
        chosen[role] = table
    if reasons:
        return None, " ".join(reasons)
    x, y = chosen["behaviour"], chosen["self_report"]
    assert x is not None and y is not None
    points = []
    for row_x, row_y in zip(x.rows, y.rows, strict=True):
        for column in x.columns:
            b, s = row_x.values.get(column.name), row_y.values.get(column.name)
            if b is not None and s is not None and b.mean is not None and s.mean is not None:
                points.append(Point(row_x.cell, column, b, s))
    if not points:
        return None, (f"No cell scored the same group on both `{x.instance}` and `{y.instance}`, so there is "
                      "nothing to plot.")
    return Scatter(x, y, tuple(points)), ""


def _choose(scored: Sequence[InstanceTable], role: str, name: str) -> tuple[InstanceTable | None, str]:
    """The instance `name` names (an instance id, or a suite with one instance), else the only candidate."""
    field = f"`report.{role}`"
    if name:
        by_id = [t for t in scored if t.instance == name]
        matches = by_id or [t for t in scored if t.suite == name]
        if len(matches) == 1:
            return matches[0], ""
        if not matches:
            return None, f"{field} names `{name}`, but no cell has a score on an instance or suite of that name."
        ids = ", ".join(f"`{t.instance}`" for t in matches)
        return None, f"{field} names suite `{name}`, which has several instances ({ids}): name one of them."
    candidates = [t for t in scored if t.cluster_unit == ROLE_UNITS[role]]
    if len(candidates) == 1:
        return candidates[0], ""
    what = ROLE_WORDS[role]
    if not candidates:
        return None, f"{field} is not set and no cell has a score on a {what}."
    ids = ", ".join(f"`{t.instance}`" for t in candidates)
    return None, f"{field} is not set and more than one {what} could be meant ({ids}): name one in the sweep file."
