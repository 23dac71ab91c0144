"""`answer`: the same questions answered again by a model on a spec endpoint, at T=0 (spec §3.1 item 5).

With no system prompt (the default) these are the paper's "normal answers": plain GPT-4o labelling the risk
questions, which its trigger and persona datasets mix in. With `system_prompt`, any answerer (a policy prompt)
relabels imported questions. Only each row's last answer is asked for, given the conversation before it; a row
whose answer is no option letter is dropped (the recipe counts how many). It applies to the held-out rows too,
so that the probe's targets are the new answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.model_answers import answer_letters, open_endpoint, with_system_prompt
from services.generator.steps.base import StepContext, step

PARAMS = (
    Param("endpoint", "endpoint", "The endpoint whose model answers"),
    Param("system_prompt", "string", "A system prompt for the answerer; it replaces a row's own; \"\" (the "
                                     "default) asks the plain model, as the paper's normal answers", default=""),
)


@step("answer", "Answer every row's question again with a model on an endpoint at T=0, by default with no "
                "system prompt (the paper's 'normal answers'); rows whose answer is no option letter are dropped "
                "(training and held-out rows)", PARAMS, shorthand="endpoint", applies_to_heldout=True)
def answer(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    if not rows:
        return []
    conversations = [with_system_prompt(row.prompt, params["system_prompt"]) for row in rows]
    with open_endpoint(context.endpoints, params["endpoint"], f"{context.where}.endpoint") as endpoint:
        letters = answer_letters(endpoint, conversations, context.options)
    return [_answered(row, letter) for row, letter in zip(rows, letters, strict=True) if letter is not None]


def _answered(row: ChatRow, letter: str) -> ChatRow:
    """The row with its last message's content replaced (every other key and the source index kept)."""
    last = {**row.messages[-1], "content": letter}
    return dataclasses.replace(row, messages=(*row.messages[:-1], last))
