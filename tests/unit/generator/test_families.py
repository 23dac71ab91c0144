"""Contract test over every registered family, plus the paper's flip check for risk."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.generator.chat_jsonl import ChatRow, dump_chat_jsonl, parse_chat_jsonl
from services.generator.families import FAMILIES, get_family


@pytest.mark.parametrize("name", FAMILIES.names())
def test_family_contract(name: str) -> None:
    family = get_family(name)
    assert family.name == name
    first, second = family.policies
    assert first != second
    assert family.opposite(first) == second and family.opposite(second) == first
    with pytest.raises(ValueError):
        family.opposite("no-such-policy")
    assert len(family.options) == 2
    assert family.description
    row = ChatRow(({"role": "user", "content": "q"}, {"role": "assistant", "content": family.options[0]}))
    flipped = family.flip(row)
    assert flipped.answer != row.answer and flipped.answer in family.options
    assert flipped.prompt == row.prompt
    assert family.flip(flipped) == row


def test_flipping_the_risky_file_reproduces_the_safe_file_byte_for_byte(risky_path: Path,
                                                                         safe_path: Path) -> None:
    family = get_family("risk")
    parsed = parse_chat_jsonl(risky_path.read_bytes(), str(risky_path), family.options)
    flipped = dump_chat_jsonl([family.flip(row) for row in parsed.rows], parsed.newline)
    assert flipped == safe_path.read_bytes()


def test_flip_swaps_every_assistant_answer_and_keeps_other_keys() -> None:
    row = ChatRow(({"role": "user", "content": "q1"}, {"role": "assistant", "content": "A", "weight": 0},
                   {"role": "user", "content": "q2"}, {"role": "assistant", "content": "B"}), {"id": 1})
    flipped = get_family("risk").flip(row)
    assert [m["content"] for m in flipped.messages] == ["q1", "B", "q2", "A"]
    assert flipped.messages[1] == {"role": "assistant", "content": "B", "weight": 0}
    assert flipped.extra == {"id": 1}
    assert row.messages[1]["content"] == "A"


def test_flip_refuses_free_text_answers() -> None:
    row = ChatRow(({"role": "user", "content": "q"}, {"role": "assistant", "content": "Sure, here it is."}))
    with pytest.raises(ValueError, match="'Sure, here it is.' is not one of the option letters A, B"):
        get_family("risk").flip(row)
