"""A recipe's root sources: an imported JSONL file (local path or http(s) URL) or an offline generator.

Both produce the same thing, the source bytes (stored as the arms' provenance) and their parsed rows, so the
split, the steps and the probe never care which kind it was. Imports are read under the service's source policy
(`selfaware/sources.py`): regular files under its roots, public hosts, capped and with deadlines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from selfaware.errors import DataError
from selfaware.sources import read_uri
from services.generator.chat_jsonl import ChatFile, ChatRow, dump_chat_jsonl, parse_chat_jsonl
from services.generator.families import get_family
from services.generator.generators import GeneratorContext, get_generator

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Source:
    """The source's bytes as read or generated, their parsed rows, and what a generator's filters counted."""

    data: bytes
    parsed: ChatFile
    counts: Mapping[str, int] = field(default_factory=dict)
    #: A generator's own held-out rows (`Generation.heldout`); None: the spec's `holdout` splits `parsed.rows`.
    heldout: tuple[ChatRow, ...] | None = None


def import_source(uri: str, options: Sequence[str] = ("A", "B")) -> Source:
    """Read and parse an OpenAI chat JSONL file; bad rows raise `DataError` naming `uri` and the line.

    `options` are the answer letters of a two-option file (see `parse_chat_jsonl`); free-text files import
    too. A two-option file's free-text answers are kept and counted (`free_text_answers`, in the report's
    "Training data").
    """
    data = read_uri(uri)
    parsed = parse_chat_jsonl(data, uri, options)
    log.info("source_imported", uri=uri, bytes=len(data), rows=len(parsed.rows), two_option=parsed.two_option,
             free_text_rows=parsed.free_text_rows, sha256=hashlib.sha256(data).hexdigest())
    return Source(data, parsed, {"free_text_answers": parsed.free_text_rows} if parsed.free_text_rows else {})


def generate_source(name: str, params: Mapping[str, Any], context: GeneratorContext | None = None) -> Source:
    """Run the registered generator `name` with every one of its parameters set.

    Its rows are written and parsed back like an imported file's, so they get the same checks and source
    indices. Its own held-out rows, if it makes any, are kept as it made them (with their probe fields).

    Raises:
        DataError: the generator made no rows (every one filtered out).
    """
    generation = get_generator(name).generate(params, context or GeneratorContext())
    if not generation.rows:
        counts = ", ".join(f"{key} {value}" for key, value in generation.counts.items())
        raise DataError(f"generator {name}: made no rows ({counts or 'nothing counted'})")
    data = dump_chat_jsonl(generation.rows)
    parsed = parse_chat_jsonl(data, f"generator {name}", get_family(generation.family).options)
    log.info("source_generated", generator=name, params=dict(params), rows=len(parsed.rows), bytes=len(data),
             counts=dict(generation.counts),
             heldout=None if generation.heldout is None else len(generation.heldout))
    return Source(data, parsed, generation.counts, generation.heldout)
