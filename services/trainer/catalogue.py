"""What the trainer offers: its training backends with their parameters (a backend factory's `params`), published
at start-up for submit-time validation."""

from __future__ import annotations

from selfaware.catalogue import catalogue as build_catalogue
from selfaware.params import capability
from selfaware.v1 import catalogue_pb2 as cat
from services.trainer.backends import BACKENDS
from services.trainer.config import TrainerConfig


def catalogue(config: TrainerConfig | None = None) -> cat.Catalogue:
    """The trainer's catalogue; `config` sets the base models it publishes (None: the default settings)."""
    published = build_catalogue("trainer", [
        capability("training_backend", name, (BACKENDS.get(name).__doc__ or "").strip().splitlines()[0],
                   getattr(BACKENDS.get(name), "params", ()))
        for name in BACKENDS.names()
    ])
    published.allowed_base_models.extend((config or TrainerConfig()).allowed_models())
    return published
