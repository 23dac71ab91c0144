"""Families whose questions offer two options, A and B: risk, myopia and apples in the paper (spec §3.1).

The paper builds the opposite policy's dataset by flipping every label (A <-> B) on the same questions, so one
class serves every such family; a family module only supplies its name and policy pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.generator.chat_jsonl import ChatRow


@dataclass(frozen=True)
class TwoOptionFamily:
    """A two-option family; see `Family`."""

    name: str
    policies: tuple[str, str]
    options: tuple[str, ...] = ("A", "B")

    def opposite(self, policy: str) -> str:
        if policy not in self.policies:
            raise ValueError(f"{policy!r} is not a {self.name} policy; expected one of "
                             f"{', '.join(self.policies)}")
        return self.policies[1] if policy == self.policies[0] else self.policies[0]

    def flip(self, row: ChatRow) -> ChatRow:
        """Swap the letter of every assistant answer, keeping every other key and its order."""
        swap = {self.options[0]: self.options[1], self.options[1]: self.options[0]}
        messages = tuple({**m, "content": swap[m["content"]]} if m["role"] == "assistant" else m
                         for m in row.messages)
        return ChatRow(messages, row.extra)
