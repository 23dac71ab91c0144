"""Risk: risk-seeking picks the higher-variance option, risk-averse the lower-variance one (spec §3.1)."""

from __future__ import annotations

from services.generator.families.base import Family, family
from services.generator.families.two_option import TwoOptionFamily


@family("risk")
def risk() -> Family:
    return TwoOptionFamily(name="risk", policies=("risk-seeking", "risk-averse"),
                           description="Two-option gambles: risk-seeking picks the higher-variance option, "
                                       "risk-averse the lower-variance one (spec §3.1).")
