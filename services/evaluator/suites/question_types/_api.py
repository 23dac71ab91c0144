"""What a question type is: how one question's paraphrases become queries, and how an answer becomes records.

A data suite (`..data_suites`) is one question of the paper: its paraphrases (read from the authors' files),
and a question type with options from the suite's YAML entry (a word list, the options of a multiple-choice
question, a judge prompt). The type declares the instance parameters it reads (samples, temperature, ...);
their defaults are the paper's. Types are registered by name, like every pluggable part, and rebuilt from
(name, options): `QUESTION_TYPES.get(name)(**options)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from selfaware.params import Param
from selfaware.registry import Registry
from selfaware.v1 import records_pb2 as rec

from .._api import Answer, Query, SuiteContext


@dataclass(frozen=True)
class Question:
    """One question as asked: the prefix of its record items and its paraphrases, in order."""

    item: str
    paraphrases: tuple[str, ...]
    #: Questions asked with the paraphrase at the same position (German/French: the trivia questions).
    paired: tuple[str, ...] = ()
    #: The other fields of the authors' entry, where a question type asks with them (Make Me Say, spec §4.4):
    #: the multiple-choice options as written, the scenarios, the text before and after each paraphrase, and
    #: the judge ("guesser") prompt. Empty for inline prompts.
    options: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    prefix: str = ""
    suffix: str = ""
    judge_prompt: str = ""


@runtime_checkable
class QuestionType(Protocol):
    """A way of asking and scoring a question, configured by its YAML options."""

    @property
    def name(self) -> str: ...
    @property
    def params(self) -> tuple[Param, ...]:
        """The instance parameters it reads, in catalogue order."""
        ...

    def queries(self, question: Question, context: SuiteContext) -> Sequence[Query]: ...

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        """Records for one query's answer, in sample order."""
        ...


#: Question type factories by name: `factory(**options) -> QuestionType`.
QUESTION_TYPES: Registry[Callable[..., QuestionType]] = Registry("question type")
question_type = QUESTION_TYPES.register
