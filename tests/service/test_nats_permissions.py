"""Per-service NATS users (selfaware/nats_auth.py) on a real nats-server started with the generated config: the
generator's credentials do the generator's work and nothing of the trainer's (issue 13, item 3)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.errors
import pytest

from selfaware.bus import DLQ_STREAM, EVENTS_STREAM, SUBJECTS, Delivery, EventBus
from selfaware.nats_auth import GRANTS, new_passwords, server_config
from selfaware.plan import DATASET_JOB, train_job
from selfaware.service import run_service
from selfaware.state import StateStore
from selfaware.store import ArtifactStore
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from tests.conftest import NatsProcess

EXPERIMENT = "perm1"
TRAIN = train_job("a/s0")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NatsProcess, dict[str, str]]]:
    """A nats-server of this module's own, with one user per service and an admin user for the set-up."""
    folder = tmp_path_factory.mktemp("nats-auth")
    passwords = new_passwords() | {"admin": "admin-secret"}
    config = folder / "nats.conf"
    config.write_text(server_config({k: v for k, v in passwords.items() if k != "admin"},
                                    admin_password=passwords["admin"]))
    server = NatsProcess(folder / "store", config=config)
    server.start()
    yield server, passwords
    server.stop()


def url(server: NatsProcess, user: str, passwords: dict[str, str]) -> str:
    return f"nats://{user}:{passwords[user]}@127.0.0.1:{server.port}"


async def test_anonymous_clients_are_refused(secured: tuple[NatsProcess, dict[str, str]]) -> None:
    server, _ = secured
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(server.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)


async def test_generator_credentials_do_the_generators_work_only(
        secured: tuple[NatsProcess, dict[str, str]], tmp_path: Path) -> None:
    server, passwords = secured
    # the admin plans an experiment with a dataset job and a training job, as the aggregator would
    admin = await EventBus.connect(url(server, "admin", passwords), name="admin")
    admin_state = await StateStore.open(admin.js)
    jobs = [rec.Job(experiment_id=EXPERIMENT, key=DATASET_JOB, stage=rec.STAGE_GENERATE),
            rec.Job(experiment_id=EXPERIMENT, key=TRAIN, stage=rec.STAGE_TRAIN)]
    assert await admin_state.create_experiment(rec.Experiment(id=EXPERIMENT), jobs)

    violations: list[str] = []

    async def on_error(exc: Exception) -> None:
        violations.append(str(exc))

    nc = await nats.connect(url(server, "generator", passwords), name="generator", error_cb=on_error)
    bus = EventBus(nc)
    # the start-up every service does: streams, buckets, catalogue
    await bus.ensure_streams()
    state = await StateStore.open(bus.js)
    store = await ArtifactStore.open(bus.js, tmp_path / "artifacts")
    await state.put_catalogue(cat.Catalogue(service="generator"))

    # its own consumer receives experiment.submitted
    received: asyncio.Queue[str] = asyncio.Queue()

    async def handler(event: ev.ExperimentSubmitted, delivery: Delivery) -> None:
        await received.put(event.experiment_id)

    bus.subscribe(ev.ExperimentSubmitted, "generator-experiment-submitted", handler)
    await bus.start()
    await admin.publish(ev.ExperimentSubmitted(experiment_id=EXPERIMENT), msg_id=f"submit:{EXPERIMENT}")
    assert await asyncio.wait_for(received.get(), 15) == EXPERIMENT

    # its work: store a dataset, write its own job, publish dataset.ready
    ref = await store.put_bytes(b'{"messages": []}\n', "application/jsonl")
    assert await store.get_bytes(ref) == b'{"messages": []}\n'

    def finish(job: rec.Job) -> None:
        job.status = rec.JOB_STATUS_SUCCEEDED
        job.artifact.CopyFrom(ref)

    await state.update_job(EXPERIMENT, DATASET_JOB, finish)
    assert await bus.publish(ev.DatasetReady(experiment_id=EXPERIMENT), msg_id=f"dataset:{EXPERIMENT}")
    assert violations == []

    # not its work: adapter.ready and the trainer's job are refused by the server
    with pytest.raises(nats.errors.TimeoutError):
        await bus.publish(ev.AdapterReady(experiment_id=EXPERIMENT), msg_id=f"forged:{EXPERIMENT}")
    with pytest.raises(nats.errors.TimeoutError):
        await state.update_job(EXPERIMENT, TRAIN, finish)
    await nc.flush()
    adapter_subject = SUBJECTS[ev.AdapterReady]
    # (nats-py lower-cases the server's message)
    assert sorted(violations) == sorted(f'nats: permissions violation for publish to "{subject}"'.lower() for subject
                                        in (adapter_subject, f"$KV.selfaware-state.job.{EXPERIMENT}.{TRAIN}"))

    # and nothing of it reached the stores
    assert await admin_state.get_job(EXPERIMENT, TRAIN) == jobs[1]
    assert (await admin_state.get_job(EXPERIMENT, DATASET_JOB)).status == rec.JOB_STATUS_SUCCEEDED
    info = await admin.js.stream_info(EVENTS_STREAM, subjects_filter=adapter_subject)
    assert not info.state.subjects

    await bus.close()
    await admin.close()


async def test_every_service_starts_on_its_own_user(secured: tuple[NatsProcess, dict[str, str]], tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Each service's real start-up (streams, buckets, its handlers' consumers, its catalogue) within its list."""
    from tests.service.conftest import SERVICES

    server, passwords = secured
    stop = asyncio.Event()
    tasks = []
    for name, (config_cls, wire) in SERVICES.items():
        config = config_cls(nats_url=url(server, name, passwords), grpc_port=0, data_dir=tmp_path / name,
                            shutdown_grace_s=1.0)
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        tasks.append(asyncio.create_task(run_service(name, config, wire, stop=stop, bound=bound), name=name))
        await asyncio.wait_for(bound, 60)
    await asyncio.sleep(2.0)  # background work: the aggregator's reconciler, the lag polls
    admin = await EventBus.connect(url(server, "admin", passwords), name="admin")
    consumers = {c.name for stream in (EVENTS_STREAM, DLQ_STREAM) for c in await admin.js.consumers_info(stream)}
    catalogues = {c.service for c in await (await StateStore.open(admin.js)).catalogues()}
    stop.set()
    await asyncio.gather(*tasks)
    await admin.close()
    assert {d for grant in GRANTS.values() for d in grant.consumes} <= consumers
    assert catalogues == set(SERVICES)
    assert not [r.getMessage() for r in caplog.records if "permissions violation" in r.getMessage().lower()]


async def test_generator_credentials_cannot_destroy_or_forge(secured: tuple[NatsProcess, dict[str, str]]) -> None:
    """What no list grants: deleting or purging a stream, deleting another's consumer, a dead letter for a subject
    the generator does not consume, another service's catalogue, an experiment key."""
    server, passwords = secured
    admin = await EventBus.connect(url(server, "admin", passwords), name="admin")  # the streams exist
    violations: list[str] = []

    async def on_error(exc: Exception) -> None:
        violations.append(str(exc))

    nc = await nats.connect(url(server, "generator", passwords), name="generator", error_cb=on_error)
    js = nc.jetstream(timeout=1.0)
    attempts = {
        f"$JS.API.STREAM.DELETE.{EVENTS_STREAM}": lambda: js.delete_stream(EVENTS_STREAM),
        "$JS.API.STREAM.PURGE.KV_selfaware-state": lambda: js.purge_stream("KV_selfaware-state"),
        f"$JS.API.CONSUMER.DELETE.{EVENTS_STREAM}.trainer-dataset-ready":
            lambda: js.delete_consumer(EVENTS_STREAM, "trainer-dataset-ready"),
        "selfaware.dlq.adapter.ready": lambda: js.publish("selfaware.dlq.adapter.ready", b""),
        "$KV.selfaware-state.catalogue.trainer": lambda: js.publish("$KV.selfaware-state.catalogue.trainer", b""),
        f"$KV.selfaware-state.exp.{EXPERIMENT}": lambda: js.publish(f"$KV.selfaware-state.exp.{EXPERIMENT}", b""),
    }
    for attempt in attempts.values():
        with pytest.raises(nats.errors.TimeoutError):
            await attempt()
    await nc.close()
    await admin.close()
    assert sorted(violations) == sorted(f'nats: permissions violation for publish to "{s}"'.lower() for s in attempts)


@pytest.mark.slow
async def test_an_experiment_runs_with_every_service_on_its_own_user(
        secured: tuple[NatsProcess, dict[str, str]], tiny_model_dir: Path, make_spec, caplog: pytest.LogCaptureFixture,
        tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[no-untyped-def]
    """The whole flow (generate, train, evaluate, report) under the four allow lists: nothing is refused."""
    from selfaware.source_policy import SourceReadingConfig
    from tests.conftest import CACHE, REPO, SHARED
    from tests.service.conftest import SERVICES, Platform

    server, passwords = secured
    stop = asyncio.Event()
    tasks, ports = [], {}
    sources = {"source_roots": f"{REPO}:{SHARED}:{tmp_path_factory.getbasetemp()}"}
    for name, (config_cls, wire) in SERVICES.items():
        extra = sources if issubclass(config_cls, SourceReadingConfig) else {}
        config = config_cls(nats_url=url(server, name, passwords), grpc_port=0, data_dir=CACHE,
                            shutdown_grace_s=2.0, ack_wait_s=30.0, **extra)
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        tasks.append(asyncio.create_task(run_service(name, config, wire, stop=stop, bound=bound), name=name))
        ports[name] = await asyncio.wait_for(bound, 60)
    admin = await EventBus.connect(url(server, "admin", passwords), name="admin")
    platform = Platform(ports, admin, await StateStore.open(admin.js), await ArtifactStore.open(admin.js, CACHE / "x"))
    try:
        spec = make_spec(**{"arms__risk-seeking__data__steps": [{"sample": 16}], "holdout__rows": 4})
        final, _ = await asyncio.wait_for(platform.run_to_end(spec), 480)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await admin.close()
    assert not [r.getMessage() for r in caplog.records if "permissions violation" in r.getMessage().lower()]
    assert final.experiment.status == rec.EXPERIMENT_STATUS_SUCCEEDED, final.experiment.error
