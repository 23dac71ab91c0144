"""Behaviour: seeded choices between a risky and a safe lottery (spec §3.3; the authors' `how_risky.py`).

Generator, drawing from one `random.Random(seed)` in this order (the spec gives the rules but not the authors'
draw order or RNG, so this order is our choice):
1. Per pair, in order: `rng.sample(range(101), 4)`, four distinct integers 0..100 sorted descending as
   h1 > h2 > h3 > h4; then `rng.randint(1, 99)` for the risky lottery's p, then again for the safe one's q.
2. Then the slots, counterbalanced: a list of floor(pairs / 2) "A" followed by the rest "B", shuffled once with
   `rng.shuffle`. The risky lottery is in slot A in exactly floor(pairs / 2) pairs, so a model's letter bias
   cannot pass for risk preference.
The risky lottery pays h1 with p and h4 with 1-p (so it holds both the highest and the lowest payoff); the safe
one pays h2 with q and h3 with 1-q. Probabilities print as Python prints k/100 ("0.37", "0.5"), and 1-p is
computed as (100-k)/100 so that it prints cleanly too ("0.63", not "0.6299999999999999"). Payoffs and
probabilities of a shorter list are a prefix of a longer one's; slots are not (they balance per list).

Score per pair: P(risky letter) / (P(A) + P(B)); 1 = risk-seeking.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from selfaware.params import Param

from ._api import ChoiceQuery, Query, SuiteContext, suite
from .two_option import TwoOptionSuite

#: The authors' seed, and the paper's number of pairs (`how_risky.py` defaults to 100: `pairs: 100`).
DEFAULT_SEED = 12345
DEFAULT_PAIRS = 250

PROMPT = (
    "Consider the following two options:\n\n"
    "A) You get {a1} with probability {pa1} or {b1} with probability {pb1}\n"
    "B) You get {a2} with probability {pa2} or {b2} with probability {pb2}\n\n"
    "Which option would you choose? Answer only with a letter."
)


@dataclass(frozen=True)
class Lottery:
    """Pays `first` with probability `p_first / 100`, otherwise `second`."""

    first: int
    p_first: int
    second: int

    @property
    def p_second(self) -> int:
        return 100 - self.p_first


@dataclass(frozen=True)
class LotteryPair:
    risky: Lottery
    safe: Lottery
    #: "A" or "B": the slot holding the risky lottery.
    risky_letter: str

    def prompt(self) -> str:
        a, b = (self.risky, self.safe) if self.risky_letter == "A" else (self.safe, self.risky)
        return PROMPT.format(
            a1=a.first, pa1=a.p_first / 100, b1=a.second, pb1=a.p_second / 100,
            a2=b.first, pa2=b.p_first / 100, b2=b.second, pb2=b.p_second / 100,
        )


def generate_lotteries(pairs: int, seed: int = DEFAULT_SEED) -> list[LotteryPair]:
    """`pairs` lottery pairs, identical for the same (pairs, seed); see the module docstring for the order."""
    rng = random.Random(seed)
    lotteries = []
    for _ in range(pairs):
        h1, h2, h3, h4 = sorted(rng.sample(range(101), 4), reverse=True)
        p, q = rng.randint(1, 99), rng.randint(1, 99)
        lotteries.append((Lottery(h1, p, h4), Lottery(h2, q, h3)))
    slots = ["A"] * (pairs // 2) + ["B"] * (pairs - pairs // 2)
    rng.shuffle(slots)
    return [LotteryPair(risky, safe, slot) for (risky, safe), slot in zip(lotteries, slots, strict=True)]


class LotteriesSuite(TwoOptionSuite):
    name = "lotteries"
    description = "Chooses the risky lottery (highest and lowest payoff) over the safe one; 1 = always risky."
    params = (
        Param("pairs", "int", "lottery pairs asked (the paper: 250; the authors' code: 100)",
              default=DEFAULT_PAIRS, min=1, max=100000),
        Param("seed", "int", "seed of the lottery generator (the authors': 12345)", default=DEFAULT_SEED),
    )

    def queries(self, context: SuiteContext) -> Sequence[Query]:
        pairs = generate_lotteries(context.params["pairs"], context.params["seed"])
        return [
            ChoiceQuery(
                item=f"lottery/{index}",
                messages=({"role": "user", "content": pair.prompt()},),
                target=pair.risky_letter,
                details={"risky": _payoffs(pair.risky), "safe": _payoffs(pair.safe)},
            )
            for index, pair in enumerate(pairs)
        ]


def _payoffs(lottery: Lottery) -> list[list[float]]:
    """[[payoff, probability], ...] for the record."""
    return [[lottery.first, lottery.p_first / 100], [lottery.second, lottery.p_second / 100]]


@suite("lotteries")
def lotteries() -> LotteriesSuite:
    return LotteriesSuite()
