"""Write a fetched report to disk and print its results table (read from the report's JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from rich.console import Console
from rich.table import Table

from selfaware.v1 import aggregator_pb2 as pb
from selfaware.v1 import catalogue_pb2 as cat


def write_report(report: pb.GetReportResponse | pb.GetSweepResponse, folder: Path) -> Path:
    """report.md, report.json, report.png (an experiment's; a sweep report has none) and every other figure file
    (PNG and SVG) in `folder`, under the names the Markdown links."""
    for figure in report.figures:  # names come from the server: none may leave the folder or replace the text
        if Path(figure.name).name != figure.name or figure.name in {"report.md", "report.json", "", ".", ".."}:
            raise ValueError(f"report figure name {figure.name!r} is not a plain file name")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(report.markdown)
    (folder / "report.json").write_text(report.json)
    if isinstance(report, pb.GetReportResponse):
        (folder / "report.png").write_bytes(report.png)
    for figure in report.figures:
        (folder / figure.name).write_bytes(figure.data)
    return folder


def _cell(group: dict[str, Any] | None) -> str:
    if group is None or group["mean"] is None:
        return "-"
    ci = f" [{group['ci_low']:.2f}, {group['ci_high']:.2f}]" if group["ci_low"] is not None else ""
    return f"{group['mean']:.2f}{ci}"


def print_results(report_json: str, console: Console) -> None:
    """One row per suite instance, one column per group (each arm, each base model) with 95% CIs, the base
    model's positional preference P(A) for two-option instances, and whether each comparison's CIs separate."""
    document = json.loads(report_json)
    labels: list[str] = []
    for instance in document["instances"]:
        labels += [g["label"] for g in instance["groups"] if g["label"] not in labels]
    table = Table(title=f"{document['name']} (score, 95% bootstrap CI)")
    for column in ("suite", *labels, "base P(A)", "comparisons: CIs separated"):
        table.add_column(column)
    for instance in document["instances"]:
        groups = {g["label"]: g for g in instance["groups"]}
        positional = ", ".join(f"{p:.2f}" for p in instance["base_p_a"].values() if p is not None) or "-"
        separated = ", ".join(f"{c['minuend']}-{c['subtrahend']}: {_yes_no(c['cis_separated'])}"
                              for c in instance["comparisons"] if c["kind"] == "compare") or "-"
        table.add_row(instance["title"], *(_cell(groups.get(label)) for label in labels),
                      positional if instance["two_option"] else "", separated)
    console.print(table)
    units = {g["ci_unit"] for i in document["instances"] for g in i["groups"] if not g["is_base"]}
    if units and units <= {"items", "paraphrases"}:
        console.print("one seed per arm: CIs resample probe items and question paraphrases (evaluation noise "
                      "only, not the paper's spread over seeds)")


def _yes_no(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "no")


def print_catalogue(catalogues: list[cat.Catalogue], console: Console) -> None:
    """One table per kind of part: name, description and parameters (type, default or "required")."""
    by_kind: dict[str, list[cat.Capability]] = {}
    for published in catalogues:
        for entry in published.capabilities:
            by_kind.setdefault(entry.kind, []).append(entry)
    for kind in sorted(by_kind):
        table = Table(title=kind.replace("_", " "), show_lines=True)
        for column in ("name", "description", "parameters"):
            table.add_column(column)
        for entry in sorted(by_kind[kind], key=lambda e: e.name):
            params = []
            for p in entry.params:
                default = (f"= {json_format.MessageToDict(p.default)!r}" if p.HasField("default") else "(required)")
                shorthand = " [shorthand]" if p.name == entry.shorthand else ""
                params.append(f"{p.name}: {p.type} {default}{shorthand}")
            table.add_row(entry.name, entry.description, "\n".join(params) or "-")
        console.print(table)
    versions = ", ".join(f"{c.service} {c.version}" for c in catalogues)
    console.print(f"services: {versions}")
