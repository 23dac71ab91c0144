"""The generator kind: offline, seeded question generators for runs without any dataset.

A generator writes questions of one family, labelled with the answers a policy of that family gives, in the
same chat format as an imported file. It declares its parameters (`Param`s, published in the catalogue, whose
defaults the aggregator fills in at submit) and must be deterministic given them: the generator service may
rebuild a dataset after a restart and must get the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from selfaware.params import Param
from selfaware.registry import Registry
from services.generator.chat_jsonl import ChatRow


class QuestionGenerator(Protocol):
    """Builds labelled training rows for one family."""

    @property
    def family(self) -> str:
        """The family registry name whose options the rows use, e.g. "risk"."""
        ...

    @property
    def description(self) -> str:
        """One sentence for the catalogue."""
        ...

    @property
    def params(self) -> tuple[Param, ...]:
        """What a recipe's `generate` may set; bounds keep a typo in a spec from exhausting memory."""
        ...

    def generate(self, params: Mapping[str, Any]) -> list[ChatRow]:
        """Rows asking distinct questions; `params` holds every declared parameter (defaults filled in)."""
        ...


GENERATORS: Registry[Callable[..., QuestionGenerator]] = Registry("generator")


def generator(name: str) -> Callable[[Callable[..., QuestionGenerator]], Callable[..., QuestionGenerator]]:
    """Register a generator factory under `name`."""
    return GENERATORS.register(name)


def get_generator(name: str) -> QuestionGenerator:
    """Build the generator registered as `name`; raises `UnknownName` listing the valid names."""
    return GENERATORS.get(name)()
