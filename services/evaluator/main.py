"""Evaluator entry point: `python -m services.evaluator` (flags and env vars: services/evaluator/config.py)."""

from __future__ import annotations

from selfaware.metrics import watch_gpus
from selfaware.secret_store import use_secret_store
from selfaware.service import Runtime, Wiring, service_main
from selfaware.source_policy import use_source_policy
from selfaware.v1 import evaluator_pb2, evaluator_pb2_grpc
from services.evaluator.catalogue import catalogue
from services.evaluator.config import EvaluatorConfig
from services.evaluator.engine_pool import EnginePool
from services.evaluator.handlers import EvaluatorHandlers
from services.evaluator.servicer import EvaluatorServicer


async def wire(config: EvaluatorConfig, runtime: Runtime) -> Wiring:
    use_source_policy(config.source_policy())  # the suites' question files are judged by it
    use_secret_store(config.secret_store())  # secret references and endpoint keys resolve from it
    watch_gpus()
    engines = EnginePool(config)
    EvaluatorHandlers(config, runtime, engines).declare()
    return Wiring(
        servicers=[(evaluator_pb2_grpc.add_EvaluatorServiceServicer_to_server, EvaluatorServicer(runtime.state))],
        service_names=[evaluator_pb2.DESCRIPTOR.services_by_name["EvaluatorService"].full_name],
        close=engines.close,
        catalogue=catalogue(config),
    )


def main() -> int:
    return service_main("evaluator", EvaluatorConfig, wire, catalogue)
