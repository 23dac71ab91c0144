"""The step kind: one registered transformation of an arm's rows, applied in recipe order.

A step declares its parameters (published in the catalogue, checked and defaulted at submit), the parameter a
scalar shorthand fills (`{sample: 32}` sets `rows`), and whether it also applies to the arm's held-out rows. A
step that changes what the answers say (flip) must, so that the probe's targets follow the training data; one
that chooses training rows (sample, mix) must not, so that every arm built from a source keeps the same
held-out questions. Its function is pure: rows in, rows out, seeded by its own parameters where it chooses at
random, and it keeps each row's `source_index` (probe ids name it); the one exception is `answer`, which asks a
model on a spec endpoint (at T=0). A parameter that does not fit the rows raises `SpecError` on a path under
`context.where`. The recipe counts the rows a step drops; the step need not.

Adding a step is one module that decorates its function with `@step`, plus its import in `steps/__init__.py`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from selfaware.errors import SpecError
from selfaware.params import Param
from selfaware.registry import Registry
from selfaware.v1 import spec_pb2
from services.generator.chat_jsonl import ChatRow


@dataclass(frozen=True)
class StepContext:
    """What a step may know besides its rows and parameters."""

    #: The step's field path in the spec, e.g. `arms.risk-averse.data.steps[0].flip`.
    where: str
    #: The arm's option letters: its family's, or ("A", "B").
    options: tuple[str, ...]
    #: Training rows of the arms built so far, after their steps: every arm an "arm" parameter names is here.
    arms: Mapping[str, tuple[ChatRow, ...]]
    #: The spec's endpoints by name: what "endpoint" parameters name.
    endpoints: Mapping[str, spec_pb2.Endpoint] = field(default_factory=dict)
    #: What the step counted, by name (e.g. `free_text_answers`); the recipe records each as
    #: `steps[<i>].<step>.<name>` in the arm's counts (`heldout_<name>` for its run over the held-out rows).
    counters: dict[str, int] = field(default_factory=dict)


T = TypeVar("T")
StepFunction = Callable[[Sequence[ChatRow], Mapping[str, Any], StepContext], list[ChatRow]]


@dataclass(frozen=True)
class Step:
    """A registered step: its declaration and its function."""

    name: str
    description: str
    params: tuple[Param, ...]
    #: The parameter a scalar shorthand fills, or "".
    shorthand: str
    applies_to_heldout: bool
    function: StepFunction

    def apply(self, rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext
              ) -> list[ChatRow]:
        return self.function(rows, params, context)

    def reads_arms(self, params: Mapping[str, Any]) -> list[str]:
        """The arms its "arm" parameters name: they must be built first."""
        return [params[p.name] for p in self.params if p.type == "arm" and p.name in params]


STEPS: Registry[Step] = Registry("step")


def step(name: str, description: str, params: Sequence[Param] = (), shorthand: str = "",
         applies_to_heldout: bool = False) -> Callable[[StepFunction], StepFunction]:
    """Register the decorated function as the step `name`."""
    if shorthand and shorthand not in {p.name for p in params}:
        raise ValueError(f"step {name!r}: shorthand {shorthand!r} is not one of its parameters")

    def register(function: StepFunction) -> StepFunction:
        STEPS.register(name)(Step(name, description, tuple(params), shorthand, applies_to_heldout, function))
        return function

    return register


def get_step(name: str) -> Step:
    """The step registered as `name`; raises `UnknownName` listing the valid names."""
    return STEPS.get(name)


def choose_rows(rows: Sequence[T], count: int, seed: str) -> list[T]:
    """`count` of `rows`, chosen with `random.Random(seed)`, in their given order.

    The choice is a prefix of one seeded shuffle, so with the same seed a smaller choice is a subset of a
    larger one: the ablation's 32-row arm trains on rows its 128-row arm also sees.
    """
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return [rows[i] for i in sorted(order[:count])]


def rows_for_share(rows: Sequence[ChatRow], present: int, share: float, seed: str, field: str, arm: str
                   ) -> list[ChatRow]:
    """Enough of `rows` (another arm's) to make them `share` of the result once added to `present` rows:
    round(present·share/(1−share)) of them, chosen as `choose_rows` chooses.

    Raises:
        SpecError: on `field`, when `share` is 1 or more, or `arm` has too few rows.
    """
    if share >= 1:
        raise SpecError.single(field, f"must be below 1 (the added rows' share of the result), got {share}")
    count = round(present * share / (1 - share))
    if count > len(rows):
        raise SpecError.single(field, f"a share of {share} of the result asks for {count} rows beside the "
                                      f"{present} here, but arm {arm!r} has only {len(rows)} training rows")
    return choose_rows(rows, count, seed)
