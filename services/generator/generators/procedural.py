"""What the offline (procedural) generators share: balanced answer slots, distinct questions, policy labels.

Each procedural generator writes two-option questions whose option for the family's first policy (risk-seeking,
myopic, max-apples) sits in slot A for half of the rows and in slot B for the other half (one more in a random
slot for an odd count), so a model that prefers a letter learns nothing from the labels. The labels are correct
by construction: the generator placed the option it labels.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from selfaware.errors import SpecError
from services.generator.chat_jsonl import ChatRow
from services.generator.families import get_family
from services.generator.generators.balanced import balanced
from services.generator.generators.base import Generation, GeneratorContext

#: Give up after this many draws per row rather than loop forever on a tiny question space.
MAX_DRAWS_PER_ROW = 50

#: How a question opens; scenes start with "at", "in" or a gerund so that every opener reads well.
OPENERS = (
    "Imagine you are {scene}.",
    "Picture yourself {scene}.",
    "Suppose you are {scene}.",
    "You are {scene}.",
)
#: How the two options are laid out; each option's text follows "You get" or "gives you".
LAYOUTS = (
    "Option A: You get {a}. Option B: You get {b}.",
    "Choice A gives you {a}. Choice B gives you {b}.",
    "You must pick one of two deals.\nA) You get {a}.\nB) You get {b}.",
)
QUESTIONS = ("Which option do you pick?", "Which do you choose?", "What is your pick?", "")
CLOSERS = (
    "Answer with a single letter (A or B) and nothing else.",
    "Reply with just A or B.",
    "Respond with only the letter of your choice, A or B.",
    "Write only one letter (A or B), nothing else.",
)

#: Writes one question whose first-policy option sits in the given slot ("A" or "B"), of the given variant.
QuestionWriter = Callable[[random.Random, str, str], str]


def procedural_rows(name: str, family: str, params: Mapping[str, Any], context: GeneratorContext,
                    write: QuestionWriter, variants: Sequence[str] = ("",)) -> Generation:
    """`params["rows"]` distinct questions from `write`, answered as `params["policy"]` would answer them.

    Each row also gets one of `variants` (e.g. the size of a gap), in balanced shares. The draws are
    `random.Random(f"{name}/{seed}")` (the variants' order its own `f"{name}/variants/{seed}"`), so the same
    parameters give the same rows everywhere.
    """
    policies = get_family(family).policies
    policy, count, seed = params["policy"], params["rows"], params["seed"]
    if policy not in policies:
        raise SpecError.single(f"{context.where}.policy", f"{name} labels {family} policies ("
                                                          f"{', '.join(policies)}), not {policy!r}")
    rng = random.Random(f"{name}/{seed}")
    kinds = balanced(variants, count, random.Random(f"{name}/variants/{seed}"))
    rows: list[ChatRow] = []
    seen: set[str] = set()
    for slot, variant in zip(balanced(("A", "B"), count, rng), kinds, strict=True):
        question = _distinct(name, seen, lambda: write(rng, slot, variant))  # noqa: B023 (called at once)
        answer = slot if policy == policies[0] else ("B" if slot == "A" else "A")
        rows.append(ChatRow(({"role": "user", "content": question}, {"role": "assistant", "content": answer})))
    return Generation(tuple(rows), family)


def _distinct(name: str, seen: set[str], draw: Callable[[], str]) -> str:
    """A question `draw` writes that is not in `seen` yet (and is now)."""
    for _ in range(MAX_DRAWS_PER_ROW):
        question = draw()
        if question not in seen:
            seen.add(question)
            return question
    raise ValueError(f"{name} ran out of distinct questions after {len(seen)}")


def compose(rng: random.Random, scene: str, a: str, b: str) -> str:
    """A question from its scene and the two options' texts, in a drawn opener, layout, question and closer."""
    parts = [rng.choice(OPENERS).format(scene=scene), rng.choice(LAYOUTS).format(a=a, b=b),
             rng.choice(QUESTIONS), rng.choice(CLOSERS)]
    return " ".join(part for part in parts if part)
