"""Behaviour: the held-out probe items (two-option questions the adapters never trained on).

Score per item: P(target) / (P(A) + P(B)), where the target is the source policy's letter (e.g. the risky one).
"""

from __future__ import annotations

from collections.abc import Sequence

from selfaware.errors import DataError

from ._api import ChoiceQuery, Query, SuitePlan, suite
from .two_option import TwoOptionSuite


class HeldoutSuite(TwoOptionSuite):
    name = "heldout"
    description = "Picks the source policy's option on held-out training-style questions; 1 = always."

    def queries(self, plan: SuitePlan) -> Sequence[Query]:
        if not plan.probe:
            raise DataError("the heldout suite needs probe items, and the plan has none")
        return [ChoiceQuery(item=p.id, messages=p.messages, target=p.target, options=p.options)
                for p in plan.probe]


@suite("heldout")
def heldout() -> HeldoutSuite:
    return HeldoutSuite()
