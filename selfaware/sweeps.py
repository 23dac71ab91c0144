"""Sweep files: YAML -> `SweepSpec`, one prepared `ExperimentSpec` per cell of a grid over an experiment spec.

Expanded here, on the client, so that every cell's relative paths resolve against the files as `load_spec_file`
resolves them (the experiment file's folder), and so that a bad cell is found before anything is submitted.
The format (docs/spec.md, "Sweeps"):

    name: table-28
    experiment: risk.yaml            # a spec file, relative to this file, or an inline mapping
    grid:                            # cartesian product, in this order; keys are dotted paths into the spec
      training.epochs: [1, 3]        #   a list of scalars (each one its own label) ...
      base_models:                   #   ... or a mapping label -> value
        smollm2-135m: [{name: HuggingFaceTB/SmolLM2-135M-Instruct}]
    priority: 0
    max_running: 0
    report: {x: training.epochs, behaviour: lotteries, self_report: risk_predisposition_scale}

A cell's key is `path=label` per axis joined by `,`; its experiment is named `<name> [<key>]`.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfaware.errors import FieldViolation, SpecError
from selfaware.specs import load_yaml_mapping, prepare, spec_from_mapping
from selfaware.v1 import sweep_pb2

FIELDS = ("name", "experiment", "grid", "priority", "max_running", "report")
REPORT_FIELDS = ("x", "behaviour", "self_report")
#: Cells one sweep may have: each is an experiment with its jobs, and the sweep record holds every cell's spec
#: in one KV value (NATS refuses values over 1 MiB; an experiment spec may be 256 KiB, most are under 4).
MAX_CELLS = 128
#: A label may not hold the key's separators.
_SEPARATORS = (",", "=")


@dataclass(frozen=True)
class Axis:
    """One grid key: its dotted path and its (label, value) pairs, in file order."""

    path: str
    values: list[tuple[str, Any]]


def load_sweep_file(path: Path) -> sweep_pb2.SweepSpec:
    """Read a sweep file and expand it; every problem is a SpecError naming the sweep field."""
    data = load_yaml_mapping(path, "sweep")
    unknown = [FieldViolation(str(key), f"unknown field; valid fields: {', '.join(FIELDS)}")
               for key in data if key not in FIELDS]
    if unknown:
        raise SpecError(unknown)
    experiment, base = _experiment(data.get("experiment"), path.parent)
    return expand(data, experiment, base, default_name=path.stem)


def expand(data: dict[str, Any], experiment: dict[str, Any], base: Path, default_name: str = "sweep"
           ) -> sweep_pb2.SweepSpec:
    """The sweep of `data` (the sweep file's mapping) over `experiment` (the spec's YAML mapping), whose
    relative paths resolve against `base`."""
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise SpecError.single("name", f"expected a non-empty string, got {name!r}")
    sweep = sweep_pb2.SweepSpec(name=name, priority=_integer(data, "priority", -1000, 1000),
                                max_running=_integer(data, "max_running", 0, 10_000))
    _report(sweep.report, data.get("report"))
    axes = _axes(data.get("grid"), experiment)
    sweep.axes.extend(axis.path for axis in axes)
    if sweep.report.x and sweep.report.x not in sweep.axes:
        raise SpecError.single("report.x", f"{sweep.report.x!r} is not an axis; the grid has: {', '.join(sweep.axes)}")
    combinations = list(itertools.product(*(axis.values for axis in axes)))
    if len(combinations) > MAX_CELLS:
        raise SpecError.single("grid", f"has {len(combinations)} cells; at most {MAX_CELLS}")
    bad: list[FieldViolation] = []
    for i, combination in enumerate(combinations):
        mapping = copy.deepcopy(experiment)
        for axis, (_, value) in zip(axes, combination, strict=True):
            _set(mapping, axis.path, copy.deepcopy(value))
        key = ",".join(f"{axis.path}={label}" for axis, (label, _) in zip(axes, combination, strict=True))
        mapping["name"] = f"{name} [{key}]"
        cell = sweep.cells.add(key=key, params={axis.path: label for axis, (label, _) in zip(axes, combination,
                                                                                             strict=True)})
        try:
            cell.spec.CopyFrom(prepare(spec_from_mapping(mapping, base)))
        except SpecError as exc:
            bad += [FieldViolation(f"cells[{i}].spec.{v.field}", f"{v.description} (cell {key})")
                    for v in exc.violations]
    if bad:
        raise SpecError(bad)
    return sweep


def _experiment(value: Any, folder: Path) -> tuple[dict[str, Any], Path]:
    """The experiment's mapping and the folder its relative paths resolve against."""
    if isinstance(value, dict):
        return value, folder
    if isinstance(value, str) and value.strip():
        path = (folder / value).resolve()
        return load_yaml_mapping(path, "spec", field="experiment"), path.parent
    raise SpecError.single("experiment", f"give a spec file (relative to the sweep file) or an inline mapping, "
                                         f"got {value!r}")


def _axes(grid: Any, experiment: dict[str, Any]) -> list[Axis]:
    if not isinstance(grid, dict) or not grid:
        raise SpecError.single("grid", f"expected a mapping of dotted spec paths to values, got {grid!r}")
    axes, bad = [], []
    for path, values in grid.items():
        where = f"grid.{path}"
        if not isinstance(path, str) or not all(path.split(".")):
            bad.append(FieldViolation(where, "a key is a dotted path into the spec, e.g. training.epochs"))
            continue
        if problem := _path_problem(experiment, path):
            bad.append(FieldViolation(where, problem))
        pairs: list[tuple[str, Any]] = []
        if isinstance(values, dict) and values:
            pairs = [(str(label), value) for label, value in values.items()]
        elif isinstance(values, list) and values:
            for j, value in enumerate(values):
                if isinstance(value, (dict, list)) or value is None:
                    bad.append(FieldViolation(f"{where}[{j}]", "a list holds scalars; name other values with a "
                                                               "mapping label -> value"))
                pairs.append((value if isinstance(value, str) else json.dumps(value), value))
        else:
            bad.append(FieldViolation(where, f"expected a non-empty list of values or mapping label -> value, "
                                             f"got {values!r}"))
        labels = [label for label, _ in pairs]
        for label in labels:
            if not label or any(sep in label for sep in _SEPARATORS):
                bad.append(FieldViolation(where, f"label {label!r}: non-empty, without ',' or '='"))
        if len(set(labels)) != len(labels):
            bad.append(FieldViolation(where, f"labels must be distinct, got {labels}"))
        axes.append(Axis(path, pairs))
    if bad:
        raise SpecError(bad)
    return axes


def _path_problem(experiment: dict[str, Any], path: str) -> str | None:
    """Why `path` cannot be set in the experiment's mapping (every key but the last must name a mapping)."""
    node: Any = experiment
    *parents, _ = path.split(".")
    for depth, part in enumerate(parents):
        if not isinstance(node, dict) or part not in node:
            return f"the experiment has no {'.'.join(parents[:depth + 1])!r} to set {path!r} in"
        node = node[part]
    if not isinstance(node, dict):
        return f"{'.'.join(parents)!r} is not a mapping"
    return None


def _set(mapping: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        mapping = mapping[part]
    mapping[leaf] = value


def _integer(data: dict[str, Any], field: str, low: int, high: int) -> int:
    value = data.get(field, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError.single(field, f"expected an integer from {low} to {high}, got {value!r}")
    return value


def _report(report: sweep_pb2.SweepReportSpec, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise SpecError.single("report", f"expected a mapping with {', '.join(REPORT_FIELDS)}, got {value!r}")
    for key, text in value.items():
        if key not in REPORT_FIELDS:
            raise SpecError.single(f"report.{key}", f"unknown field; valid fields: {', '.join(REPORT_FIELDS)}")
        if not isinstance(text, str):
            raise SpecError.single(f"report.{key}", f"expected a string, got {text!r}")
        setattr(report, key, text)
