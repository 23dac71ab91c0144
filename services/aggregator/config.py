"""Aggregator settings (flags `--name`, env `SELFAWARE_NAME`)."""

from __future__ import annotations

from dataclasses import dataclass

from selfaware.config import require, setting
from selfaware.source_policy import SourceReadingConfig
from services.aggregator.quotas import QuotaLimits


@dataclass(frozen=True)
class AggregatorConfig(SourceReadingConfig):
    """The aggregator: owns the experiment lifecycle, computes statistics and writes reports.

    Its `source_*` settings judge the sources of ValidateExperiment and SubmitExperiment; keep them the
    generator's and the evaluator's, which read them.
    """

    grpc_port: int = setting(50051, "gRPC port (the one clients talk to)")
    reconcile_interval_s: float = setting(30.0, "seconds between the reconciler's passes over unfinished experiments")
    reconcile_grace_s: float = setting(30.0, "seconds a new experiment is left to its first events before a pass "
                                             "re-sends them")
    sweep_slots: int = setting(4, "sweep experiments running at once across all sweeps (single experiments are "
                                  "never held)")
    sweep_interval_s: float = setting(5.0, "seconds between the sweep ticks: admit held cells, refresh the cells' "
                                           "statuses, render the report of a sweep whose cells all ended")
    quota_experiments_in_flight: int = setting(32, "experiments one owner may have running at once (submitted or "
                                                   "admitted, not ended); 0: no limit")
    quota_gpu_hours_in_flight: float = setting(200.0, "estimated GPU hours of one owner's running experiments "
                                                      "(services/aggregator/quotas.py); 0: no limit")
    quota_samples_per_experiment: int = setting(2_000_000, "estimated samples of one experiment (training rows + "
                                                           "probe samples); 0: no limit")
    quota_train_samples_per_gpu_hour: float = setting(20_000.0, "training samples (rows x epochs) one GPU is "
                                                                "assumed to train per hour, for the GPU-hour "
                                                                "estimate: set it for your models and GPUs")

    def quota_limits(self) -> QuotaLimits:
        return QuotaLimits(self.quota_experiments_in_flight, self.quota_gpu_hours_in_flight,
                           self.quota_samples_per_experiment, self.quota_train_samples_per_gpu_hour)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.reconcile_interval_s > 0, "reconcile_interval_s", "a positive number of seconds")
        require(self.reconcile_grace_s >= 0, "reconcile_grace_s", "0 or more seconds")
        require(self.sweep_slots >= 1, "sweep_slots", "at least 1")
        require(self.sweep_interval_s > 0, "sweep_interval_s", "a positive number of seconds")
        for name in ("quota_experiments_in_flight", "quota_gpu_hours_in_flight", "quota_samples_per_experiment"):
            require(getattr(self, name) >= 0, name, "0 (no limit) or more")
        require(self.quota_train_samples_per_gpu_hour > 0, "quota_train_samples_per_gpu_hour", "a positive number")
