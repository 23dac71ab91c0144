"""Epoch checkpoints as models (`evaluation.checkpoints`): planned as "<arm>/s<seed>/e<k>" for every epoch before the
last, evaluated but never trained on their own, and given their training's checkpoint of that epoch."""

from __future__ import annotations

from selfaware.plan import attach_trained, plan_jobs, planned_models, train_job, training_label
from selfaware.specs import planned_job_count, spec_from_dict, with_defaults
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2


def spec(checkpoints: bool = True, epochs: int = 3, arm_epochs: int | None = None) -> spec_pb2.ExperimentSpec:
    arms = {"a": {"data": {"import": "/x.jsonl"}}, "b": {"data": {"import": "/x.jsonl"}}}
    if arm_epochs is not None:
        arms["b"]["training"] = {"epochs": arm_epochs}
    return with_defaults(spec_from_dict({
        "base_models": [{"name": "m"}], "arms": arms,
        "training": {"seeds": [0, 1], "epochs": epochs},
        "evaluation": {"engine": "vllm", "checkpoints": checkpoints, "suites": ["heldout"]},
    }))


def test_every_epoch_before_the_last_is_a_model_before_its_final_model() -> None:
    labels = [m.label for m in planned_models(spec(arm_epochs=2))]
    assert labels == ["base", "a/s0/e1", "a/s0/e2", "a/s0", "a/s1/e1", "a/s1/e2", "a/s1",
                      "b/s0/e1", "b/s0", "b/s1/e1", "b/s1"]
    e2 = next(m for m in planned_models(spec()) if m.label == "a/s1/e2")
    assert (e2.arm, e2.seed, e2.epoch) == ("a", 1, 2) and training_label(e2) == "a/s1"


def test_without_the_flag_no_checkpoint_is_planned() -> None:
    assert [m.label for m in planned_models(spec(checkpoints=False))] == ["base", "a/s0", "a/s1", "b/s0", "b/s1"]
    assert all(m.epoch == 0 for m in planned_models(spec(checkpoints=False)))


def test_checkpoints_get_evaluation_jobs_but_no_training_jobs_and_the_count_matches() -> None:
    planned = spec()
    keys = [j.key for j in plan_jobs("x", planned)]
    assert [k for k in keys if k.startswith("train.")] == ["train.a.s0", "train.a.s1", "train.b.s0", "train.b.s1"]
    assert "eval.a.s0.e1" in keys and "eval.b.s1.e2" in keys and "train.a.s0.e1" not in keys
    assert planned_job_count(planned) == len(keys) == 1 + 4 + (1 + 4 + 8) + 1


def trained(*checkpoints: rec.Checkpoint, status: int = rec.JOB_STATUS_SUCCEEDED) -> dict[str, rec.Job]:
    job = rec.Job(key=train_job("a/s0"), status=status, artifact=rec.ArtifactRef(sha256="final"),
                  checkpoints=list(checkpoints))
    return {job.key: job}


def model(label: str) -> rec.ModelUnderTest:
    return next(m for m in planned_models(spec()) if m.label == label)


def test_a_checkpoint_model_gets_the_last_checkpoint_of_its_epoch() -> None:
    jobs = trained(rec.Checkpoint(epoch=1, step=5, adapter=rec.ArtifactRef(sha256="mid-e1")),
                   rec.Checkpoint(epoch=1, step=10, adapter=rec.ArtifactRef(sha256="end-e1")),
                   rec.Checkpoint(epoch=2, step=20, adapter=rec.ArtifactRef(sha256="end-e2")))
    first, second, final = model("a/s0/e1"), model("a/s0/e2"), model("a/s0")
    assert attach_trained(first, jobs) and first.adapter.sha256 == "end-e1"
    assert attach_trained(second, jobs) and second.adapter.sha256 == "end-e2"
    assert attach_trained(final, jobs) and final.adapter.sha256 == "final"


def test_a_hosted_checkpoint_is_its_served_model() -> None:
    jobs = trained(rec.Checkpoint(epoch=1, step=36, served_model="ft:m:risk:ckpt-step-36"))
    first = model("a/s0/e1")
    assert attach_trained(first, jobs)
    assert first.served_model == "ft:m:risk:ckpt-step-36" and not first.adapter.sha256


def test_nothing_is_attached_before_the_training_succeeded_or_for_an_epoch_it_did_not_keep() -> None:
    first = model("a/s0/e1")
    assert not attach_trained(first, trained(status=rec.JOB_STATUS_RUNNING))
    assert not attach_trained(first, {})
    assert attach_trained(first, trained()) and not first.adapter.sha256 and not first.served_model
