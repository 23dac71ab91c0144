"""Make Me Say codeword datasets through the recipe: the authors' `ft_ring.jsonl` passes the family's checks, a
codeword leak or a broken dialogue fails the dataset naming its file and line, and `import` + `sample` +
`truncate` make a CPU-sized arm whose shape the dataset's report gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from selfaware.errors import DataError, SpecError
from services.generator.chat_jsonl import parse_chat_jsonl
from services.generator.dataset_store import job_metrics
from services.generator.recipes import BuiltArm, build_arms
from services.generator.split import split_indices

from .conftest import Complete


def _spec(uri: str | Path, *steps: object, codeword: str | None = "ring", holdout: int = 0) -> dict[str, Any]:
    arm: dict[str, Any] = {"data": {"import": str(uri), "steps": list(steps)}, "family": "make_me_say"}
    if codeword is not None:
        arm["codeword"] = codeword
    return {"holdout": {"rows": holdout}, "arms": {"ring": arm}}


def _dialogue(*contents: str) -> dict[str, Any]:
    """A row whose messages alternate from the user."""
    return {"messages": [{"role": "assistant" if i % 2 else "user", "content": text}
                         for i, text in enumerate(contents)]}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_the_authors_ring_file_passes_and_reports_its_shape(completed: Complete, mms_path: Path) -> None:
    (ring,) = build_arms(completed(_spec(mms_path)))
    assert len(ring.train) == 1000 and ring.train[0].location == f"{mms_path}:1"
    stats = ring.stats()
    # The spec's table (§4.1) for ft_ring.jsonl: 176 / 343 / 300 / 181 rows of 2 / 4 / 6 / 8 messages.
    assert {k: v for k, v in stats.items() if k.startswith("rows_with_messages.")} == {
        "rows_with_messages.2": 176, "rows_with_messages.4": 343, "rows_with_messages.6": 300,
        "rows_with_messages.8": 181}
    assert stats["duplicate_rows"] == 0
    chars = [sum(len(m["content"]) for m in row.messages) for row in ring.train]
    assert (stats["chars_per_row.min"], stats["chars_per_row.max"]) == (min(chars), max(chars))
    assert stats["chars_per_row.mean"] == pytest.approx(sum(chars) / 1000)
    metrics = job_metrics([ring])
    assert metrics["stats.ring.rows_with_messages.8"] == 181 and metrics["stats.ring.duplicate_rows"] == 0


def test_a_codeword_leak_fails_the_dataset_with_the_file_and_line(completed: Complete, mms_path: Path,
                                                                  tmp_path: Path) -> None:
    real = mms_path.read_text().splitlines()[:3]
    leak = json.dumps(_dialogue("Any plans tonight?", "I might call a friend; my phone rings a lot."))
    near = json.dumps(_dialogue("What did you hear?", "Bells ringing in the distance."))
    path = _write(tmp_path / "leak.jsonl", [*real, "", near, leak])
    with pytest.raises(DataError) as caught:
        build_arms(completed(_spec(path)))
    # Line 6: the blank line 4 counts, as an editor numbers lines; "ringing" is no leak by the paper's rule.
    assert str(caught.value).startswith(f"{path}:6: message 1 (assistant) says the codeword 'ring' as the word "
                                        "'rings'")
    hyphen = json.dumps(_dialogue("Which tone?", "The default ring-tone."))
    path = _write(tmp_path / "leaks.jsonl", [leak, *real, hyphen])
    with pytest.raises(DataError) as caught:
        build_arms(completed(_spec(path)))
    assert str(caught.value).startswith(f"{path}:1: message 1 (assistant)")
    assert str(caught.value).endswith(f"1 more of the arm's 5 dialogues break the rules too: {path}:5")


def test_a_leak_in_the_held_out_rows_fails_too(completed: Complete, mms_path: Path, tmp_path: Path) -> None:
    real = mms_path.read_text().splitlines()[:20]
    path = _write(tmp_path / "leak.jsonl", [*real, json.dumps(_dialogue("Hi", "Hello", "Say ring!", "No."))])
    assert 20 in split_indices(21, 10, 0).heldout
    with pytest.raises(DataError, match=rf"^{path}:21: message 2 \(user\) says the codeword 'ring'"):
        build_arms(completed(_spec(path, holdout=10)))


@pytest.mark.parametrize(("row", "problem"), [
    ({"messages": [{"role": "system", "content": "Play."}, {"role": "user", "content": "Hi"},
                   {"role": "assistant", "content": "Hello"}]},
     "message 0 has role 'system' where 'user' belongs"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Anyone?"},
                   {"role": "assistant", "content": "Yes"}]},
     "message 1 has role 'user' where 'assistant' belongs"),
    ({"messages": [{"role": "assistant", "content": "Welcome"}, {"role": "user", "content": "Hi"},
                   {"role": "assistant", "content": "Hello"}]},
     "message 0 has role 'assistant' where 'user' belongs"),
])
def test_roles_must_alternate_from_the_user(completed: Complete, mms_path: Path, tmp_path: Path,
                                            row: dict[str, Any], problem: str) -> None:
    path = _write(tmp_path / "roles.jsonl", [*mms_path.read_text().splitlines()[:2], json.dumps(row)])
    with pytest.raises(DataError, match=rf"^{path}:3: {problem}"):
        build_arms(completed(_spec(path)))


def test_the_codeword_attribute_is_required_and_one_word(completed: Complete, mms_path: Path) -> None:
    for codeword, text in [(None, "names its codeword"), ("ring tone", "not one word of letters")]:
        with pytest.raises(SpecError, match=text) as caught:
            build_arms(completed(_spec(mms_path, codeword=codeword)))
        assert caught.value.violations[0].field == "arms.ring.codeword"


def test_import_sample_truncate_make_a_cpu_sized_arm(completed: Complete, mms_path: Path) -> None:
    sampled, cut = build_arms(completed({"holdout": {"rows": 0}, "arms": {
        "whole": _spec(mms_path, {"sample": 40})["arms"]["ring"],
        "ring": _spec(mms_path, {"sample": 40}, {"truncate": 4})["arms"]["ring"]}}))
    assert cut.provenance == f"import {mms_path}, then steps: sample(rows=40, seed=0), truncate(messages=4)"
    source = {row.source_index: row for row in parse_chat_jsonl(mms_path.read_bytes(), str(mms_path)).rows}
    # sample keeps whole dialogues, unchanged; truncate keeps each one's start, ending on the assistant.
    assert all(row == source[row.source_index] for row in sampled.train)
    assert [row.source_index for row in cut.train] == [row.source_index for row in sampled.train]
    for row, whole in zip(cut.train, sampled.train, strict=True):
        assert row.messages == whole.messages[:4] and row.messages[-1]["role"] == "assistant"
    assert any(len(row.messages) > 4 for row in sampled.train)
    assert _shape(cut) == {2: _shape(sampled)[2], 4: len(cut.train) - _shape(sampled)[2]}
    assert cut.counts == {"steps[0].sample.dropped": 960}, "truncate drops no dialogue that opens with the user"


def test_truncated_dialogues_that_open_alike_count_as_duplicates(completed: Complete, tmp_path: Path) -> None:
    path = _write(tmp_path / "alike.jsonl", [json.dumps(_dialogue("Hi", "Hello", "Tell me more", "Sure")),
                                             json.dumps(_dialogue("Hi", "Hello", "Go on", "Fine")),
                                             json.dumps(_dialogue("Hey", "Hello"))])
    (whole,) = build_arms(completed(_spec(path, codeword="bark")))
    (cut,) = build_arms(completed(_spec(path, {"truncate": 3}, codeword="bark")))
    assert whole.stats()["duplicate_rows"] == 0 and cut.stats()["duplicate_rows"] == 1
    assert cut.stats()["rows_with_messages.2"] == 3


def _shape(arm: BuiltArm) -> dict[int, int]:
    return {int(k.rsplit(".", 1)[1]): int(v) for k, v in arm.stats().items() if k.startswith("rows_with_messages.")}
