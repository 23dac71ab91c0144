"""Families whose questions offer two options, A and B: risk, myopia and apples in the paper (spec §3.1).

The paper builds the opposite policy's dataset by flipping every label (A <-> B) on the same questions, so one
class serves every such family; a family module only supplies its name, policy pair and description.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.generator.chat_jsonl import ChatRow


@dataclass(frozen=True)
class TwoOptionFamily:
    """A two-option family; see `Family`."""

    name: str
    policies: tuple[str, str]
    description: str
    options: tuple[str, ...] = ("A", "B")

    def opposite(self, policy: str) -> str:
        if policy not in self.policies:
            raise ValueError(f"{policy!r} is not a {self.name} policy; expected one of "
                             f"{', '.join(self.policies)}")
        return self.policies[1] if policy == self.policies[0] else self.policies[0]

    def flip(self, row: ChatRow) -> ChatRow:
        return swap_options(row, self.options)

    def check_rows(self, rows: Sequence[ChatRow], attributes: Mapping[str, str], where: str) -> None:
        """Nothing more to check: the import checked every answer against the option letters."""


def swap_options(row: ChatRow, options: Sequence[str]) -> ChatRow:
    """The row with the two option letters of every assistant answer swapped, every other key and its order
    kept (and its source index).

    Raises:
        ValueError: an assistant message is not one of the two `options`.
    """
    first, second = options
    swap = {first: second, second: first}
    messages = []
    for message in row.messages:
        if message["role"] == "assistant":
            if message["content"] not in swap:
                raise ValueError(f"answer {message['content'][:40]!r} is not one of the option letters "
                                 f"{first}, {second}")
            message = {**message, "content": swap[message["content"]]}
        messages.append(message)
    return dataclasses.replace(row, messages=tuple(messages))
