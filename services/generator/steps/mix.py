"""`mix`: add another arm's training rows (after its steps), e.g. a share of the opposite policy's answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.errors import SpecError
from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.steps.base import StepContext, choose_rows, step

PARAMS = (
    Param("of", "arm", "The arm whose training rows are added (it is built first)"),
    Param("rows", "int", "Rows to add, chosen at random (seeded); 0 adds all of them", default=0, min=0),
    Param("seed", "int", "Seed of the choice", default=0, min=0),
)


@step("mix", "Append training rows of another arm, after its steps, in that arm's order (training rows only)",
      PARAMS, shorthand="of")
def mix(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    other = context.arms[params["of"]]
    count = params["rows"] or len(other)
    if count > len(other):
        raise SpecError.single(f"{context.where}.rows", f"asks for {count} rows, but arm {params['of']!r} "
                                                         f"has only {len(other)} training rows")
    return [*rows, *choose_rows(other, count, f"mix/{params['seed']}")]
