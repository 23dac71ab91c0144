"""Generator settings (flags `--name`, env `SELFAWARE_NAME`)."""

from __future__ import annotations

from dataclasses import dataclass

from selfaware.config import ServiceConfig, setting


@dataclass(frozen=True)
class GeneratorConfig(ServiceConfig):
    """The generator: builds training sets and held-out probes."""

    grpc_port: int = setting(50052, "gRPC port")
