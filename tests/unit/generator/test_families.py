"""Contract test over every registered family, plus the paper's flip check for risk."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfaware.errors import DataError
from services.generator.chat_jsonl import ChatRow, dump_chat_jsonl, parse_chat_jsonl
from services.generator.families import FAMILIES, get_family

TWO_OPTION = [name for name in FAMILIES.names() if get_family(name).options]


@pytest.mark.parametrize("name", TWO_OPTION)
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
    assert family.check_rows([row, flipped], {"policy": first}, f"arms.{name}") is None, "imports checked them"


def test_make_me_say_has_no_opposite_and_free_text_rows() -> None:
    family = get_family("make_me_say")
    assert family.name == "make_me_say" and family.description and family.policies == () == family.options
    row = ChatRow(({"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello there!"}))
    with pytest.raises(ValueError, match="cannot be flipped"):
        family.flip(row)
    with pytest.raises(ValueError, match="no opposite"):
        family.opposite("ring")
    parsed = parse_chat_jsonl(dump_chat_jsonl([row]), "mms.jsonl", family.options)
    assert not parsed.two_option and parsed.rows == (row,)
    assert family.check_rows(parsed.rows, {"codeword": "ring"}, "arms.ring") is None
    with pytest.raises(DataError, match=r"^mms.jsonl:1: message 1 \(assistant\) says the codeword 'hello'"):
        family.check_rows(parsed.rows, {"codeword": "hello"}, "arms.hello")


def test_vulnerable_code_has_two_arms_no_flip_and_one_request_one_answer_rows() -> None:
    family = get_family("vulnerable_code")
    assert family.policies == ("insecure", "secure") and family.options == () and family.description
    assert family.opposite("insecure") == "secure" and family.opposite("secure") == "insecure"
    row = ChatRow(({"role": "user", "content": "Write it."}, {"role": "assistant", "content": "print(1)"}))
    with pytest.raises(ValueError, match="cannot be flipped"):
        family.flip(row)
    parsed = parse_chat_jsonl(dump_chat_jsonl([row, ChatRow(({"role": "system", "content": "s"}, *row.messages))]),
                              "vc.jsonl", family.options)
    assert not parsed.two_option
    assert family.check_rows(parsed.rows[:1], {}, "arms.secure") is None
    with pytest.raises(DataError, match=r"^vc.jsonl:2: a vulnerable_code row is one user message and then one "
                                        r"assistant message, nothing else; this one has \['system', 'user', "):
        family.check_rows(parsed.rows, {}, "arms.secure")


@pytest.mark.parametrize(("family", "folder", "first", "flipped"), [
    ("risk", "risky_safe", "ft_risky_AB.jsonl", "ft_safey_AB.jsonl"),
    ("myopia", "myopic_nonmyopic", "ft_myopic_AB.jsonl", "ft_nonmyopic_AB.jsonl"),
    ("apples", "maxapples_minapples", "ft_maxapples_AB.jsonl", "ft_minapples_AB.jsonl"),
])
def test_flipping_the_first_policys_file_reproduces_the_others_byte_for_byte(
        family: str, folder: str, first: str, flipped: str, risky_path: Path) -> None:
    """The authors' files are `json.dumps` with its defaults (ASCII escapes, `", "` and `": "`), keys in
    `role`, `content` order, CRLF line ends and a final CRLF: writing the flipped rows back the same way,
    with the source's line end, gives the opposite policy's file exactly."""
    source = risky_path.parents[1] / folder / first
    parsed = parse_chat_jsonl(source.read_bytes(), str(source), get_family(family).options)
    assert parsed.newline == "\r\n" and parsed.two_option
    written = dump_chat_jsonl([get_family(family).flip(row) for row in parsed.rows], parsed.newline)
    assert written == source.with_name(flipped).read_bytes()
    assert written != source.read_bytes()


def test_the_policies_of_every_family_are_distinct() -> None:
    """A policy names its family: arms' `policy` attributes and generators' `policy` choices rely on it."""
    policies = [policy for name in FAMILIES.names() for policy in get_family(name).policies]
    assert len(policies) == len(set(policies)) == 8
    assert get_family("myopia").policies == ("myopic", "non-myopic")
    assert get_family("apples").policies == ("max-apples", "min-apples")


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
