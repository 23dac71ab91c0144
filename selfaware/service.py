"""The one service skeleton: every service's `main` hands its wiring to `run_service`.

The order is fixed: load config, configure logging, connect the bus and stores, let the service build its
engines, servicers and handlers once, start gRPC (with health and reflection) and the consumers, wait for
SIGTERM or SIGINT, then stop. While it runs, gRPC health follows the bus: NOT_SERVING while any consumer cannot
run (`EventBus.consumers_healthy`), SERVING again once the bus has re-declared it. To stop: health goes
NOT_SERVING, the bus stops fetching and lets in-flight work finish for `shutdown_grace_s` (or hands it back to
JetStream), gRPC stops, and the engines close last. With `metrics_port` set, Prometheus metrics
(`selfaware/metrics.py`) are served from before the bus connects until after the engines close.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from grpc_health.v1 import health_pb2

from selfaware import metrics, provision
from selfaware.bus import EventBus, connect_options
from selfaware.config import ConfigError, ServiceConfig, load_config
from selfaware.grpc_server import check_files, start_server
from selfaware.logs import configure_logging
from selfaware.state import StateStore
from selfaware.store import ArtifactStore
from selfaware.v1 import catalogue_pb2 as cat

log = structlog.get_logger(__name__)
C = TypeVar("C", bound=ServiceConfig)
#: Libraries whose presence in a process is worth knowing at shutdown (memory, start-up time): the aggregator
#: must never load them, and its `service_stopped` log line says whether it did (tests/e2e checks it).
HEAVY_MODULES = ("torch", "vllm", "peft", "transformers", "openai")


@dataclass
class Runtime:
    """The connections a service's servicer and handlers share."""

    bus: EventBus
    state: StateStore
    store: ArtifactStore


@dataclass
class Wiring:
    """What a service contributes: its servicers (with their generated `add_*_to_server`) and a closer."""

    servicers: Sequence[tuple[Callable[..., None], Any]]
    service_names: Sequence[str]
    close: Callable[[], Awaitable[None]] | None = None
    #: What the service offers, published to the KV bucket before it starts consuming.
    catalogue: cat.Catalogue | None = None


async def connect_runtime(config: ServiceConfig, name: str) -> Runtime:
    """Connect to NATS as `config.nats_user` and open the state bucket and the artifact store. A service with a
    NATS user may not create streams (`selfaware.provision`): it checks them all first and fails naming the
    missing ones; an anonymous one (a NATS without accounts) creates them."""
    create = not config.nats_user
    bus = await EventBus.connect(config.nats_url, name=name, max_deliver=config.max_deliver,
                                 ack_wait_s=config.ack_wait_s, consumer_limits=config.limits(),
                                 replicas=config.nats_replicas, dead_letter_max_age_s=config.dead_letter_max_age_s,
                                 options=connect_options(config), provision=create)
    try:
        if not create:
            await provision.check(bus.js)
        state = await StateStore.open(bus.js, config.nats_replicas, create=create)
        store = await ArtifactStore.open(bus.js, config.data_dir / "artifacts", config.nats_replicas, create=create)
    except BaseException:
        await bus.close()
        raise
    return Runtime(bus, state, store)


async def run_service(name: str, config: C, wire: Callable[[C, Runtime], Awaitable[Wiring]],
                      stop: asyncio.Event | None = None, bound: asyncio.Future[int] | None = None) -> None:
    """Run one service until SIGTERM/SIGINT, or until `stop` is set (in-process tests, which also pass
    `bound` to learn the gRPC port when `grpc_port` is 0). Metrics are served on `metrics_port` throughout."""
    with metrics.exporting(name, config.grpc_host, config.metrics_port):
        await _run(name, config, wire, stop, bound)


async def _run(name: str, config: C, wire: Callable[[C, Runtime], Awaitable[Wiring]],
               stop: asyncio.Event | None, bound: asyncio.Future[int] | None) -> None:
    runtime = await connect_runtime(config, name)
    wiring = await wire(config, runtime)
    server = await start_server(config, wiring.servicers, wiring.service_names)
    port, health = server.port, server.health
    if wiring.catalogue is not None:
        await runtime.state.put_catalogue(wiring.catalogue)
    await runtime.bus.start()
    names = [*wiring.service_names, ""]
    watching = asyncio.create_task(runtime.bus.watch_health(lambda ok: _report_health(health, names, ok)))
    log.info("service_started", grpc=f"{config.grpc_host}:{port}", nats=config.nats_url,
             nats_user=config.nats_user or None, nats_tls=bool(config.nats_tls_ca_file))
    if bound is not None:
        bound.set_result(port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (RuntimeError, ValueError):  # not the main thread (in-process tests)
            pass
    await stop.wait()
    log.info("service_stopping", grace_s=config.shutdown_grace_s)
    await health.enter_graceful_shutdown()
    watching.cancel()
    await runtime.bus.drain(config.shutdown_grace_s)
    await server.stop(grace=3.0)
    if wiring.close is not None:
        await wiring.close()
    log.info("service_stopped", heavy_modules=sorted(m for m in HEAVY_MODULES if m in sys.modules))


async def _report_health(health: Any, names: Sequence[str], serving: bool) -> None:
    """gRPC health follows the bus: NOT_SERVING while any consumer cannot run (or NATS is unreachable)."""
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in names:
        await health.set(name, status)
    log.info("health_changed", serving=serving)


#: The flag that makes a service print its catalogue as JSON and exit (`selfaware validate` uses it to check a
#: spec against the code installed here without starting anything).
PRINT_CATALOGUE = "--print-catalogue"


def service_main(name: str, config_cls: type[C], wire: Callable[[C, Runtime], Awaitable[Wiring]],
                 catalogue: Callable[[], cat.Catalogue], argv: Sequence[str] | None = None) -> int:
    """Process entry point: parse config (exit 2 with a one-line reason when it is bad), log, run."""
    prog = f"python -m services.{name}"
    args = list(sys.argv[1:] if argv is None else argv)
    if PRINT_CATALOGUE in args:
        from google.protobuf import json_format

        print(json_format.MessageToJson(catalogue(), preserving_proto_field_name=True))
        return 0
    try:
        config = load_config(config_cls, args, prog=prog)
        check_files(config)  # TLS and tokens files: before anything connects
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    configure_logging(name, config.log_level, config.log_format)
    try:
        asyncio.run(run_service(name, config, wire))
    except provision.NotProvisioned as exc:  # one clear line (the streams and the fix), not a traceback
        log.error("nats_not_provisioned", error=str(exc))
        return 1
    return 0
