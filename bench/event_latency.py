"""Event latency: from the start of `EventBus.publish` to the start of the handler, on a local nats-server.

Both ends run in one process (one event loop), so the number includes the JetStream round trip, the pull
consumer's fetch and the bus's dispatch, which is what a handler waits for in production.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from selfaware.bus import Delivery, EventBus
from selfaware.cli.stack import LocalStack
from selfaware.v1 import events_pb2 as ev


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def measure(nats_url: str, events: int, interval_s: float, login: dict[str, str]) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    received: dict[int, int] = {}
    bus = await EventBus.connect(nats_url, name="bench-latency", options=login)

    async def handler(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.experiment_id == f"bench-{run}":
            received[int(event.reason)] = time.perf_counter_ns()

    bus.subscribe(ev.ExperimentCancelled, f"bench-latency-{run}", handler)
    await bus.start()
    sent: dict[int, int] = {}
    for i in range(events):
        sent[i] = time.perf_counter_ns()
        await bus.publish(ev.ExperimentCancelled(experiment_id=f"bench-{run}", reason=str(i)), msg_id=f"{run}:{i}")
        await asyncio.sleep(interval_s)
    deadline = time.monotonic() + 30
    while len(received) < events and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await bus.close()
    latencies = [(received[i] - sent[i]) / 1e6 for i in sent if i in received]
    return {
        "events": events,
        "received": len(latencies),
        "publish_interval_ms": interval_s * 1000,
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(percentile(latencies, 95), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "max_ms": round(max(latencies), 3),
        "goal": "p99 < 20 ms",
        "goal_met": percentile(latencies, 99) < 20.0,
    }


async def run(events: int = 2000, interval_s: float = 0.005) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(Path(tmp))
        try:
            url = await stack.start_nats(Path(tmp) / "nats")
            return await measure(url, events, interval_s, stack.nats_connect_options())
        finally:
            stack.stop()
