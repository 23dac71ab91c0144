"""Load question paraphrases from the authors' YAML files, from a local directory or an http(s) base URL.

The files are lists of entries `{name, question_paraphrases: [...], ...}` (the authors' repository,
`code/multiple-choice/questions/`). Every suite reads its questions through `load_paraphrases`, so a missing
file or entry always fails the same way: a `DataError` naming both.
"""

from __future__ import annotations

import structlog
import yaml

from selfaware.errors import DataError
from selfaware.sources import join_uri, read_uri

log = structlog.get_logger(__name__)


def load_paraphrases(questions_uri: str, file: str, entry: str) -> tuple[str, ...]:
    """The paraphrases of entry `entry` in `file` under `questions_uri` (a directory path or URL)."""
    location = join_uri(questions_uri, file)
    try:
        entries = yaml.safe_load(read_uri(location))
    except yaml.YAMLError as error:
        raise DataError(f"question file {location} is not valid YAML: {error}") from error
    except DataError as error:
        raise DataError(f"question file {error}") from None
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
