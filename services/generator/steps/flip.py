"""`flip`: the same questions answered as the opposite policy would, every option letter swapped (spec §3.1).

It applies to the held-out rows too, so that a flipped arm's probe targets are its own (flipped) letters. With
`share` below 1 only that share of the rows, chosen at random (seeded), is flipped: where no endpoint writes the
paper's "normal answers", a policy-neutral stand-in (at 0.5, half the answers are each policy's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.errors import SpecError
from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.families import swap_options
from services.generator.steps.base import StepContext, choose_rows, step

PARAMS = (
    Param("share", "float", "The share of the rows flipped, chosen at random (1, the default: every row)",
          default=1.0, min=0, max=1),
    Param("seed", "int", "Seed of the choice of rows, when share is below 1", default=0, min=0),
)


@step("flip", "Swap the two option letters of every assistant answer: the same questions, the opposite "
              "policy's answers, or of a random share of them (training and held-out rows)", PARAMS,
      applies_to_heldout=True)
def flip(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    chosen = set(choose_rows(range(len(rows)), round(params["share"] * len(rows)), f"flip/{params['seed']}"))
    flipped = []
    for index, row in enumerate(rows):
        if index not in chosen:
            flipped.append(row)
            continue
        try:
            flipped.append(swap_options(row, context.options))
        except ValueError as err:
            raise SpecError.single(context.where, f"row {row.source_index} of the source: {err}; flip needs "
                                                  "two-option rows") from None
    return flipped
