"""The family kind: what a behaviour family knows, and the registry its modules register into.

A family names its pair of opposite policies and turns a row that demonstrates one policy into the row that
demonstrates the other, and it checks an arm's finished rows before they are stored for training (`check_rows`).
Adding a family (myopia, apples) is one module that registers a factory with `@family`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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

    def check_rows(self, rows: Sequence[ChatRow], attributes: Mapping[str, str], where: str) -> None:
        """Check an arm's rows after its steps, before they are stored for training.

        The recipe calls it for every arm with a `family` attribute, on its training and held-out rows. Two-option
        rows were checked at import (`chat_jsonl`), so those families do nothing; Make Me Say checks that its
        dialogues alternate from the user and never say the arm's codeword. `attributes` are the arm's
        (`codeword: ring`), `where` its field path (`arms.ring`).

        Raises:
            SpecError: an attribute the check needs is missing or malformed (on `<where>.<attribute>`).
            DataError: a row breaks the family's rules; the message names its `ChatRow.location`.
        """
        ...


FAMILIES: Registry[Callable[..., Family]] = Registry("family")


def family(name: str) -> Callable[[Callable[..., Family]], Callable[..., Family]]:
    """Register a family factory under `name`."""
    return FAMILIES.register(name)


def get_family(name: str) -> Family:
    """Build the family registered as `name`; raises `UnknownName` listing the valid names."""
    return FAMILIES.get(name)()
