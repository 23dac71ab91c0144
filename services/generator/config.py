"""Generator settings (flags `--name`, env `SELFAWARE_NAME`)."""

from __future__ import annotations

from dataclasses import dataclass

from selfaware.config import setting
from selfaware.secret_store import SecretsConfig
from selfaware.source_policy import SourceReadingConfig


@dataclass(frozen=True)
class GeneratorConfig(SourceReadingConfig, SecretsConfig):
    """The generator: builds training sets and held-out probes (reading sources under its `source_*` settings)."""

    grpc_port: int = setting(50052, "gRPC port")
