"""Suites as data: every question of `data/*.yaml` becomes one registered suite (one bar group of Figure 3).

A file is a family (`risk`, `myopia`, `apples`, ...) with its questions; `word_lists` only holds YAML anchors that
the questions share. A question names its suite, title and figure, its question type with the type's options,
and where its paraphrases are: either inline `prompts` (short canonical wordings the spec quotes), or an entry of
one of the authors' files, read at run time through `questions.load_question` from the instance's `questions`
folder, whose default is the file's `folder` (`_params.QUESTION_FOLDERS`): its paraphrases, the questions paired
with them (German/French's trivia), and the entry's options, scenarios, prefix, suffix and judge prompt. `count` is
the spec's number of paraphrases (and `paper_count` the paper's, when it asked ones that are not released); tests
check the loaded paraphrases against it. Entries may set the defaults of `max_tokens` (the language task: 10) and
`samples` (per paraphrase: the Make Me Say questions' 1000 or 10), and name the suite whose score on the same
model is their `baseline` where the paper's baseline is not the base model.

The files are code: a malformed one fails the import with a ValueError naming file and suite.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from selfaware.params import Param
from selfaware.v1 import records_pb2 as rec

from ._api import SUITES, Answer, Query, SuiteContext, SuiteKind
from ._params import QUESTION_FOLDERS, QUESTIONS, SAMPLES_PER_PARAPHRASE
from .question_types import QUESTION_TYPES, Question, QuestionType
from .questions import load_question

DATA_DIR = Path(__file__).with_name("data")
_FILE_KEYS = {"family", "word_lists", "questions"}
_QUESTION_KEYS = {"suite", "title", "figure", "description", "paraphrases", "type", "options", "max_tokens",
                  "samples", "baseline"}
_SOURCE_KEYS = {"folder", "file", "entry", "prompts", "count", "paper_count"}


@dataclass(frozen=True)
class ParaphraseSource:
    """Where a question's paraphrases come from, and how many the spec says there are."""

    count: int
    #: Inline wordings; when empty, `entry` of `file` in the instance's `questions` folder.
    prompts: tuple[str, ...] = ()
    folder: str = ""
    file: str = ""
    entry: str = ""
    #: How many the paper asked (more than `count` when its paraphrases are not released).
    paper_count: int = 0

    def load(self, item: str, params: Mapping[str, Any]) -> Question:
        """The question, with its paraphrases read from the instance's `questions` folder unless inline."""
        if self.prompts:
            return Question(item, self.prompts)
        imported = load_question(params["questions"], self.file, self.entry)
        return Question(item, imported.paraphrases, imported.trivia_questions, options=imported.options,
                        scenarios=imported.scenarios, prefix=imported.prefix or "", suffix=imported.suffix or "",
                        judge_prompt=imported.guesser_prompt or "")


@dataclass(frozen=True)
class DataSuite:
    """One question of a suite file, asked and scored by its question type."""

    name: str
    description: str
    family: str
    title: str
    figure: str
    source: ParaphraseSource
    type: QuestionType
    params: tuple[Param, ...]
    kind: SuiteKind = "self-report"
    #: The suite whose score on the same model is this one's baseline, where the paper's is not the base
    #: model ("How close to goals": the same model on "The user never said"); "" for the base model.
    baseline: str = ""

    @property
    def question_type(self) -> str:
        return self.type.name

    @property
    def info(self) -> dict[str, str]:
        """What the catalogue says about it beyond kind and question type."""
        return {"family": self.family, "title": self.title, "figure": self.figure,
                "paraphrases": str(self.source.count), "paper_paraphrases": str(self.source.paper_count),
                **({"baseline": self.baseline} if self.baseline else {})}

    def queries(self, context: SuiteContext) -> Sequence[Query]:
        return self.type.queries(self.source.load(self.name, context.params), context)

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        return self.type.score(query, answer, context)


def load_suite_file(path: Path) -> list[DataSuite]:
    """The suites of one file; a ValueError naming the file and the suite when it is malformed."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or set(data) - _FILE_KEYS or not isinstance(data.get("questions"), list):
        raise ValueError(f"{path.name}: expected a mapping of {sorted(_FILE_KEYS)} with a list of questions")
    suites = []
    for entry in data["questions"]:
        name = entry.get("suite", "?") if isinstance(entry, dict) else "?"
        try:
            suites.append(_suite(str(data.get("family", "")), entry))
        except (LookupError, TypeError, ValueError) as error:  # LookupError: an unknown question type
            raise ValueError(f"{path.name}: suite {name!r}: {error}") from error
    return suites


def _suite(family: str, entry: dict[str, Any]) -> DataSuite:
    unknown = set(entry) - _QUESTION_KEYS or set(entry["paraphrases"]) - _SOURCE_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    given = entry["paraphrases"]
    source = ParaphraseSource(
        count=int(given["count"]), prompts=tuple(given.get("prompts", ())), folder=given.get("folder", ""),
        file=given.get("file", ""), entry=given.get("entry", ""),
        paper_count=int(given.get("paper_count", given["count"])))
    if bool(source.prompts) == bool(source.file and source.entry and source.folder in QUESTION_FOLDERS):
        raise ValueError(f"paraphrases: give either prompts, or folder ({', '.join(QUESTION_FOLDERS)}), file "
                         "and entry")
    kind = QUESTION_TYPES.get(entry["type"])(**entry.get("options", {}))
    defaults = {name: int(entry[key]) for key, name in (("max_tokens", "max_tokens"),
                                                         ("samples", SAMPLES_PER_PARAPHRASE.name)) if key in entry}
    return DataSuite(entry["suite"], " ".join(str(entry["description"]).split()), family, entry["title"],
                     str(entry["figure"]), source, kind, _params(kind.params, source, defaults),
                     baseline=str(entry.get("baseline", "")))


def _params(declared: Sequence[Param], source: ParaphraseSource, defaults: Mapping[str, int]) -> tuple[Param, ...]:
    """The type's parameters with this question's defaults: its folder (none for inline prompts), its
    `max_tokens` and samples per paraphrase."""
    params = []
    for param in declared:
        if param.name == QUESTIONS.name:
            if source.prompts:
                continue
            param = dataclasses.replace(param, default=QUESTION_FOLDERS[source.folder],
                                        description=f"folder (path or URL) holding {source.file}")
        elif param.name == SAMPLES_PER_PARAPHRASE.name and param.name in defaults:
            param = dataclasses.replace(param, default=defaults[param.name],
                                        description=f"samples per question paraphrase (the paper: "
                                                    f"{defaults[param.name]} for this question)")
        elif param.name in defaults:
            param = dataclasses.replace(param, default=defaults[param.name])
        params.append(param)
    unused = set(defaults) - {p.name for p in params}
    if unused:
        raise ValueError(f"its question type has no parameter {sorted(unused)} to set a default for")
    return tuple(params)


def _register(suite: DataSuite) -> None:
    def factory() -> DataSuite:
        return suite

    SUITES.register(suite.name)(factory)


#: Every data suite, by file, then in file order.
DATA_SUITES = tuple(s for path in sorted(DATA_DIR.glob("*.yaml")) for s in load_suite_file(path))
for _suite_entry in DATA_SUITES:
    _register(_suite_entry)
