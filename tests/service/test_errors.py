"""Bad input and unknown ids get the right gRPC status; a job that cannot succeed fails its experiment."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from selfaware.grpc_server import field_violations
from selfaware.specs import spec_from_dict
from selfaware.v1 import generator_pb2, generator_pb2_grpc, trainer_pb2, trainer_pb2_grpc
from selfaware.v1 import records_pb2 as rec
from tests.service.streams import events_of, wait_until_idle


async def test_every_bad_field_is_named_at_submit_before_anything_starts(platform, make_spec, tmp_path
                                                                         ) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(training__lora={"rank": 0})
    spec["arms"]["risk-seeking"]["data"]["import"] = str(tmp_path / "nowhere.jsonl")
    spec["evaluation"]["suites"][0] = "heldot"
    spec["evaluation"]["suites"][1] = {"lotteries": {"pairs": 0, "colour": "red"}}
    spec["evaluation"]["suites"][2]["risk_or_safety"]["questions"] = str(tmp_path / "no-questions")
    async with platform.client() as client:
        before = len(await client.list())
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.submit(spec_from_dict(spec))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        fields = dict(field_violations(caught.value))
        assert set(fields) == {"training.lora.rank", "arms.risk-seeking.data.import", "evaluation.suites[0]",
                               "evaluation.suites[1].params.pairs", "evaluation.suites[1].params.colour",
                               "evaluation.suites[2].params.questions"}, fields
        assert "did you mean 'heldout'" in fields["evaluation.suites[0]"]
        assert "nowhere.jsonl" in fields["arms.risk-seeking.data.import"]
        assert len(await client.list()) == before  # validation happens before any side effect
        checked = await client.validate(spec_from_dict(spec))
        assert {v.field for v in checked.violations} == set(fields) and not checked.jobs


async def test_validate_completes_a_good_spec_and_lists_its_jobs(platform, make_spec) -> None:  # type: ignore[no-untyped-def]
    async with platform.client() as client:
        before = len(await client.list())
        checked = await client.validate(spec_from_dict(make_spec()))
        assert not checked.violations
        assert list(checked.jobs) == ["dataset", "train.risk-seeking.s0", "train.risk-averse.s0", "eval.base",
                                      "eval.risk-seeking.s0", "eval.risk-averse.s0", "report"]
        lotteries = checked.completed.evaluation.suites[1]
        assert lotteries.id == "lotteries" and lotteries.params["pairs"] == 8 and "seed" in lotteries.params
        step = checked.completed.arms[0].data.steps[0]
        assert step.name == "sample" and step.params["rows"] == 32 and not step.HasField("value")
        assert len(await client.list()) == before
        catalogues = {c.service: c for c in (await client.catalogues()).catalogues}
    assert set(catalogues) == {"aggregator", "generator", "trainer", "evaluator"}
    kinds = {(e.kind, e.name) for c in catalogues.values() for e in c.capabilities}
    assert {("step", "flip"), ("suite", "heldout"), ("engine", "vllm"), ("training_backend", "peft-lora")} <= kinds


@pytest.mark.parametrize("call", ["get", "cancel", "report"])
async def test_unknown_experiment_is_not_found(platform, call: str) -> None:  # type: ignore[no-untyped-def]
    async with platform.client() as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await getattr(client, call)("no-such-experiment")
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert "no-such-experiment" in caught.value.details()


async def test_unknown_experiment_is_not_found_everywhere(platform) -> None:  # type: ignore[no-untyped-def]
    async with platform.client() as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in client.watch("no-such-experiment"):
                pass
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['generator']}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await generator_pb2_grpc.GeneratorServiceStub(channel).GetDatasetManifest(
                generator_pb2.GetDatasetManifestRequest(experiment_id="no-such-experiment"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['trainer']}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await trainer_pb2_grpc.TrainerServiceStub(channel).ListTrainingJobs(
                trainer_pb2.ListTrainingJobsRequest(experiment_id="no-such-experiment"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_malformed_dataset_fails_the_experiment_with_the_path_named(platform, make_spec, tmp_path
                                                                            ) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": [{"role": "user", "content": "A or B?"}]}\nnot json\n')
    spec = make_spec()
    spec["arms"]["risk-seeking"]["data"] = {"import": str(broken)}
    async with platform.client() as client:
        experiment = await client.submit(spec_from_dict(spec))
        async for _ in client.watch(experiment.id):
            pass
        final = await client.get(experiment.id)
        assert final.experiment.status == rec.EXPERIMENT_STATUS_FAILED
        assert str(broken) in final.experiment.error
        jobs = {j.key: j for j in final.jobs}
        assert jobs["dataset"].status == rec.JOB_STATUS_FAILED and str(broken) in jobs["dataset"].message
        assert {j.status for k, j in jobs.items() if k != "dataset"} == {rec.JOB_STATUS_CANCELLED}
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.report(experiment.id)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND and "no report yet" in caught.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.cancel(experiment.id)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(caught.value)] == ["experiment_id"]


async def test_every_service_reports_health_and_reflects_its_api(platform) -> None:  # type: ignore[no-untyped-def]
    for name, port in platform.ports.items():
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            service = f"selfaware.v1.{name.capitalize()}Service"
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            listed = [s.name async for r in stream for s in r.list_services_response.service]
            assert service in listed and "grpc.health.v1.Health" in listed


async def test_cancel_stops_a_running_training_job(platform, make_spec) -> None:  # type: ignore[no-untyped-def]
    spec = spec_from_dict(make_spec(training__epochs=200, training__batch_size=2,  # short steps: it waits for one
                                    evaluation__include_base_model=False))
    async with platform.client() as client:
        experiment = await client.submit(spec)

        async def training_started() -> None:
            while True:
                jobs = {j.key: j for j in (await client.get(experiment.id)).jobs}
                if jobs["train.risk-seeking.s0"].done >= 1 or jobs["train.risk-averse.s0"].done >= 1:
                    return
                await asyncio.sleep(0.2)

        await asyncio.wait_for(training_started(), 300)
        cancelled = await client.cancel(experiment.id, "test cancels")
        assert cancelled.status == rec.EXPERIMENT_STATUS_CANCELLED and cancelled.error == "test cancels"
        await asyncio.sleep(5.0)  # the trainer notices at its next progress write (about a second)
        final = await client.get(experiment.id)
    assert final.experiment.status == rec.EXPERIMENT_STATUS_CANCELLED
    assert {j.status for j in final.jobs if j.key != "dataset"} == {rec.JOB_STATUS_CANCELLED}
    await wait_until_idle(platform.bus)
    assert "adapter.ready" not in await events_of(platform.bus, experiment.id)
