"""A real service's /metrics: the generator on a private nats-server, scraped over HTTP while real events go through.

A private server, because the test pauses the generator's durable consumer to make a known queue lag, which on
the session's server would stall the platform's generator. And a service name of its own (the `service` label):
the platform's generator, in this same process, writes the series labelled `generator`.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from selfaware import bus as bus_module
from selfaware.bus import EVENTS_STREAM, EventBus
from selfaware.plan import DATASET_JOB
from selfaware.service import run_service
from selfaware.specs import spec_from_dict
from selfaware.state import StateStore
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.generator.config import GeneratorConfig
from services.generator.main import wire
from tests.conftest import REPO, SHARED, free_port
from tests.service.conftest import SpecFactory
from tests.service.test_bus import wait_for
from tests.service.test_bus_recovery import own_nats  # noqa: F401 - a fixture

CONSUMER = "generator-experiment-submitted"
SERVICE = "generator-under-test"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    """Every sample of this test's generator on /metrics, by (name, labels without `service`)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.pop("service", None) == SERVICE:
                samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def experiment(state: StateStore, status: int, spec: dict | None = None) -> str:
    """An experiment record with its dataset job, as the aggregator stores it before `experiment.submitted`."""
    experiment_id = "t" + uuid.uuid4().hex[:10]
    record = rec.Experiment(id=experiment_id, status=status)  # type: ignore[arg-type]
    if spec is not None:
        record.spec.CopyFrom(spec_from_dict(spec))
    job = rec.Job(experiment_id=experiment_id, key=DATASET_JOB, stage=rec.STAGE_GENERATE,
                  status=rec.JOB_STATUS_QUEUED)
    await state.create_experiment(record, [job])
    return experiment_id


@contextlib.asynccontextmanager
async def generator(url: str, data_dir: Path, metrics_port: int) -> AsyncIterator[None]:
    """The real generator service in this process, stopped (and its metrics server with it) on the way out."""
    config = GeneratorConfig(nats_url=url, grpc_port=0, data_dir=data_dir, metrics_port=metrics_port,
                             shutdown_grace_s=1.0, source_roots=f"{REPO}:{SHARED}:{data_dir}")
    stop, bound = asyncio.Event(), asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service(SERVICE, config, wire, stop=stop, bound=bound))
    try:
        await asyncio.wait_for(bound, 60)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)


async def test_the_generator_exports_events_jobs_and_queue_lag(
        own_nats, tmp_path: Path, make_spec: SpecFactory, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(bus_module, "LAG_POLL_S", 0.2)
    port = free_port()
    client = await EventBus.connect(own_nats.url, name="test")
    async with generator(own_nats.url, tmp_path, port):
        await exercise(client, port, tmp_path, make_spec)
    await client.close()
    with pytest.raises(urllib.error.URLError):  # the metrics server stopped with the service
        scrape(port)


async def exercise(client: EventBus, port: int, tmp_path: Path, make_spec: SpecFactory) -> None:
    state = await StateStore.open(client.js)

    async def scraped() -> Samples:
        return await asyncio.to_thread(scrape, port)

    before = await scraped()
    assert sample(before, "selfaware_events_handled_total", consumer=CONSUMER, outcome="ok") == 0.0  # declared at 0

    # A real generation succeeds (ok, a succeeded dataset job), and one whose source is missing fails for good.
    good = await experiment(state, rec.EXPERIMENT_STATUS_GENERATING, make_spec())
    bad = await experiment(state, rec.EXPERIMENT_STATUS_GENERATING,
                           make_spec(**{"arms__risk-seeking__data__import": str(tmp_path / "missing.jsonl")}))
    for experiment_id in (good, bad):
        await client.publish(ev.ExperimentSubmitted(experiment_id=experiment_id), msg_id=experiment_id)
    for experiment_id, status in ((good, rec.JOB_STATUS_SUCCEEDED), (bad, rec.JOB_STATUS_FAILED)):
        for _ in range(300):
            if (await state.get_job(experiment_id, DATASET_JOB)).status == status:
                break
            await asyncio.sleep(0.1)
        assert (await state.get_job(experiment_id, DATASET_JOB)).status == status
    await asyncio.sleep(0.3)  # the bus counts the outcome after the handler returns
    after = await scraped()
    assert sample(after, "selfaware_events_handled_total", consumer=CONSUMER, outcome="ok") == 1.0
    assert sample(after, "selfaware_events_handled_total", consumer=CONSUMER, outcome="dead_lettered") == 1.0
    assert sample(after, "selfaware_jobs_finished_total", stage="generate", status="succeeded") == 1.0
    assert sample(after, "selfaware_jobs_finished_total", stage="generate", status="failed") == 1.0
    assert sample(after, "selfaware_job_duration_seconds_count", stage="generate") == 1.0
    assert sample(after, "selfaware_handlers_in_flight", consumer=CONSUMER) == 0.0

    # Paused, the consumer holds what is published: the gauge reports JetStream's real lag, then its drain.
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await client.js.pause_consumer(EVENTS_STREAM, CONSUMER, until)
    ended = [await experiment(state, rec.EXPERIMENT_STATUS_CANCELLED) for _ in range(3)]
    for experiment_id in ended:
        await client.publish(ev.ExperimentSubmitted(experiment_id=experiment_id), msg_id=experiment_id)
    lag: list[Samples] = []

    async def lag_is(pending: float) -> None:
        for _ in range(100):
            lag.append(await scraped())
            if sample(lag[-1], "selfaware_consumer_pending", consumer=CONSUMER) == pending:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"consumer_pending never read {pending}: last {lag[-1]}")

    await lag_is(3.0)
    assert sample(lag[-1], "selfaware_consumer_ack_pending", consumer=CONSUMER) == 0.0
    await client.js.resume_consumer(EVENTS_STREAM, CONSUMER)
    await lag_is(0.0)
    await wait_for(lambda: sample(scrape(port), "selfaware_events_handled_total", consumer=CONSUMER,
                                  outcome="ok") == 4.0)  # the three ended experiments: acked, nothing to do
