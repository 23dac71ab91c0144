from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from services.generator.request import DatasetRequest, validate_dataset_request

GOOD_IMPORT = DatasetRequest(family="risk", policy="risk-seeking", opposite_policy="risk-averse",
                             source_kind="imported", uri="https://example.org/ft_risky_AB.jsonl", heldout=38)
GOOD_GENERATED = DatasetRequest(family="risk", policy="risk-averse", opposite_policy="risk-seeking",
                                source_kind="generated", generator="procedural-gambles", size=100, heldout=20,
                                seed=3)


def _fields(request: DatasetRequest) -> dict[str, str]:
    return {v.field: v.description for v in validate_dataset_request(request)}


def test_good_requests_pass() -> None:
    assert validate_dataset_request(GOOD_IMPORT) == []
    assert validate_dataset_request(GOOD_GENERATED) == []
    assert validate_dataset_request(dataclasses.replace(GOOD_IMPORT, uri="/data/rows.jsonl")) == []


@pytest.mark.parametrize(("changes", "field", "text"), [
    ({"family": "risc"}, "behavior.family", "did you mean 'risk'"),
    ({"policy": "risky"}, "behavior.policy", "choose one of risk-seeking, risk-averse"),
    ({"opposite_policy": "risk-seeking"}, "behavior.opposite_policy", "must be 'risk-averse'"),
    ({"opposite_policy": ""}, "behavior.opposite_policy", "must be 'risk-averse'"),
    ({"uri": " "}, "dataset.imported.uri", "is empty"),
    ({"uri": "s3://bucket/rows.jsonl"}, "dataset.imported.uri", "unsupported scheme 's3'"),
    ({"source_kind": "other"}, "dataset", "imported, generated"),
    ({"size": 10, "heldout": 10}, "dataset.heldout", "less than the 10 rows"),
    ({"size": -1}, "dataset.size", "negative"),
    ({"seed": -1}, "dataset.seed", "negative"),
])
def test_imported_violations_name_the_field(changes: dict[str, Any], field: str, text: str) -> None:
    fields = _fields(dataclasses.replace(GOOD_IMPORT, **changes))
    assert field in fields and text in fields[field], fields


@pytest.mark.parametrize(("changes", "field", "text"), [
    ({"generator": "procedural-gamble"}, "dataset.generated.generator", "choose one of: procedural-gambles"),
    ({"size": 0, "heldout": 288}, "dataset.heldout", "less than the 288 rows"),
    ({"size": 10**9}, "dataset.size", "limit"),
])
def test_generated_violations_name_the_field(changes: dict[str, Any], field: str, text: str) -> None:
    fields = _fields(dataclasses.replace(GOOD_GENERATED, **changes))
    assert field in fields and text in fields[field], fields


def test_several_problems_are_reported_together() -> None:
    bad = dataclasses.replace(GOOD_GENERATED, family="nope", generator="nope", heldout=100)
    assert set(_fields(bad)) == {"behavior.family", "dataset.generated.generator", "dataset.heldout"}
