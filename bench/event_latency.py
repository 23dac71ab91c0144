"""Event latency: from the start of `EventBus.publish` to the start of the handler, on a local nats-server.

Both ends run in one process (one event loop), so the number includes the JetStream round trip, the pull
consumer's fetch and the bus's dispatch, which is what a handler waits for in production.

"With 10 experiments in flight" (issue 14, item 5): `experiments` publishers run at once, one per experiment id,
each publishing every `interval_s`, as 10 experiments' stage services would, their starts spread over one interval
(independent experiments do not publish in lockstep); every event's latency counts.
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


async def measure(nats_url: str, events: int, interval_s: float, login: dict[str, str], experiments: int = 10
                  ) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    ids = [f"bench-{run}-{e}" for e in range(experiments)]
    received: dict[str, int] = {}
    bus = await EventBus.connect(nats_url, name="bench-latency", options=login)

    async def handler(event: ev.ExperimentCancelled, delivery: Delivery) -> None:
        if event.experiment_id.startswith(f"bench-{run}-"):
            received[f"{event.experiment_id}:{event.reason}"] = time.perf_counter_ns()

    bus.subscribe(ev.ExperimentCancelled, f"bench-latency-{run}", handler)
    await bus.start()
    sent: dict[str, int] = {}

    async def publisher(index: int, experiment_id: str, count: int) -> None:
        await asyncio.sleep(interval_s * index / experiments)
        for i in range(count):
            key = f"{experiment_id}:{i}"
            sent[key] = time.perf_counter_ns()
            await bus.publish(ev.ExperimentCancelled(experiment_id=experiment_id, reason=str(i)), msg_id=key)
            await asyncio.sleep(interval_s)

    await asyncio.gather(*(publisher(index, e, events // experiments) for index, e in enumerate(ids)))
    deadline = time.monotonic() + 30
    while len(received) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await bus.close()
    latencies = [(received[k] - sent[k]) / 1e6 for k in sent if k in received]
    return {
        "events": len(sent),
        "received": len(latencies),
        "experiments_in_flight": experiments,
        "publish_interval_ms_per_experiment": interval_s * 1000,
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(percentile(latencies, 95), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "max_ms": round(max(latencies), 3),
        "goal": f"p99 < 5 ms with {experiments} experiments in flight",
        "goal_met": len(latencies) == len(sent) and percentile(latencies, 99) < 5.0,
    }


async def run(events: int = 2000, interval_s: float = 0.05, experiments: int = 10) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(Path(tmp))
        try:
            url = await stack.start_nats(Path(tmp) / "nats")
            return await measure(url, events, interval_s, stack.nats_connect_options(), experiments)
        finally:
            stack.stop()
