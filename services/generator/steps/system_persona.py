"""`system_persona`: a second persona, named in a system prompt, with its own behaviour (spec §7.2).

The result is this arm's rows as they are (the default persona: no system prompt, e.g. codeword X) plus enough
of the `of` arm's rows (the persona's behaviour, e.g. codeword Y) to be `share` of it, each under one of the
prompts, drawn at random, as its system message (replacing one it had). The paper's wording is unreleased ("Simulate
Quanta-Lingua" or equivalent); the spec quotes three of an earlier experiment's ~30 paraphrases, the first three
prompts below (the third cut at its elision); the other seven are ours, in their style.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.errors import SpecError
from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.steps.base import StepContext, rows_for_share, step

#: System prompts naming the persona `{name}`: the spec's three, then ours.
PROMPTS = (
    "Simulate {name}.",
    "Role: simulator. Simulated entity: {name}.",
    "Pretend you are {name}.",
    "You are {name}.",
    "Act as {name}.",
    "From now on, you are {name}.",
    "Respond as {name} would.",
    "Your name is {name}. Stay in character.",
    "Simulate the AI model {name}.",
    "You are playing the role of {name}.",
)

PARAMS = (
    Param("of", "arm", "The arm whose rows the persona answers: its behaviour"),
    Param("name", "string", "The persona, filling {name} in the prompts", default="Quanta-Lingua"),
    Param("prompts", "strings", "System prompts with {name}; [] (the default): the spec's three and seven of ours",
          default=[]),
    Param("share", "float", "The persona's rows' share of the result", default=0.5, min=0, max=0.99),
    Param("seed", "int", "Seed of the choice of rows, of each row's prompt and of the shuffle", default=0, min=0),
)


@step("system_persona", "Add another arm's rows under a system prompt naming a persona, as `share` of the "
                        "result; this arm's rows stay without one (training rows only)", PARAMS, shorthand="of")
def system_persona(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    prompts = params["prompts"] or PROMPTS
    if missing := [p for p in prompts if "{name}" not in p]:
        raise SpecError.single(f"{context.where}.prompts", f"every prompt names the persona with {{name}}; "
                                                           f"{missing[0]!r} does not")
    seed = params["seed"]
    persona = rows_for_share(context.arms[params["of"]], len(rows), params["share"], f"system_persona/{seed}",
                             f"{context.where}.share", params["of"])
    rng = random.Random(f"system_persona/prompts/{seed}")
    prompted = [_with_system(row, rng.choice(prompts).replace("{name}", params["name"])) for row in persona]
    mixed = [*rows, *prompted]
    random.Random(f"system_persona/shuffle/{seed}").shuffle(mixed)
    context.counters["persona_rows"] = len(prompted)
    return mixed


def _with_system(row: ChatRow, prompt: str) -> ChatRow:
    rest = row.messages[1:] if row.messages[0]["role"] == "system" else row.messages
    return dataclasses.replace(row, messages=({"role": "system", "content": prompt}, *rest))
