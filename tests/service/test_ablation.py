"""examples/ablation.yaml (four arms: sizes × epochs from one source) validates, plans, and runs end to end when
scaled down: sizes 2 and 4 instead of 32 and 128 (batch size 2, so the step counts still differ by size and by
epochs), epochs 1 and 2 instead of 1 and 3, 4 held-out rows, 4 lottery pairs, and the hf engine (the report's
shape does not depend on the engine; vLLM's minute of start-up is tested in tests/slow). On 2 busy cores a step
of 8 rows costs about 10 s and a probe query about 1 s, so the sizes are what bounds this test's time."""

from __future__ import annotations

import asyncio
import json

import pytest

from selfaware.specs import load_spec_file
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SIZES = {"n32": 2, "n128": 4}
EPOCHS = {"e1": 1, "e3": 2}


def scaled_ablation() -> spec_pb2.ExperimentSpec:
    spec = load_spec_file(REPO / "examples" / "ablation.yaml")
    spec.holdout.rows = 4
    spec.training.batch_size = 2
    for arm in spec.arms:
        size, epochs = arm.name.split("-")
        arm.data.steps[0].value.number_value = SIZES[size]
        arm.training.epochs = EPOCHS[epochs]
    spec.evaluation.suites[1].params["pairs"] = 4
    spec.evaluation.engine = "hf"
    return spec


async def test_the_full_size_ablation_validates_and_plans_four_arms(platform) -> None:  # type: ignore[no-untyped-def]
    async with platform.client() as client:
        checked = await client.validate(load_spec_file(REPO / "examples" / "ablation.yaml"))
    assert not checked.violations, checked.violations
    assert [j for j in checked.jobs if j.startswith("train.")] == [
        "train.n32-e1.s0", "train.n32-e3.s0", "train.n128-e1.s0", "train.n128-e3.s0"]
    sizes = {a.name: a.data.steps[0].params["rows"] for a in checked.completed.arms}
    assert sizes == {"n32-e1": 32, "n32-e3": 32, "n128-e1": 128, "n128-e3": 128}


async def test_the_scaled_ablation_runs_end_to_end(platform) -> None:  # type: ignore[no-untyped-def]
    async with platform.client() as client:
        experiment = await client.submit(scaled_ablation())

        async def finish() -> None:
            async for _ in client.watch(experiment.id):
                pass

        await asyncio.wait_for(finish(), timeout=900)
        final = await client.get(experiment.id)
        assert final.experiment.status == rec.EXPERIMENT_STATUS_SUCCEEDED, final.experiment.error
        report = await client.report(experiment.id)
    jobs = {j.key: j for j in final.jobs}
    # steps = ceil(rows / batch 2) × epochs
    assert {k: int(j.metrics["steps"]) for k, j in jobs.items() if k.startswith("train.")} == {
        "train.n32-e1.s0": 1, "train.n32-e3.s0": 2, "train.n128-e1.s0": 2, "train.n128-e3.s0": 4}
    document = json.loads(report.json)
    assert document["schema_version"] == 3
    for instance in document["instances"]:
        assert [g["label"] for g in instance["groups"]] == ["base", "n32-e1", "n32-e3", "n128-e1", "n128-e3"]
        compared = [(c["minuend"], c["subtrahend"]) for c in instance["comparisons"] if c["kind"] == "compare"]
        assert compared == [("n128-e3", "n32-e1"), ("n128-e1", "n32-e1"), ("n32-e3", "n32-e1")]
