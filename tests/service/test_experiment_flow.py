"""One real experiment through all four services: states, jobs, events, artifacts, report, and idempotency."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest

from selfaware.plan import plan_jobs
from selfaware.service import run_service
from selfaware.specs import spec_from_dict
from selfaware.status import now
from selfaware.v1 import (
    evaluator_pb2,
    evaluator_pb2_grpc,
    generator_pb2,
    generator_pb2_grpc,
    spec_pb2,
    trainer_pb2,
    trainer_pb2_grpc,
)
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.evaluator.config import EvaluatorConfig
from services.evaluator.main import wire as wire_evaluator
from tests.conftest import CACHE
from tests.service.streams import events_of, wait_until_idle

pytestmark = pytest.mark.slow

S = rec.ExperimentStatus


@dataclass
class Finished:
    experiment: rec.Experiment
    jobs: dict[str, rec.Job]
    statuses: list[int]


@pytest.fixture(scope="module")
async def finished(platform, make_spec) -> Finished:  # type: ignore[no-untyped-def]
    async with platform.client() as client:
        spec = make_spec(**{"arms__risk-seeking__data__steps": [{"sample": 16}], "holdout__rows": 4})
        spec["evaluation"]["suites"][1] = {"lotteries": {"pairs": 4}}  # smaller than the default tiny spec
        submitted = await client.submit(spec_from_dict(spec))
        statuses: list[int] = []

        async def follow() -> None:
            async for update in client.watch(submitted.id):
                if update.HasField("experiment") and (not statuses or statuses[-1] != update.experiment.status):
                    statuses.append(update.experiment.status)

        await asyncio.wait_for(follow(), timeout=900)
        final = await client.get(submitted.id)
    return Finished(final.experiment, {j.key: j for j in final.jobs}, statuses)


def test_status_walks_through_every_stage(finished: Finished) -> None:
    assert finished.experiment.status == S.Value("EXPERIMENT_STATUS_SUCCEEDED"), finished.experiment.error
    assert [S.Name(s).removeprefix("EXPERIMENT_STATUS_") for s in finished.statuses] == [
        "GENERATING", "TRAINING", "EVALUATING", "REPORTING", "SUCCEEDED"]


def test_every_planned_job_succeeded_with_its_output(finished: Finished) -> None:
    assert sorted(finished.jobs) == ["dataset", "eval.base", "eval.risk-averse.s0", "eval.risk-seeking.s0",
                                     "report", "train.risk-averse.s0", "train.risk-seeking.s0"]
    for job in finished.jobs.values():
        assert job.status == rec.JOB_STATUS_SUCCEEDED, (job.key, job.message)
        if job.stage == rec.STAGE_EVALUATE:
            assert job.chunks and all(len(c.sha256) == 64 for c in job.chunks)
        else:
            assert len(job.artifact.sha256) == 64
        assert job.finished_at.ToNanoseconds() >= job.started_at.ToNanoseconds() > 0
    train = finished.jobs["train.risk-seeking.s0"]
    assert (train.done, train.total) == (2, 2)  # 16 training rows, batch 8, 1 epoch
    assert 0 < train.metrics["final_loss"] < 20


async def test_adapters_are_stored_in_peft_format(platform, finished: Finished) -> None:  # type: ignore[no-untyped-def]
    job = finished.jobs["train.risk-averse.s0"]
    data = await platform.store.get_bytes(job.artifact)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = set(tar.getnames())
        config = json.load(tar.extractfile("adapter_config.json"))  # type: ignore[arg-type]
        provenance = json.load(tar.extractfile("training_config.json"))  # type: ignore[arg-type]
    assert {"adapter_config.json", "adapter_model.safetensors", "training_config.json"} <= names
    assert config["r"] == 8 and config["lora_alpha"] == 16
    assert provenance["seed"] == 0 and provenance["rows"] == 16 and provenance["steps"] == 2


async def test_both_arms_train_on_the_same_questions_with_opposite_answers(platform, finished: Finished
                                                                          ) -> None:  # type: ignore[no-untyped-def]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['generator']}") as channel:
        stub = generator_pb2_grpc.GeneratorServiceStub(channel)
        manifest = await stub.GetDatasetManifest(
            generator_pb2.GetDatasetManifestRequest(experiment_id=finished.experiment.id))
    arms = {arm.arm: arm for arm in manifest.arms}
    sets = {name: [json.loads(line) for line in (await platform.store.get_bytes(arm.train)).decode().splitlines()]
            for name, arm in arms.items()}
    seeking, averse = sets["risk-seeking"], sets["risk-averse"]
    assert len(seeking) == len(averse) == arms["risk-seeking"].train_rows == 16
    for a, b in zip(seeking, averse, strict=True):
        assert a["messages"][0] == b["messages"][0]
        assert {a["messages"][1]["content"], b["messages"][1]["content"]} == {"A", "B"}
    probes = {name: rec.ProbeSet.FromString(await platform.store.get_bytes(arm.probe)) for name, arm in arms.items()}
    trained = {row["messages"][0]["content"] for row in seeking}
    assert len(probes["risk-seeking"].items) == arms["risk-seeking"].heldout_rows == 4
    assert not trained & {item.messages[0].content for item in probes["risk-seeking"].items}
    for a, b in zip(probes["risk-seeking"].items, probes["risk-averse"].items, strict=True):
        assert a.id == b.id and {a.target, b.target} == {"A", "B"}


async def test_the_events_of_the_experiment_were_each_published_once(platform, finished: Finished
                                                                     ) -> None:  # type: ignore[no-untyped-def]
    counts = await events_of(platform.bus, finished.experiment.id)
    assert counts == {"experiment.submitted": 1, "dataset.ready": 1, "training.requested": 2, "adapter.ready": 2,
                      "evaluation.requested": 1, "evaluation.completed": 3, "report.ready": 1}


async def test_records_are_typed_and_counterbalanced(platform, finished: Finished) -> None:  # type: ignore[no-untyped-def]
    job = finished.jobs["eval.risk-seeking.s0"]
    records = [r for ref in job.chunks for r in rec.RecordChunk.FromString(await platform.store.get_bytes(ref)).records]
    by_instance: dict[str, list[rec.EvalRecord]] = {}
    for record in records:
        by_instance.setdefault(record.suite_instance, []).append(record)
    assert len(by_instance["heldout"]) == 8  # 4 held-out items, each with the letters as written and swapped
    assert {r.permutation for r in by_instance["heldout"]} == {0, 1}
    lotteries = by_instance["lotteries"]
    assert len(lotteries) == 4 and sum(r.target == "A" for r in lotteries) == 2  # risky option A in half
    assert len(by_instance["risk_or_safety"]) == 20  # 10 paraphrases x 2 samples
    assert len({r.unit for r in records}) == len(records)
    for record in records:
        assert record.model == "risk-seeking/s0" and record.arm == "risk-seeking" and record.engine == "vllm"
        assert record.model_hash == finished.jobs["train.risk-seeking.s0"].artifact.sha256
        assert record.HasField("score") or record.dropped_reason


async def test_report_has_every_instance_for_both_arms_and_the_base_model(platform, finished: Finished
                                                                          ) -> None:  # type: ignore[no-untyped-def]
    async with platform.client() as client:
        report = await client.report(finished.experiment.id)
    document = json.loads(report.json)
    assert [i["id"] for i in document["instances"]] == ["heldout", "lotteries", "risk_or_safety",
                                                        "risk_predisposition_scale"]
    for instance in document["instances"][:2]:  # behaviour probes always score
        groups = {g["label"]: g for g in instance["groups"]}
        assert set(groups) == {"base", "risk-seeking", "risk-averse"}
        for group in groups.values():
            assert 0.0 <= group["mean"] <= 1.0 and group["ci_unit"] == "items"
        assert instance["two_option"] and 0.0 <= instance["base_p_a"]["base"] <= 1.0
        assert [c["minuend"] for c in instance["comparisons"] if c["kind"] == "compare"] == ["risk-seeking"]
    assert report.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert finished.experiment.id in report.markdown and "report.png" in report.markdown and "P(A)" in report.markdown
    # GetReport hands out every figure file the JSON lists, with the bytes it names by sha256.
    listed = {f["file"]: f["sha256"] for f in document["figures"]}
    assert [f.name for f in report.figures] == list(listed) and len(listed) > 2
    for figure in report.figures:
        assert hashlib.sha256(figure.data).hexdigest() == listed[figure.name]


async def test_services_list_their_part(platform, finished: Finished) -> None:  # type: ignore[no-untyped-def]
    experiment_id = finished.experiment.id
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['evaluator']}") as channel:
        evaluations = await evaluator_pb2_grpc.EvaluatorServiceStub(channel).ListEvaluations(
            evaluator_pb2.ListEvaluationsRequest(experiment_id=experiment_id))
    assert sorted(e.model.label for e in evaluations.evaluations) == ["base", "risk-averse/s0", "risk-seeking/s0"]
    assert all(len(e.scores) == 4 and e.chunks for e in evaluations.evaluations)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['trainer']}") as channel:
        jobs = await trainer_pb2_grpc.TrainerServiceStub(channel).ListTrainingJobs(
            trainer_pb2.ListTrainingJobsRequest(experiment_id=experiment_id))
    assert sorted(j.key for j in jobs.jobs) == ["train.risk-averse.s0", "train.risk-seeking.s0"]


async def test_redelivered_events_create_no_duplicate_work_or_records(platform, finished: Finished
                                                                      ) -> None:  # type: ignore[no-untyped-def]
    experiment_id = finished.experiment.id
    bus, state = platform.bus, platform.state
    before_jobs = {j.key: j.SerializeToString() for j in await state.list_jobs(experiment_id)}
    before_objects = await platform.store.names()
    before_events = await events_of(bus, experiment_id)
    manifest = rec.DatasetManifest.FromString(await platform.store.get_bytes(finished.jobs["dataset"].artifact))
    adapter = finished.jobs["train.risk-seeking.s0"].artifact
    model = rec.ModelUnderTest(label="risk-seeking/s0", arm="risk-seeking", seed=0)
    trained = rec.ModelUnderTest(label="risk-seeking/s0", arm="risk-seeking", seed=0, adapter=adapter)
    replays = [
        ev.ExperimentSubmitted(experiment_id=experiment_id),
        ev.DatasetReady(experiment_id=experiment_id, manifest=manifest),
        ev.TrainingRequested(experiment_id=experiment_id, model=model, train=manifest.arms[0].train),
        ev.AdapterReady(experiment_id=experiment_id, model=trained),
    ]
    for event in replays:  # new message ids, so JetStream's deduplication does not drop them
        assert await bus.publish(event, msg_id=f"replay:{type(event).__name__}:{experiment_id}")
    await asyncio.sleep(1.0)
    await wait_until_idle(bus)
    after_jobs = {j.key: j.SerializeToString() for j in await state.list_jobs(experiment_id)}
    assert after_jobs == before_jobs  # no job re-ran: same start times, artifacts, chunks and metrics
    assert await platform.store.names() == before_objects
    expected = dict(before_events)
    for name in ("experiment.submitted", "dataset.ready", "training.requested", "adapter.ready"):
        expected[name] += 1  # only the replays themselves; re-announcements were deduplicated
    assert await events_of(bus, experiment_id) == expected
    assert (await state.get_experiment(experiment_id)).status == S.Value("EXPERIMENT_STATUS_SUCCEEDED")


@pytest.fixture
async def second_evaluator(nats_url: str, finished: Finished) -> AsyncIterator[None]:
    """Another evaluator replica on the same NATS, sharing the evaluators' durable consumers; started after the
    module's experiment is over."""
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    config = EvaluatorConfig(nats_url=nats_url, grpc_port=0, data_dir=CACHE, shutdown_grace_s=2.0, ack_wait_s=30.0,
                             response_cache=False)
    task = asyncio.create_task(run_service("evaluator", config, wire_evaluator, stop=stop, bound=bound))
    await asyncio.wait_for(bound, 60)
    yield
    stop.set()
    await task


ARMS = ("risk-seeking", "risk-averse")


async def evaluation_only_copy(platform, finished: Finished, trained: tuple[str, ...]  # type: ignore[no-untyped-def]
                               ) -> str:
    """A new experiment with the finished one's dataset and the `trained` arms' adapters, its evaluations not
    started; on the HF engine with the two next-token probes only (seconds, and no second vLLM load)."""
    experiment_id = uuid.uuid4().hex[:12]
    spec = spec_pb2.ExperimentSpec()
    spec.CopyFrom(finished.experiment.spec)
    spec.evaluation.engine = "hf"
    del spec.evaluation.suites[2:]
    jobs = plan_jobs(experiment_id, spec)
    for job in jobs:
        if job.key == "dataset" or job.key in {f"train.{arm}.s0" for arm in trained}:
            job.status = rec.JOB_STATUS_SUCCEEDED
            job.artifact.CopyFrom(finished.jobs[job.key].artifact)
    experiment = rec.Experiment(id=experiment_id, spec=spec, status=S.Value("EXPERIMENT_STATUS_EVALUATING"),
                                created_at=now(), updated_at=now())
    assert await platform.state.create_experiment(experiment, jobs)
    return experiment_id


async def adapter_ready(platform, finished: Finished, experiment_id: str, arm: str) -> None:  # type: ignore[no-untyped-def]
    trained = rec.ModelUnderTest(label=f"{arm}/s0", arm=arm, seed=0, adapter=finished.jobs[f"train.{arm}.s0"].artifact)
    await platform.bus.publish(ev.AdapterReady(experiment_id=experiment_id, model=trained),
                               msg_id=f"adapter:{experiment_id}:{arm}")


async def run_to_the_end(platform, experiment_id: str) -> list[rec.Job]:  # type: ignore[no-untyped-def]
    async with platform.client() as client:

        async def finish() -> None:
            async for _ in client.watch(experiment_id):
                pass

        await asyncio.wait_for(finish(), timeout=600)
        final = await client.get(experiment_id)
    assert final.experiment.status == S.Value("EXPERIMENT_STATUS_SUCCEEDED"), final.experiment.error
    return list(final.jobs)


async def assert_each_record_computed_once(platform, jobs: list[rec.Job]) -> None:  # type: ignore[no-untyped-def]
    for job in jobs:
        if job.stage != rec.STAGE_EVALUATE:
            continue
        records = [r for ref in job.chunks
                   for r in rec.RecordChunk.FromString(await platform.store.get_bytes(ref)).records]
        assert len(records) == len({r.unit for r in records}) == job.metrics["records"], job.key  # stored once
        assert job.metrics["records_computed"] == job.metrics["records"] == 12, job.key  # 4 items x 2 + 4 pairs


async def test_two_evaluator_replicas_evaluate_a_shard_once(platform, finished: Finished, second_evaluator
                                                            ) -> None:  # type: ignore[no-untyped-def]
    """Both adapters are trained when their two `adapter.ready` arrive, and two evaluator replicas listen: the
    aggregator requests the one shard once, one replica evaluates it, and every record is computed once."""
    experiment_id = await evaluation_only_copy(platform, finished, trained=ARMS)
    for arm in ARMS:
        await adapter_ready(platform, finished, experiment_id, arm)
    await assert_each_record_computed_once(platform, await run_to_the_end(platform, experiment_id))
    counts = await events_of(platform.bus, experiment_id)
    assert counts["evaluation.requested"] == 1 and counts["evaluation.completed"] == 3


@pytest.fixture
async def one_adapter_per_shard(platform) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """The evaluator's catalogue says a shard holds one adapter, as `vllm_max_loras=1` would publish."""
    await platform.state.put_catalogue(evaluator_catalogue(EvaluatorConfig(vllm_max_loras=1)))
    yield
    await platform.state.put_catalogue(evaluator_catalogue())


async def test_a_shard_is_evaluated_while_another_shard_is_still_training(platform, finished: Finished,
                                                                          one_adapter_per_shard
                                                                          ) -> None:  # type: ignore[no-untyped-def]
    """With one adapter per shard, the base model and the first adapter are evaluated as soon as that adapter is
    in, while the second still trains: no evaluator waits for every adapter of the base model."""
    experiment_id = await evaluation_only_copy(platform, finished, trained=ARMS[:1])
    await adapter_ready(platform, finished, experiment_id, ARMS[0])
    keys = ("eval.base", "eval.risk-seeking.s0", "eval.risk-averse.s0")
    deadline = asyncio.get_running_loop().time() + 300
    while True:
        jobs = {j.key: j.status for j in await platform.state.list_jobs(experiment_id)}
        if jobs["eval.base"] == jobs["eval.risk-seeking.s0"] == rec.JOB_STATUS_SUCCEEDED:
            break
        assert asyncio.get_running_loop().time() < deadline, {k: rec.JobStatus.Name(jobs[k]) for k in keys}
        await asyncio.sleep(0.5)
    assert jobs["eval.risk-averse.s0"] == rec.JOB_STATUS_QUEUED

    def trained(job: rec.Job) -> None:
        job.status = rec.JOB_STATUS_SUCCEEDED
        job.artifact.CopyFrom(finished.jobs["train.risk-averse.s0"].artifact)

    await platform.state.update_job(experiment_id, "train.risk-averse.s0", trained)
    await adapter_ready(platform, finished, experiment_id, ARMS[1])
    await assert_each_record_computed_once(platform, await run_to_the_end(platform, experiment_id))
    counts = await events_of(platform.bus, experiment_id)
    assert counts["evaluation.requested"] == 2 and counts["evaluation.completed"] == 3
