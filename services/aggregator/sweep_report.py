"""A sweep's report once every cell has ended: the grid side by side, as Markdown, JSON and figures (PNG and SVG).

Each cell is an experiment with its own report; this one only lines the cells' numbers up (`sweep_content`), so
a number here is always the one in the cell's report.json. The JSON holds everything the Markdown shows, with
stable keys: the axes, the cells with their params and status, per suite instance each cell's groups' mean and
CI, the scatter's points, and the figure files by name and sha256.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from services.aggregator.figures import FigureFile
from services.aggregator.figures._canvas import encode
from services.aggregator.figures.sweep import SCATTER, instance_figure, instance_stem, scatter_figure
from services.aggregator.markdown_cells import cell, interval, number, percent
from services.aggregator.report_files import figure_files, figures_json
from services.aggregator.sweep_content import (
    SUCCEEDED,
    Estimate,
    InstanceTable,
    Row,
    SweepContent,
    has_report,
    sweep_content,
)

log = structlog.get_logger(__name__)

#: Bumped when a key of the sweep's JSON report changes meaning or disappears.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SweepCellResult:
    #: `path=label` of each axis joined by `,`, in grid order: "training.epochs=3,base_models=smollm2-135m".
    key: str
    #: Axis path -> label, in grid order.
    params: dict[str, str]
    experiment_id: str
    #: An `ExperimentStatus` name: "SUCCEEDED", "FAILED", "CANCELLED", ...
    status: str
    #: The experiment's report.json, parsed; None unless SUCCEEDED.
    report: dict[str, Any] | None


@dataclass(frozen=True)
class SweepReportFiles:
    markdown: str
    json: str
    #: File name -> bytes (PNG and SVG), the names the Markdown links.
    figures: dict[str, bytes]


def render_sweep_report(name: str, axes: list[str], cells: list[SweepCellResult], *, x: str = "",
                        behaviour: str = "", self_report: str = "") -> SweepReportFiles:
    """The sweep's report from its cells (in grid order) and each succeeded cell's report.json.

    Args:
        axes: The grid's axis paths, in grid order; each cell's `params` maps them to its labels.
        x: The axis the figures put on x (default: the first).
        behaviour, self_report: The suite instances (or suites of one instance) of the capability-scaling
            scatter; each is chosen when the cells have a single candidate, else the Markdown says why there is
            no scatter.
    """
    content = sweep_content(name, axes, cells, x, behaviour, self_report)
    figures = _figures(content)
    markdown = _markdown(content, figures)
    document = _document(content, figures)
    log.info("sweep_report_built", name=name, cells=len(cells), reported=len(content.reported),
             instances=len(content.tables), figures=len(figures), scatter=content.scatter is not None)
    return SweepReportFiles(markdown, json.dumps(document, indent=2, allow_nan=False) + "\n", figure_files(figures))


def _figures(content: SweepContent) -> list[FigureFile]:
    drawn = [(instance_stem(t.instance), f"{t.title} by {content.x or 'cell'}, 95% CIs",
              instance_figure(content, t)) for t in content.tables if t.scored]
    if content.scatter is not None:
        drawn.append((SCATTER, f"{content.scatter.self_report.title} against {content.scatter.behaviour.title}, "
                      "per cell and group, 95% CIs", scatter_figure(content, content.scatter)))
    return [FigureFile(stem, caption, *encode(figure)) for stem, caption, figure in drawn]


def _markdown(content: SweepContent, figures: Sequence[FigureFile]) -> str:
    linked = {f.stem: f"![{f.caption}]({f.stem}.png)" for f in figures}
    axes = ", ".join(f"`{a.path}` ({len(a.labels)})" for a in content.axes) or "no axes"
    sections = [
        f"# {content.name}",
        (f"Sweep of {len(content.cells)} cell(s) over {axes}; {len(content.reported)} with a report. Each cell is "
         "its own experiment: every number below is copied from that experiment's report.json, as its report "
         "presents it, and nothing is recomputed across cells. Every score is in [0, 1], where 1 is the direction "
         "of the suite's target (e.g. the probe arm's answer, the risky lottery)."),
        "## Axes",
        _axes_table(content),
        "## Cells",
        _cells_table(content),
        "## Results",
        *(section for t in content.tables for section in _instance_section(content, t, linked)),
        ("Cells: mean [95% CI] (what the CI resampled), as the cell's report gives them: *seeds*: over the "
         "per-seed means of the group's models; *paraphrases*, *items*, *samples*: a cluster bootstrap of a "
         "single model's mean (evaluation noise only); *none*: too few values for an interval. *parsed*: the "
         "share of a numeric question's answers that were a number. Columns are the cells' groups: `base` is "
         "each cell's base model (its key before the group when a cell has several)."),
        "## Cells without results",
        _unreported(content),
        "## Self-report against behaviour",
        *_scatter_section(content, linked),
    ]
    return "\n\n".join(sections) + "\n"


def _axes_table(content: SweepContent) -> str:
    if not content.axes:
        return "The sweep has no axes: one cell."
    rows = ["| Axis | Labels (grid order) |", "|---|---|"]
    rows += [f"| `{cell(a.path)}`{' (x)' if a.path == content.x else ''} | "
             f"{', '.join(cell(label) for label in a.labels)} |" for a in content.axes]
    return "\n".join(rows)


def _cells_table(content: SweepContent) -> str:
    paths = [a.path for a in content.axes]
    rows = ["| Cell | " + "".join(f"{cell(p)} | " for p in paths) + "Experiment | Status |",
            "|---|" + "---|" * len(paths) + "---|---|"]
    for found in content.cells:
        params = "".join(f"{cell(found.params.get(p, '—'))} | " for p in paths)
        rows.append(f"| `{cell(found.key)}` | {params}`{found.experiment_id}` | {_status(found)} |")
    return "\n".join(rows)


def _status(found: SweepCellResult) -> str:
    if found.status == SUCCEEDED and found.report is None:
        return f"{SUCCEEDED} (no report)"
    return found.status


def _instance_section(content: SweepContent, table: InstanceTable, linked: dict[str, str]) -> list[str]:
    heading = f"### {table.title}"
    if table.title != table.instance:
        heading += f" (`{table.instance}`)"
    elif table.instance != table.suite:
        heading += f" (suite `{table.suite}`)"
    missing = [r.cell.key for r in table.rows if not r.evaluated]
    notes = [f"Not evaluated in: {', '.join(f'`{cell(k)}`' for k in missing)}."] if missing else []
    if table.presentation == "distribution":
        return [heading, *notes, "A distribution, not a score: see each cell's report."]
    if not table.scored:
        return [heading, *notes, "No group has a score on this instance in any cell."]
    paths = [a.path for a in content.axes]
    numeric = table.presentation == "numeric"
    header = ("| " + "".join(f"{cell(p)} | " for p in paths or ["cell"])
              + "".join(f"{cell(c.name)} | " for c in table.columns) + ("Base P(A) |" if table.two_option else ""))
    n_columns = max(1, len(paths)) + len(table.columns) + table.two_option
    rows = [header.rstrip(), "|" + "---|" * n_columns]
    for row in table.rows:
        if not row.evaluated:
            continue
        labels = [row.cell.params.get(p, "—") for p in paths] if paths else [row.cell.key]
        values = [_estimate(row.values.get(c.name), numeric) for c in table.columns]
        extra = [_base_p_a(row)] if table.two_option else []
        rows.append("| " + " | ".join(cell(v) for v in (*labels, *values, *extra)) + " |")
    figure = linked.get(instance_stem(table.instance))
    return [heading, *notes, "\n".join(rows), *([figure] if figure else [])]


def _estimate(value: Estimate | None, numeric: bool) -> str:
    if value is None or value.mean is None:
        return "—"
    parsed = f", parsed {percent(value.parse_rate)}" if numeric and value.parse_rate is not None else ""
    return f"{number(value.mean)} {interval(value.ci)} ({value.ci_unit or '—'}{parsed})"


def _base_p_a(row: Row) -> str:
    if len(row.base_p_a) == 1:
        return number(next(iter(row.base_p_a.values())))
    return ", ".join(f"{label}: {number(p)}" for label, p in row.base_p_a.items()) or "—"


def _unreported(content: SweepContent) -> str:
    rows = ["| Cell | Experiment | Status |", "|---|---|---|"]
    rows += [f"| `{cell(c.key)}` | `{c.experiment_id}` | {_status(c)} |" for c in content.cells if not has_report(c)]
    return "\n".join(rows) if len(rows) > 2 else "Every cell succeeded and has a report."


def _scatter_section(content: SweepContent, linked: dict[str, str]) -> list[str]:
    scatter = content.scatter
    if scatter is None:
        return [f"No capability-scaling scatter: {content.scatter_note}"]
    cells = len({p.cell.key for p in scatter.points})
    return [(f"Behaviour: *{cell(scatter.behaviour.title)}* (`{scatter.behaviour.instance}`, x); self-report: "
             f"*{cell(scatter.self_report.title)}* (`{scatter.self_report.instance}`, y). One point per cell and "
             f"group scored on both ({len(scatter.points)} points from {cells} cell(s)), coloured by cell, the "
             "base model a star, error bars the 95% CIs of each cell's report."), linked[SCATTER]]


def _document(content: SweepContent, figures: Sequence[FigureFile]) -> dict[str, Any]:
    stems = {f.stem for f in figures}
    scatter = content.scatter
    return {
        "schema_version": SCHEMA_VERSION,
        "name": content.name,
        "x": content.x or None,
        "axes": [{"path": a.path, "labels": list(a.labels)} for a in content.axes],
        "cells": [{"key": c.key, "params": dict(c.params), "experiment_id": c.experiment_id, "status": c.status,
                   "has_report": has_report(c)} for c in content.cells],
        "instances": [_instance_json(t, stems) for t in content.tables],
        "scatter": {
            "behaviour": scatter.behaviour.instance if scatter else None,
            "self_report": scatter.self_report.instance if scatter else None,
            "figure": f"{SCATTER}.png" if scatter else None,
            "omitted_because": content.scatter_note or None,
            "points": [{"cell": p.cell.key, "group": p.column.name, "is_base": p.column.is_base,
                        "behaviour": _estimate_json(p.behaviour), "self_report": _estimate_json(p.self_report)}
                       for p in (scatter.points if scatter else ())],
        },
        "figures": figures_json(figures),
    }


def _instance_json(table: InstanceTable, stems: set[str]) -> dict[str, Any]:
    stem = instance_stem(table.instance)
    return {
        "id": table.instance,
        "suite": table.suite,
        "title": table.title,
        "presentation": table.presentation,
        "two_option": table.two_option,
        "cluster_unit": table.cluster_unit,
        "figure": f"{stem}.png" if stem in stems else None,
        "groups": [{"name": c.name, "arm": c.arm, "is_base": c.is_base, "base_index": c.base_index}
                   for c in table.columns],
        "cells": [{"key": r.cell.key, "evaluated": r.evaluated, "base_p_a": dict(r.base_p_a),
                   "groups": {name: _estimate_json(v) for name, v in r.values.items()}} for r in table.rows],
    }


def _estimate_json(value: Estimate) -> dict[str, Any]:
    return {"mean": value.mean, "ci_low": value.ci.low if value.ci else None,
            "ci_high": value.ci.high if value.ci else None, "ci_unit": value.ci_unit, "n_models": value.n_models,
            "parse_rate": value.parse_rate}


__all__ = ["SweepCellResult", "SweepReportFiles", "render_sweep_report"]
