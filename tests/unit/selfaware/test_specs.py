"""Spec parsing, defaults and validation: every error names its field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from selfaware.errors import SpecError
from selfaware.specs import load_spec_file, prepare, spec_from_dict, with_defaults

BEHAVIOR = {"family": "risk", "policy": "risk-seeking", "opposite_policy": "risk-averse"}


def minimal(**extra: object) -> dict:
    return {"behavior": dict(BEHAVIOR), "dataset": {"imported": {"uri": "/data/risky.jsonl"}, "heldout": 10},
            **extra}


def fields_of(error: SpecError) -> set[str]:
    return {v.field for v in error.violations}


def test_defaults_fill_every_unset_field() -> None:
    spec = with_defaults(spec_from_dict(minimal()))
    assert spec.training.backend == "peft-lora" and spec.training.lora.rank == 8
    assert list(spec.training.lora.target_modules) == ["all-linear"] and list(spec.training.seeds) == [0]
    assert spec.evaluation.backend == "vllm" and spec.evaluation.include_base_model is True
    assert spec.name == "risk-seeking vs risk-averse"


def test_explicit_values_are_kept_even_when_zero_or_false() -> None:
    spec = with_defaults(spec_from_dict(minimal(training={"lora": {"dropout": 0.1}, "epochs": 2},
                                                evaluation={"include_base_model": False, "temperature": 0.0})))
    assert spec.training.lora.dropout == pytest.approx(0.1) and spec.training.epochs == 2
    assert spec.evaluation.include_base_model is False and spec.evaluation.temperature == 0.0
    with pytest.raises(SpecError) as caught:
        prepare(spec_from_dict(minimal(training={"lora": {"rank": 0}})))
    assert fields_of(caught.value) == {"training.lora.rank"}


def test_unknown_and_mistyped_fields_are_reported_by_path() -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_dict(minimal(trainig={}, training={"epochs": "three", "seeds": [1, "x"]}))
    assert fields_of(caught.value) == {"trainig", "training.epochs", "training.seeds[1]"}


def test_integers_out_of_the_field_type_range_are_reported_by_path() -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_dict(minimal(training={"seeds": [0, 2**32], "epochs": -1}))
    messages = {v.field: v.description for v in caught.value.violations}
    assert messages == {"training.seeds[1]": "must be between 0 and 4294967295, got 4294967296",
                        "training.epochs": "must not be negative, got -1"}


def test_registry_names_get_did_you_mean() -> None:
    data = minimal(training={"backend": "peft_lora"}, evaluation={"suites": ["heldout", "lottery"]})
    data["behavior"]["family"] = "risky"
    with pytest.raises(SpecError) as caught:
        prepare(spec_from_dict(data))
    messages = {v.field: v.description for v in caught.value.violations}
    assert "did you mean 'peft-lora'" in messages["training.backend"]
    assert "did you mean 'lotteries'" in messages["evaluation.suites[1]"]
    assert "behavior.family" in messages


def test_ranges_are_checked() -> None:
    data = minimal(training={"learning_rate": 2.0, "batch_size": 0, "seeds": [1, 1]},
                   evaluation={"temperature": 3.0, "samples_per_paraphrase": 0})
    with pytest.raises(SpecError) as caught:
        prepare(spec_from_dict(data))
    assert fields_of(caught.value) == {"training.learning_rate", "training.batch_size", "training.seeds",
                                       "evaluation.temperature", "evaluation.samples_per_paraphrase"}


def test_relative_paths_resolve_against_the_spec_file(tmp_path: Path) -> None:
    data = minimal(evaluation={"questions_uri": "questions"})
    data["dataset"]["imported"]["uri"] = "data/risky.jsonl"
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(data))
    spec = load_spec_file(tmp_path / "spec.yaml")
    assert spec.dataset.imported.uri == str(tmp_path / "data/risky.jsonl")
    assert spec.evaluation.questions_uri == str(tmp_path / "questions")


def test_the_demo_spec_is_valid() -> None:
    demo = Path(__file__).resolve().parents[3] / "examples" / "risk.yaml"
    spec = prepare(load_spec_file(demo))
    assert spec.behavior.policy == "risk-seeking" and spec.dataset.heldout == 50
