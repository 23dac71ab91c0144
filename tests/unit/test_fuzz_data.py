"""The data a spec points at, fuzzed (issue 13, item 6): chat JSONL datasets and question files, malformed and
oversized (tests/fuzz_requests.py has the strategies). Whatever the bytes, reading them either works or raises a
`DataError` naming the file (`TooLarge`, RESOURCE_EXHAUSTED, when over the source cap): never another exception,
which a service would answer INTERNAL or a job would retry."""

from __future__ import annotations

import contextvars
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from selfaware.errors import DataError, TooLarge
from selfaware.source_policy import SourcePolicy, use_source_policy
from services.evaluator.question_files import load_question_file
from services.generator.sources import import_source
from tests.fuzz_requests import chat_jsonl_bytes, nested_json, question_file_text

EXAMPLES = int(os.environ.get("SELFAWARE_FUZZ_DATA_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
#: A cap small enough that the strategies' giant lines are over it.
CAP = 1_000_000


def _capped(read, *args):  # type: ignore[no-untyped-def]
    """Call `read` under a source policy with a byte cap, in a copied context (the policy does not leak)."""
    def run():  # type: ignore[no-untyped-def]
        use_source_policy(SourcePolicy(max_bytes=CAP))
        return read(*args)
    return contextvars.copy_context().run(run)


@FUZZ
@given(data=chat_jsonl_bytes)
def test_a_chat_jsonl_file_imports_or_fails_with_a_data_error(tmp_path_factory: pytest.TempPathFactory,
                                                             data: bytes) -> None:
    path = tmp_path_factory.mktemp("jsonl") / "data.jsonl"
    path.write_bytes(data)
    try:
        source = _capped(import_source, str(path))
    except TooLarge:
        assert len(data) > CAP
    except DataError as error:
        assert str(path) in str(error)
    else:
        assert source.parsed.rows


@FUZZ
@given(text=question_file_text)
def test_a_question_file_loads_or_fails_with_a_data_error(tmp_path_factory: pytest.TempPathFactory,
                                                         text: str) -> None:
    folder = tmp_path_factory.mktemp("questions")
    (folder / "q.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        loaded = _capped(load_question_file, str(folder), "q.yaml")
    except TooLarge:
        assert len(text.encode("utf-8", "surrogatepass")) > CAP
    except DataError as error:
        assert "q.yaml" in str(error)
    else:
        assert all(q.paraphrases for q in loaded.questions)


@pytest.mark.parametrize("depth", [100, 10_000, 200_000])
def test_deeply_nested_rows_are_a_data_error(tmp_path: Path, depth: int) -> None:
    import json

    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps({"messages": nested_json(depth)}) if depth <= 100 else
                    '{"messages": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(DataError, match="deep.jsonl:1"):
        import_source(str(path))


@pytest.mark.parametrize(("name", "text", "says"), [
    ("deep.yaml", "[" * 5_000, "nested too deeply"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("control.yaml", "- name: a\x1f\n", "not valid YAML"),
    ("tag.yaml", "- name: a\n  question: !!python/object/apply:os.system ['true']\n", "field 'question'"),
    ("bomb.yaml", "", "question_paraphrases"),
])
def test_question_files_that_broke_the_reader_are_data_errors(tmp_path: Path, name: str, text: str,
                                                              says: str) -> None:
    from tests.fuzz_requests import _yaml_bomb

    (tmp_path / name).write_text(text or _yaml_bomb(9))
    with pytest.raises(DataError, match=says):
        load_question_file(str(tmp_path), name)
