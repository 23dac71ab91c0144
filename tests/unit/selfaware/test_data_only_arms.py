"""Data-only arms (`train: false`): built for other arms' steps to read, but never trained or evaluated."""

from __future__ import annotations

from selfaware.plan import plan_jobs, planned_models
from selfaware.specs import planned_job_count, spec_from_dict, structural_violations, with_defaults
from selfaware.v1 import spec_pb2


def spec(train: object = False, suite_arms: list[str] | None = None) -> spec_pb2.ExperimentSpec:
    suite: object = {"heldout": {"arms": suite_arms}} if suite_arms else "heldout"
    return with_defaults(spec_from_dict({
        "base_models": [{"name": "m"}],
        "arms": {"normal": {"data": {"import": "/x.jsonl"}, "train": train},
                 "backdoored": {"data": {"import": "/y.jsonl", "steps": [{"mix": {"of": "normal"}}]}}},
        "training": {"seeds": [0, 1]},
        "evaluation": {"engine": "vllm", "suites": [suite]},
    }))


def test_a_data_only_arm_plans_no_training_and_no_evaluation() -> None:
    planned = spec()
    assert [m.label for m in planned_models(planned)] == ["base", "backdoored/s0", "backdoored/s1"]
    keys = [job.key for job in plan_jobs("x", planned)]
    assert not [k for k in keys if ".normal." in k] and "train.backdoored.s1" in keys
    assert planned_job_count(planned) == len(keys)


def test_train_true_or_unset_trains_as_before() -> None:
    assert "normal/s1" in [m.label for m in planned_models(spec(train=True))]


def test_train_must_be_a_boolean_and_a_data_only_arm_cannot_be_asked() -> None:
    fields = {v.field: v.description for v in structural_violations(spec(train="sometimes"))}
    assert "must be true or false" in fields["arms.normal.train"]
    fields = {v.field: v.description for v in structural_violations(spec(suite_arms=["normal"]))}
    assert "data-only" in fields["evaluation.suites[0].arms"]


def test_at_least_one_arm_is_trained() -> None:
    only = with_defaults(spec_from_dict({
        "base_models": [{"name": "m"}], "arms": {"normal": {"data": {"import": "/x.jsonl"}, "train": False}},
        "evaluation": {"engine": "vllm", "suites": ["heldout"]}}))
    assert "every arm is data-only" in {v.field: v.description for v in structural_violations(only)}["arms"]
