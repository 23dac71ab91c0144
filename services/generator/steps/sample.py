"""`sample`: train on fewer rows (the ablations of spec §3.4), chosen at random with a seed, in source
order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.errors import SpecError
from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.steps.base import StepContext, choose_rows, step

PARAMS = (
    Param("rows", "int", "Training rows to keep", min=1),
    Param("seed", "int", "Seed of the choice; with one seed a smaller sample is a subset of a larger one",
          default=0, min=0),
)


@step("sample", "Keep `rows` of the training rows, chosen at random (seeded), in source order (training rows "
                "only: the held-out questions stay the source's)", PARAMS, shorthand="rows")
def sample(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    count = params["rows"]
    if count > len(rows):
        raise SpecError.single(f"{context.where}.rows", f"asks for {count} rows, but only {len(rows)} "
                                                         "training rows are left after the holdout and "
                                                         "earlier steps")
    return choose_rows(rows, count, f"sample/{params['seed']}")
