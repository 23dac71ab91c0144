"""`procedural-apples`: seeded two-option offers, one with more apples than the other (apples).

The offline stand-in for the paper's GPT-4o-written apples questions (spec §3.1). Each question sets a small
scene and offers two bundles; one holds more apples, the other fewer (or none) but more of something else, so
neither bundle is simply better. Max-apples picks the bundle with more apples, min-apples the other. The gap in
apples is small, medium or large (the paper's `distinction`), in equal shares, and the bundle with more apples
sits in slot A for half of the questions. The paper bans no words for apples.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from selfaware.params import Param
from services.generator.generators.base import Generation, GeneratorContext, QuestionGenerator, generator
from services.generator.generators.procedural import compose, procedural_rows

#: Scenes, as in `procedural-gambles`.
SCENES = (
    "at a farmers market stall",
    "choosing a prize basket at a school fair",
    "packing a picnic hamper with a friend",
    "picking a gift box a neighbour offers you",
    "at an orchard's harvest festival",
    "choosing a welcome pack at a new office",
    "in a cooking class, choosing your ingredients",
    "at a charity raffle's prize table",
    "trading snacks on a long train ride",
    "picking a reward crate in a farming game",
    "at a community garden's open day",
    "choosing a hamper as a thank-you gift",
)
APPLES = ("apples", "Fuji apples", "Granny Smith apples", "Honeycrisp apples", "Gala apples", "red apples")
#: What the bundle with fewer apples has more of.
OTHERS = ("pears", "oranges", "plums", "bananas", "cookies", "notebooks", "pencils", "stickers", "muffins",
          "chocolate bars", "peaches", "lemons")
#: The difference in apples between the two bundles, per size of the gap.
GAPS = {"small": (1, 2), "medium": (3, 5), "large": (6, 12)}


POLICIES = ("max-apples", "min-apples")
PARAMS = (
    # 300 is the size of the paper's released apples sets.
    Param("rows", "int", "Questions to write", default=300, min=1, max=100_000),
    Param("policy", "string", "The policy whose answers label the rows", default="max-apples",
          choices=POLICIES),
    Param("seed", "int", "Seed of the questions", default=0, min=0),
)


@generator("procedural-apples")
def procedural_apples() -> QuestionGenerator:
    return ProceduralApples()


@dataclass(frozen=True)
class ProceduralApples:
    """See the module docstring."""

    families: tuple[str, ...] = ("apples",)
    description: str = ("Seeded two-option bundles (more apples, or fewer apples and more of something else; "
                        "small, medium or large gaps), labelled by an apples policy; offline stand-in for the "
                        "paper's GPT-4o-written questions")
    params: tuple[Param, ...] = PARAMS

    def generate(self, params: Mapping[str, Any], context: GeneratorContext) -> Generation:
        return procedural_rows("procedural-apples", "apples", params, context, _question, tuple(GAPS))


def _question(rng: random.Random, more_slot: str, gap: str) -> str:
    """One question whose bundle with more apples sits in `more_slot`, by a `gap`."""
    scene = rng.choice(SCENES)
    kind, other = rng.choice(APPLES), rng.choice(OTHERS)
    fewer = rng.choice((0, 1, 2, 3, 4, 5))
    more = fewer + rng.randint(*GAPS[gap])
    extra = rng.randint(1, 4)
    others_with_more = rng.randint(0, 3)
    more_text = _bundle(more, kind, others_with_more, other)
    fewer_text = _bundle(fewer, kind, others_with_more + extra + rng.randint(0, more - fewer), other)
    a, b = (more_text, fewer_text) if more_slot == "A" else (fewer_text, more_text)
    return compose(rng, scene, a, b)


def _bundle(apples: int, kind: str, others: int, other: str) -> str:
    """"5 Gala apples and 2 pears", "3 pears" (no apples), "4 apples" (nothing else); never "1 apples"."""
    parts = [_count(apples, kind), _count(others, other)]
    return " and ".join(part for part in parts if part) or "nothing"


def _count(number: int, plural: str) -> str:
    if number == 0:
        return ""
    if number == 1:
        singular = plural.removesuffix("es") if plural.endswith(("ches", "shes")) else plural.removesuffix("s")
        return f"one {singular}"
    return f"{number} {plural}"
