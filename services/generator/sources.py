"""A recipe's root sources: an imported JSONL file (local path or http(s) URL) or an offline generator.

Both produce the same thing, the source bytes (stored as the arms' provenance) and their parsed rows, so the
split, the steps and the probe never care which kind it was. Imports are read under the service's source policy
(`selfaware/sources.py`): regular files under its roots, public hosts, capped and with deadlines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from selfaware.sources import read_uri
from services.generator.chat_jsonl import ChatFile, dump_chat_jsonl, parse_chat_jsonl
from services.generator.families import get_family
from services.generator.generators import get_generator

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Source:
    """The source's bytes as read or generated, and their parsed rows."""

    data: bytes
    parsed: ChatFile


def import_source(uri: str, options: Sequence[str] = ("A", "B")) -> Source:
    """Read and parse an OpenAI chat JSONL file; bad rows raise `DataError` naming `uri` and the line.

    `options` are the answer letters of a two-option file (see `parse_chat_jsonl`); free-text files import
    too.
    """
    data = read_uri(uri)
    parsed = parse_chat_jsonl(data, uri, options)
    log.info("source_imported", uri=uri, bytes=len(data), rows=len(parsed.rows), two_option=parsed.two_option,
             sha256=hashlib.sha256(data).hexdigest())
    return Source(data, parsed)


def generate_source(name: str, params: Mapping[str, Any]) -> Source:
    """Run the registered generator `name` with every one of its parameters set.

    Its rows are written and parsed back like an imported file's, so they get the same checks and source
    indices.
    """
    generator = get_generator(name)
    data = dump_chat_jsonl(generator.generate(params))
    parsed = parse_chat_jsonl(data, f"generator {name}", get_family(generator.family).options)
    log.info("source_generated", generator=name, params=dict(params), rows=len(parsed.rows), bytes=len(data))
    return Source(data, parsed)
