"""The family kind: what a behaviour family knows, and the registry its modules register into.

A family names its pair of opposite policies and turns a row that demonstrates one policy into the row that
demonstrates the other. Adding a family (myopia, apples) is one module that registers a factory with
`@family`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from selfaware.registry import Registry
from services.generator.chat_jsonl import ChatRow


class Family(Protocol):
    """A behaviour family with exactly two opposite policies."""

    @property
    def name(self) -> str:
        """The registry name, e.g. "risk"."""
        ...

    @property
    def description(self) -> str:
        """One sentence for the catalogue: what the policies do."""
        ...

    @property
    def policies(self) -> tuple[str, str]:
        """The two policy names, e.g. ("risk-seeking", "risk-averse")."""
        ...

    @property
    def options(self) -> tuple[str, ...]:
        """The answer letters its questions offer, e.g. ("A", "B")."""
        ...

    def opposite(self, policy: str) -> str:
        """The other policy of the pair; `policy` must be one of `policies`."""
        ...

    def flip(self, row: ChatRow) -> ChatRow:
        """The row as the opposite policy would answer it."""
        ...


FAMILIES: Registry[Callable[..., Family]] = Registry("family")


def family(name: str) -> Callable[[Callable[..., Family]], Callable[..., Family]]:
    """Register a family factory under `name`."""
    return FAMILIES.register(name)


def get_family(name: str) -> Family:
    """Build the family registered as `name`; raises `UnknownName` listing the valid names."""
    return FAMILIES.get(name)()
