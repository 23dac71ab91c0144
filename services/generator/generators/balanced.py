"""Balanced, seeded draws: every value an exact share of the draws, not a random one.

The paper's generation prompts take per-call parameters "in equal proportion" (spec §3.1). Drawing each call's
value independently only gets near equal shares; these draws get them exactly (up to one), which is what a
test can check and what keeps a small set from leaning one way.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def balanced(values: Sequence[T], count: int, rng: random.Random) -> list[T]:
    """`count` draws of `values` in a seeded random order: each entry appears `count // len(values)` times, and
    `count % len(values)` distinct entries (chosen with `rng`) once more.

    Entries are counted by position, so a value listed twice (the paper's seed-word list has "origami" and
    "zen" twice) gets twice the share.
    """
    if not values:
        raise ValueError("balanced draws need at least one value")
    draws = [value for value in values for _ in range(count // len(values))]
    draws += rng.sample(list(values), count % len(values))
    rng.shuffle(draws)
    return draws
