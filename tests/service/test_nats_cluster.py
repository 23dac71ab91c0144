"""Streams and buckets on a real 3-node NATS cluster get the replica count `SELFAWARE_NATS_REPLICAS` asks for.

The production overlay (deploy/k8s/overlays/production) runs NATS as a 3-node JetStream cluster and sets the
setting to 3; this test starts three nats-servers with cluster routes on loopback and goes through the services'
own start-up path (`load_config`, then `connect_runtime`), so the setting is read where the services read it.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from selfaware.bus import DLQ_STREAM, EVENTS_STREAM
from selfaware.config import ServiceConfig, load_config
from selfaware.service import connect_runtime
from selfaware.state import STATE_BUCKET
from selfaware.store import ARTIFACTS_BUCKET
from tests.conftest import NatsProcess, free_port

NODES = 3


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[str]]:
    """Three JetStream servers routed to each other; yields their client URLs."""
    binary = NatsProcess(tmp_path).binary
    clients, routes = [free_port() for _ in range(NODES)], [free_port() for _ in range(NODES)]
    processes = []
    for i in range(NODES):
        conf = tmp_path / f"n{i}.conf"
        conf.write_text(f"""
server_name: n{i}
listen: 127.0.0.1:{clients[i]}
jetstream {{ store_dir: "{tmp_path / f'store-{i}'}" }}
cluster {{
  name: test
  listen: 127.0.0.1:{routes[i]}
  routes: [{", ".join(f"nats://127.0.0.1:{port}" for port in routes)}]
}}
""")
        processes.append(subprocess.Popen([str(binary), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.STDOUT))
    try:
        for port in clients:
            wait_for_port(port)
        yield [f"nats://127.0.0.1:{port}" for port in clients]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"nats-server did not start on port {port}")
            time.sleep(0.05)


async def wait_for_jetstream(url: str, timeout: float = 30.0) -> None:
    """A cluster serves JetStream only once its servers have elected a meta leader."""
    nc = await nats.connect(url)
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            try:
                await nc.jetstream().account_info()
                return
            except Exception:  # noqa: BLE001 - no meta leader yet
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def test_services_create_streams_and_buckets_with_the_configured_replicas(
        cluster: list[str], tmp_path: Path) -> None:
    await wait_for_jetstream(cluster[0])
    config = load_config(ServiceConfig, [], {"SELFAWARE_NATS_URL": cluster[0], "SELFAWARE_NATS_REPLICAS": "3",
                                             "SELFAWARE_DATA_DIR": str(tmp_path / "data")})
    runtime = await connect_runtime(config, "test-cluster")
    try:
        for stream in (EVENTS_STREAM, DLQ_STREAM, f"KV_{STATE_BUCKET}", f"OBJ_{ARTIFACTS_BUCKET}"):
            info = await runtime.bus.js.stream_info(stream)
            assert info.config.num_replicas == 3, stream
            assert info.cluster is not None and len(info.cluster.replicas or []) == 2, stream  # the leader + 2
        await runtime.bus.ensure_streams()  # every replica's start-up: idempotent on the replicated streams
    finally:
        await runtime.bus.close()
