"""Dead letters as an operator handles them: a poison event lands in the dead-letter stream, `ListDeadLetters`
and `selfaware dlq list` show it, and `ReplayDeadLetter` / `selfaware dlq replay` republish its payload on its
original subject (where the handler, fixed meanwhile, takes it), removing the letter."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from selfaware.bus import EVENTS_STREAM, Delivery, EventBus
from selfaware.client import Client
from selfaware.errors import PermanentError
from selfaware.grpc_server import field_violations
from selfaware.v1 import aggregator_pb2 as pb
from selfaware.v1 import events_pb2 as ev
from tests.conftest import CACHE


async def cli(*args: str) -> tuple[int, str, str]:
    """The `selfaware` command in a child process (without blocking the loop the in-process services run on)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "selfaware.cli.main", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "SELFAWARE_DATA_DIR": str(CACHE)})
    out, err = await asyncio.wait_for(child.communicate(), 60)
    return child.returncode or 0, out.decode(), err.decode()


@pytest.fixture
async def poisoned(nats_url: str) -> AsyncIterator[tuple[str, list[ev.ExperimentCancelled]]]:
    """A consumer on a platform subject that takes its poison event (the one whose reason is the token) as a
    permanent error the first time and accepts it afterwards: (token, every delivery of it)."""
    token = uuid.uuid4().hex
    seen: list[ev.ExperimentCancelled] = []
    bus = await EventBus.connect(nats_url, name="test-dlq")

    async def handle(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.reason == token:
            seen.append(event)
            if len(seen) == 1:
                raise PermanentError(f"poison {token}")

    durable = f"test-dlq-{token[:8]}"
    bus.subscribe(ev.ExperimentCancelled, durable, handle)
    await bus.start()
    # No experiment id: the aggregator's dead-letter handler has no experiment to fail.
    await bus.publish(ev.ExperimentCancelled(reason=token), msg_id=f"poison:{token}")
    yield token, seen
    await bus.js.delete_consumer(EVENTS_STREAM, durable)
    await bus.close()


async def letter_of(client: Client, token: str, timeout_s: float = 30) -> pb.StoredDeadLetter:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = [s for s in (await client.dead_letters(limit=1000)).letters if token in s.letter.error]
        if found:
            return found[0]
        assert asyncio.get_running_loop().time() < deadline, "the poison event was not dead-lettered"
        await asyncio.sleep(0.2)


async def test_a_poison_event_is_listed_and_replayed_on_its_subject(platform, poisoned) -> None:  # type: ignore[no-untyped-def]
    token, seen = poisoned
    async with platform.client() as client:
        stored = await letter_of(client, token)
        assert stored.letter.subject == "selfaware.events.experiment.cancelled"
        assert stored.letter.consumer.startswith("test-dlq-")
        assert ev.ExperimentCancelled.FromString(stored.letter.payload).reason == token
        assert stored.dead_lettered_at.seconds > 0

        code, out, err = await cli("dlq", "list", "--limit", "1000", "--endpoint", platform.endpoint)
        assert code == 0, err
        [line] = [line for line in out.splitlines() if line.split()[0] == str(stored.seq)]
        assert "selfaware.events.experiment.cancelled" in line and f"poison {token}" in line

        code, out, err = await cli("dlq", "replay", str(stored.seq), "--endpoint", platform.endpoint)
        assert code == 0, err
        assert out.startswith(f"{stored.seq} replayed on selfaware.events.experiment.cancelled")
        for _ in range(100):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(seen) == 2 and seen[1] == seen[0]  # the same payload, taken by the handler this time
        assert stored.seq not in [s.seq for s in (await client.dead_letters(limit=1000)).letters]

        # Replayed letters are gone: replaying one again is NOT_FOUND (exit 2 from the CLI).
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.replay_dead_letter(stored.seq)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        code, out, err = await cli("dlq", "replay", str(stored.seq), "--endpoint", platform.endpoint)
        assert code == 2 and err.count("\n") == 1 and "NOT_FOUND" in err


@pytest.mark.parametrize(("call", "field"), [("replay 0", "seq"), ("list 5000", "limit")])
async def test_bad_dead_letter_requests_are_invalid_argument_naming_the_field(platform, call: str, field: str
                                                                               ) -> None:  # type: ignore[no-untyped-def]
    name, value = call.split()
    async with platform.client() as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            if name == "replay":
                await client.replay_dead_letter(int(value))
            else:
                await client.dead_letters(limit=int(value))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(caught.value)] == [field]


async def test_an_unknown_dead_letter_is_not_found(platform) -> None:  # type: ignore[no-untyped-def]
    async with platform.client() as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.replay_dead_letter(10**12)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
