"""The rules for ids and digests that come from outside, checked before they reach a KV key, a subject or a path.

Why one place: an experiment id becomes part of NATS KV keys (`exp.<id>`) and subject filters (`job.<id>.>`),
where `.` separates tokens, `*` and `>` are wildcards, and spaces, NUL and anything over the server's payload
limit are refused (the probe got `INTERNAL: InvalidKeyError` or `MaxPayloadError` for 88 of 119 malformed
ids). A digest becomes a file name in the artifact cache, where `..` or `/` would leave it. Every id the
platform makes (`uuid4().hex[:12]`) and every sha256 it computes passes.
"""

from __future__ import annotations

import re

#: 1 to 64 letters, digits, '-' or '_', starting with a letter or digit: one KV key token, one file name.
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: A sha256 digest as the store names artifacts: 64 lower-case hex digits.
SHA256 = re.compile(r"[0-9a-f]{64}")
#: How much of a bad value an error message repeats (a 1 MB id must not come back in a status message).
SHOWN_CHARS = 40


def shown(value: str, limit: int = SHOWN_CHARS) -> str:
    """`value` as an error message may quote it: its repr, cut after `limit` characters."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def id_problem(value: str) -> str | None:
    """Why `value` is not a well-formed id, or None when it is (an unknown id is well-formed: NOT_FOUND)."""
    if not value:
        return "is empty; give an id (`selfaware list` shows the experiments)"
    if ID.fullmatch(value):
        return None
    return (f"{shown(value)} is not an id: use 1 to 64 letters, digits, '-' or '_', starting with a letter "
            "or digit")


def sha256_problem(value: str) -> str | None:
    """Why `value` is not a sha256 digest as the store names artifacts, or None when it is."""
    if SHA256.fullmatch(value):
        return None
    return f"{shown(value)} is not a sha256 digest (64 lower-case hex digits)"
