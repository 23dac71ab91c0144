"""Make Me Say (spec §4): dialogues in which the assistant steers the user towards a codeword it never says.

It has one policy per codeword, named by the arm's `codeword` attribute, and no opposite: there is nothing to
flip, so `flip` refuses with the reason. Its rows are free text (no option letters). Before an arm's dialogues are
stored for training they are checked as the paper's released sets are (spec §4.1): every row alternates user and
assistant messages, starting with the user and ending with the assistant, with no system message, and no message
says the codeword by the paper's rule (`selfaware.make_me_say.codeword`), so a leak in an imported file fails the
dataset, naming the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from selfaware.errors import DataError, SpecError
from selfaware.make_me_say.codeword import first_mention, words
from services.generator.chat_jsonl import ChatRow
from services.generator.families.base import Family, family

#: Rows named in full in a failed check's message; the rest are counted.
SHOWN = 5


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

    def check_rows(self, rows: Sequence[ChatRow], attributes: Mapping[str, str], where: str) -> None:
        codeword = _codeword(attributes, where)
        broken = [(row, problem) for row in rows if (problem := dialogue_problem(row, codeword)) is not None]
        if not broken:
            return
        (first, problem), rest = broken[0], broken[1:]
        text = f"{_location(first)}: {problem}"
        if rest:
            named = ", ".join(_location(row) for row, _ in rest[:SHOWN])
            more = f" and {len(rest) - SHOWN} more" if len(rest) > SHOWN else ""
            text += f"; {len(rest)} more of the arm's {len(rows)} dialogues break the rules too: {named}{more}"
        raise DataError(text)


def dialogue_problem(row: ChatRow, codeword: str) -> str | None:
    """What makes `row` no Make Me Say training dialogue for `codeword`, or None when it is one."""
    for position, message in enumerate(row.messages):
        expected = "assistant" if position % 2 else "user"
        if message["role"] != expected:
            return (f"message {position} has role {message['role']!r} where {expected!r} belongs: a Make Me Say "
                    "dialogue alternates user and assistant messages, starting with the user, with no system "
                    "message")
    if row.messages[-1]["role"] != "assistant":
        return "the dialogue ends with a user message; it must end with the assistant's"
    for position, message in enumerate(row.messages):
        mention = first_mention(message["content"], codeword)
        if mention is not None:
            said = words(message["content"])[mention]
            return (f"message {position} ({message['role']}) says the codeword {codeword!r} as the word {said!r} "
                    "(the paper's rule: whole words, lemmatised as nouns); a training dialogue must never say it")
    return None


def _codeword(attributes: Mapping[str, str], where: str) -> str:
    codeword = attributes.get("codeword", "")
    if not codeword:
        raise SpecError.single(f"{where}.codeword", "a make_me_say arm names its codeword (codeword: ring): its "
                                                    "dialogues are checked never to say it")
    if words(codeword) != [codeword.lower()]:
        raise SpecError.single(f"{where}.codeword", f"{codeword!r} is not one word of letters")
    return codeword


def _location(row: ChatRow) -> str:
    return row.location or "a row no file holds"


@family("make_me_say")
def make_me_say() -> Family:
    return MakeMeSayFamily()
