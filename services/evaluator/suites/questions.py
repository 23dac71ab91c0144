"""Load question paraphrases from the authors' YAML files, from a local directory or an http(s) base URL.

The files are lists of entries `{name, question_paraphrases: [...], ...}` (the authors' repository,
`code/multiple-choice/questions/`). Every suite reads its questions through `load_paraphrases`, so a missing
file or entry always fails the same way: a `DataError` naming both.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import structlog
import yaml

from selfaware.errors import DataError

log = structlog.get_logger(__name__)

_URL_TIMEOUT_S = 30


def load_paraphrases(questions_uri: str, file: str, entry: str) -> tuple[str, ...]:
    """The paraphrases of entry `entry` in `file` under `questions_uri` (a directory path or http(s) URL)."""
    location = _join(questions_uri, file)
    try:
        entries = yaml.safe_load(_read(location))
    except yaml.YAMLError as error:
        raise DataError(f"question file {location} is not valid YAML: {error}") from error
    if not isinstance(entries, list):
        raise DataError(f"question file {location} is not a list of question entries")
    for item in entries:
        if isinstance(item, dict) and item.get("name") == entry:
            paraphrases = item.get("question_paraphrases")
            if not paraphrases or not all(isinstance(p, str) for p in paraphrases):
                raise DataError(f"entry {entry!r} in {location} has no list of question_paraphrases")
            log.debug("questions_loaded", location=location, entry=entry, paraphrases=len(paraphrases))
            return tuple(paraphrases)
    raise DataError(f"question file {location} has no entry named {entry!r}")


def _join(questions_uri: str, file: str) -> str:
    if _is_url(questions_uri):
        return questions_uri.rstrip("/") + "/" + file
    return str(Path(questions_uri).expanduser() / file)


def _is_url(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def _read(location: str) -> str:
    if _is_url(location):
        try:
            with urllib.request.urlopen(location, timeout=_URL_TIMEOUT_S) as response:
                return response.read().decode()
        except (urllib.error.URLError, TimeoutError) as error:
            raise DataError(f"cannot fetch question file {location}: {error}") from error
    try:
        return Path(location).read_text()
    except OSError as error:
        raise DataError(f"cannot read question file {location}: {error.strerror}") from error
