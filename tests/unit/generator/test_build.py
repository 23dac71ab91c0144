from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from selfaware.errors import SpecError
from selfaware.probes import dump_probe, load_probe
from services.generator.build import BuiltDatasets, build_datasets
from services.generator.chat_jsonl import parse_chat_jsonl
from services.generator.request import DatasetRequest


def _questions(data: bytes) -> list[str]:
    return [row.prompt[-1]["content"] for row in parse_chat_jsonl(data, "train", ("A", "B")).rows]


@pytest.fixture
def imported(risky_path: Path) -> DatasetRequest:
    return DatasetRequest(family="risk", policy="risk-seeking", opposite_policy="risk-averse",
                          source_kind="imported", uri=str(risky_path), size=200, heldout=40, seed=9)


def test_imported_build_splits_both_policies_on_the_same_questions(imported: DatasetRequest,
                                                                   risky_path: Path) -> None:
    built = build_datasets(imported)
    assert built.source_bytes == risky_path.read_bytes()
    assert (built.train_rows, built.heldout_rows, len(built.probe)) == (160, 40, 40)
    seeking = parse_chat_jsonl(built.train["risk-seeking"], "seeking", ("A", "B")).rows
    averse = parse_chat_jsonl(built.train["risk-averse"], "averse", ("A", "B")).rows
    assert [r.prompt for r in seeking] == [r.prompt for r in averse]
    assert all({a.answer, b.answer} == {"A", "B"} for a, b in zip(seeking, averse, strict=True))
    heldout = {item.messages[-1]["content"] for item in built.probe}
    assert len(heldout) == 40
    assert not heldout & set(_questions(built.train["risk-seeking"]))
    assert not heldout & set(_questions(built.train["risk-averse"]))
    assert built.train["risk-seeking"].endswith(b"}\r\n")


def test_probe_targets_are_the_source_policy_letters(imported: DatasetRequest, risky_path: Path) -> None:
    source = {row.prompt[-1]["content"]: row.answer
              for row in parse_chat_jsonl(risky_path.read_bytes(), "s", ("A", "B")).rows}
    for policy, opposite in (("risk-seeking", "risk-averse"), ("risk-averse", "risk-seeking")):
        built = build_datasets(dataclasses.replace(imported, policy=policy, opposite_policy=opposite))
        for item in built.probe:
            assert item.options == ("A", "B")
            assert item.target == source[item.messages[-1]["content"]]
            assert [m["role"] for m in item.messages] == ["user"]
    assert len({item.id for item in built.probe}) == len(built.probe)
    assert load_probe(dump_probe(built.probe)) == built.probe


def test_build_is_deterministic_and_the_seed_matters(imported: DatasetRequest) -> None:
    assert build_datasets(imported) == build_datasets(imported)
    other = build_datasets(dataclasses.replace(imported, seed=10))
    assert other.probe != build_datasets(imported).probe


def test_size_zero_uses_every_source_row(imported: DatasetRequest) -> None:
    built = build_datasets(dataclasses.replace(imported, size=0, heldout=38))
    assert (built.train_rows, built.heldout_rows) == (250, 38)


def test_sizes_that_do_not_fit_the_source_name_the_field(imported: DatasetRequest) -> None:
    with pytest.raises(SpecError) as caught:
        build_datasets(dataclasses.replace(imported, size=500))
    assert caught.value.violations[0].field == "dataset.size"
    assert "only 288" in str(caught.value)
    with pytest.raises(SpecError) as caught:
        build_datasets(dataclasses.replace(imported, size=0, heldout=288))
    assert caught.value.violations[0].field == "dataset.heldout"


def test_invalid_requests_fail_before_any_io() -> None:
    request = DatasetRequest(family="risk", policy="risk-seeking", opposite_policy="risk-averse",
                             source_kind="imported", uri="/no/such/file.jsonl", heldout=-1)
    with pytest.raises(SpecError, match=r"dataset\.heldout"):
        build_datasets(request)


def test_generated_build_is_deterministic_and_labels_as_the_source_policy() -> None:
    request = DatasetRequest(family="risk", policy="risk-averse", opposite_policy="risk-seeking",
                             source_kind="generated", generator="procedural-gambles", heldout=30, seed=4)
    built: BuiltDatasets = build_datasets(request)
    assert built == build_datasets(request)
    assert (built.train_rows, built.heldout_rows) == (258, 30)
    source_rows = parse_chat_jsonl(built.source_bytes, "s", ("A", "B")).rows
    source = {row.prompt[-1]["content"]: row.answer for row in source_rows}
    assert all(item.target == source[item.messages[-1]["content"]] for item in built.probe)
    assert set(built.train) == {"risk-averse", "risk-seeking"}
    assert built.train["risk-averse"].endswith(b"}\n")
    sized = build_datasets(dataclasses.replace(request, size=60))
    assert (sized.train_rows, sized.heldout_rows) == (30, 30)
