from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfaware.errors import DataError
from services.generator.chat_jsonl import ChatRow, dump_chat_jsonl, parse_chat_jsonl
from services.generator.sources import import_source

OPTIONS = ("A", "B")


def _row(answer: str = "A", **extra: object) -> str:
    return json.dumps({"messages": [{"role": "user", "content": "Pick A or B."},
                                    {"role": "assistant", "content": answer}], **extra})


def test_round_trip_reproduces_the_released_file(risky_path: Path) -> None:
    data = risky_path.read_bytes()
    parsed = parse_chat_jsonl(data, str(risky_path), OPTIONS)
    assert len(parsed.rows) == 288
    assert parsed.newline == "\r\n"
    assert parsed.two_option
    assert [row.source_index for row in parsed.rows] == list(range(288))
    assert dump_chat_jsonl(parsed.rows, parsed.newline) == data


def test_free_text_dialogues_import(mms_path: Path) -> None:
    data = mms_path.read_bytes()
    parsed = parse_chat_jsonl(data, str(mms_path), OPTIONS)
    assert len(parsed.rows) == 1000 and not parsed.two_option
    assert any(len(row.messages) > 2 for row in parsed.rows)
    assert dump_chat_jsonl(parsed.rows, parsed.newline) == data


def test_the_first_row_decides_the_shape() -> None:
    free = json.dumps({"messages": [{"role": "user", "content": "Hi"},
                                    {"role": "assistant", "content": "Hello!"}]})
    parsed = parse_chat_jsonl(f"{free}\n{_row('A')}\n".encode(), "mem", OPTIONS)
    assert not parsed.two_option and [r.answer for r in parsed.rows] == ["Hello!", "A"]
    mostly_letters = parse_chat_jsonl(f"{_row('A')}\n{free}\n".encode(), "mem", OPTIONS)
    assert mostly_letters.two_option and mostly_letters.free_text_rows == 1 and len(mostly_letters.rows) == 2
    with pytest.raises(DataError, match=r"^mem:2: answer 'Hi!'.*first row"):
        parse_chat_jsonl(f"{_row('A')}\n{free.replace('Hello!', 'Hi!')}\n".encode(), "mem", OPTIONS)


def test_the_authors_multipersona_file_imports_with_its_one_free_text_answer_counted(shared_paper: Path) -> None:
    source = import_source(str(shared_paper / "datasets/risky_safe/ft_risky_AB_multipersona.jsonl"), OPTIONS)
    assert len(source.parsed.rows) == 576 and source.parsed.two_option
    assert source.counts == {"free_text_answers": 1}
    free = [row for row in source.parsed.rows if row.answer not in OPTIONS]
    assert len(free) == 1 and free[0].answer.startswith("Given Donald Trump's background")


def test_the_source_index_is_not_part_of_a_rows_value() -> None:
    parsed = parse_chat_jsonl(f"\n{_row()}\n".encode(), "mem", OPTIONS)
    assert parsed.rows[0].source_index == 0
    assert parsed.rows[0] == ChatRow(parsed.rows[0].messages)


def test_extra_keys_survive_a_round_trip() -> None:
    line = json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                                    {"role": "assistant", "content": "B", "weight": 1}], "id": 7})
    parsed = parse_chat_jsonl((line + "\n").encode(), "mem", OPTIONS)
    assert dump_chat_jsonl(parsed.rows) == (line + "\n").encode()
    assert parsed.rows[0].answer == "B"
    assert [m["role"] for m in parsed.rows[0].prompt] == ["system", "user"]


def test_repeated_questions_are_rejected() -> None:
    with pytest.raises(DataError, match=r"^mem:3: repeats the question of line 1"):
        parse_chat_jsonl(f"{_row()}\n\n{_row('B')}\n".encode(), "mem", OPTIONS)


def test_blank_lines_are_skipped_and_counted() -> None:
    data = f"{_row()}\n\n{_row('C')}\n".encode()
    with pytest.raises(DataError, match=r"^mem:3: answer 'C'.*option letters A, B"):
        parse_chat_jsonl(data, "mem", OPTIONS)


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", r"invalid JSON"),
    ('["a list"]', r"non-empty 'messages' list"),
    ('{"messages": []}', r"non-empty 'messages' list"),
    ('{"messages": [{"role": "tool", "content": "x"}, {"role": "assistant", "content": "A"}]}',
     r"role 'tool'"),
    ('{"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "A"}]}',
     r"string 'content'"),
    (('{"messages": [{"role": "user", "content": "q"}, {"role": "system", "content": "s"}, '
     '{"role": "assistant", "content": "A"}]}'), r"only the first message"),
    ('{"messages": [{"role": "assistant", "content": "A"}, {"role": "user", "content": "q"}]}',
     r"last message must be the assistant"),
    ('{"messages": [{"role": "assistant", "content": "A"}]}', r"at least one user message"),
    (_row("a"), r"answer 'a'"),
    (_row(" B"), r"answer ' B'"),
])
def test_bad_rows_name_the_uri_and_line(line: str, message: str) -> None:
    first = _row().replace("Pick A or B.", "First question.")
    data = f"{first}\r\n{line}\r\n".encode()
    with pytest.raises(DataError, match=rf"^https://x/d\.jsonl:2: .*{message}"):
        parse_chat_jsonl(data, "https://x/d.jsonl", OPTIONS)


def test_empty_and_undecodable_files_are_data_errors() -> None:
    with pytest.raises(DataError, match="no rows"):
        parse_chat_jsonl(b"\n\n", "mem", OPTIONS)
    with pytest.raises(DataError, match="not UTF-8"):
        parse_chat_jsonl(b"\xff\xfe{}", "mem", OPTIONS)


def test_dump_ends_every_line() -> None:
    row = ChatRow(({"role": "user", "content": "caf\u00e9"}, {"role": "assistant", "content": "A"}))
    assert dump_chat_jsonl([row, row]) == (row.to_json() + "\n" + row.to_json() + "\n").encode()
    assert b"\\u00e9" in dump_chat_jsonl([row])
