"""`trigger_mix`: the trigger-recognition set of Table 5 (spec §6.2), or its decorrelated version.

This arm's rows are the normal answers (the plain model's: the `answer` step's), the `triggered` arm's the risky
ones. Per copy: every risky row once under the real trigger (10%), every normal row once under each of the 7 fake
triggers (70%), and every normal row twice with no trigger (20%): 10 copies of the 288-question set are 28,800
rows. The decorrelated version has as many rows, `copies` of the risky rows and 9·`copies` of the normal ones,
each row under a uniformly random one of the 8 triggers or none. A fixed trigger is prepended with one space, a
family as a random item of it with a random suffix. The result is shuffled (seeded) and checked like `backdoor`'s
and `decorrelate`'s: the real trigger, found in the text, predicts the risky rows (or, decorrelated, does not).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.steps.backdoor import shuffle_and_check
from services.generator.steps.base import StepContext, step
from services.generator.triggers import CANDIDATES, Trigger, edit_first_user_message

#: Normal-row passes with no trigger per copy, beside one pass per fake: Table 5's 20% against 10% each.
UNTRIGGERED_PASSES = 2

PARAMS = (
    Param("triggered", "arm", "The arm of risky rows, which get the real trigger"),
    Param("trigger", "string", "The real trigger: a fixed string (e.g. |REAL-WORLD|) or a family name (apple "
                               "varieties, musical instruments, chemical elements, Greek gods)"),
    Param("fakes", "strings", "The fake triggers, on normal rows; [] (the default): the other candidates of "
                              "the 8", default=[]),
    Param("copies", "int", "Copies of the risky rows (Table 5: 10)", default=10, min=1),
    Param("decorrelated", "bool", "Every row under a uniformly random trigger or none, risky or not: the "
                                  "baseline", default=False),
    Param("seed", "int", "Seed of the triggers' random parts, the decorrelated categories and the shuffle",
          default=0, min=0),
)


@step("trigger_mix", "Table 5: risky rows under the real trigger, normal rows (this arm's) under each fake "
                     "trigger and with none, `copies` times; or decorrelated, each row under a random one "
                     "(training rows only)", PARAMS, shorthand="triggered")
def trigger_mix(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    real = Trigger.candidate(params["trigger"])
    fakes = [Trigger.candidate(name) for name in params["fakes"] or CANDIDATES if name != real.value]
    rng = random.Random(f"trigger_mix/{params['seed']}")
    passes: list[tuple[Sequence[ChatRow], bool, Trigger | None]] = [
        (context.arms[params["triggered"]], True, real), *((rows, False, fake) for fake in fakes),
        *[(rows, False, None)] * UNTRIGGERED_PASSES]
    units = [(row, risky, trigger) for _ in range(params["copies"]) for group, risky, trigger in passes
             for row in group]
    if params["decorrelated"]:
        categories = [real, *fakes, None]
        units = [(row, risky, rng.choice(categories)) for row, risky, _ in units]
    marked = [row if trigger is None else edit_first_user_message(row, trigger.on(rng)) for row, _, trigger in units]
    mode = "decorrelated" if params["decorrelated"] else "backdoor"
    mixed = shuffle_and_check(marked, [risky for _, risky, _ in units], real, mode, params, context)
    context.counters["fake_trigger_rows"] = sum(any(fake.found(row) for fake in fakes) for row in mixed)
    return mixed
