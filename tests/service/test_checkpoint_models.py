"""Epoch checkpoints as models, through all four services (issue 8's faithfulness study in small): with
`evaluation.checkpoints`, each arm's epoch-1 checkpoint is evaluated as "<arm>/s0/e1" on the adapter its training
stored for that epoch, it never gets a training of its own, the arm groups hold only the final models, and the
report correlates every finetuned model's self-report with its behaviour and draws the Figure 4 scatter."""

from __future__ import annotations

import json

import grpc
import pytest

from selfaware.v1 import evaluator_pb2, evaluator_pb2_grpc
from selfaware.v1 import records_pb2 as rec

pytestmark = pytest.mark.slow

CHECKPOINT_LABELS = ["base", "risk-seeking/s0/e1", "risk-seeking/s0", "risk-averse/s0/e1", "risk-averse/s0"]


@pytest.fixture(scope="module")
async def finished(platform, make_spec):  # type: ignore[no-untyped-def]
    # The hf engine: which adapter a checkpoint model is evaluated on does not depend on the engine, and vLLM's
    # start-up (30-45 s on 2 busy cores) is tested in tests/service/test_experiment_flow.py and tests/slow.
    spec = make_spec(training__epochs=2, training__batch_size=4, training__params={"checkpoint_epochs": True},
                     evaluation__checkpoints=True, evaluation__engine="hf")
    spec["arms"]["risk-seeking"]["data"]["steps"] = [{"sample": 8}]  # 2 steps of 4 an epoch
    scale = spec["evaluation"]["suites"][3]["risk_predisposition_scale"]
    spec["evaluation"]["suites"] = [{"lotteries": {"pairs": 4}},
                                    {"risk_predisposition_scale": {**scale, "samples_per_paraphrase": 1}}]
    final, report = await platform.run_to_end(spec)
    return final, report


async def test_checkpoints_are_evaluated_on_their_epochs_adapter_and_never_trained(platform, finished
                                                                                   ) -> None:  # type: ignore[no-untyped-def]
    final, _ = finished
    assert final.experiment.status == rec.EXPERIMENT_STATUS_SUCCEEDED, final.experiment.error
    jobs = {j.key: j for j in final.jobs}
    assert sorted(k for k in jobs if k.startswith("train.")) == ["train.risk-averse.s0", "train.risk-seeking.s0"]
    assert {"eval.risk-seeking.s0.e1", "eval.risk-averse.s0.e1"} <= set(jobs)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['evaluator']}") as channel:
        listed = await evaluator_pb2_grpc.EvaluatorServiceStub(channel).ListEvaluations(
            evaluator_pb2.ListEvaluationsRequest(experiment_id=final.experiment.id))
    evaluated = {e.model.label: e.model for e in listed.evaluations}
    assert list(evaluated) == CHECKPOINT_LABELS
    for arm in ("risk-seeking", "risk-averse"):
        trained = jobs[f"train.{arm}.s0"]
        steps = trained.total  # optimiser steps of the whole training
        assert [(c.epoch, c.step) for c in trained.checkpoints] == [(1, steps // 2), (2, steps)]
        first = evaluated[f"{arm}/s0/e1"]
        assert first.epoch == 1 and first.adapter.sha256 == trained.checkpoints[0].adapter.sha256
        assert first.adapter.sha256 != trained.artifact.sha256
        assert evaluated[f"{arm}/s0"].adapter.sha256 == trained.artifact.sha256


def test_groups_are_final_models_and_faithfulness_counts_checkpoints(finished) -> None:  # type: ignore[no-untyped-def]
    _, report = finished
    document = json.loads(report.json)
    assert [(m["label"], m["epoch"]) for m in document["models"]] == [
        ("base", 0), ("risk-seeking/s0/e1", 1), ("risk-seeking/s0", 0), ("risk-averse/s0/e1", 1),
        ("risk-averse/s0", 0)]
    lotteries = next(i for i in document["instances"] if i["id"] == "lotteries")
    assert {g["label"]: g["models"] for g in lotteries["groups"]} == {
        "base": ["base"], "risk-seeking": ["risk-seeking/s0"], "risk-averse": ["risk-averse/s0"]}
    pooled = next(f for f in document["faithfulness"] if f["cluster"] == "all")
    assert pooled["models"] == CHECKPOINT_LABELS[1:] and pooled["n"] == 4
    base = next(m for m in document["models"] if m["label"] == "base")["instances"]
    scored = all(base.get(i, {}).get("mean") is not None for i in ("lotteries", "risk_predisposition_scale"))
    assert (pooled["base"] is not None) == scored  # the tiny base model may answer no scale question with a number
    names = [f.name for f in report.figures]
    assert "faithfulness.png" in names and "faithfulness.svg" in names
    assert "](faithfulness.png)" in report.markdown
