"""Aggregator entry point: `python -m services.aggregator` (flags and env vars: services/aggregator/config.py)."""

from __future__ import annotations

from selfaware.service import Runtime, Wiring, service_main
from selfaware.v1 import aggregator_pb2, aggregator_pb2_grpc
from services.aggregator.config import AggregatorConfig
from services.aggregator.experiments import Experiments
from services.aggregator.handlers import AggregatorHandlers
from services.aggregator.servicer import AggregatorServicer


async def wire(config: AggregatorConfig, runtime: Runtime) -> Wiring:
    experiments = Experiments(runtime.state, runtime.bus)
    handlers = AggregatorHandlers(config, runtime, experiments)
    handlers.declare()
    servicer = AggregatorServicer(experiments, handlers.reporter)
    return Wiring(
        servicers=[(aggregator_pb2_grpc.add_AggregatorServiceServicer_to_server, servicer)],
        service_names=[aggregator_pb2.DESCRIPTOR.services_by_name["AggregatorService"].full_name],
    )


def main() -> int:
    return service_main("aggregator", AggregatorConfig, wire)
