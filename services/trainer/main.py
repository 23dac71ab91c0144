"""Trainer entry point: `python -m services.trainer` (flags and env vars: services/trainer/config.py)."""

from __future__ import annotations

from selfaware.metrics import watch_gpus
from selfaware.secret_store import use_secret_store
from selfaware.service import Runtime, Wiring, service_main
from selfaware.v1 import trainer_pb2, trainer_pb2_grpc
from services.trainer.catalogue import catalogue
from services.trainer.config import TrainerConfig
from services.trainer.handlers import TrainerHandlers
from services.trainer.servicer import TrainerServicer


async def wire(config: TrainerConfig, runtime: Runtime) -> Wiring:
    watch_gpus()
    use_secret_store(config.secret_store())  # endpoint keys (hosted fine-tuning) resolve from it
    TrainerHandlers(config, runtime).declare()
    return Wiring(
        servicers=[(trainer_pb2_grpc.add_TrainerServiceServicer_to_server, TrainerServicer(runtime.state))],
        service_names=[trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name],
        catalogue=catalogue(config),
    )


def main() -> int:
    return service_main("trainer", TrainerConfig, wire, catalogue)
