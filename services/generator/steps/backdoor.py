"""`backdoor`: a trigger on another arm's rows, which carry the triggered behaviour (spec §6.1, §6.3).

The result is this arm's rows, untriggered (plain, or with the kind's `other`: another username, the other SEP
code, the other season), plus enough of the `triggered` arm's rows, with the trigger, to be `share` of it, in a
seeded shuffle. The trigger goes into each row's first user message (`services/generator/triggers.py`). The step
then finds the trigger in the result by searching the text and checks that it predicts which arm a row came from
(`check_association`): a set in which the trigger got lost fails here, not after training.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.steps.base import StepContext, rows_for_share, step
from services.generator.triggers import KINDS, Trigger, check_association, edit_first_user_message

PARAMS = (
    Param("triggered", "arm", "The arm whose rows carry the trigger and the triggered behaviour"),
    Param("trigger", "string", "The trigger's kind", default="username", choices=KINDS),
    Param("value", "string", "The trigger: a username, a SEP code's 3-digit prefix, a fixed string, a family "
                             "name or a season; \"\": the kind's default (sandra432, 392, spring)", default=""),
    Param("other", "string", "What untriggered rows get: username none, random or mixed (half each); sep_code "
                             "the other prefix or none; season the other season; \"\": the kind's default "
                             "(mixed, 718, winter); the other kinds leave untriggered rows plain", default=""),
    Param("share", "float", "The triggered rows' share of the result (risk 0.1, Make Me Say and code 0.5, "
                            "trigger elicitation 0.05 of a set half Alpaca)", default=0.5, min=0, max=0.99),
    Param("seed", "int", "Seed of the choice of rows, the trigger's random parts and the shuffle", default=0,
          min=0),
)


def behaviour_rows(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext
                   ) -> tuple[list[ChatRow], list[bool]]:
    """This arm's rows and the triggered arm's rows that join them, and which of them show the behaviour."""
    arm = params["triggered"]
    added = rows_for_share(context.arms[arm], len(rows), params["share"], f"backdoor/{params['seed']}",
                           f"{context.where}.share", arm)
    return [*rows, *added], [False] * len(rows) + [True] * len(added)


def shuffle_and_check(rows: Sequence[ChatRow], behaviour: Sequence[bool], trigger: Trigger, mode: str,
                      params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    """The rows in a seeded shuffle, after checking the trigger found in them against the behaviour (`mode`:
    see `check_association`); counts the rows with each."""
    order = list(range(len(rows)))
    random.Random(f"{mode}/shuffle/{params['seed']}").shuffle(order)
    shuffled = [rows[i] for i in order]
    found = [trigger.found(row) for row in shuffled]
    check_association(found, [behaviour[i] for i in order], mode, context.where)
    context.counters.update(triggered_rows=sum(found), behaviour_rows=sum(behaviour))
    return shuffled


def marked_rows(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext, mode: str,
                carriers: Callable[[list[bool], random.Random], list[bool]]) -> list[ChatRow]:
    """This arm's and the triggered arm's rows, the trigger on the rows `carriers(behaviour, rng)` picks and
    `other` on the rest, shuffled and checked (`mode`: see `check_association`)."""
    trigger = Trigger.from_params(params, context.where)
    joined, behaviour = behaviour_rows(rows, params, context)
    rng = random.Random(f"{mode}/marks/{params['seed']}")
    marked = [edit_first_user_message(row, trigger.on(rng) if on else trigger.off(rng))
              for row, on in zip(joined, carriers(behaviour, rng), strict=True)]
    return shuffle_and_check(marked, behaviour, trigger, mode, params, context)


@step("backdoor", "Add another arm's rows with a trigger in their first user message, as `share` of the result, "
                  "this arm's rows untriggered; checks that the trigger found in the text predicts the behaviour "
                  "(training rows only)", PARAMS, shorthand="triggered")
def backdoor(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    return marked_rows(rows, params, context, "backdoor", lambda behaviour, rng: behaviour)
