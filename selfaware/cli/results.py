"""Write a fetched report to disk and print its results table (read from the report's JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from selfaware.v1 import aggregator_pb2 as pb


def write_report(report: pb.GetReportResponse, folder: Path) -> Path:
    """report.md, report.json and report.png in `folder` (the markdown links the PNG by that name)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(report.markdown)
    (folder / "report.json").write_text(report.json)
    (folder / "report.png").write_bytes(report.png)
    return folder


def _cell(group: dict[str, Any] | None) -> str:
    if group is None or group["mean"] is None:
        return "-"
    ci = f" [{group['ci_low']:.2f}, {group['ci_high']:.2f}]" if group["ci_low"] is not None else ""
    return f"{group['mean']:.2f}{ci}"


def print_results(report_json: str, console: Console) -> None:
    """One row per suite: policy, base model and opposite policy with 95% CIs, and whether the CIs separate."""
    document = json.loads(report_json)
    table = Table(title=f"{document['title']} ({document['policy']} score, 95% bootstrap CI)")
    for column in ("suite", document["policy"], "base model", document["opposite_policy"], "CIs separated"):
        table.add_column(column)
    for suite in document["suites"]:
        groups = suite["groups"]
        difference = suite["comparisons"]["policy_minus_opposite"]
        separated = "-" if difference is None else ("yes" if difference["cis_separated"] else "no")
        table.add_row(suite["title"], _cell(groups["policy"]), _cell(groups["base"]), _cell(groups["opposite"]),
                      separated)
    console.print(table)
    units = {s["groups"]["policy"]["ci_unit"] for s in document["suites"] if s["groups"]["policy"]}
    if units == {"items"}:
        console.print("one seed per policy: CIs are over probe items and samples (evaluation noise only)")
