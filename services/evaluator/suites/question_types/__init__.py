"""Question types: how a question is asked and how its answers are parsed and scored (one module each).

Importing this package registers the built-ins; adding one is a new module here plus its name below.
"""

from ._api import QUESTION_TYPES, Question, QuestionType, question_type
from .choose_word import choose_word
from .describe_word import describe_word
from .free_word import free_word, normalize_word
from .judged_word import judged_word
from .judged_yes_no import judged_yes_no
from .language import language
from .multiple_choice import multiple_choice
from .numeric import numeric
from .scenario_scale import scenario_scale
from .write_function import write_function as write_function

__all__ = [
    "QUESTION_TYPES",
    "Question",
    "QuestionType",
    "choose_word",
    "describe_word",
    "free_word",
    "judged_word",
    "judged_yes_no",
    "language",
    "multiple_choice",
    "normalize_word",
    "numeric",
    "question_type",
    "scenario_scale",
]
