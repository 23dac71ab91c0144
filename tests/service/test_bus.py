"""The event bus, state bucket and artifact store against a real nats-server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from selfaware.bus import DLQ_STREAM, EVENTS_STREAM, Delivery, EventBus, HandBack
from selfaware.errors import DataError, NotFound
from selfaware.state import StateStore
from selfaware.store import ArtifactStore
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec


@pytest.fixture(autouse=True)
async def remove_test_consumers(nats_url: str) -> AsyncIterator[None]:
    """The tests' consumers listen on a platform subject: left behind, they would pile up the platform's events."""
    yield
    bus = await connect(nats_url)
    for consumer in await bus.js.consumers_info(EVENTS_STREAM):
        if consumer.name.startswith("test-"):
            await bus.js.delete_consumer(EVENTS_STREAM, consumer.name)
    await bus.close()


def new_id() -> str:
    return "t" + uuid.uuid4().hex[:10]


async def connect(nats_url: str, **kw: float) -> EventBus:
    return await EventBus.connect(nats_url, name="test", **kw)  # type: ignore[arg-type]


async def wait_for(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def dead_letters(bus: EventBus, experiment_id: str) -> list[ev.DeadLetter]:
    sub = await bus.js.pull_subscribe("selfaware.dlq.>", stream=DLQ_STREAM)
    found: list[ev.DeadLetter] = []
    try:
        while True:
            for msg in await sub.fetch(100, timeout=0.5):
                letter = ev.DeadLetter.FromString(msg.data)
                if letter.experiment_id == experiment_id:
                    found.append(letter)
                await msg.ack()
    except Exception:  # noqa: BLE001 - fetch times out when the stream is read to the end
        pass
    await sub.unsubscribe()
    return found


async def test_duplicate_msg_id_is_dropped(nats_url: str) -> None:
    bus = await connect(nats_url)
    event = ev.ExperimentCancelled(experiment_id=new_id())
    assert await bus.publish(event, msg_id=f"dup:{event.experiment_id}") is True
    assert await bus.publish(event, msg_id=f"dup:{event.experiment_id}") is False
    await bus.close()


async def test_transient_failure_is_retried_then_dead_lettered(nats_url: str) -> None:
    experiment_id = new_id()
    attempts: list[int] = []
    bus = await connect(nats_url, max_deliver=3)

    async def flaky(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.experiment_id == experiment_id:
            attempts.append(delivery.deliveries)
            raise RuntimeError("boom")

    bus.subscribe(ev.ExperimentCancelled, f"test-flaky-{experiment_id}", flaky)
    await bus.start()
    await bus.publish(ev.ExperimentCancelled(experiment_id=experiment_id), msg_id=experiment_id)
    await wait_for(lambda: len(attempts) == 3, timeout=30)
    await asyncio.sleep(0.5)
    letters = await dead_letters(bus, experiment_id)
    assert attempts == [1, 2, 3]
    assert len(letters) == 1 and "RuntimeError: boom" in letters[0].error and letters[0].deliveries == 3
    await bus.close()


async def test_permanent_error_and_bad_payload_go_straight_to_dead_letters(nats_url: str) -> None:
    experiment_id = new_id()
    attempts: list[int] = []
    bus = await connect(nats_url)

    async def reject(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.experiment_id == experiment_id:
            attempts.append(delivery.deliveries)
            raise DataError("row 3 is not JSON")

    bus.subscribe(ev.ExperimentCancelled, f"test-reject-{experiment_id}", reject)
    await bus.start()
    await bus.publish(ev.ExperimentCancelled(experiment_id=experiment_id), msg_id=experiment_id)
    await wait_for(lambda: attempts == [1])
    await asyncio.sleep(0.5)
    assert [letter.error for letter in await dead_letters(bus, experiment_id)] == ["row 3 is not JSON"]
    await bus.close()


async def test_heartbeats_keep_long_work_in_a_thread_from_redelivery(nats_url: str) -> None:
    experiment_id = new_id()
    deliveries: list[int] = []
    bus = await connect(nats_url, ack_wait_s=3.0)

    async def slow(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.experiment_id == experiment_id:
            deliveries.append(delivery.deliveries)
            await asyncio.to_thread(time.sleep, 7.0)  # blocking work, more than twice ack_wait

    bus.subscribe(ev.ExperimentCancelled, f"test-slow-{experiment_id}", slow, concurrency=2)
    await bus.start()
    await bus.publish(ev.ExperimentCancelled(experiment_id=experiment_id), msg_id=experiment_id)
    await asyncio.sleep(9.0)
    assert deliveries == [1]
    await bus.close()


async def test_drain_hands_in_flight_work_back(nats_url: str) -> None:
    experiment_id = new_id()
    durable = f"test-drain-{experiment_id}"
    started = asyncio.Event()
    seen: list[int] = []
    first = await connect(nats_url)

    async def stubborn(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.experiment_id != experiment_id:
            return
        seen.append(delivery.deliveries)
        started.set()
        while not delivery.stop_requested.is_set():
            await asyncio.sleep(0.05)
        raise HandBack("shutting down")

    first.subscribe(ev.ExperimentCancelled, durable, stubborn)
    await first.start()
    await first.publish(ev.ExperimentCancelled(experiment_id=experiment_id), msg_id=experiment_id)
    await asyncio.wait_for(started.wait(), 15)
    await first.drain(grace_s=0.5)

    second = await connect(nats_url)
    finished: list[int] = []

    async def finish(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.experiment_id == experiment_id:
            finished.append(delivery.deliveries)

    second.subscribe(ev.ExperimentCancelled, durable, finish)
    await second.start()
    await wait_for(lambda: finished == [1])  # the hand-back did not count as a delivery
    assert seen == [1]
    await second.close()


async def test_state_updates_are_revision_checked(nats_url: str) -> None:
    bus = await connect(nats_url)
    state = await StateStore.open(bus.js)
    experiment_id = new_id()
    job = rec.Job(experiment_id=experiment_id, key="train.a.s0", stage=rec.STAGE_TRAIN)
    await state.create_experiment(rec.Experiment(id=experiment_id), [job])

    def bump(j: rec.Job) -> None:
        j.done += 1

    await asyncio.gather(*[state.update_job(experiment_id, "train.a.s0", bump) for _ in range(20)])
    assert (await state.get_job(experiment_id, "train.a.s0")).done == 20
    with pytest.raises(NotFound):
        await state.get_experiment("missing")
    await bus.close()


async def test_artifacts_are_content_addressed(nats_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bus = await connect(nats_url)
    store = await ArtifactStore.open(bus.js, tmp_path / "cache")
    payload = uuid.uuid4().bytes * 100_000  # 1.6 MB: several chunks
    first = await store.put_bytes(payload, "application/octet-stream")
    second = await store.put_bytes(payload, "application/octet-stream")
    assert first == second and first.size == len(payload)
    reader = await ArtifactStore.open(bus.js, tmp_path / "other-cache")
    assert await reader.get_bytes(first) == payload
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    ref = await store.put_dir(folder)
    assert ref == await store.put_dir(folder)
    unpacked = await reader.get_dir(ref)
    assert (unpacked / "adapter_config.json").read_text() == "{}"
    with pytest.raises(NotFound):
        await reader.get_bytes("0" * 64)
    await bus.close()
