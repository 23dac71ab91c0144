"""Parameters of pluggable parts: how a part declares them, and how a spec's values are checked against them.

Every registered part (recipe step, generator, suite, engine, ...) declares its parameters as `Param`s. The
declarations travel in the services' catalogues as `ParamSpec` messages, so the aggregator and the CLI check a
spec's parameters against the code that will run them, with the same function (`check_params`), and fill in
the defaults, so the stored spec says every value a run used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2

from selfaware.errors import FieldViolation
from selfaware.v1 import catalogue_pb2 as cat

#: Parameter types. "uri" is a path or http(s) URL that must be readable at submit; "arm" and "endpoint" name
#: one of the spec's arms or endpoints.
TYPES = ("int", "float", "bool", "string", "uri", "arm", "endpoint", "strings")
REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One declared parameter of a part."""

    name: str
    type: str
    description: str
    #: `REQUIRED` (the default) means the spec must set it; None means "unset" is a valid value.
    default: Any = REQUIRED
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"param {self.name}: unknown type {self.type!r}; choose one of {', '.join(TYPES)}")

    def to_proto(self) -> cat.ParamSpec:
        spec = cat.ParamSpec(name=self.name, type=self.type, description=self.description,
                             choices=list(self.choices))
        if self.default is not REQUIRED:
            spec.default.CopyFrom(to_value(self.default))
        if self.min is not None:
            spec.min = self.min
        if self.max is not None:
            spec.max = self.max
        return spec


def capability(kind: str, name: str, description: str, params: Sequence[Param] = (), shorthand: str = "",
               info: Mapping[str, str] | None = None) -> cat.Capability:
    """A catalogue entry for one part."""
    return cat.Capability(kind=kind, name=name, description=description, params=[p.to_proto() for p in params],
                          shorthand=shorthand, info=dict(info or {}))


def to_value(value: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain Python data, with integral floats back as ints (Struct stores every number as a double)."""
    return {key: _plain(value) for key, value in json_format.MessageToDict(struct).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def check_params(declared: Sequence[cat.ParamSpec], given: Mapping[str, Any], path: str,
                 names: Mapping[str, Sequence[str]]) -> tuple[dict[str, Any], list[FieldViolation]]:
    """Check `given` against `declared`: unknown names, missing required ones, types, ranges and choices.

    Args:
        path: The field path of the parameters in the spec, e.g. `evaluation.suites[1].params`.
        names: Valid values for "arm" and "endpoint" parameters (`{"arm": [...], "endpoint": [...]}`).

    Returns:
        The parameters with every default filled in, and every violation found.
    """
    by_name = {p.name: p for p in declared}
    bad = [FieldViolation(f"{path}.{key}", f"unknown parameter; valid: {', '.join(sorted(by_name)) or 'none'}")
           for key in given if key not in by_name]
    complete: dict[str, Any] = {}
    for spec in declared:
        where = f"{path}.{spec.name}"
        if spec.name in given:
            problem = _problem(spec, given[spec.name], names)
            if problem:
                bad.append(FieldViolation(where, problem))
            else:
                complete[spec.name] = given[spec.name]
        elif spec.HasField("default"):
            default = _plain(json_format.MessageToDict(spec.default))
            if default is not None:
                complete[spec.name] = default
        else:
            bad.append(FieldViolation(where, f"is required: {spec.description}"))
    return complete, bad


def _problem(spec: cat.ParamSpec, value: Any, names: Mapping[str, Sequence[str]]) -> str | None:
    kind = spec.type
    if value is None:
        return None if spec.HasField("default") else "must be set"
    if kind == "bool":
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected a number, got {value!r}"
        if kind == "int" and not float(value).is_integer():
            return f"expected an integer, got {value!r}"
        if not math.isfinite(value):
            return f"must be finite, got {value!r}"
        if spec.HasField("min") and value < spec.min:
            return f"must be at least {_number(spec.min)}, got {value!r}"
        if spec.HasField("max") and value > spec.max:
            return f"must be at most {_number(spec.max)}, got {value!r}"
        return None
    if kind == "strings":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else f"expected a list of strings, got {value!r}"
    if not isinstance(value, str):
        return f"expected a string, got {value!r}"
    if spec.choices and value not in spec.choices:
        return f"{value!r} is not one of: {', '.join(spec.choices)}"
    if kind in ("arm", "endpoint") and value not in names.get(kind, ()):
        valid = ", ".join(names.get(kind, ())) or "none"
        return f"no {kind} named {value!r}; the spec has: {valid}"
    if kind == "uri":
        from selfaware.sources import unreadable

        return unreadable(value)
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
