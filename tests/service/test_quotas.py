"""Quotas per owner on a real aggregator (issue 13, item 4): each quota exceeded is RESOURCE_EXHAUSTED naming the
quota, the owner's usage and the limit, with nothing stored or announced; quotas are per owner; a sweep cell that
does not fit beside its owner's running experiments waits held and is admitted once there is room, and a sweep
with a cell that could never fit is refused whole.

The tiny spec's estimate (services/aggregator/quotas.py): two arms of 32 training rows (`sample: 32`, and `of`
it), one seed, one base model: 64 training rows + 8 held-out probes x 3 models = 88 samples; 64 rows x epochs
trained, so with `quota_train_samples_per_gpu_hour=64` one GPU hour per epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from selfaware.specs import spec_from_dict
from selfaware.sweeps import load_sweep_file
from selfaware.v1 import aggregator_pb2 as pb
from tests.service.authz import LoneAggregator, start_aggregator
from tests.service.conftest import tiny_spec_dict
from tests.service.streams import all_events


@pytest.fixture
def spec(risky_dataset: Path, questions_dir: Path) -> dict[str, Any]:
    return tiny_spec_dict(risky_dataset, questions_dir)


def submit(spec: dict[str, Any], **changes: Any) -> pb.SubmitExperimentRequest:
    return pb.SubmitExperimentRequest(spec=spec_from_dict({**spec, **changes}))


async def stored_and_announced(agg: LoneAggregator) -> tuple[int, int]:
    listed = await agg.call("ListExperiments", pb.ListExperimentsRequest(), "admin")
    announced = [e for subject, e in await all_events(agg.bus) if subject == "experiment.submitted"]
    return len(listed.experiments), len(announced)


async def refused(agg: LoneAggregator, method: str, request: Any, role: str = "owner") -> str:
    """The details of `method`'s RESOURCE_EXHAUSTED, checking that nothing was stored or announced."""
    before = await stored_and_announced(agg)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await agg.call(method, request, role)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value.details()
    assert await stored_and_announced(agg) == before
    return caught.value.details()


async def test_experiments_in_flight_per_owner(tmp_path: Path, spec: dict[str, Any]) -> None:
    async with start_aggregator(tmp_path, quota_experiments_in_flight=2) as agg:
        first = await agg.call("SubmitExperiment", submit(spec), "owner")
        await agg.call("SubmitExperiment", submit(spec), "owner")
        details = await refused(agg, "SubmitExperiment", submit(spec))
        assert "experiments_in_flight" in details and "alice has 2 experiments in flight" in details
        assert "limit is 2" in details
        await agg.call("SubmitExperiment", submit(spec), "other")  # bob's quota is his own
        await agg.call("CancelExperiment", pb.CancelExperimentRequest(experiment_id=first.id), "owner")
        await agg.call("SubmitExperiment", submit(spec), "owner")  # an ended experiment frees its room


async def test_samples_per_experiment(tmp_path: Path, spec: dict[str, Any]) -> None:
    async with start_aggregator(tmp_path, quota_samples_per_experiment=87) as agg:
        details = await refused(agg, "SubmitExperiment", submit(spec))
        assert "samples_per_experiment" in details and "estimated 88 samples" in details and "is 87" in details
        smaller = {**spec, "holdout": {"rows": 7, "seed": 0}}  # 64 + 7 x 3 = 85
        assert (await agg.call("SubmitExperiment", submit(smaller), "owner")).owner == "alice"


async def test_gpu_hours_in_flight(tmp_path: Path, spec: dict[str, Any]) -> None:
    async with start_aggregator(tmp_path, quota_gpu_hours_in_flight=2.5, quota_train_samples_per_gpu_hour=64) as agg:
        await agg.call("SubmitExperiment", submit(spec), "owner")  # 1 GPU hour
        three_epochs = {**spec, "training": {**spec["training"], "epochs": 3}}
        details = await refused(agg, "SubmitExperiment", submit(three_epochs))
        assert "gpu_hours_in_flight" in details and "1.00 GPU hours in flight" in details
        assert "adds 3.00" in details and "limit is 2.5" in details
        await agg.call("SubmitExperiment", submit(spec), "owner")  # 1 + 1 fits


def sweep_request(folder: Path, spec: dict[str, Any], epochs: list[int], name: str) -> pb.SubmitSweepRequest:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "experiment": spec, "grid": {"training.epochs": epochs}}))
    return pb.SubmitSweepRequest(spec=load_sweep_file(path), idempotency_key=f"sweep:{name}")


async def test_a_sweep_cell_waits_for_its_owners_room(tmp_path: Path, spec: dict[str, Any]) -> None:
    async with start_aggregator(tmp_path, quota_experiments_in_flight=1, sweep_slots=4,
                                sweep_interval_s=0.2) as agg:
        sweep = await agg.call("SubmitSweep", sweep_request(tmp_path, spec, [1, 2], "two"), "owner")
        assert [cell.held for cell in sweep.cells] == [False, True]  # slots for both, quota for one
        details = await refused(agg, "SubmitExperiment", submit(spec))
        assert "experiments_in_flight" in details
        await agg.call("CancelExperiment", pb.CancelExperimentRequest(experiment_id=sweep.cells[0].experiment_id),
                       "owner")
        watched = agg.stub.WatchSweep(pb.WatchSweepRequest(sweep_id=sweep.id),
                                      metadata=(("authorization", f"Bearer {agg.tokens['owner']}"),), timeout=30)
        async for update in watched:
            if not update.cells[1].held:
                watched.cancel()
                break
        else:
            pytest.fail("the held cell was not admitted once its owner had room")


async def test_a_sweep_with_a_cell_that_could_never_fit_is_refused_whole(tmp_path: Path, spec: dict[str, Any]
                                                                          ) -> None:
    async with start_aggregator(tmp_path, quota_gpu_hours_in_flight=2.5, quota_train_samples_per_gpu_hour=64) as agg:
        details = await refused(agg, "SubmitSweep", sweep_request(tmp_path, spec, [1, 2, 3], "three"))
        assert details.startswith("cells[2] (training.epochs=3): quota gpu_hours_in_flight")
        assert "adds 3.00" in details
        assert not (await agg.call("ListSweeps", pb.ListSweepsRequest(), "admin")).sweeps
