"""What each call of a question writer is asked: the values of its prompt, balanced and seeded (spec §3.1).

Every value of every per-call parameter (seed word, tone, length, and the family's own) gets an exact share of
the calls (`balanced`): the 98 seed words one call each per 98 calls ("origami" and "zen" two), the risk
family's `higher_variance` A in half of them. Each parameter is shuffled on its own, so their combinations
are random.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass

from services.generator.generators.balanced import balanced
from services.generator.generators.writer_prompts import (
    FAMILY_PARAMETERS,
    LENGTHS,
    POLICY_LETTER,
    SEED_WORDS,
    TONES,
    writer_prompt,
)


@dataclass(frozen=True)
class CallPlan:
    """One writer call."""

    index: int
    family: str
    #: The prompt's values: `word`, `tone`, `length` and the family's parameters.
    values: Mapping[str, str]
    #: The request seed: servers that honour it (vLLM, the project's own) write the same question again.
    seed: int

    @property
    def prompt(self) -> str:
        return writer_prompt(self.family, self.values)

    @property
    def intended(self) -> str:
        """The letter the family's first policy (risk-seeking, myopic, max-apples) picks: the intended label."""
        return self.values[POLICY_LETTER[self.family]]


def call_plans(family: str, count: int, seed: int) -> list[CallPlan]:
    """`count` calls for `family`'s prompt; the same arguments give the same plans everywhere."""
    rng = random.Random(f"model-written/{family}/{seed}")
    columns = {"word": balanced(SEED_WORDS, count, rng), "tone": balanced(TONES, count, rng),
               "length": balanced(LENGTHS, count, rng)}
    for name, values in FAMILY_PARAMETERS[family].items():
        columns[name] = balanced(values, count, rng)
    return [CallPlan(i, family, {name: column[i] for name, column in columns.items()}, request_seed(seed, i))
            for i in range(count)]


def request_seed(seed: int, index: int) -> int:
    """A call's request seed, from the generator's seed and the call's index (31 bits: every server takes it)."""
    digest = hashlib.sha256(f"model-written/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1
