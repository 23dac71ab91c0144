"""The bus survives anything: failed settles, lost consumers, NATS restarts, hand-backs and dead workers.

The tests that kill nats-server or delete its streams get a private one (`own_nats`), so the session's server,
which the platform fixture shares, is never disturbed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from selfaware.bus import DLQ_STREAM, EVENTS_STREAM, SUBJECTS, Delivery, EventBus, HandBack
from selfaware.config import ConsumerLimits, ServiceConfig
from selfaware.errors import DataError
from selfaware.service import Runtime, Wiring, run_service
from selfaware.v1 import events_pb2 as ev
from tests.conftest import NatsProcess
from tests.service.test_bus import dead_letters, remove_test_consumers, wait_for  # noqa: F401 - an autouse fixture

SUBJECT = SUBJECTS[ev.ExperimentCancelled]


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsProcess]:
    server = NatsProcess(tmp_path / "nats")
    server.start()
    yield server
    server.kill()


def new_id() -> str:
    return "t" + uuid.uuid4().hex[:10]


async def recording_bus(url: str, durable: str, seen: list[tuple[str, int]], **kw: object) -> EventBus:
    """A bus whose consumer `durable` records (experiment id, deliveries) for every event it handles."""
    bus = await EventBus.connect(url, name="test", **kw)  # type: ignore[arg-type]

    async def record(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        seen.append((event.experiment_id, delivery.deliveries))

    bus.subscribe(ev.ExperimentCancelled, durable, record)
    await bus.start()
    return bus


async def test_a_failed_dead_letter_publish_does_not_stop_the_worker(own_nats: NatsProcess) -> None:
    poison, good = new_id(), new_id()
    attempts: list[int] = []
    handled: list[str] = []
    bus = await EventBus.connect(own_nats.url, name="test")
    await bus.js.delete_stream(DLQ_STREAM)  # the dead-letter publish now fails: no stream listens

    async def handler(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.experiment_id == poison:
            attempts.append(delivery.deliveries)
            raise DataError("row 3 is not JSON")
        handled.append(event.experiment_id)

    bus.subscribe(ev.ExperimentCancelled, "test-dlq-down", handler)
    await bus.start()
    await bus.publish(ev.ExperimentCancelled(experiment_id=poison), msg_id=poison)
    await wait_for(lambda: attempts == [1])
    await bus.publish(ev.ExperimentCancelled(experiment_id=good), msg_id=good)
    await wait_for(lambda: handled == [good])
    await bus.ensure_streams()  # the poison message was nakked, not lost: its next delivery is dead-lettered
    await wait_for(lambda: len(attempts) == 2)
    await asyncio.sleep(0.5)
    assert [letter.error for letter in await dead_letters(bus, poison)] == ["row 3 is not JSON"]
    await bus.close()


async def test_a_deleted_consumer_is_declared_again_and_health_follows(nats_url: str) -> None:
    durable, experiment_id = "test-lost-" + new_id(), new_id()
    seen: list[tuple[str, int]] = []
    bus = await recording_bus(nats_url, durable, seen)
    reports: list[bool] = []

    async def report(healthy: bool) -> None:
        reports.append(healthy)

    watching = asyncio.create_task(bus.watch_health(report))
    await wait_for(lambda: reports == [True])
    await bus.js.delete_consumer(EVENTS_STREAM, durable)
    await bus.publish(ev.ExperimentCancelled(experiment_id=experiment_id), msg_id=experiment_id)
    await wait_for(lambda: (experiment_id, 1) in seen, timeout=20)
    assert reports == [True, False, True]
    watching.cancel()
    await bus.close()


async def test_grpc_health_is_not_serving_while_nats_is_down(own_nats: NatsProcess, tmp_path: Path) -> None:
    experiment_id = new_id()
    seen: list[str] = []

    async def wire(config: ServiceConfig, runtime: Runtime) -> Wiring:
        async def record(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
            seen.append(event.experiment_id)

        runtime.bus.subscribe(ev.ExperimentCancelled, "test-health", record)
        return Wiring(servicers=[], service_names=[])

    config = ServiceConfig(nats_url=own_nats.url, grpc_port=0, data_dir=tmp_path, ack_wait_s=3.0,
                           shutdown_grace_s=0.5)
    stop, bound = asyncio.Event(), asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service("test", config, wire, stop=stop, bound=bound))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{await asyncio.wait_for(bound, 30)}")
    health = health_pb2_grpc.HealthStub(channel)

    async def status_becomes(wanted: int, timeout: float) -> float:
        started = time.monotonic()
        while (await health.Check(health_pb2.HealthCheckRequest())).status != wanted:
            assert time.monotonic() - started < timeout, f"health did not become {wanted} in {timeout} s"
            await asyncio.sleep(0.1)
        return time.monotonic() - started

    await status_becomes(health_pb2.HealthCheckResponse.SERVING, 5)
    own_nats.kill()
    await status_becomes(health_pb2.HealthCheckResponse.NOT_SERVING, 10)
    own_nats.start()
    await status_becomes(health_pb2.HealthCheckResponse.SERVING, 20)
    bus = await EventBus.connect(own_nats.url, name="test")
    await bus.publish(ev.ExperimentCancelled(experiment_id=experiment_id), msg_id=experiment_id)
    await wait_for(lambda: seen == [experiment_id])
    await bus.close()
    stop.set()
    await asyncio.wait_for(service, 30)
    await channel.close()


async def test_a_hand_back_does_not_use_up_max_deliver(nats_url: str) -> None:
    experiment_id = new_id()
    attempts: list[int] = []
    bus = await EventBus.connect(nats_url, name="test", max_deliver=2)

    async def handler(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.experiment_id != experiment_id:
            return
        attempts.append(delivery.deliveries)
        if len(attempts) == 1:
            raise RuntimeError("transient")
        if len(attempts) == 2:
            raise HandBack("shutting down")  # on the last allowed delivery

    bus.subscribe(ev.ExperimentCancelled, f"test-handback-{experiment_id}", handler)
    others: list[tuple[str, int]] = []
    observer = await recording_bus(nats_url, f"test-observer-{experiment_id}", others)
    await bus.start()
    await bus.publish(ev.ExperimentCancelled(experiment_id=experiment_id), msg_id=experiment_id)
    await wait_for(lambda: len(attempts) == 3)
    await asyncio.sleep(1.0)
    # the hand-back did not count, the copy reached only the consumer that handed it back, nothing was dead-lettered
    assert attempts == [1, 2, 2]
    assert [seen for seen in others if seen[0] == experiment_id] == [(experiment_id, 1)]
    assert await dead_letters(bus, experiment_id) == []
    await observer.close()
    await bus.close()


async def first_delivery_then_die(url: str, durable: str, experiment_id: str, **kw: object) -> tuple[EventBus, float]:
    """A worker takes the event and dies before an outcome (its connection drops); returns it and when it died."""
    taken = asyncio.Event()
    bus = await EventBus.connect(url, name="test", **kw)  # type: ignore[arg-type]

    async def hang(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.experiment_id == experiment_id:
            taken.set()
            while not delivery.stop_requested.is_set():
                await asyncio.sleep(0.05)
            raise HandBack("stopped")

    bus.subscribe(ev.ExperimentCancelled, durable, hang)
    await bus.start()
    await bus.publish(ev.ExperimentCancelled(experiment_id=experiment_id), msg_id=experiment_id)
    await asyncio.wait_for(taken.wait(), 15)
    await bus.nc.close()
    return bus, time.monotonic()


async def test_another_replica_takes_a_dead_workers_event_within_the_default_ack_wait(nats_url: str) -> None:
    durable, experiment_id = "test-takeover-" + new_id(), new_id()
    dead, died = await first_delivery_then_die(nats_url, durable, experiment_id)
    seen: list[tuple[str, int]] = []
    other = await recording_bus(nats_url, durable, seen)
    await wait_for(lambda: (experiment_id, 2) in seen, timeout=25)
    takeover_s = time.monotonic() - died
    print(f"takeover after {takeover_s:.1f} s")
    assert takeover_s < ServiceConfig().ack_wait_s + 3
    await dead.close()
    await other.close()


async def test_a_worker_that_dies_on_the_last_delivery_is_still_dead_lettered(nats_url: str) -> None:
    durable, experiment_id = "test-last-" + new_id(), new_id()
    dead, _ = await first_delivery_then_die(nats_url, durable, experiment_id, max_deliver=1, ack_wait_s=3.0)
    seen: list[tuple[str, int]] = []
    other = await recording_bus(nats_url, durable, seen, max_deliver=1, ack_wait_s=3.0)
    letters: list[ev.DeadLetter] = []

    async def dead_lettered() -> None:
        while not letters:
            letters.extend(await dead_letters(other, experiment_id))

    await asyncio.wait_for(dead_lettered(), 20)
    assert "no outcome after 1 deliveries" in letters[0].error and letters[0].deliveries == 2
    assert [s for s in seen if s[0] == experiment_id] == []  # the handler was not run a second time
    await dead.close()
    await other.close()


async def test_consumer_limits_set_concurrency_and_max_ack_pending(nats_url: str) -> None:
    limited, plain = "test-limited-" + new_id(), "test-plain-" + new_id()
    setup = await EventBus.connect(nats_url, name="test")
    # the consumer as an older version declared it: updated to the current config when the bus starts
    await setup.js.add_consumer(EVENTS_STREAM, ConsumerConfig(
        durable_name=limited, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, ack_wait=60.0,
        max_deliver=4, filter_subject=SUBJECT, max_ack_pending=4))
    await setup.close()
    running, peak = 0, 0
    ids = [new_id() for _ in range(3)]

    async def idle(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        pass

    async def busy(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        nonlocal running, peak
        if event.experiment_id not in ids:
            return
        running += 1
        peak = max(peak, running)
        deadline = time.monotonic() + 5
        while running < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        running -= 1

    bus = await EventBus.connect(nats_url, name="test",
                                 consumer_limits={limited: ConsumerLimits(concurrency=3, max_ack_pending=64)})
    bus.subscribe(ev.ExperimentCancelled, limited, busy)
    bus.subscribe(ev.ExperimentCancelled, plain, idle, concurrency=2)
    await bus.start()
    limited_info = await bus.js.consumer_info(EVENTS_STREAM, limited)
    plain_info = await bus.js.consumer_info(EVENTS_STREAM, plain)
    assert (limited_info.config.max_ack_pending, plain_info.config.max_ack_pending) == (64, 1024)
    assert limited_info.config.ack_wait == ServiceConfig().ack_wait_s == 15.0
    for experiment_id in ids:
        await bus.publish(ev.ExperimentCancelled(experiment_id=experiment_id), msg_id=experiment_id)
    await wait_for(lambda: peak == 3)
    await bus.close()
