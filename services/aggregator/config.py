"""Aggregator settings (flags `--name`, env `SELFAWARE_NAME`)."""

from __future__ import annotations

from dataclasses import dataclass

from selfaware.config import require, setting
from selfaware.source_policy import SourceReadingConfig


@dataclass(frozen=True)
class AggregatorConfig(SourceReadingConfig):
    """The aggregator: owns the experiment lifecycle, computes statistics and writes reports.

    Its `source_*` settings judge the sources of ValidateExperiment and SubmitExperiment; keep them the
    generator's and the evaluator's, which read them.
    """

    grpc_port: int = setting(50051, "gRPC port (the one clients talk to)")
    reconcile_interval_s: float = setting(30.0, "seconds between the reconciler's sweeps of unfinished experiments")
    reconcile_grace_s: float = setting(30.0, "seconds a new experiment is left to its first events before a sweep "
                                             "re-sends them")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.reconcile_interval_s > 0, "reconcile_interval_s", "a positive number of seconds")
        require(self.reconcile_grace_s >= 0, "reconcile_grace_s", "0 or more seconds")
