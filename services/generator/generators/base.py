"""The generator kind: offline, seeded question generators for runs without any dataset.

A generator writes two-option questions of one family and labels each with the letter a given policy of that
family picks, in the same chat format as an imported file. It must be deterministic given its seed: the
generator service may rebuild a dataset after a restart and must get the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from selfaware.registry import Registry
from services.generator.chat_jsonl import ChatRow


class QuestionGenerator(Protocol):
    """Builds labelled training rows for one family."""

    @property
    def family(self) -> str:
        """The family registry name whose policies label the rows, e.g. "risk"."""
        ...

    @property
    def default_size(self) -> int:
        """Rows built for `dataset.size: 0` ("all rows"), which a generator cannot take literally."""
        ...

    @property
    def max_size(self) -> int:
        """The most rows one request may ask for, so a typo in the spec cannot exhaust memory."""
        ...

    def generate(self, policy: str, count: int, seed: int) -> list[ChatRow]:
        """`count` distinct questions, each answered as `policy` would; same arguments, same rows."""
        ...


GENERATORS: Registry[Callable[..., QuestionGenerator]] = Registry("generator")


def generator(name: str) -> Callable[[Callable[..., QuestionGenerator]], Callable[..., QuestionGenerator]]:
    """Register a generator factory under `name`."""
    return GENERATORS.register(name)


def get_generator(name: str) -> QuestionGenerator:
    """Build the generator registered as `name`; raises `UnknownName` listing the valid names."""
    return GENERATORS.get(name)()
