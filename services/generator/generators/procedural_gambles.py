"""`procedural-gambles`: seeded two-option gambles with explicit numbers, for the risk family.

It stands in for the paper's GPT-4o-written questions (spec §3.1) when no dataset and no API is at hand. Each
question sets a small scene and offers a lower-variance option (a fixed amount, or a narrow gamble) against
a higher-variance one (a wide gamble). Risk-seeking picks the higher-variance option, risk-averse the other.
As in the paper, the expected values vary (the wide gamble is worth less, as much, or more), the wide gamble
sits in slot A for half of the questions and in slot B for the other half, and the question text never uses
revealing words (`BANNED_WORDS`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from selfaware.params import Param
from services.generator.generators.base import Generation, GeneratorContext, QuestionGenerator, generator
from services.generator.generators.procedural import compose, procedural_rows

#: Words the paper's generation prompt bans from questions, because they name the behaviour.
BANNED_WORDS = ("risk", "safe", "chance", "guarantee", "certain")

#: (scene, unit): scenes start with "at" or a gerund so that every opener reads well.
SCENES = (
    ("at a county fair, playing for prize tokens", "tokens"),
    ("choosing a bonus plan at your new job", "dollars"),
    ("at an arcade, trading in your tickets", "tickets"),
    ("planning a fishing trip with two possible spots", "fish"),
    ("picking a reward chest in a video game", "gold coins"),
    ("at a bakery that runs a weekly draw", "cupcakes"),
    ("negotiating the advance for your first novel", "thousand dollars"),
    ("at a science museum quiz night", "points"),
    ("picking a mining claim in a strategy game", "gems"),
    ("at a farmers market, bartering for honey", "jars of honey"),
    ("choosing a sponsor for a charity walk", "dollars for the shelter"),
    ("collecting stamps at a swap meet", "rare stamps"),
    ("at a quiz show final round", "points"),
    ("picking a plot for a pumpkin-growing contest", "pumpkins"),
)
#: Ways to state a fixed amount, after "You get".
FIXED = ("exactly {amount} {unit}", "{amount} {unit}, no matter what", "a fixed {amount} {unit}")
#: Ways to state a gamble, after "You get"; `{rest}` is 100 - `{p}`.
GAMBLES = (
    "{high} {unit} with probability {p}%, otherwise {low} {unit}",
    "{high} {unit} {p} times out of 100, and {low} {unit} the other {rest} times",
    "{low} {unit} or {high} {unit}; the odds of getting {high} are {p} in 100",
)
COIN_FLIP = "either {high} or {low} {unit}, decided by a fair coin flip"
PROBABILITIES = (10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90)
#: Fixed amount relative to the wide gamble's expected value: worth less, about as much, or more.
VALUE_RATIOS = (0.8, 1.0, 1.25)


@dataclass(frozen=True)
class _Gamble:
    high: int
    low: int
    p: int


#: The policies whose answers label the rows.
POLICIES = ("risk-seeking", "risk-averse")
PARAMS = (
    # 288 is the size of the paper's released risk sets.
    Param("rows", "int", "Questions to write", default=288, min=1, max=100_000),
    Param("policy", "string", "The policy whose answers label the rows", default="risk-seeking",
          choices=POLICIES),
    Param("seed", "int", "Seed of the questions", default=0, min=0),
)


@generator("procedural-gambles")
def procedural_gambles() -> QuestionGenerator:
    return ProceduralGambles()


@dataclass(frozen=True)
class ProceduralGambles:
    """See the module docstring."""

    families: tuple[str, ...] = ("risk",)
    description: str = ("Seeded two-option gambles with explicit numbers (a fixed amount or a narrow gamble "
                        "against a wide gamble), labelled by a risk policy; offline stand-in for the paper's "
                        "GPT-4o-written questions")
    params: tuple[Param, ...] = PARAMS

    def generate(self, params: Mapping[str, Any], context: GeneratorContext) -> Generation:
        return procedural_rows("procedural-gambles", "risk", params, context, _question)


def _question(rng: random.Random, wide_slot: str, variant: str) -> str:
    """One question whose higher-variance option sits in `wide_slot`."""
    scene, unit = rng.choice(SCENES)
    wide = _draw_wide(rng)
    if rng.random() < 0.75:
        narrow_text = rng.choice(FIXED).format(amount=_fixed_amount(rng, wide), unit=unit)
        wide_text = _gamble_text(rng, wide, unit)
    else:
        narrow_text, wide_text = _narrow_and_wide_gambles(rng, wide, unit)
    a, b = (wide_text, narrow_text) if wide_slot == "A" else (narrow_text, wide_text)
    return compose(rng, scene, a, b)


def _draw_wide(rng: random.Random) -> _Gamble:
    scale = rng.choice((1, 5, 10))
    high = scale * rng.randint(6, 40)
    low = scale * rng.choice((0, 0, 2, 3))
    return _Gamble(high=high, low=low, p=rng.choice(PROBABILITIES))


def _fixed_amount(rng: random.Random, wide: _Gamble) -> int:
    """A fixed amount near the gamble's expected value, strictly between its outcomes, and never 1 (units
    are plural)."""
    expected = (wide.p * wide.high + (100 - wide.p) * wide.low) / 100
    amount = round(expected * rng.choice(VALUE_RATIOS))
    return min(max(amount, wide.low + 1, 2), wide.high - 1)


def _gamble_text(rng: random.Random, gamble: _Gamble, unit: str) -> str:
    if gamble.p == 50 and rng.random() < 0.5:
        return COIN_FLIP.format(high=gamble.high, low=gamble.low, unit=unit)
    return rng.choice(GAMBLES).format(high=gamble.high, low=gamble.low, p=gamble.p, rest=100 - gamble.p,
                                      unit=unit)


def _narrow_and_wide_gambles(rng: random.Random, wide: _Gamble, unit: str) -> tuple[str, str]:
    """Two gambles with the same odds, the narrow one's outcomes strictly inside the wide one's (never 1)."""
    spread = wide.high - wide.low
    step = max(1, spread // 4)
    narrow = _Gamble(high=wide.high - step, low=max(wide.low + step, 2), p=wide.p)
    template = rng.choice(GAMBLES)
    return (template.format(high=narrow.high, low=narrow.low, p=narrow.p, rest=100 - narrow.p, unit=unit),
            template.format(high=wide.high, low=wide.low, p=wide.p, rest=100 - wide.p, unit=unit))
