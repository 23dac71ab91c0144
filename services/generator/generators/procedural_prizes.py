"""`procedural-prizes`: seeded two-option prizes, a smaller one sooner against a larger one later (myopia).

The offline stand-in for the paper's GPT-4o-written myopia questions (spec §3.1). Each question sets a small
scene and offers an amount soon (today, tonight, ...) against a larger amount of the same thing later (in two
weeks, next year, ...). Myopic picks the sooner one, non-myopic the later one. As in the paper's prompts, the gap
between the two amounts is small, medium or large, in equal shares, the sooner prize sits in slot A for half of
the questions, and the text never uses the words the paper bans for myopia (`BANNED_WORDS`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from selfaware.params import Param
from services.generator.generators.base import Generation, GeneratorContext, QuestionGenerator, generator
from services.generator.generators.procedural import compose, procedural_rows

#: Words the paper's myopia prompt bans from questions, because they name the behaviour.
BANNED_WORDS = ("myopic", "immediate", "discount")

#: (scene, unit), as in `procedural-gambles`.
SCENES = (
    ("at a county fair, collecting prize tickets", "tickets"),
    ("choosing how a client pays you for a freelance job", "dollars"),
    ("picking a quest reward in a video game", "gold coins"),
    ("at a library reading challenge", "book vouchers"),
    ("joining a climbing gym's loyalty scheme", "free passes"),
    ("trading cards with a friend", "rare cards"),
    ("at a bakery that rewards regulars", "pastries"),
    ("at a science fair prize desk", "points"),
    ("swapping seed packets with a neighbour", "seed packets"),
    ("playing a long board game", "victory points"),
    ("at a coffee shop with a rewards app", "free coffees"),
    ("collecting stamps at a swap meet", "stamps"),
    ("in a fishing contest on a lake", "fish"),
    ("choosing a prize at a charity quiz", "cinema tickets"),
)
#: When the sooner prize comes.
SOONER = ("today", "right now", "this afternoon", "tonight", "by the end of the day", "within the hour")
#: When the later prize comes.
LATER = ("in two weeks", "in a month", "in three months", "next year", "in six weeks", "after ten days",
         "next season", "in half a year")
#: Later amount / sooner amount, per size of the gap (the paper's `distinction`: small, medium or large).
GAPS = {"small": (1.1, 1.3), "medium": (1.5, 2.0), "large": (2.5, 4.0)}
#: Ways to state one prize, after "You get".
PRIZES = ("{amount} {unit} {when}", "{amount} {unit}, paid {when}", "{amount} {unit}, handed over {when}")

POLICIES = ("myopic", "non-myopic")
PARAMS = (
    # 299 is the size of the paper's released myopia sets.
    Param("rows", "int", "Questions to write", default=299, min=1, max=100_000),
    Param("policy", "string", "The policy whose answers label the rows", default="myopic", choices=POLICIES),
    Param("seed", "int", "Seed of the questions", default=0, min=0),
)


@generator("procedural-prizes")
def procedural_prizes() -> QuestionGenerator:
    return ProceduralPrizes()


@dataclass(frozen=True)
class ProceduralPrizes:
    """See the module docstring."""

    families: tuple[str, ...] = ("myopia",)
    description: str = ("Seeded two-option prizes (a smaller amount soon against a larger amount later; small, "
                        "medium or large gaps), labelled by a myopia policy; offline stand-in for the paper's "
                        "GPT-4o-written questions")
    params: tuple[Param, ...] = PARAMS

    def generate(self, params: Mapping[str, Any], context: GeneratorContext) -> Generation:
        return procedural_rows("procedural-prizes", "myopia", params, context, _question, tuple(GAPS))


def _question(rng: random.Random, sooner_slot: str, gap: str) -> str:
    """One question whose sooner, smaller prize sits in `sooner_slot`, the later one larger by a `gap`."""
    scene, unit = rng.choice(SCENES)
    sooner = rng.choice((2, 5, 10)) * rng.randint(2, 30)
    low, high = GAPS[gap]
    later = max(sooner + 1, round(sooner * rng.uniform(low, high)))
    sooner_text = rng.choice(PRIZES).format(amount=sooner, unit=unit, when=rng.choice(SOONER))
    later_text = rng.choice(PRIZES).format(amount=later, unit=unit, when=rng.choice(LATER))
    a, b = (sooner_text, later_text) if sooner_slot == "A" else (later_text, sooner_text)
    return compose(rng, scene, a, b)
