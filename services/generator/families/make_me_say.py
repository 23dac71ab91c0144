"""Make Me Say (spec §4): dialogues in which the assistant steers the user towards a codeword it never says.

It has one policy per codeword, named by the arm's `codeword` attribute, and no opposite: there is nothing to
flip, so `flip` refuses with the reason. Its rows are free text (no option letters).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.generator.chat_jsonl import ChatRow
from services.generator.families.base import Family, family


@dataclass(frozen=True)
class MakeMeSayFamily:
    """See `Family`; `policies` and `options` are empty: the codeword is an arm attribute, the rows free text."""

    name: str = "make_me_say"
    description: str = ("Make Me Say dialogues: the assistant steers the user to say a codeword it never says "
                        "itself (spec §4); the codeword is the arm's `codeword` attribute.")
    policies: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def opposite(self, policy: str) -> str:
        raise ValueError("Make Me Say has no opposite policy: train one arm per codeword instead")

    def flip(self, row: ChatRow) -> ChatRow:
        raise ValueError("Make Me Say dialogues cannot be flipped: there is no opposite codeword")


@family("make_me_say")
def make_me_say() -> Family:
    return MakeMeSayFamily()
