"""Question paraphrases for suites, from the authors' question files (a local folder or an http(s) base URL).

Every suite reads its questions through `load_paraphrases`, so a missing file or entry always fails the same
way: a `DataError` naming both. `file` is any question file under `../shared/paper/questions/` relative to the
suite's `questions` folder: the authors' YAML of every layout, or `derived/mc_selfreport_paraphrases.json`,
whose entries are named by their title with newlines read as spaces ("Risk or safety"). The importer
(`services/evaluator/question_files.py`) reads them unchanged except for the corrections it records;
`load_question` gives the whole entry (preamble, trivia questions, judge prompt, options, corrections).
"""

from __future__ import annotations

import structlog

from ..question_files import ImportedQuestion, load_question

log = structlog.get_logger(__name__)

__all__ = ["ImportedQuestion", "load_paraphrases", "load_question"]


def load_paraphrases(questions_uri: str, file: str, entry: str) -> tuple[str, ...]:
    """The paraphrases of entry `entry` in `file` under `questions_uri` (a directory path or URL)."""
    question = load_question(questions_uri, file, entry)
    log.debug("questions_loaded", location=question.file, entry=entry, paraphrases=len(question.paraphrases),
              corrections=len(question.corrections))
    return question.paraphrases
