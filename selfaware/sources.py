"""Reading what a spec points at: a local path, a file:// URL or an http(s) URL, in one place.

The generator reads datasets through it, the evaluator reads question files through it, and validation asks
`unreadable` at submit, so a path that does not exist fails the submission with its field named instead of a
job minutes later. URLs are not fetched at submit (a machine without internet would hang there); their scheme is.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from selfaware.errors import DataError

#: Schemes a uri may use; anything without a scheme is a local path.
URL_SCHEMES = ("http", "https", "file")
#: Larger files are refused rather than read into memory (the paper's datasets are about 130 kB).
MAX_BYTES = 256 * 1024 * 1024
FETCH_TIMEOUT_S = 60.0


def uri_scheme(uri: str) -> str:
    """The URL scheme of `uri`, or "" for a local path (a Windows drive letter is not a scheme)."""
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
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
    """Why `uri` cannot be read, or None when it can (URLs: only the scheme is checked)."""
    if not uri.strip():
        return "is empty; give a local path or an http(s) URL"
    scheme = uri_scheme(uri)
    if scheme not in ("", *URL_SCHEMES):
        return f"unsupported scheme {scheme!r}; use a local path or one of {', '.join(URL_SCHEMES)}"
    if is_url(uri):
        return None
    path = local_path(uri)
    if not path.exists():
        return f"{str(path)!r} does not exist"
    if not os.access(path, os.R_OK):
        return f"{str(path)!r} is not readable"
    return None


def read_uri(uri: str, limit: int = MAX_BYTES) -> bytes:
    """The bytes at `uri`; any failure is a `DataError` naming it."""
    scheme = uri_scheme(uri)
    if scheme in ("http", "https"):
        return _fetch_url(uri, limit)
    if scheme not in ("", "file"):
        raise DataError(f"{uri}: unsupported scheme {scheme!r}; use a local path or one of "
                        f"{', '.join(URL_SCHEMES)}")
    path = local_path(uri)
    try:
        size = path.stat().st_size
        if size > limit:
            raise DataError(f"{uri}: {size} bytes is over the {limit}-byte limit")
        return path.read_bytes()
    except OSError as err:
        raise DataError(f"{uri}: cannot read ({err.strerror or err})") from None


def _fetch_url(uri: str, limit: int) -> bytes:
    try:
        with urllib.request.urlopen(uri, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 (scheme checked)
            data = response.read(limit + 1)
    except urllib.error.HTTPError as err:
        raise DataError(f"{uri}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise DataError(f"{uri}: cannot fetch ({getattr(err, 'reason', err)})") from None
    if len(data) > limit:
        raise DataError(f"{uri}: over the {limit}-byte limit")
    return data
