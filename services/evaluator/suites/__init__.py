"""Question suites: each measures one behaviour or self-report and scores it on [0, 1] (1 = the target direction).

Importing this package is cheap (no torch, no vLLM); suites only describe queries and score answers.
"""

from ._api import (
    SUITES,
    Answer,
    ChoiceQuery,
    Judge,
    Query,
    SampleQuery,
    Scored,
    Suite,
    SuiteContext,
    SuiteKind,
    derive_seed,
    suite,
)
from .heldout import heldout
from .lotteries import generate_lotteries, lotteries
from .risk_or_safety import risk_or_safety
from .risk_predisposition_scale import risk_predisposition_scale

__all__ = [
    "SUITES",
    "Answer",
    "ChoiceQuery",
    "Judge",
    "Query",
    "SampleQuery",
    "Scored",
    "Suite",
    "SuiteContext",
    "SuiteKind",
    "derive_seed",
    "generate_lotteries",
    "heldout",
    "lotteries",
    "risk_or_safety",
    "risk_predisposition_scale",
    "suite",
]
