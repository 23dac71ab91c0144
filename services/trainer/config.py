"""Trainer settings (flags `--name`, env `SELFAWARE_NAME`)."""

from __future__ import annotations

from dataclasses import dataclass

from selfaware.config import require, setting
from selfaware.model_allowlist import BaseModelsConfig
from selfaware.secret_store import SecretsConfig


@dataclass(frozen=True)
class TrainerConfig(SecretsConfig, BaseModelsConfig):
    """The trainer: fine-tunes one adapter per (policy, seed)."""

    grpc_port: int = setting(50053, "gRPC port")
    torch_threads: int = setting(0, "torch CPU threads for training; 0 keeps torch's default (all cores)")
    concurrency: int = setting(1, "training jobs run at once by this replica")
    reuse_adapters: bool = setting(True, "reuse the adapter of an identical earlier training (same base model, rows, "
                                         "settings and seed) from <data dir>/trained instead of training again")
    resume_state_every_s: float = setting(90.0, "seconds of training between resume states stored for a "
                                                "redelivered job to continue from (work lost to a crash: at most "
                                                "this plus one step, under 2 minutes); 0: never by time")
    resume_state_every_steps: int = setting(0, "also store a resume state every this many optimiser steps; 0: never "
                                               "by steps")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.torch_threads >= 0, "torch_threads", "0 or more")
        require(self.concurrency >= 1, "concurrency", "at least 1")
        require(self.resume_state_every_s >= 0, "resume_state_every_s", "0 or more")
        require(self.resume_state_every_steps >= 0, "resume_state_every_steps", "0 or more")
