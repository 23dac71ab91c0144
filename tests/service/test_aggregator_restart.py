"""Clients ride out an aggregator that is killed and restarted: `watch` reconnects and resumes without showing
an update twice, ending only at the experiment's real terminal status, and `submit` with an idempotency key
retries until an aggregator answers. The aggregator here is a child process (so it can be killed with kill -9)
on the session's NATS, beside the in-process platform that does the experiment's work."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest

from selfaware.cli.stack import free_port
from selfaware.client import Backoff, Client, wait_serving
from selfaware.specs import spec_from_dict
from selfaware.v1 import aggregator_pb2 as pb
from selfaware.v1 import records_pb2 as rec
from tests.conftest import CACHE

Start = Callable[[], subprocess.Popen[bytes]]


@pytest.fixture
async def aggregator(nats_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, Start]]:
    """(endpoint, start): `start()` runs `python -m services.aggregator` on the endpoint's fixed port."""
    port = free_port()
    started: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "SELFAWARE_NATS_URL": nats_url, "SELFAWARE_GRPC_PORT": str(port),
           "SELFAWARE_DATA_DIR": str(CACHE), "SELFAWARE_LOG_FORMAT": "json", "SELFAWARE_ACK_WAIT_S": "30",
           "SELFAWARE_SHUTDOWN_GRACE_S": "2"}

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / "aggregator.log").open("ab") as log:
            started.append(subprocess.Popen([sys.executable, "-m", "services.aggregator"], stdout=log,
                                            stderr=subprocess.STDOUT, env=env))
        return started[-1]

    yield f"127.0.0.1:{port}", start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


async def test_watch_resumes_across_an_aggregator_kill_and_ends_at_the_real_status(
        platform, make_spec, aggregator) -> None:  # type: ignore[no-untyped-def]
    endpoint, start = aggregator
    first = start()
    await wait_serving(endpoint, timeout_s=60)
    spec = spec_from_dict(make_spec(name=f"watch {uuid.uuid4().hex[:6]}", training__epochs=200,
                                    evaluation__include_base_model=False))
    updates: list[pb.WatchExperimentResponse] = []
    retries: list[grpc.StatusCode] = []
    async with Client(endpoint) as client:
        experiment = await client.submit(spec)

        async def watch() -> None:
            async for update in client.watch(experiment.id, backoff=Backoff(initial_s=0.2, max_s=1.0),
                                              on_retry=lambda code, delay: retries.append(code)):
                updates.append(update)

        watching = asyncio.create_task(watch())
        planned = len((await client.get(experiment.id)).jobs)
        while len(updates) < 1 + planned:  # the experiment and its jobs, as they are now
            assert not watching.done(), watching
            await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        await asyncio.sleep(1.5)  # the watch keeps retrying while nothing listens
        assert not watching.done() and retries
        start()
        await wait_serving(endpoint, timeout_s=60)
        async with platform.client() as other:
            await other.cancel(experiment.id, "the test ends it")
        await asyncio.wait_for(watching, 60)
    assert set(retries) == {grpc.StatusCode.UNAVAILABLE}
    assert updates[-1].HasField("experiment") and updates[-1].experiment.status == rec.EXPERIMENT_STATUS_CANCELLED
    shown = [u.SerializeToString(deterministic=True) for u in updates]
    assert len(set(shown)) == len(shown)  # the second stream's replay of current values was skipped


async def test_submit_with_a_key_retries_until_an_aggregator_answers(platform, make_spec, aggregator
                                                                    ) -> None:  # type: ignore[no-untyped-def]
    endpoint, start = aggregator
    name = f"retried {uuid.uuid4().hex[:6]}"
    spec = spec_from_dict(make_spec(name=name, evaluation__include_base_model=False))
    retries: list[grpc.StatusCode] = []
    key = uuid.uuid4().hex
    async with Client(endpoint) as client:
        submitting = asyncio.create_task(client.submit(spec, idempotency_key=key,
                                                       backoff=Backoff(initial_s=0.2, max_s=1.0),
                                                       on_retry=lambda code, delay: retries.append(code)))
        await asyncio.sleep(1.0)  # nothing listens on the port yet
        assert not submitting.done()
        start()
        experiment = await asyncio.wait_for(submitting, 90)
        again = await client.submit(spec, idempotency_key=key)  # as a retry whose first try got through
    assert again.id == experiment.id
    assert retries and set(retries) == {grpc.StatusCode.UNAVAILABLE}
    async with platform.client() as other:
        assert [e.id for e in await other.list() if e.spec.name == name] == [experiment.id]
        await other.cancel(experiment.id, "the test ends it")


async def test_submit_without_a_key_is_not_retried(make_spec) -> None:  # type: ignore[no-untyped-def]
    async with Client(f"127.0.0.1:{free_port()}") as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await asyncio.wait_for(client.submit(spec_from_dict(make_spec())), 10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
