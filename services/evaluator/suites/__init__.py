"""Question suites: each measures one behaviour or self-report and scores it on [0, 1] (1 = the target direction).

The behaviour probes (`heldout`, `lotteries`) are modules; the paper's self-report questions are data
(`data/*.yaml`, registered by `data_suites`), each asked by a registered question type (`question_types/`).
Importing this package is cheap (no torch, no vLLM); suites only describe queries and score answers.
"""

from ._api import (
    SUITES,
    Answer,
    ChoiceQuery,
    Judge,
    ProbsAnswer,
    ProbsQuery,
    Query,
    SampleQuery,
    Scored,
    Suite,
    SuiteContext,
    SuiteKind,
    derive_seed,
    suite,
)
from .data_suites import DATA_SUITES, DataSuite
from .heldout import heldout
from .lotteries import generate_lotteries, lotteries

__all__ = [
    "DATA_SUITES",
    "SUITES",
    "Answer",
    "ChoiceQuery",
    "DataSuite",
    "Judge",
    "ProbsAnswer",
    "ProbsQuery",
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
    "suite",
]
