"""Reading what a spec points at: a local path, a file:// URL or an http(s) URL, in one place, under one policy.

The generator reads datasets through it, the evaluator reads question files through it, and validation asks
`unreadable` at submit, so a path that cannot be read fails the submission with its field named instead of a
job minutes later. URLs are not fetched at submit (a machine without internet would hang there); their scheme
and, for a literal address, their host are checked. What may be read is the current `SourcePolicy`
(selfaware/source_policy.py): regular files under the source roots, capped and with deadlines.

Errors say what is wrong with the request and nothing about the file: no content, and one text for a path that
does not exist, is not a regular file, cannot be read or is outside the roots, so a caller cannot map the
filesystem through them. Permanent problems (a NUL byte, a path outside the roots, an invalid HTTP response,
over the cap) are `DataError`s, dead-lettered at once; a server that is down or slow is `Unavailable`, retried.
"""

from __future__ import annotations

import os
import stat
import urllib.parse
import urllib.request
from pathlib import Path
from typing import NamedTuple

from selfaware.errors import DataError, TooLarge
from selfaware.ids import shown
from selfaware.redact import redact
from selfaware.secret_store import WHOLE_REF, is_reference, placeholder, secret_store
from selfaware.source_http import fetch_url
from selfaware.source_policy import KNOWN_SCHEMES, SourcePolicy, host_problem, source_policy

#: Schemes a uri may use; anything without a scheme is a local path.
URL_SCHEMES = KNOWN_SCHEMES
#: How much of a uri an error message repeats.
URI_CHARS = 200


def uri_scheme(uri: str) -> str:
    """The URL scheme of `uri`, or "" for a local path (a Windows drive letter is not a scheme)."""
    try:
        scheme = urllib.parse.urlsplit(uri).scheme.lower()
    except ValueError:  # e.g. an unbalanced '[' in what would be a host
        return ""
    return "" if len(scheme) <= 1 else scheme


def is_url(uri: str) -> bool:
    return uri_scheme(uri) in ("http", "https")


def local_path(uri: str) -> Path:
    """The filesystem path of a local path or file:// URL."""
    if uri_scheme(uri) == "file":
        return Path(urllib.request.url2pathname(urllib.parse.urlsplit(uri).path))
    return Path(uri).expanduser()


def join_uri(base: str, name: str) -> str:
    """`name` inside the folder `base` (a path or a URL)."""
    if is_url(base):
        return base.rstrip("/") + "/" + name
    return str(local_path(base) / name)


def unreadable(uri: str) -> str | None:
    """Why `uri` cannot be read, or None when it may be: a readable regular file or folder under the roots
    (a folder: suite `questions`), or an http(s) URL whose scheme, and host if literal, the policy allows.

    A secret reference is checked as far as it can be without the secret (which only the fetching service
    has): `secret:<name>` not at all, a uri holding `${secret:<name>}` by its scheme and host."""
    policy = source_policy()
    if not uri.strip():
        return "is empty; give a local path or an http(s) URL"
    if WHOLE_REF.match(uri):
        return None
    if is_reference(uri):
        uri = placeholder(uri)
        if not is_url(uri):
            return _scheme_problem(uri, policy)
    if problem := _scheme_problem(uri, policy):
        return problem
    if is_url(uri):
        return host_problem(urllib.parse.urlsplit(uri).hostname or "", policy)
    try:
        opened = _open_local(uri, policy, folders=True)
    except DataError as err:
        return str(err)
    if opened.fd is not None:
        os.close(opened.fd)
    if opened.size > policy.max_bytes:
        return f"is {opened.size} bytes, over the {policy.max_bytes}-byte cap on sources"
    return None


def read_uri(uri: str) -> bytes:
    """The bytes at `uri` under the current policy, its secret references resolved from the current secret
    store first; a failure is a `DataError` (`TooLarge` over the cap, `SecretError` for an unknown secret) or
    `Unavailable` (a server down or slow) naming `uri` as given, never the resolved secret."""
    policy = source_policy()
    name = _name(uri)
    uri = secret_store().resolve(uri, name)
    if problem := _scheme_problem(uri, policy):
        raise DataError(f"{name}: {problem}")
    if is_url(uri):
        return fetch_url(uri, name, policy)
    fd, size = _open_local(uri, policy, folders=False, name=name)
    with os.fdopen(fd, "rb") as handle:  # type: ignore[arg-type] - never None for files
        if size > policy.max_bytes:
            raise TooLarge(f"{name}: {size} bytes is over the {policy.max_bytes}-byte cap on sources")
        data = handle.read(policy.max_bytes + 1)  # the file may have grown since fstat
    if len(data) > policy.max_bytes:
        raise TooLarge(f"{name}: over the {policy.max_bytes}-byte cap on sources")
    return data


def _scheme_problem(uri: str, policy: SourcePolicy) -> str | None:
    scheme = uri_scheme(uri)
    if scheme and scheme not in policy.schemes:
        allowed = ", ".join(policy.schemes) or "none"
        return f"unsupported scheme {shown(scheme)}; use a local path or one of: {allowed}"
    return None


def _name(uri: str) -> str:
    """`uri` as an error message repeats it: secrets masked, control characters escaped, cut after `URI_CHARS`."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in redact(uri)[:URI_CHARS])
    return text if len(uri) <= URI_CHARS else f"{text}... ({len(uri)} characters)"


class _Opened(NamedTuple):
    """An open regular file's descriptor and size, or no descriptor for a folder."""

    fd: int | None
    size: int


def _open_local(uri: str, policy: SourcePolicy, folders: bool, name: str | None = None) -> _Opened:
    """Open a local source without blocking: a FIFO or a device is refused after `open` returns at once
    (O_NONBLOCK), before anything is read; one message covers every way a path can fail. Errors call the
    source `name` (default: `uri` as shown)."""
    name = name or _name(uri)
    path = str(local_path(uri))
    if "\0" in path:
        raise DataError(f"{name}: a path cannot contain a NUL byte")
    refused = DataError(f"{name}: cannot read: it does not exist, is not a readable regular file, or is "
                        f"not allowed{policy.describe_roots()}")
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        raise refused from None
    if not policy.allows_path(real):
        raise refused
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except (OSError, ValueError):
        raise refused from None
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise refused from None
    if stat.S_ISREG(info.st_mode):
        return _Opened(fd, info.st_size)
    os.close(fd)
    if stat.S_ISDIR(info.st_mode) and folders:
        return _Opened(None, 0)
    raise refused
