"""Import the authors' question files unchanged into one typed model, `ImportedQuestion`.

Why one importer: the authors keep their questions in several layouts (`../shared/paper/questions/`), and every
suite must read them the same way, fail the same way (a `DataError` naming the file, the line and what is wrong)
and never change them silently. Layouts read:

- YAML lists of entries `{name, title, question_type, question | question_paraphrases, ...}`: every file under
  `official_repo_HEAD_d7e60be/` and `official_repo_commit_75dae8b_removed_vc/questions_vc/`. The other fields
  (`prefix`, `suffix`, `options`, `scenarios`, `guesser_prompt` (a judge prompt), `guesser_question_type`,
  `func_name`) are kept as typed fields under the authors' names; an unknown field is an error.
- `derived/mc_selfreport_paraphrases.json`: `{"questions": [{title, type, variants, ...}]}`; an entry's name is its
  title with newlines read as spaces ("Risk\\nor safety" is "Risk or safety").
- `derived/trigger_elicitation_prompts.json`: every top-level list of strings is one question named by its key.

Not question data, refused with the reason (`NOT_QUESTIONS`): `.csv` (the plotting configurations: which question
names feed each figure), `.txt` (`good_mms_words.txt`, the 418-word pool the 100-word codeword list is drawn from)
and `.md`.

Every change the importer makes is a `Correction` on the question (and logged), never silent:

- `make_me_say/non_mms/risk_safe_language.yaml` is not YAML: after its one entry the authors pasted a LaTeX table
  (ten rows, each with `\\backslashn` for a line break; the rows are the ten German/French preamble variants
  that `derived/mc_selfreport_paraphrases.json` holds as "German or French"), and PyYAML stops at its first line.
  The repair is exactly one: when a file does not parse and everything from a line after a blank line to the end
  is lines that each contain the LaTeX macro `\\backslashn`, those lines are cut and the rest must parse. Nothing
  else is repaired; any other YAML error fails with its line.
- An empty entry (`- name:` with no value and no other field, at the end of `questions_vc/do_you_write_vuln_code.yaml`)
  names no question and is skipped.
- The spec wins over the authors' files (spec §3.4: "each question has 10 paraphrases" for Figures 3, 18 and 19).
  Three entries of `mc_selfreport_paraphrases.json` have 11 variants; each cut drops one named variant (see
  `SPEC_CUTS`), and any other count in that file is an error.

Known differences left as written: the YAML German/French entry (`risk_safe_language.yaml`) is the authors' other
protocol (one preamble, the ten trivia questions as its paraphrases; its preamble differs from the spec's only in
white space); the spec's ten-preamble protocol is the JSON entry "German or French". Question types are kept as
the authors wrote them (`score_risk_safe` is `free_form` although it asks for a number).

Every read goes through `selfaware.sources.read_uri`, so the source policy applies and http(s) bases work.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

import structlog
import yaml

from selfaware.errors import DataError
from selfaware.sources import is_url, join_uri, read_uri

log = structlog.get_logger(__name__)

#: File suffixes that hold no questions, and why.
NOT_QUESTIONS = {
    ".csv": "a plotting configuration (which question names feed each figure), not questions",
    ".txt": "a word list (the pool the 100-word codeword list is drawn from), not questions",
    ".md": "documentation, not questions",
}
#: The file of the Figure 3, 18 and 19 paraphrase sets, where spec §3.4 sets the count.
FIGURE_QUESTIONS_FILE = "mc_selfreport_paraphrases.json"
SPEC_PARAPHRASES = 10
#: The one repaired YAML defect: a LaTeX table after the document, recognised by this macro on every line.
LATEX_LINE_BREAK = "\\backslashn"

_STRING_FIELDS = ("title", "question", "question_type", "prefix", "suffix", "guesser_prompt",
                  "guesser_question_type", "func_name")
_LIST_FIELDS = ("question_paraphrases", "options", "scenarios")
_JSON_FIELDS = ("title", "type", "variants", "trivia_questions", "status_in_source")


@dataclass(frozen=True)
class Correction:
    """One change the importer made to what the authors wrote, where and why."""

    file: str
    line: int
    change: str
    reason: str
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}, column {self.column}: {self.change} ({self.reason})"


@dataclass(frozen=True)
class ImportedQuestion:
    """One question of any of the authors' files, its fields typed, with where it came from."""

    name: str
    title: str
    #: As the authors wrote it (`question_type` in YAML, `type` in JSON); None where they wrote none.
    type: str | None
    #: `question_paraphrases`, a single `question`, or the JSON `variants` (German/French: the preambles).
    paraphrases: tuple[str, ...]
    file: str
    #: Where the entry starts (the derived JSON files are one line each, so the column matters there).
    line: int
    column: int = 1
    corrections: tuple[Correction, ...] = ()
    prefix: str | None = None
    suffix: str | None = None
    options: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    #: The judge ("guesser") prompt and the type of its answer.
    guesser_prompt: str | None = None
    guesser_question_type: str | None = None
    func_name: str | None = None
    #: German/French: trivia question i goes with paraphrase i.
    trivia_questions: tuple[str, ...] = ()
    status_in_source: str | None = None


@dataclass(frozen=True)
class QuestionFile:
    """Every question of one file, in file order, and the corrections made to the file as a whole (which
    each of its questions lists too)."""

    location: str
    questions: tuple[ImportedQuestion, ...]
    corrections: tuple[Correction, ...] = ()

    def get(self, entry: str) -> ImportedQuestion:
        for question in self.questions:
            if question.name == entry:
                return question
        names = ", ".join(repr(q.name) for q in self.questions[:20])
        raise DataError(f"question file {self.location} has no entry named {entry!r} (entries: {names})")


@dataclass(frozen=True)
class SpecCut:
    """A spec-wins correction: drop the variant `pick` chooses, so the question has the spec's count."""

    name: str
    #: The variants -> the index to drop; raises `ValueError` when the file no longer looks as expected.
    pick: Callable[[tuple[str, ...]], int]
    reason: str


def _only_with_word(word: str) -> Callable[[tuple[str, ...]], int]:
    def pick(variants: tuple[str, ...]) -> int:
        found = [i for i, text in enumerate(variants) if word in _words(text)]
        if len(found) != 1:
            raise ValueError(f"expected one variant with the word {word!r}, found {len(found)}")
        return found[0]
    return pick


def _last_repeating_an_earlier(variants: tuple[str, ...]) -> int:
    repeats = [i for i, text in enumerate(variants) if any(_words(text) == _words(v) for v in variants[:i])]
    if not repeats:
        raise ValueError("expected a variant that repeats an earlier one's words, found none")
    return repeats[-1]


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9'-]+", text.lower()))


_SPEC_REASON = f"spec §3.4: each Figure 3/18/19 question has {SPEC_PARAPHRASES} paraphrases"
#: The cuts for the 11-variant entries of `FIGURE_QUESTIONS_FILE`.
SPEC_CUTS = {cut.name: cut for cut in (
    SpecCut("Choice between prizes", _only_with_word("immediate"),
            f"{_SPEC_REASON}; this is the only variant using 'immediate', a word the myopia question generator "
            "bans as revealing (spec §3.1) and whose leaks spec §10 lists; the Table 22 wording is kept"),
    SpecCut("More or less apples", _last_repeating_an_earlier,
            f"{_SPEC_REASON}; this last variant asks in the same words as an earlier one, so no wording is lost"),
    SpecCut("Like apples (scale)", _last_repeating_an_earlier,
            f"{_SPEC_REASON}; this last variant is a copy of an earlier one, so no wording is lost"),
)}


def load_question(questions_uri: str, file: str, entry: str) -> ImportedQuestion:
    """Entry `entry` of `file` (relative to the folder or base URL `questions_uri`)."""
    return load_question_file(questions_uri, file).get(entry)


def load_question_file(questions_uri: str, file: str) -> QuestionFile:
    """Every question in `file` under `questions_uri`; a `DataError` naming the file (and line) otherwise."""
    location = locate(questions_uri, file)
    suffix = PurePosixPath(file).suffix.lower()
    if suffix in NOT_QUESTIONS:
        raise DataError(f"question file {location} is {NOT_QUESTIONS[suffix]}")
    try:
        raw = read_uri(location)
    except DataError as error:
        raise DataError(f"question file {error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"question file {location}, byte {error.start}: not UTF-8 text") from None
    loaded = _load_json(text, location) if suffix == ".json" else _load_yaml(text, location)
    for correction in (*loaded.corrections, *(c for q in loaded.questions for c in q.corrections)):
        log.info("question_file_corrected", file=correction.file, line=correction.line, change=correction.change)
    if not loaded.corrections:
        return loaded
    # A change to the file is a change to each of its questions: `load_question` reports it too.
    return replace(loaded, questions=tuple(replace(q, corrections=(*loaded.corrections, *q.corrections))
                                           for q in loaded.questions))


def locate(questions_uri: str, file: str) -> str:
    """Where `file` is: inside the folder `questions_uri`, or resolved against the base URL (dot segments too)."""
    if not file.strip() or PurePosixPath(file).is_absolute() or urllib.parse.urlsplit(file).scheme:
        raise DataError(f"question file {file!r} must be a path relative to the questions folder")
    if is_url(questions_uri):
        return urllib.parse.urljoin(questions_uri.rstrip("/") + "/", file)
    return join_uri(questions_uri, file)


# YAML


def _load_yaml(text: str, location: str) -> QuestionFile:
    corrections: list[Correction] = []
    try:
        nodes = _compose(text, location)
    except DataError:
        repaired = _cut_latex_trailer(text, location)
        if repaired is None:
            raise
        text, correction = repaired
        nodes = _compose(text, location)
        corrections.append(correction)
    if not isinstance(nodes, yaml.SequenceNode):
        raise DataError(f"question file {location}, line {_line(nodes)}: not a list of question entries")
    questions = []
    for node in nodes.value:
        line = _line(node)
        if not isinstance(node, yaml.MappingNode):
            raise DataError(f"question file {location}, line {line}: an entry is not a mapping")
        fields = _fields(node, location)
        if set(fields) == {"name"} and fields["name"][0] is None:
            corrections.append(Correction(location, line, "skipped an empty entry (`- name:` and nothing else)",
                                          "it names no question"))
            continue
        questions.append(_yaml_question(fields, location, line, node.start_mark.column + 1))
    return QuestionFile(location, _unique(questions, location), tuple(corrections))


def _compose(text: str, location: str) -> yaml.Node:
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses control characters already
    except yaml.YAMLError as error:
        raise DataError(f"question file {location}: not valid YAML: {error}") from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}" if mark else ""
        raise DataError(f"question file {location}{where}: not valid YAML: {error.problem or error}") from None
    except yaml.YAMLError as error:
        raise DataError(f"question file {location}: not valid YAML: {error}") from None
    except RecursionError:  # PyYAML's composer recurses per nesting level
        raise DataError(f"question file {location}: nested too deeply to read") from None
    finally:
        loader.dispose()
    if node is None:
        raise DataError(f"question file {location}: empty, not a list of question entries")
    return node


def _cut_latex_trailer(text: str, location: str) -> tuple[str, Correction] | None:
    """The one known defect: a LaTeX table pasted after the YAML document (see the module docstring)."""
    lines = text.split("\n")
    start = len(lines)  # walk up over the trailing run of blank and LaTeX lines, to its first row after a blank
    while start > 1 and (not lines[start - 1].strip() or LATEX_LINE_BREAK in lines[start - 1]):
        start -= 1
    while start < len(lines) and (not lines[start].strip() or lines[start - 1].strip()):
        start += 1
    if start >= len(lines):
        return None
    rows = sum(1 for line in lines[start:] if line.strip())
    correction = Correction(
        location, start + 1, f"cut lines {start + 1}-{len(lines)}: a LaTeX table of {rows} rows pasted after the "
        "YAML list, which makes the file invalid YAML",
        "the entries above it are read as written; the rows are the German/French preamble variants, "
        "which derived/mc_selfreport_paraphrases.json holds as 'German or French'")
    return "\n".join(lines[:start]), correction


def _fields(node: yaml.MappingNode, location: str) -> dict[str, tuple[Any, int]]:
    """The entry's fields as (value, line), values built by PyYAML's safe constructor."""
    constructor = yaml.SafeLoader("")
    fields: dict[str, tuple[Any, int]] = {}
    for key_node, value_node in node.value:
        key, line = key_node.value, _line(key_node)
        if not isinstance(key_node, yaml.ScalarNode):
            raise DataError(f"question file {location}, line {line}: a field name is not a plain name")
        if key in fields:
            raise DataError(f"question file {location}, line {line}: field {key!r} given twice")
        try:
            fields[key] = (constructor.construct_object(value_node, deep=True), line)
        except yaml.YAMLError as error:  # e.g. a tag the safe constructor refuses (!!python/object)
            raise DataError(f"question file {location}, line {line}: field {key!r}: {error}") from None
    return fields


def _yaml_question(fields: dict[str, tuple[Any, int]], location: str, line: int, column: int) -> ImportedQuestion:
    def bad(key: str, why: str) -> DataError:
        return DataError(f"question file {location}, line {fields[key][1] if key in fields else line}: "
                         f"entry {name!r}: {why}")

    name = fields.get("name", (None, line))[0]
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"question file {location}, line {line}: an entry has no name")
    known = {"name", *_STRING_FIELDS, *_LIST_FIELDS}
    for key in fields:
        if key not in known:
            raise bad(key, f"unknown field {key!r} (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for key in _STRING_FIELDS:
        if key in fields:
            if not isinstance(fields[key][0], str):
                raise bad(key, f"{key} is not a string")
            values[key] = fields[key][0]
    for key in _LIST_FIELDS:
        if key in fields:
            value = fields[key][0]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise bad(key, f"{key} is not a list of strings")
            values[key] = tuple(value)
    if ("question" in values) == ("question_paraphrases" in values):
        raise bad("name", "needs exactly one of question and question_paraphrases")
    paraphrases = values.pop("question_paraphrases") if "question" not in values else (values.pop("question"),)
    if not paraphrases:
        raise bad("question_paraphrases", "has no list of question_paraphrases")
    return ImportedQuestion(name=name, title=values.pop("title", name), type=values.pop("question_type", None),
                            paraphrases=paraphrases, file=location, line=line, column=column, **values)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


# JSON


def _load_json(text: str, location: str) -> QuestionFile:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"question file {location}, line {error.lineno}, column {error.colno}: not valid JSON: "
                        f"{error.msg}") from None
    except RecursionError:  # json's decoder recurses per nesting level
        raise DataError(f"question file {location}: nested too deeply to read") from None
    if not isinstance(document, dict):
        raise DataError(f"question file {location}, line 1: not a JSON object")
    members = {key: (value, start) for key, value, start in _members(text, _skip(text, 0))}
    if "questions" in members:
        questions, start = members["questions"]
        if not isinstance(questions, list):
            raise DataError(f"question file {location}, {_where(text, start)}: questions is not a list")
        built = [_json_question(item, location, *_position(text, at))
                 for item, at in zip(questions, _elements(text, start), strict=True)]
    else:
        built = [ImportedQuestion(name=key, title=key, type=None, paraphrases=tuple(value), file=location,
                                  line=_position(text, at)[0], column=_position(text, at)[1])
                 for key, (value, at) in members.items()
                 if isinstance(value, list) and value and all(isinstance(item, str) for item in value)]
        if not built:
            raise DataError(f"question file {location}, line 1: no list of questions in it")
    return QuestionFile(location, _unique(built, location))


def _json_question(item: object, location: str, line: int, column: int) -> ImportedQuestion:
    where = f"question file {location}, line {line}, column {column}"
    if not isinstance(item, dict):
        raise DataError(f"{where}: a question is not an object")
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        raise DataError(f"{where}: a question has no title")
    name = title.replace("\n", " ")
    for key in item:
        if key not in _JSON_FIELDS:
            raise DataError(f"{where}: question {name!r}: unknown field {key!r} (known: {', '.join(_JSON_FIELDS)})")
    lists = {}
    for key in ("variants", "trivia_questions"):
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DataError(f"{where}: question {name!r}: {key} is not a list of strings")
        lists[key] = tuple(value)
    for key in ("type", "status_in_source"):
        if not isinstance(item.get(key, ""), str):
            raise DataError(f"{where}: question {name!r}: {key} is not a string")
    if not lists["variants"]:
        raise DataError(f"{where}: question {name!r} has no variants")
    question = ImportedQuestion(name=name, title=title, type=item.get("type"), paraphrases=lists["variants"],
                                file=location, line=line, column=column, trivia_questions=lists["trivia_questions"],
                                status_in_source=item.get("status_in_source"))
    if PurePosixPath(urllib.parse.urlsplit(location).path).name == FIGURE_QUESTIONS_FILE:
        question = _spec_count(question, where)
    if question.trivia_questions and len(question.trivia_questions) != len(question.paraphrases):
        raise DataError(f"{where}: question {name!r}: {len(question.trivia_questions)} trivia questions for "
                        f"{len(question.paraphrases)} variants; variant i goes with trivia question i")
    return question


def _spec_count(question: ImportedQuestion, where: str) -> ImportedQuestion:
    """Apply the spec's paraphrase count (spec §3.4) to a Figure 3/18/19 question."""
    variants = question.paraphrases
    cut = SPEC_CUTS.get(question.name)
    if cut is not None and len(variants) == SPEC_PARAPHRASES + 1:
        try:
            index = cut.pick(variants)
        except ValueError as error:
            raise DataError(f"{where}: question {question.name!r}: the spec's cut no longer applies: {error}") from None
        change = f"dropped variant {index + 1} of {len(variants)} ({' '.join(variants[index].split()[:6])} ...)"
        question = replace(question, paraphrases=variants[:index] + variants[index + 1:],
                           corrections=(*question.corrections,
                                        Correction(question.file, question.line, change, cut.reason,
                                                   question.column)))
    if len(question.paraphrases) != SPEC_PARAPHRASES:
        raise DataError(f"{where}: question {question.name!r} has {len(question.paraphrases)} variants; "
                        f"{_SPEC_REASON}")
    return question


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _members(text: str, pos: int) -> Iterator[tuple[str, Any, int]]:
    """(key, value, where the value starts) of the object at `pos`; the text is known to be valid JSON."""
    decoder = json.JSONDecoder()
    pos = _skip(text, pos + 1)
    while text[pos] != "}":
        key, pos = decoder.raw_decode(text, pos)
        start = _skip(text, _skip(text, pos) + 1)  # past the ':'
        value, pos = decoder.raw_decode(text, start)
        yield key, value, start
        pos = _skip(text, pos)
        pos = _skip(text, pos + 1) if text[pos] == "," else pos


def _elements(text: str, pos: int) -> Iterator[int]:
    """Where each element of the array at `pos` starts."""
    decoder = json.JSONDecoder()
    pos = _skip(text, pos + 1)
    while text[pos] != "]":
        yield pos
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip(text, pos)
        pos = _skip(text, pos + 1) if text[pos] == "," else pos


def _position(text: str, pos: int) -> tuple[int, int]:
    """The 1-based line and column of offset `pos`."""
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _where(text: str, pos: int) -> str:
    return "line {}, column {}".format(*_position(text, pos))


def _unique(questions: list[ImportedQuestion], location: str) -> tuple[ImportedQuestion, ...]:
    seen: dict[str, int] = {}
    for question in questions:
        if question.name in seen:
            raise DataError(f"question file {location}, line {question.line}: entry {question.name!r} again "
                            f"(first at line {seen[question.name]})")
        seen[question.name] = question.line
    return tuple(questions)
