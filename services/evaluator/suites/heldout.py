"""Behaviour: the held-out probe items (two-option questions no adapter trained on).

The items and targets come from one arm's probe (parameter `arm`; unset: the first arm, in spec order, that
has held-out rows), so every model is scored in that arm's direction: 1 = picks the arm's letter. With
`both_orders`, each item is asked twice: as written (permutation 0) and with its two option letters swapped in
the text and the target (permutation 1; `two_option.swap_option_letters`). Items that do not offer exactly
two options are asked as written only. Free-text items (no options: vulnerable code's held-out tasks, which
`vc_secure_code` asks) are not questions this suite can score, and are skipped. Score per record:
P(target) / (P(A) + P(B)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from selfaware.errors import DataError
from selfaware.params import Param
from selfaware.v1 import records_pb2 as rec

from ._api import ChoiceQuery, Messages, Query, SuiteContext, suite
from .two_option import TwoOptionSuite, swap_option_letters


class HeldoutSuite(TwoOptionSuite):
    name = "heldout"
    description = "Picks the probe arm's option on held-out training-style questions; 1 = always."
    params = (
        Param("arm", "arm", "the arm whose held-out rows and letters are used; unset: the first arm with any",
              default=None),
        Param("both_orders", "bool", "also ask each item with its option letters swapped", default=True),
    )

    def queries(self, context: SuiteContext) -> Sequence[Query]:
        arm, probe = _probe(context)
        queries: list[Query] = []
        for item in probe.items:
            if not item.options:
                continue
            messages: Messages = tuple({"role": m.role, "content": m.content} for m in item.messages)
            options = tuple(item.options)
            details = {"probe_arm": arm}
            queries.append(ChoiceQuery(item.id, messages, item.target, options, permutation=0, details=details))
            if context.params.get("both_orders", True) and len(options) == 2:
                first, second = options
                swapped = tuple({**m, "content": swap_option_letters(m["content"], first, second)}
                                if m["role"] == "user" else m for m in messages)
                target = second if item.target == first else first if item.target == second else item.target
                queries.append(ChoiceQuery(item.id, swapped, target, options, permutation=1, details=details))
        return queries


def _probe(context: SuiteContext) -> tuple[str, rec.ProbeSet]:
    return arm_probe(context, lambda item: bool(item.options), "two-option held-out rows")


def arm_probe(context: SuiteContext, keep: Callable[[rec.ProbeItem], bool], what: str) -> tuple[str, rec.ProbeSet]:
    """The probe of the instance's `arm`, or (unset) of the first arm, in spec order, with an item to `keep`;
    a DataError naming the instance (and the arm) when there is none."""
    arm = context.params.get("arm")
    if arm:
        probe = context.probes.get(arm)
        if probe is None or not any(keep(item) for item in probe.items):
            raise DataError(f"suite instance {context.instance_id!r}: arm {arm!r} has no {what} "
                            f"(set `holdout.rows`, or choose another arm)")
        return arm, probe
    for name, probe in context.probes.items():
        if any(keep(item) for item in probe.items):
            return name, probe
    raise DataError(f"suite instance {context.instance_id!r}: no arm has {what}; set `holdout.rows`")


@suite("heldout")
def heldout() -> HeldoutSuite:
    return HeldoutSuite()
