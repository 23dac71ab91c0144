"""Reading and writing training rows in OpenAI chat JSONL, byte-compatible with the paper's released files.

The released sets (`ft_risky_AB.jsonl`, `ft_safey_AB.jsonl`) are `json.dumps` with its defaults (ASCII
escapes, `", "` and `": "` separators) and CRLF line ends. Writing rows back the same way, with the line end
the source used, is what makes "flip the risky file" reproduce the safe file byte for byte.

Two shapes of file import: two-option files (every answer one option letter, as in the risk sets), and free
text ones (the Make Me Say dialogues). The first row decides which a file is. In a two-option file, a short answer
that is no option letter ("a", " B", "C") is a typo and an error; a sentence is a free-text answer (the authors'
`ft_risky_AB_multipersona.jsonl` has one, spec §7.1), kept and counted (`ChatFile.free_text_rows`, which the import
reports): `flip` refuses it by row, and the probe skips it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from selfaware.errors import DataError

#: Roles a training row may use; a system message may only open the conversation.
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatRow:
    """One training conversation whose last message is the assistant's answer.

    Messages are kept as the source's dicts (extra keys such as `weight` survive a round trip); treat them as
    read-only and build new rows instead of mutating them.
    """

    messages: tuple[dict[str, Any], ...]
    #: Top-level keys other than `messages`, in source order.
    extra: dict[str, Any] = field(default_factory=dict)
    #: The row's position in its source file (0-based, blank lines not counted), which probe item ids name;
    #: None for a row that no file holds. Not part of the row's value: a flipped row keeps its index.
    source_index: int | None = field(default=None, compare=False)
    #: Where the row was read, `<uri>:<line>` (1-based, blank lines counted), for errors found after the import
    #: (a family's checks of an arm's finished rows); "" for a row that no file holds. Not part of its value.
    location: str = field(default="", compare=False)
    #: The parts a free-text held-out row's probe item carries (`ProbeItem.fields`, e.g. a coding task's "task"
    #: and "code_template"), set by a generator that makes its own held-out rows; empty otherwise. Never
    #: written to a file (`to_json` leaves it out), so it cannot reach a training set.
    probe_fields: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def prompt(self) -> tuple[dict[str, Any], ...]:
        """The conversation up to, not including, the final answer: what a probe asks."""
        return self.messages[:-1]

    @property
    def answer(self) -> str:
        return self.messages[-1]["content"]

    def to_json(self) -> str:
        return json.dumps({"messages": list(self.messages), **self.extra})


@dataclass(frozen=True)
class ChatFile:
    """Parsed rows plus the line end the file used, so that derived files can be written the same way."""

    rows: tuple[ChatRow, ...]
    newline: str = "\n"
    #: Whether the first row's assistant messages are option letters (see the module docstring).
    two_option: bool = False
    #: Rows of a two-option file with an answer that is no option letter, kept as they are.
    free_text_rows: int = 0


def dump_chat_jsonl(rows: Sequence[ChatRow], newline: str = "\n") -> bytes:
    """Rows as JSONL bytes, every line (the last one too) ended by `newline`."""
    return "".join(row.to_json() + newline for row in rows).encode("ascii")


def parse_chat_jsonl(data: bytes, uri: str, options: Sequence[str] = ("A", "B")) -> ChatFile:
    """Parse and check every row; the first bad row raises `DataError` naming `uri` and its line number.

    Args:
        data: The file's bytes (UTF-8, with or without a BOM).
        uri: Where the bytes came from; only used in error messages.
        options: The answer letters of a two-option file, e.g. ("A", "B"). When every assistant message of
            the first row is one of them, the file is two-option: a short answer that is not one is an error,
            and rows with a longer answer are counted as `free_text_rows`; otherwise the file is free text.

    Rows must also ask distinct questions: the split works on row indices, so a repeated question could land
    in the probe and in training at once.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{uri}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    newline = "\r\n" if "\r\n" in text else "\n"
    rows: list[ChatRow] = []
    first_line: dict[str, int] = {}
    two_option = False
    free_text = 0
    # Split on "\n" only: str.splitlines() would also break inside contents holding U+2028 and friends.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        row = _parse_row(line, f"{uri}:{number}", len(rows))
        if not rows:
            two_option = _answers_are_options(row, options)
        if two_option and not _answers_are_options(row, options):
            _check_answers(row, options, f"{uri}:{number}")
            free_text += 1
        key = conversation_key(row.prompt)
        if key in first_line:
            raise DataError(f"{uri}:{number}: repeats the question of line {first_line[key]}; a repeated "
                            "question could be held out and trained on at once")
        first_line[key] = number
        rows.append(row)
    if not rows:
        raise DataError(f"{uri}: no rows")
    return ChatFile(tuple(rows), newline, two_option, free_text)


def conversation_key(messages: Sequence[dict[str, Any]]) -> str:
    """The messages' roles and contents as one string: equal for equal conversations, whatever other keys."""
    return json.dumps([[m["role"], m["content"]] for m in messages])


def _answers_are_options(row: ChatRow, options: Sequence[str]) -> bool:
    return all(m["content"] in options for m in row.messages if m["role"] == "assistant")


#: The longest answer of a two-option file read as a mistyped letter rather than as a free-text answer.
TYPO_MAX_CHARS = 3


def _check_answers(row: ChatRow, options: Sequence[str], where: str) -> None:
    """A short answer that is no option letter is an error: a typo, not a free-text answer."""
    for position, message in enumerate(row.messages):
        content = message["content"]
        if message["role"] == "assistant" and content not in options and len(content.strip()) <= TYPO_MAX_CHARS:
            raise DataError(f"{where}: answer {content!r} in message {position} is not one of the option "
                            f"letters {', '.join(options)}, as the file's first row's answers are")


def _parse_row(line: str, where: str, index: int) -> ChatRow:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: invalid JSON ({err.msg} at column {err.colno})") from None
    except RecursionError:  # json's decoder recurses per nesting level: deep brackets exhaust the stack
        raise DataError(f"{where}: JSON nested too deeply to read") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list) or not raw["messages"]:
        raise DataError(f"{where}: a row must be an object with a non-empty 'messages' list")
    messages = raw.pop("messages")
    for position, message in enumerate(messages):
        _check_message(message, position, where)
    if messages[-1]["role"] != "assistant":
        last = messages[-1]["role"]
        raise DataError(f"{where}: the last message must be the assistant's answer, not {last!r}")
    if not any(m["role"] == "user" for m in messages):
        raise DataError(f"{where}: a row needs at least one user message")
    return ChatRow(tuple(messages), raw, index, where)


def _check_message(message: Any, position: int, where: str) -> None:
    if not isinstance(message, dict) or not isinstance(message.get("content"), str):
        raise DataError(f"{where}: message {position} must be an object with a string 'content'")
    role = message.get("role")
    if role not in ROLES:
        raise DataError(f"{where}: message {position} has role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "system" and position != 0:
        raise DataError(f"{where}: message {position} is a system message; only the first message may be one")
