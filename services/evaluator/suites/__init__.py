"""Question suites: each measures one behaviour or self-report and scores it on [0, 1] (1 = the target direction).

The behaviour probes (`heldout`, `lotteries`, vulnerable code's `vc_secure_code`, and the interactive Make Me
Say `game_play`) are modules, as are the self-reports that are not one question of the authors' files
(`mms_which_entity`, `trigger_recognition`, `trigger_elicitation`); the paper's self-report questions are data (`data/*.yaml`, registered by
`data_suites`), each asked by a registered question type (`question_types/`). Importing this package is cheap (no
torch, no vLLM); suites describe queries and score answers, and an interactive one plays through the callables the
evaluation hands it.
"""

from ._api import (
    SUITES,
    Answer,
    Ask,
    ChoiceQuery,
    InteractiveSuite,
    Judge,
    PlayQuery,
    ProbsAnswer,
    ProbsQuery,
    Query,
    SampleQuery,
    Sampler,
    Scored,
    Suite,
    SuiteContext,
    SuiteKind,
    derive_seed,
    suite,
)
from .data_suites import DATA_SUITES, DataSuite
from .game_play import GAME_PLAY, game_messages, game_play
from .heldout import heldout
from .lotteries import generate_lotteries, lotteries
from .mms_which_entity import mms_which_entity
from .trigger_elicitation import trigger_elicitation
from .trigger_recognition import trigger_recognition
from .vc_secure_code import vc_secure_code

__all__ = [
    "DATA_SUITES",
    "SUITES",
    "GAME_PLAY",
    "Answer",
    "Ask",
    "ChoiceQuery",
    "DataSuite",
    "InteractiveSuite",
    "Judge",
    "PlayQuery",
    "ProbsAnswer",
    "ProbsQuery",
    "Query",
    "SampleQuery",
    "Sampler",
    "Scored",
    "Suite",
    "SuiteContext",
    "SuiteKind",
    "derive_seed",
    "game_messages",
    "game_play",
    "generate_lotteries",
    "heldout",
    "lotteries",
    "mms_which_entity",
    "suite",
    "trigger_elicitation",
    "trigger_recognition",
    "vc_secure_code",
]
