"""Test helpers that read what the platform left in NATS: events per subject, and consumer backlogs."""

from __future__ import annotations

import asyncio

import nats.errors
from google.protobuf.message import Message
from nats.js.api import ConsumerConfig, DeliverPolicy

from selfaware.bus import EVENT_TYPES, EVENTS_STREAM, EventBus


async def events_of(bus: EventBus, experiment_id: str) -> dict[str, int]:
    """How many events of each subject name `experiment_id`, read with a throwaway consumer."""
    counts: dict[str, int] = {}
    for subject, event in await all_events(bus):
        if event.experiment_id == experiment_id:
            counts[subject] = counts.get(subject, 0) + 1
    return counts


async def all_events(bus: EventBus) -> list[tuple[str, Message]]:
    """Every event in the stream, oldest first, as (subject without `selfaware.events.`, event)."""
    sub = await bus.js.pull_subscribe("selfaware.events.>", stream=EVENTS_STREAM,
                                      config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
    found = []
    while True:
        try:
            messages = await sub.fetch(256, timeout=0.5)
        except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either, by where the wait ran out
            break
        for msg in messages:
            found.append((msg.subject.removeprefix("selfaware.events."), EVENT_TYPES[msg.subject].FromString(msg.data)))
            await msg.ack()
    await sub.unsubscribe()
    return found


async def wait_until_idle(bus: EventBus, timeout_s: float = 120.0) -> None:
    """Wait until no durable consumer of the events stream has pending or unacknowledged messages."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        busy = [c.name for c in await bus.js.consumers_info(EVENTS_STREAM)
                if c.config.durable_name and (c.num_pending or c.num_ack_pending)]
        if not busy:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"consumers still busy: {busy}")
        await asyncio.sleep(0.25)
