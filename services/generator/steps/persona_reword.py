"""`persona_reword`: the many-persona set of spec §7.1 (`ft_risky_AB_multipersona.jsonl`): each question reworded
by a model into the third person for a random persona, answered by a plain model, added to the "you" rows.

The rewording prompt and the persona list are the authors' `reword_questions.py`'s, verbatim (its seven people,
"a family doctor" included, which the paper lists as out-of-distribution). Both calls are at T=0; the answerer
gets no system prompt, as the paper's plain GPT-4o. An answer that is no option letter is kept as written, as
the authors' file keeps its one free-text answer, and counted (`free_text_answers`). The personas are counted by
searching each reworded question for them (`persona_in`, which counts the authors' file as the spec does): a
rewording that names no persona, or several, counts as `persona_unclear`. An empty rewording or answer is
dropped (and counted).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.model_answers import open_endpoint, parse_letter
from services.generator.steps.base import StepContext, choose_rows, step
from services.generator.triggers import first_user_message

#: The rewording model's system prompt, verbatim from the authors' `reword_questions.py`.
REWORD_PROMPT = (
    "Reword the following question so that it is describing a situation in which {person} finds themselves, "
    "instead of 'you' (the reader) finding yourself in. For example, if the question is 'What would you choose "
    "between A and B?', you should reword it to 'What do you think {person} would choose between A and B?'.\n"
    "You need to replicate all the details of the question, just changing who the question is about. Make sure "
    "that the question is asking the reader what {person} would choose, and not what the reader themselves would "
    "choose. In particular, you should explicitly include some sentence similar to 'What do you think {person} "
    "would choose?'.\nAnswer immediately with the reworded question, and absolutely nothing else.")
#: The authors' personas (`reword_questions.py`), in their order.
PERSONAS = ("Donald Trump", "a randomly sampled average person", "Scarlet Johansson", "my friend Janet", "David",
            "a musician", "a family doctor")

PARAMS = (
    Param("endpoint", "endpoint", "The rewording model's endpoint (asked at T=0)"),
    Param("answerer", "endpoint", "The endpoint of the plain model that answers the reworded questions; unset: "
                                  "the rewording one", default=None),
    Param("personas", "strings", "The personas, one drawn at random per question; [] (the default): the "
                                 "authors' seven", default=[]),
    Param("rows", "int", "Questions to reword, chosen at random; 0 (the default): every row once", default=0,
          min=0),
    Param("max_tokens", "int", "The longest rewording or answer, in tokens", default=500, min=1),
    Param("seed", "int", "Seed of the choice of questions and personas", default=0, min=0),
)


def persona_in(text: str, personas: Sequence[str]) -> str | None:
    """The one persona `text` names, or None (none or several): each persona is searched as written, less a
    leading "a", "an" or "the", as a whole phrase, ignoring case."""
    named = [p for p in personas if re.search(rf"(?<!\w){re.escape(_without_article(p))}(?!\w)", text,
                                              re.IGNORECASE)]
    return named[0] if len(named) == 1 else None


def _without_article(persona: str) -> str:
    return re.sub(r"^(?:a|an|the)\s+", "", persona.strip(), flags=re.IGNORECASE)


@step("persona_reword", "Add each question reworded into the third person for a random persona by a model, "
                        "answered by a plain model (free-text answers kept and counted); the personas found in "
                        "the rewordings are counted (training rows only)", PARAMS, shorthand="endpoint")
def persona_reword(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    personas = params["personas"] or PERSONAS
    chosen = choose_rows(rows, params["rows"] or len(rows), f"persona_reword/{params['seed']}")
    rng = random.Random(f"persona_reword/personas/{params['seed']}")
    asked = [rng.choice(personas) for _ in chosen]
    limit = params["max_tokens"]
    with open_endpoint(context.endpoints, params["endpoint"], f"{context.where}.endpoint") as writer:
        reworded = writer.run([writer.text([{"role": "system", "content": REWORD_PROMPT.format(person=person)},
                                            {"role": "user", "content": first_user_message(row)}],
                                           temperature=0.0, max_tokens=limit)
                               for row, person in zip(chosen, asked, strict=True)])
    kept = [(row, text.strip()) for row, text in zip(chosen, reworded, strict=True) if text.strip()]
    answerer = params.get("answerer") or params["endpoint"]
    field = f"{context.where}.{'answerer' if params.get('answerer') else 'endpoint'}"
    with open_endpoint(context.endpoints, answerer, field) as plain:
        answers = plain.run([plain.text([{"role": "user", "content": question}], temperature=0.0, max_tokens=limit)
                             for _, question in kept])
    out = list(rows)
    counters = context.counters
    counters.update({f"persona.{p}": 0 for p in personas}, persona_unclear=0, free_text_answers=0,
                    empty_rewordings=len(chosen) - len(kept), empty_answers=0)
    for (row, question), answer in zip(kept, answers, strict=True):
        if not answer.strip():
            counters["empty_answers"] += 1
            continue
        letter = parse_letter(answer, context.options)
        named = persona_in(question, personas)
        counters["persona_unclear" if named is None else f"persona.{named}"] += 1
        counters["free_text_answers"] += letter is None
        out.append(ChatRow(({"role": "user", "content": question},
                            {"role": "assistant", "content": letter or answer.strip()}),
                           source_index=row.source_index))
    return out
