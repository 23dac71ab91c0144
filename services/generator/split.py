"""The seeded split of a source into training and held-out questions, done on question indices.

Splitting indices rather than rows is what keeps both policies honest: the opposite policy's rows are the
flipped source rows, so one index split holds out the same questions for both, and no held-out question is
ever in either training set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from selfaware.errors import SpecError


@dataclass(frozen=True)
class Split:
    """Source row indices, each list in source-file order."""

    train: tuple[int, ...]
    heldout: tuple[int, ...]


def split_indices(available: int, size: int, heldout: int, seed: int) -> Split:
    """Pick `size` of `available` rows with `seed` (0 = all of them) and hold `heldout` of those out.

    Both lists keep the source-file order rather than a shuffled one: a training set is then a plain
    subsequence of its source, easy to diff and to audit, and shuffling between epochs is the trainer's job
    (per training seed). The selection is `random.Random(f"split/{seed}")`, so a given seed selects the same
    questions on every machine and Python run.

    Raises:
        SpecError: on `dataset.size` when it asks for more rows than the source has, on `dataset.heldout` when
            no training row would remain.
    """
    if size > available:
        raise SpecError.single("dataset.size", f"asks for {size} rows but the source has only {available}")
    total = size or available
    if heldout >= total:
        raise SpecError.single("dataset.heldout", f"must be less than the {total} rows used, so that some "
                                                  "are left for training")
    chosen = random.Random(f"split/{seed}").sample(range(available), total)
    return Split(train=tuple(sorted(chosen[heldout:])), heldout=tuple(sorted(chosen[:heldout])))
