"""Which held sweep experiments to admit now: the fair-sharing rule, as one pure function.

Sweep experiments are created held and announced only when admitted, so a big sweep cannot flood the trainers'
queue: at most `slots` sweep experiments run at once across all sweeps, and a sweep's `max_running` caps its own.
Each free slot goes to the sweep with the highest priority, then the fewest running, then the oldest, so equal
sweeps take turns. Single experiments are never held: one submitted behind a big sweep waits for at most `slots`
experiments' jobs, not for the whole sweep.

A sweep whose next cell does not `fit` (its owner's quotas, `quotas.py`) admits nothing more this time and the
slot goes to the next sweep; the cell stays held until a later call finds room (an owner's experiments end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SweepLoad:
    """One unfinished sweep as admission sees it."""

    sweep_id: str
    priority: int
    #: 0: no cap of its own (the slots cap it).
    max_running: int
    #: Nanoseconds since the epoch: the tie-break, oldest first.
    created_at: int
    #: Admitted experiments that have not ended.
    running: int
    #: Held experiment ids, in cell order (admitted in that order).
    held: tuple[str, ...]


def admit(sweeps: list[SweepLoad], slots: int, fits: Callable[[str], bool] = lambda _: True) -> list[str]:
    """The held experiment ids to admit now, in the order they were chosen. `fits(id)` is asked once per
    candidate, just before it would be admitted (a True counts it against its owner's room)."""
    running = {s.sweep_id: s.running for s in sweeps}
    waiting = {s.sweep_id: list(s.held) for s in sweeps}
    free = slots - sum(running.values())
    admitted: list[str] = []
    while free > 0:
        ready = [s for s in sweeps if waiting[s.sweep_id] and running[s.sweep_id] < (s.max_running or slots)]
        if not ready:
            break
        chosen = min(ready, key=lambda s: (-s.priority, running[s.sweep_id], s.created_at, s.sweep_id))
        if not fits(waiting[chosen.sweep_id][0]):
            waiting[chosen.sweep_id] = []  # blocked on its owner's quota until a later call
            continue
        admitted.append(waiting[chosen.sweep_id].pop(0))
        running[chosen.sweep_id] += 1
        free -= 1
    return admitted
