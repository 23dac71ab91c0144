"""Training backends: one registry, one module per backend, one `train` method each.

A backend turns training rows into an adapter directory. The handler never knows which backend ran: it reads
`BACKENDS.get(spec.training.backend)` and calls `train`. Importing this package stays cheap (torch and peft are
imported inside the backend modules' functions), so the aggregator can validate backend names at submit time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfaware.registry import Registry


@dataclass(frozen=True)
class LoraSettings:
    rank: int
    alpha: float
    dropout: float
    #: Module names, or ("all-linear",).
    target_modules: tuple[str, ...]


@dataclass(frozen=True)
class TrainingJob:
    """Everything one (policy, seed) run needs; nothing about where it came from."""

    base_model: str
    rows: list[dict]
    seed: int
    lora: LoraSettings
    learning_rate: float
    epochs: int
    batch_size: int
    output_dir: Path
    #: The backend's own parameters (`TrainingSpec.params`), checked against its `params` and defaults filled.
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingResult:
    #: The trained adapter (PEFT format); None for a hosted fine-tune, which has `served_model` instead.
    adapter_dir: Path | None
    steps: int
    losses: list[float] = field(default_factory=list)
    #: Seconds spent in the optimisation loop (model loading excluded).
    train_seconds: float = 0.0
    #: A hosted fine-tune's model id at the training endpoint (`ModelUnderTest.served_model`); "" for an adapter.
    served_model: str = ""


#: Called after every step with (step, total_steps, loss). It may raise to stop training (cancel, shutdown).
Progress = Callable[[int, int, float], None]


class TrainingBackend(ABC):
    """One required method; resume and cancel are handled by the caller through `progress`."""

    @abstractmethod
    def train(self, job: TrainingJob, progress: Progress) -> TrainingResult:
        """Train one adapter into `job.output_dir` (PEFT format) and return what happened."""


#: name -> factory(threads=...) of a backend. A factory may carry `params: tuple[selfaware.params.Param, ...]`,
#: the parameters a spec can set in `training.params`; the catalogue publishes them and the aggregator checks them.
BACKENDS: Registry[Callable[..., TrainingBackend]] = Registry("training backend")
training_backend = BACKENDS.register

from services.trainer.backends import peft_lora  # noqa: E402,F401  (registers the built-in backend)

__all__ = ["BACKENDS", "LoraSettings", "Progress", "TrainingBackend", "TrainingJob", "TrainingResult",
           "training_backend"]
