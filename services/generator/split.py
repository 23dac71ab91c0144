"""The seeded split of a source into training and held-out questions, done on row indices.

Splitting a root source once, on indices, is what keeps arms comparable: every arm built from the source (or
derived from such an arm with `of`) holds out the same questions, and no held-out question is ever in any of
their training sets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Split:
    """Source row indices, each list in source-file order."""

    train: tuple[int, ...]
    heldout: tuple[int, ...]


def split_indices(available: int, heldout: int, seed: int) -> Split:
    """Hold `heldout` of `available` rows out, chosen with `seed`; the rest are for training.

    Both lists keep the source-file order rather than a shuffled one: a training set is then a plain
    subsequence of its source, easy to diff and to audit, and shuffling between epochs is the trainer's job
    (per training seed). The choice is `random.Random(f"split/{seed}")`, so a given seed holds out the same
    questions on every machine and Python run.

    Raises:
        ValueError: `heldout` leaves no training row (callers say which spec field is at fault).
    """
    if not 0 <= heldout < available:
        raise ValueError(f"cannot hold out {heldout} of {available} rows and keep some for training")
    chosen = random.Random(f"split/{seed}").sample(range(available), available)
    return Split(train=tuple(sorted(chosen[heldout:])), heldout=tuple(sorted(chosen[:heldout])))
