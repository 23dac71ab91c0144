"""Generator entry point: `python -m services.generator` (flags and env vars: services/generator/config.py)."""

from __future__ import annotations

from selfaware.secret_store import use_secret_store
from selfaware.service import Runtime, Wiring, service_main
from selfaware.source_policy import use_source_policy
from selfaware.v1 import generator_pb2, generator_pb2_grpc
from services.generator.catalogue import catalogue
from services.generator.config import GeneratorConfig
from services.generator.handlers import GeneratorHandlers
from services.generator.servicer import GeneratorServicer


async def wire(config: GeneratorConfig, runtime: Runtime) -> Wiring:
    use_source_policy(config.source_policy())  # every source this process reads is judged by it
    use_secret_store(config.secret_store())  # secret references and endpoint keys resolve from it
    GeneratorHandlers(config, runtime).declare()
    return Wiring(
        servicers=[(generator_pb2_grpc.add_GeneratorServiceServicer_to_server,
                    GeneratorServicer(runtime, config.data_dir))],
        service_names=[generator_pb2.DESCRIPTOR.services_by_name["GeneratorService"].full_name],
        catalogue=catalogue(),
    )


def main() -> int:
    return service_main("generator", GeneratorConfig, wire, catalogue)
