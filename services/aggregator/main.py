"""Aggregator entry point: `python -m services.aggregator` (flags and env vars: services/aggregator/config.py)."""

from __future__ import annotations

import asyncio
import contextlib

from selfaware.bus import DLQ_PREFIX, DLQ_STREAM, EVENT_TYPES
from selfaware.catalogue import catalogue as build_catalogue
from selfaware.service import Runtime, Wiring, service_main
from selfaware.source_policy import use_source_policy
from selfaware.v1 import aggregator_pb2, aggregator_pb2_grpc
from selfaware.v1 import catalogue_pb2 as cat
from services.aggregator.config import AggregatorConfig
from services.aggregator.dead_letters import DeadLetters
from services.aggregator.experiments import Experiments
from services.aggregator.handlers import AggregatorHandlers
from services.aggregator.reconciler import Reconciler
from services.aggregator.servicer import AggregatorServicer
from services.aggregator.sweeps import Sweeps


async def wire(config: AggregatorConfig, runtime: Runtime) -> Wiring:
    use_source_policy(config.source_policy())  # every source this process reads is judged by it
    experiments = Experiments(runtime.state, runtime.bus, config.quota_limits())
    handlers = AggregatorHandlers(config, runtime, experiments)
    handlers.declare()
    dead_letters = DeadLetters(runtime.bus.js, DLQ_STREAM, DLQ_PREFIX + ">", EVENT_TYPES, experiments.owner_of)
    sweeps = Sweeps(runtime.state, runtime.store, experiments, slots=config.sweep_slots)
    servicer = AggregatorServicer(experiments, handlers.reporter, dead_letters, sweeps)
    reconciler = Reconciler(experiments, handlers.report_now, handlers.request_unstarted_shards,
                            interval_s=config.reconcile_interval_s, grace_s=config.reconcile_grace_s)
    loops = [asyncio.create_task(reconciler.run(), name="reconciler"),
             asyncio.create_task(sweeps.run(config.sweep_interval_s), name="sweeps")]

    async def close() -> None:
        for task in loops:
            task.cancel()
        for task in loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return Wiring(
        servicers=[(aggregator_pb2_grpc.add_AggregatorServiceServicer_to_server, servicer)],
        service_names=[aggregator_pb2.DESCRIPTOR.services_by_name["AggregatorService"].full_name],
        close=close,
        catalogue=catalogue(),
    )


def catalogue() -> cat.Catalogue:
    """The aggregator offers no parts; its catalogue records the code version it runs."""
    return build_catalogue("aggregator", [])


def main() -> int:
    return service_main("aggregator", AggregatorConfig, wire, catalogue)
