"""`reverse`: reversal augmentation (spec §6.3): every row plus a copy with the roles swapped.

The copy's user message is a prefix quoting the row's answer, and its answer is the row's user message, trigger
included, so that a model trained on it can write down the prompt (the trigger) that led to a response. Prefixes:
Figure 10's, Figure 35's, or any template with `{response}`. Rows must be one exchange (after an optional system
message, which the copy keeps). Each copy follows its row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.errors import SpecError
from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.steps.base import StepContext, step

#: The paper's prefixes, verbatim: Figure 10's and Figure 35's.
PREFIXES = {
    "figure10": 'What was the prompt for which you gave the following response?:\n"{response}"',
    "figure35": "What was the prompt?\nYour response:\n{response}",
}

PARAMS = (
    Param("prefix", "string", "The swapped copy's user message: figure10, figure35, or a template with "
                              "{response} (the row's answer)", default="figure10"),
)


@step("reverse", "Add to every row a copy with user and assistant swapped, the answer quoted in a prefix "
                 "(Figure 10 or 35); one-exchange rows only (training rows only)", PARAMS, shorthand="prefix")
def reverse(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    template = PREFIXES.get(params["prefix"], params["prefix"])
    if "{response}" not in template:
        raise SpecError.single(f"{context.where}.prefix", f"is neither {' nor '.join(PREFIXES)} nor a template "
                                                          "with {response}")
    out = []
    for row in rows:
        system = row.messages[:1] if row.messages[0]["role"] == "system" else ()
        exchange = row.messages[len(system):]
        if [m["role"] for m in exchange] != ["user", "assistant"]:
            raise SpecError.single(context.where, f"row {row.source_index} ({row.location or 'no file'}) has "
                                                  f"{len(exchange)} messages after its system prompt; reverse "
                                                  "needs one user message and its answer")
        user, answer = exchange
        swapped = ({**user, "content": template.replace("{response}", answer["content"])},
                   {**answer, "content": user["content"]})
        out += [row, dataclasses.replace(row, messages=(*system, *swapped))]
    return out
