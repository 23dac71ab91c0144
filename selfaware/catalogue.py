"""The capability catalogue: what the running services offer, and a spec's semantic check against it.

Each service publishes a `Catalogue` (its registries' entries with their parameter schemas) to the KV bucket
at start-up. The aggregator checks every submission against the published catalogues with `complete`, and
`selfaware validate` does the same against a deployment's or the embedded stack's catalogues, so a spec is
judged by the code that will run it, and neither needs to import a service.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

from selfaware.errors import FieldViolation
from selfaware.model_allowlist import model_problem
from selfaware.params import check_params, struct_to_dict, to_value
from selfaware.sources import unreadable
from selfaware.specs import arm_training, gate_violations, structural_violations, with_defaults
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import spec_pb2

#: Which service offers each kind of part (used to say who is missing when a kind has no entries).
OFFERED_BY = {
    "source": "generator",
    "step": "generator",
    "generator": "generator",
    "family": "generator",
    "training_backend": "trainer",
    "engine": "evaluator",
    "suite": "evaluator",
}


def package_version() -> str:
    try:
        return metadata.version("selfaware")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def catalogue(service: str, capabilities: Iterable[cat.Capability]) -> cat.Catalogue:
    """A service's catalogue, stamped with the installed code version and the time."""
    published = cat.Catalogue(service=service, version=package_version(), capabilities=list(capabilities))
    published.published_at.CopyFrom(Timestamp())
    published.published_at.GetCurrentTime()
    return published


class Offer:
    """The merged catalogues, looked up by (kind, name)."""

    def __init__(self, catalogues: Sequence[cat.Catalogue]) -> None:
        self.entries: dict[tuple[str, str], cat.Capability] = {}
        for published in catalogues:
            for entry in published.capabilities:
                self.entries[(entry.kind, entry.name)] = entry

    def names(self, kind: str) -> list[str]:
        return sorted(name for k, name in self.entries if k == kind)

    def find(self, kind: str, name: str, field: str, bad: list[FieldViolation]) -> cat.Capability | None:
        entry = self.entries.get((kind, name))
        if entry is None:
            choices = self.names(kind)
            if choices:
                close = difflib.get_close_matches(name, choices, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                bad.append(FieldViolation(field, f"unknown {kind.replace('_', ' ')} {name!r}{hint}; choose one "
                                                 f"of: {', '.join(choices)}"))
            else:
                bad.append(FieldViolation(field, f"no running service offers a {kind.replace('_', ' ')}: is the "
                                                 f"{OFFERED_BY[kind]} up and has it published its catalogue?"))
        return entry


def _is_model_dir(path: str) -> bool:
    """Whether `path` holds a config.json; a name too long for the OS or an unknown `~user` is simply not one
    (both raised, and SubmitExperiment answered INTERNAL: tests/service/test_fuzz_contract.py)."""
    try:
        return (Path(path).expanduser() / "config.json").is_file()
    except (OSError, RuntimeError):
        return False


def complete(spec: spec_pb2.ExperimentSpec, catalogues: Sequence[cat.Catalogue]
             ) -> tuple[spec_pb2.ExperimentSpec, list[FieldViolation]]:
    """The spec with every default filled in (parameters included), and every violation found.

    Structural problems (`specs.structural_violations`) and semantic ones (unknown parts, bad parameters,
    unreadable sources, a base model path that is no model directory) are all returned together, so a
    researcher fixes a spec in one round.
    """
    merged = with_defaults(spec)
    if turned_away := gate_violations(merged):
        return merged, turned_away  # before the checks that walk it and probe every source it names
    bad = structural_violations(merged)
    offer = Offer(catalogues)
    names = {"arm": [a.name for a in merged.arms], "endpoint": [e.name for e in merged.endpoints]}

    for i, model in enumerate(merged.base_models):
        if model.path and not _is_model_dir(model.path):
            bad.append(FieldViolation(f"base_models[{i}].path",
                                      f"{model.path!r} is not a Hugging Face model directory (no config.json)"))
    bad += _model_violations(merged, catalogues)
    default_backend = offer.find("training_backend", merged.training.backend, "training.backend", bad)
    if default_backend is not None:
        _params(default_backend, merged.training.params, "training.params", names, bad)
    for arm in merged.arms:
        where = f"arms.{arm.name}"
        _recipe(arm.data, f"{where}.data", offer, names, bad)
        _attributes(arm, where, offer, bad)
        _arm_training(merged, arm, where, offer, names, bad)
        if merged.evaluation.checkpoints:
            _keeps_epochs(merged, arm, where, offer, bad)
    engine = offer.find("engine", merged.evaluation.engine, "evaluation.engine", bad)
    if engine is not None and engine.info.get("needs_endpoint") == "true" and not merged.evaluation.endpoint:
        bad.append(FieldViolation("evaluation.endpoint", f"engine {engine.name!r} needs an endpoint: name one of "
                                                         f"`endpoints` (the server of the base model)"))
    for i, instance in enumerate(merged.evaluation.suites):
        entry = offer.find("suite", instance.suite, f"evaluation.suites[{i}]", bad)
        if entry is not None:
            _params(entry, instance.params, f"evaluation.suites[{i}].params", names, bad)
    return merged, _unique(bad)


def _model_violations(spec: spec_pb2.ExperimentSpec, catalogues: Sequence[cat.Catalogue]) -> list[FieldViolation]:
    """Base models off the `allowed_base_models` a loading service (trainer, evaluator) publishes; one violation
    per field, from the first service that refuses it."""
    bad: dict[str, str] = {}
    for published in catalogues:
        for i, model in enumerate(spec.base_models):
            if published.allowed_base_models and (
                    problem := model_problem(model, published.allowed_base_models, published.service)):
                bad.setdefault(f"base_models[{i}].{problem[0]}", problem[1])
    return [FieldViolation(field, why) for field, why in bad.items()]


def _recipe(recipe: spec_pb2.Recipe, where: str, offer: Offer, names: dict[str, list[str]],
            bad: list[FieldViolation]) -> None:
    source = recipe.WhichOneof("source")
    if source == "import_uri":
        if problem := unreadable(recipe.import_uri):
            bad.append(FieldViolation(f"{where}.import", problem))
    elif source == "generate":
        entry = offer.find("generator", recipe.generate.generator, f"{where}.generate", bad)
        if entry is not None:
            _params(entry, recipe.generate.params, f"{where}.params", names, bad)
    for i, step in enumerate(recipe.steps):
        entry = offer.find("step", step.name, f"{where}.steps[{i}]", bad)
        if entry is None:
            continue
        if step.HasField("value"):
            if not entry.shorthand:
                bad.append(FieldViolation(f"{where}.steps[{i}].{step.name}",
                                          f"step {step.name!r} takes a mapping of parameters, not a single value"))
                continue
            step.params.fields[entry.shorthand].CopyFrom(step.value)
            step.ClearField("value")
        _params(entry, step.params, f"{where}.steps[{i}].{step.name}", names, bad)


def _arm_training(spec: spec_pb2.ExperimentSpec, arm: spec_pb2.Arm, where: str, offer: Offer,
                  names: dict[str, list[str]], bad: list[FieldViolation]) -> None:
    """An arm's own backend gets its parameters checked and filled in the arm; an arm on the experiment's backend
    has its overrides checked merged with the experiment's (already filled) parameters."""
    if arm.training.backend and arm.training.backend != spec.training.backend:
        entry = offer.find("training_backend", arm.training.backend, f"{where}.training.backend", bad)
        if entry is not None:
            _params(entry, arm.training.params, f"{where}.training.params", names, bad)
    elif arm.training.params.fields and (entry := offer.entries.get(("training_backend", spec.training.backend))):
        path = f"{where}.training.params"
        _, problems = check_params(entry.params, struct_to_dict(arm_training(spec, arm).params), path, names)
        own = {f"{path}.{key}" for key in arm.training.params.fields}  # the experiment's are reported once
        bad += [p for p in problems if p.field in own]


#: The training parameter that makes a backend keep every epoch's adapter. A backend without one (a hosted API)
#: keeps what its service keeps; an epoch it did not keep fails its model's evaluation with a clear message.
EPOCH_CHECKPOINTS_PARAM = "checkpoint_epochs"


def _keeps_epochs(spec: spec_pb2.ExperimentSpec, arm: spec_pb2.Arm, where: str, offer: Offer,
                  bad: list[FieldViolation]) -> None:
    """With `evaluation.checkpoints`, an arm whose backend can keep epoch checkpoints must ask it to."""
    training = arm_training(spec, arm)
    entry = offer.entries.get(("training_backend", training.backend))
    if entry is None or not any(p.name == EPOCH_CHECKPOINTS_PARAM for p in entry.params):
        return
    value = training.params.fields.get(EPOCH_CHECKPOINTS_PARAM)
    if value is None or not value.bool_value:
        own = arm.training.params.fields.get(EPOCH_CHECKPOINTS_PARAM) is not None
        field = f"{where}.training.params" if own or arm.training.backend else "training.params"
        bad.append(FieldViolation(f"{field}.{EPOCH_CHECKPOINTS_PARAM}",
                                  f"evaluation.checkpoints evaluates every epoch's adapter: set "
                                  f"{EPOCH_CHECKPOINTS_PARAM}: true so that {training.backend!r} keeps them"))


def _attributes(arm: spec_pb2.Arm, where: str, offer: Offer, bad: list[FieldViolation]) -> None:
    family = arm.attributes.get("family")
    if family is None:
        return
    entry = offer.find("family", family, f"{where}.family", bad)
    policy = arm.attributes.get("policy")
    if entry is not None and policy is not None:
        policies = entry.info.get("policies", "").split(",")
        if policy not in policies:
            bad.append(FieldViolation(f"{where}.policy", f"{policy!r} is not a {family} policy; choose one of "
                                                         f"{', '.join(policies)}"))


def _params(entry: cat.Capability, params: object, where: str, names: dict[str, list[str]],
            bad: list[FieldViolation]) -> None:
    """Check a Struct of parameters in place, filling in the defaults."""
    filled, problems = check_params(entry.params, struct_to_dict(params), where, names)  # type: ignore[arg-type]
    bad += problems
    if not problems:
        params.Clear()  # type: ignore[attr-defined]
        for key, value in filled.items():
            params.fields[key].CopyFrom(to_value(value))  # type: ignore[attr-defined]


def _unique(bad: list[FieldViolation]) -> list[FieldViolation]:
    seen, out = set(), []
    for violation in bad:
        key = (violation.field, violation.description)
        if key not in seen:
            seen.add(key)
            out.append(violation)
    return out
