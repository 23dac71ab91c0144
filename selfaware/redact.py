"""Secrets out of text: URL credentials, query tokens, bearer headers and well-known key formats.

Why a pattern scrubber and not only "keep secrets out of specs": a dataset URL is user input, and a presigned URL
carries its signature in the query, so the uri itself has to be shown (in an error, a manifest's provenance, a
report) with its secret parts masked. Every log line goes through `redact_event`; the services call `redact` on
text they store or publish (job messages, `experiment.error`, provenance).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: What replaces a secret.
MASK = "***"

#: Query or fragment parameters whose value is a credential: the name's last part ends with one of these words
#: (`token`, `access_token`, `X-Amz-Signature`, `X-Amz-Security-Token`, `api_key`, `apikey`, `sig`, ...).
_SECRET_PARAM = r"(?:[a-z0-9]+[-_.])*[a-z0-9]*(?:token|key|sig|signature|secret|password|passwd|pwd|credentials?|auth)"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host or scheme://token@host: the whole userinfo.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@"), rf"\1{MASK}@"),
    # ?token=...&X-Amz-Signature=..., and the same `name=value` outside a URL (`api_key=...` in a message).
    # The value stops at a ":" before a space, which is where "<uri>: <problem>" messages resume.
    (re.compile(rf"(?i)((?<![a-z0-9_.-]){_SECRET_PARAM}=)(?:[^&;#\s\"'<>:]|:(?!\s|$))*"), rf"\1{MASK}"),
    # Authorization: Bearer ... / Basic ... (header text, or a dict's repr).
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)?\s*)[^\s\"',}]+"), rf"\1{MASK}"),
    # A bare "Bearer <token>".
    (re.compile(r"(?i)\b(bearer\s+)[a-z0-9._~+/-]{16,}=*"), rf"\1{MASK}"),
    # OpenAI/Anthropic-style keys (sk-..., sk-proj-..., sk-ant-...).
    (re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}"), MASK),
    # Hugging Face, GitHub and Slack tokens, AWS access key ids.
    (re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}"), MASK),
    (re.compile(r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,}"), MASK),
    (re.compile(r"(?<![A-Za-z0-9_-])xox[abprs]-[A-Za-z0-9-]{10,}"), MASK),
    (re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"), MASK),
    # JSON web tokens (OIDC bearer tokens, presigned-style tokens).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"), MASK),
)


def redact(text: str) -> str:
    """`text` with every secret this module knows masked; text without one comes back unchanged."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """`value` with every string in it redacted, through dicts, lists, tuples and sets.

    Any other object whose `str` holds a secret (an exception, a path) becomes its redacted `str`; one without a
    secret is returned as it is, so renderers still show it their own way.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(redact_value(item) for item in value)
    if value is None or isinstance(value, bool | int | float | bytes):
        return value
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


def redact_event(_logger: object, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every string in the event, nested ones and a formatted traceback included."""
    return {key: redact_value(value) for key, value in event_dict.items()}
