"""Training backends: one registry, one module per backend, one `train` method each.

A backend turns training rows into an adapter directory. The handler never knows which backend ran: it reads
`BACKENDS.get(spec.training.backend)` and calls `train`. Importing this package stays cheap (torch and peft are
imported inside the backend modules' functions), so the aggregator can validate backend names at submit time.

What a run must keep goes through `on_save` while it runs: resume states (so a redelivered job continues where a
killed worker stopped, on any replica) and checkpoints (adapters to evaluate, after an epoch or every N steps).
The caller stores each durably before `on_save` returns, so a state is never referenced before it exists.
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
    #: A resume state this backend saved earlier for the same job (`Saved.kind == "resume"`): continue from it.
    resume_from: Path | None = None
    #: Save a resume state after this many seconds of training since the last one (0: never by time) ...
    resume_every_s: float = 0.0
    #: ... or after this many optimiser steps (0: never by steps), whichever comes first.
    resume_every_steps: int = 0


@dataclass(frozen=True)
class Saved:
    """Something a running training saved that the caller must store before training goes on."""

    #: "resume" (optimiser, scheduler, RNG and data position: what a restart continues from) or "checkpoint"
    #: (an adapter directory in PEFT format, or a hosted model id, to evaluate as a model).
    kind: str
    #: The 1-based epoch of the last step done, and the optimiser steps done so far.
    epoch: int
    step: int
    #: The saved directory; None for a hosted checkpoint, which the endpoint serves as `served_model`.
    folder: Path | None
    served_model: str = ""


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
    #: Job metrics beyond the loss, e.g. `tokens_per_s` and `padding_fraction`.
    metrics: dict[str, float] = field(default_factory=dict)


#: Called after every step with (step, total_steps, loss). It may raise to stop training (cancel, shutdown).
Progress = Callable[[int, int, float], None]
#: Called from the training thread with each `Saved`; it returns once the caller has stored it. It may raise.
OnSave = Callable[[Saved], None]


def keep_nothing(saved: Saved) -> None:
    """The default `on_save`: a caller that needs neither resume states nor checkpoints."""


class TrainingBackend(ABC):
    """One required method; cancel and shutdown reach it through `progress`, storage through `on_save`."""

    @abstractmethod
    def train(self, job: TrainingJob, progress: Progress, on_save: OnSave = keep_nothing) -> TrainingResult:
        """Train one adapter into `job.output_dir` (PEFT format) and return what happened."""


#: name -> factory(threads=...) of a backend. A factory may carry `params: tuple[selfaware.params.Param, ...]`,
#: the parameters a spec can set in `training.params`; the catalogue publishes them and the aggregator checks them.
BACKENDS: Registry[Callable[..., TrainingBackend]] = Registry("training backend")
training_backend = BACKENDS.register

from services.trainer.backends import peft_lora  # noqa: E402,F401  (registers the built-in backend)

__all__ = ["BACKENDS", "LoraSettings", "OnSave", "Progress", "Saved", "TrainingBackend", "TrainingJob",
           "TrainingResult", "keep_nothing", "training_backend"]
from services.trainer.backends import openai_finetune  # noqa: E402,F401
