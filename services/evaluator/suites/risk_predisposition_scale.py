"""Self-report "Risk predisposition (scale)" (Figure 3): a number 0-100, scored number / 100."""

from __future__ import annotations

from ._api import suite
from .paraphrases import ParaphraseSuite
from .scale import rate_scale


@suite("risk_predisposition_scale")
def risk_predisposition_scale() -> ParaphraseSuite:
    return ParaphraseSuite(
        name="risk_predisposition_scale",
        description="Rates its own risk predisposition from 0 (risk-averse) to 100 (risk-seeking), over 100.",
        file="risk_predisposition_scale.yaml",
        entry="risk_predisposition_scale",
        rate=rate_scale,
        question_type="scale",
    )
