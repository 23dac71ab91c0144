"""Experiment specs: YAML -> `ExperimentSpec`, the defaults, and validation with field paths.

The spec is the contract between all four services, so it is parsed, completed and validated in this one
module, by the CLI (before anything starts) and by the aggregator (at submit). Registry names are checked
against each service's registry (families and generators, training backends, model backends, suites); those
registry modules import no heavy libraries.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from selfaware.errors import FieldViolation, SpecError
from selfaware.models import SMOLLM2_ID
from selfaware.registry import UnknownName
from selfaware.v1 import spec_pb2

#: The authors' question files at the commit the paper's spec was checked against.
AUTHORS_QUESTIONS_URL = ("https://raw.githubusercontent.com/XuchanBao/behavioral-self-awareness/"
                         "d7e60be7d48e987f343dece3fcd6f519de2117ba/code/multiple-choice/questions")
DEFAULT_SUITES = ("heldout", "lotteries", "risk_or_safety", "risk_predisposition_scale")
SELF_REPORT_SUITES = {"risk_or_safety", "risk_predisposition_scale"}

_DEFAULTS: dict[str, Any] = {
    "base_model": {"name": SMOLLM2_ID},
    "training": {
        "backend": "peft-lora",
        "lora": {"rank": 8, "alpha": 16.0, "dropout": 0.0, "target_modules": ["all-linear"]},
        "learning_rate": 1e-3,
        "epochs": 4,
        "batch_size": 8,
        "seeds": [0],
    },
    "evaluation": {
        "backend": "vllm",
        "suites": list(DEFAULT_SUITES),
        "samples_per_paraphrase": 20,
        "temperature": 1.0,
        "include_base_model": True,
        "lottery_pairs": 100,
        "questions_uri": AUTHORS_QUESTIONS_URL,
        "seed": 0,
    },
}


def load_spec_file(path: Path) -> spec_pb2.ExperimentSpec:
    """Read a YAML spec; relative local paths in it are resolved against the file's folder."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SpecError.single("<file>", f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SpecError.single("<file>", f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError.single("<file>", f"{path} must hold a mapping of spec fields")
    spec = spec_from_dict(data)
    _resolve_paths(spec, path.parent)
    return spec


def spec_from_dict(data: dict[str, Any]) -> spec_pb2.ExperimentSpec:
    """Build a spec from plain data, reporting every unknown field or wrongly typed value by its path."""
    spec = spec_pb2.ExperimentSpec()
    violations: list[FieldViolation] = []
    _fill(spec, data, "", violations)
    if violations:
        raise SpecError(violations)
    return spec


def _fill(message: Message, data: Any, path: str, violations: list[FieldViolation]) -> None:
    if not isinstance(data, dict):
        violations.append(FieldViolation(path or "<root>", "expected a mapping"))
        return
    fields = message.DESCRIPTOR.fields_by_name
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        field = fields.get(key)
        if field is None:
            violations.append(FieldViolation(where, f"unknown field; valid fields: {', '.join(sorted(fields))}"))
        elif value is None:
            continue
        elif field.message_type is not None:
            _fill(getattr(message, key), value, where, violations)
        elif field.is_repeated:
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if (problem := _scalar_problem(field, item)) is not None:
                    violations.append(FieldViolation(f"{where}[{i}]", problem))
                else:
                    getattr(message, key).append(item)
        elif (problem := _scalar_problem(field, value)) is not None:
            violations.append(FieldViolation(where, problem))
        else:
            setattr(message, key, value)


def _scalar_problem(field: FieldDescriptor, value: Any) -> str | None:
    kind = field.cpp_type
    if kind == FieldDescriptor.CPPTYPE_STRING:
        return None if isinstance(value, str) else f"expected a string, got {value!r}"
    if kind == FieldDescriptor.CPPTYPE_BOOL:
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if kind in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"expected a number, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int):
        return f"expected an integer, got {value!r}"
    if kind in (FieldDescriptor.CPPTYPE_UINT32, FieldDescriptor.CPPTYPE_UINT64) and value < 0:
        return f"must not be negative, got {value}"
    low, high = _INTEGER_RANGES[kind]
    return None if low <= value <= high else f"must be between {low} and {high}, got {value}"


_INTEGER_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-2**31, 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-2**63, 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}


def _resolve_paths(spec: spec_pb2.ExperimentSpec, base: Path) -> None:
    """Make relative local paths absolute, so the services (other processes) read the same files."""

    def absolute(value: str) -> str:
        if not value or "://" in value or Path(value).is_absolute():
            return value
        return str((base / value).resolve())

    spec.base_model.path = absolute(spec.base_model.path)
    if spec.dataset.HasField("imported"):
        spec.dataset.imported.uri = absolute(spec.dataset.imported.uri)
    spec.evaluation.questions_uri = absolute(spec.evaluation.questions_uri)


def with_defaults(spec: spec_pb2.ExperimentSpec) -> spec_pb2.ExperimentSpec:
    """A copy of `spec` with every unset field at its documented default (see docs/spec.md)."""
    merged = spec_pb2.ExperimentSpec()
    merged.CopyFrom(spec)
    _apply(merged, copy.deepcopy(_DEFAULTS))
    if not merged.name:
        merged.name = f"{merged.behavior.policy or 'policy'} vs {merged.behavior.opposite_policy or 'opposite'}"
    return merged


def _apply(message: Message, defaults: dict[str, Any]) -> None:
    for key, value in defaults.items():
        field = message.DESCRIPTOR.fields_by_name[key]
        if isinstance(value, dict):
            _apply(getattr(message, key), value)
        elif field.is_repeated:
            if not getattr(message, key):
                getattr(message, key).extend(value)
        elif field.has_presence:
            if not message.HasField(key):
                setattr(message, key, value)
        elif not getattr(message, key):
            setattr(message, key, value)


def validate(spec: spec_pb2.ExperimentSpec) -> None:
    """Raise SpecError listing every invalid field of a spec (after `with_defaults`)."""
    from services.evaluator.engines import ENGINES
    from services.evaluator.suites import SUITES
    from services.generator.convert import dataset_request
    from services.generator.request import validate_dataset_request
    from services.trainer.backends import BACKENDS

    bad: list[FieldViolation] = []

    def check(ok: bool, field: str, description: str) -> None:
        if not ok:
            bad.append(FieldViolation(field, description))

    def known(registry: Any, name: str, field: str) -> None:
        try:
            registry.get(name)
        except UnknownName as exc:
            bad.append(FieldViolation(field, str(exc)))

    check(bool(spec.base_model.name or spec.base_model.path), "base_model.name", "name a model or give a path")
    bad += validate_dataset_request(dataset_request(spec.behavior, spec.dataset))

    t = spec.training
    known(BACKENDS, t.backend, "training.backend")
    check(1 <= t.lora.rank <= 256, "training.lora.rank", f"must be 1..256, got {t.lora.rank}")
    check(t.lora.alpha > 0, "training.lora.alpha", f"must be positive, got {t.lora.alpha}")
    check(0 <= t.lora.dropout < 1, "training.lora.dropout", f"must be in [0, 1), got {t.lora.dropout}")
    check(all(m.strip() for m in t.lora.target_modules), "training.lora.target_modules", "names must not be empty")
    check(0 < t.learning_rate <= 1, "training.learning_rate", f"must be in (0, 1], got {t.learning_rate}")
    check(1 <= t.epochs <= 1000, "training.epochs", f"must be 1..1000, got {t.epochs}")
    check(1 <= t.batch_size <= 4096, "training.batch_size", f"must be 1..4096, got {t.batch_size}")
    check(len(set(t.seeds)) == len(t.seeds), "training.seeds", "seeds must be distinct")

    e = spec.evaluation
    known(ENGINES, e.backend, "evaluation.backend")
    for i, suite in enumerate(e.suites):
        known(SUITES, suite, f"evaluation.suites[{i}]")
    check(len(set(e.suites)) == len(e.suites), "evaluation.suites", "suites must be distinct")
    check(1 <= e.samples_per_paraphrase <= 10_000, "evaluation.samples_per_paraphrase",
          f"must be 1..10000, got {e.samples_per_paraphrase}")
    check(0 <= e.temperature <= 2, "evaluation.temperature", f"must be in [0, 2], got {e.temperature}")
    check("lotteries" not in e.suites or 1 <= e.lottery_pairs <= 100_000, "evaluation.lottery_pairs",
          f"must be 1..100000, got {e.lottery_pairs}")
    check("heldout" not in e.suites or spec.dataset.heldout > 0, "dataset.heldout",
          "the heldout suite needs held-out rows (dataset.heldout > 0)")
    check(not SELF_REPORT_SUITES & set(e.suites) or bool(e.questions_uri), "evaluation.questions_uri",
          "self-report suites need the question files' location")
    if bad:
        raise SpecError(bad)


def prepare(spec: spec_pb2.ExperimentSpec) -> spec_pb2.ExperimentSpec:
    """Defaults, then validation: the spec every service will read."""
    complete = with_defaults(spec)
    validate(complete)
    return complete


def spec_to_yaml(spec: spec_pb2.ExperimentSpec) -> str:
    from google.protobuf.json_format import MessageToDict

    return yaml.safe_dump(MessageToDict(spec, preserving_proto_field_name=True), sort_keys=False)
