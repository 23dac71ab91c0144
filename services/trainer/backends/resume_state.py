"""A training run's resume state: what a restarted worker needs to continue exactly where a killed one stopped.

Saved at optimiser-step boundaries: the trainable (LoRA) weights, the optimiser's and the scheduler's state,
every RNG the run may draw from (torch, CUDA, `random`, numpy), the data order (every epoch's batches, as
indices into the encoded rows), the position in it, and the running counts behind the job's metrics. Restoring
all of it makes the continued run compute what the uninterrupted one would have: the same adapter, to the bit
on the same hardware and thread count. The state is one `state.pt`, read back with `weights_only=True` (plain
tensors and containers only; nothing in it can run code), and carries a fingerprint of the job's inputs, so a
state saved for other inputs (another code version's job, say) is ignored rather than resumed into.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

STATE_FILE = "state.pt"


@dataclass
class Position:
    """Where the run is and what it has counted so far (all of it saved in the state)."""

    #: Optimiser steps done.
    step: int = 0
    #: The next micro-batch to run: its 0-based epoch and its index in that epoch's batches.
    epoch: int = 0
    batch: int = 0
    losses: list[float] = field(default_factory=list)
    #: Tokens that were not padding, and padding tokens, in the batches run so far.
    tokens: int = 0
    padding: int = 0
    #: Seconds spent in the optimisation loop so far, over every attempt.
    seconds: float = 0.0


def save(folder: Path, fingerprint: str, order: list[list[list[int]]], position: Position, model: Any,
         optimizer: Any, scheduler: Any) -> Path:
    """Write the state into `folder` (created) and return it."""
    import numpy as np
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)  # type: ignore[misc]
    state = {
        "fingerprint": fingerprint,
        "order": order,
        "position": vars(position),
        "weights": {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
        },
    }
    torch.save(state, folder / STATE_FILE)
    return folder


def load(folder: Path, fingerprint: str, model: Any, optimizer: Any, scheduler: Any
         ) -> tuple[Position, list[list[list[int]]]] | None:
    """Restore a saved state into the model, optimiser and scheduler and the RNGs; None if it is another job's."""
    import numpy as np
    import torch

    state = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=True)
    if state["fingerprint"] != fingerprint:
        log.warning("resume_state_ignored", reason="saved for other inputs", saved=state["fingerprint"][:12],
                    expected=fingerprint[:12])
        return None
    weights = state["weights"]
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                parameter.copy_(weights[name])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    python = rng["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    kind, keys, pos, has_gauss, gauss = rng["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    return Position(**state["position"]), state["order"]
