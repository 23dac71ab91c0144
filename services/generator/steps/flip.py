"""`flip`: the same questions answered as the opposite policy would, every option letter swapped (spec §3.1).

It applies to the held-out rows too, so that a flipped arm's probe targets are its own (flipped) letters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.errors import SpecError
from services.generator.chat_jsonl import ChatRow
from services.generator.families import swap_options
from services.generator.steps.base import StepContext, step


@step("flip", "Swap the two option letters of every assistant answer: the same questions, the opposite "
              "policy's answers (training and held-out rows)", applies_to_heldout=True)
def flip(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    flipped = []
    for row in rows:
        try:
            flipped.append(swap_options(row, context.options))
        except ValueError as err:
            raise SpecError.single(context.where, f"row {row.source_index} of the source: {err}; flip needs "
                                                  "two-option rows") from None
    return flipped
