"""Aggregator settings (flags `--name`, env `SELFAWARE_NAME`)."""

from __future__ import annotations

from dataclasses import dataclass

from selfaware.config import ServiceConfig, setting


@dataclass(frozen=True)
class AggregatorConfig(ServiceConfig):
    """The aggregator: owns the experiment lifecycle, computes statistics and writes reports."""

    grpc_port: int = setting(50051, "gRPC port (the one clients talk to)")
