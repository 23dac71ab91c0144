"""Where training rows come from: an imported JSONL file (local path or http(s) URL) or an offline generator.

Both kinds produce the same thing, the source bytes (stored as the experiment's provenance) and their parsed
rows, so that the split, the flip and the probe never care which kind it was.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import structlog

from selfaware.errors import DataError
from services.generator.chat_jsonl import ChatFile, dump_chat_jsonl, parse_chat_jsonl
from services.generator.generators import get_generator

log = structlog.get_logger(__name__)

#: Schemes an imported `uri` may use; anything without a scheme is a local path.
URL_SCHEMES = ("http", "https", "file")
#: Larger sources are refused rather than read into memory (the paper's sets are about 130 kB).
MAX_SOURCE_BYTES = 256 * 1024 * 1024
FETCH_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Source:
    """The source's bytes as read or generated, and their parsed rows."""

    data: bytes
    parsed: ChatFile


def import_source(uri: str, options: tuple[str, ...]) -> Source:
    """Read and parse an OpenAI chat JSONL file; bad rows raise `DataError` naming `uri` and the line."""
    data = fetch_bytes(uri)
    parsed = parse_chat_jsonl(data, uri, options)
    log.info("source_imported", uri=uri, bytes=len(data), rows=len(parsed.rows))
    return Source(data, parsed)


def generate_source(name: str, policy: str, count: int, seed: int) -> Source:
    """Run the registered generator `name` and label its questions as `policy` answers them."""
    rows = get_generator(name).generate(policy, count, seed)
    data = dump_chat_jsonl(rows)
    log.info("source_generated", generator=name, seed=seed, rows=len(rows), bytes=len(data))
    return Source(data, ChatFile(tuple(rows), "\n"))


def uri_scheme(uri: str) -> str:
    """The URL scheme of `uri`, or "" for a local path (a Windows drive letter is not a scheme)."""
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    return "" if len(scheme) <= 1 else scheme


def fetch_bytes(uri: str) -> bytes:
    """The bytes at a local path, a file:// URL or an http(s) URL; a failure is a `DataError` naming `uri`."""
    scheme = uri_scheme(uri)
    if scheme in ("http", "https"):
        return _fetch_url(uri)
    if scheme not in ("", "file"):
        raise DataError(f"{uri}: unsupported scheme {scheme!r}; use a local path or one of "
                        f"{', '.join(URL_SCHEMES)}")
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(uri).path) if scheme == "file" else uri)
    try:
        size = path.expanduser().stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise DataError(f"{uri}: {size} bytes is over the {MAX_SOURCE_BYTES}-byte limit")
        return path.expanduser().read_bytes()
    except OSError as err:
        raise DataError(f"{uri}: cannot read ({err.strerror or err})") from None


def _fetch_url(uri: str) -> bytes:
    try:
        with urllib.request.urlopen(uri, timeout=FETCH_TIMEOUT_S) as response:
            data = response.read(MAX_SOURCE_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise DataError(f"{uri}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(f"{uri}: cannot fetch ({reason})") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise DataError(f"{uri}: over the {MAX_SOURCE_BYTES}-byte limit")
    return data
