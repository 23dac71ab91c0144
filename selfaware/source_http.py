"""Fetching an http(s) source under a `SourcePolicy`: checked peer addresses, redirects, a byte cap and a deadline.

Why not plain `urlopen`: it followed redirects to any host, read until the server stopped, raised
`http.client` errors (an invalid status line) that nothing classified, and resolved names without a check, so
`http://localhost:...` and a name pointing at a private address both worked. Here the address actually connected
to is checked after the TCP connect and before a byte of the request is sent (so a name that resolves, or is
rebound, to a private address is caught too), redirects are checked like the first URL, no proxy from the
environment is used, and the body is read in chunks up to the cap and the deadline.
"""

from __future__ import annotations

import functools
import http.client
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from selfaware.errors import DataError, TooLarge, Unavailable
from selfaware.source_policy import PRIVATE_REFUSED, SourcePolicy, address_refused, host_problem

_CHUNK = 1 << 16
#: Statuses worth retrying: the server is busy or briefly down.
_TRANSIENT = {408, 425, 429, 500, 502, 503, 504}


def _check_peer(sock: socket.socket, policy: SourcePolicy) -> None:
    address = sock.getpeername()[0]
    if address_refused(address, policy):
        sock.close()
        raise DataError(f"the host resolves to {address}, which {PRIVATE_REFUSED}")


class _CheckedHTTP(http.client.HTTPConnection):
    def __init__(self, *args: Any, policy: SourcePolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy

    def connect(self) -> None:
        super().connect()
        _check_peer(self.sock, self.policy)


class _CheckedHTTPS(http.client.HTTPSConnection, _CheckedHTTP):
    """HTTPS whose TCP connect is `_CheckedHTTP.connect`, so the peer is checked before the TLS handshake."""


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, policy: SourcePolicy) -> None:
        super().__init__()
        self.policy = policy

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_CheckedHTTP, policy=self.policy), req)  # type: ignore[arg-type]


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, policy: SourcePolicy) -> None:
        super().__init__()
        self.policy = policy

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_CheckedHTTPS, policy=self.policy), req,  # type: ignore[arg-type]
                            context=self._context)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL the policy would fetch in the first place."""

    max_redirections = 5

    def __init__(self, policy: SourcePolicy) -> None:
        super().__init__()
        self.policy = policy

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        target = urllib.parse.urlsplit(newurl)
        if target.scheme not in ("http", "https") or target.scheme not in self.policy.schemes:
            raise DataError(f"redirects to a {target.scheme or 'relative'} URL, which this service does not fetch")
        if problem := host_problem(target.hostname or "", self.policy):
            raise DataError(f"redirects to a URL whose {problem}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(policy: SourcePolicy) -> urllib.request.OpenerDirector:
    """http(s) only, redirects checked, errors raised; no proxy, file, ftp or data handlers."""
    opener = urllib.request.OpenerDirector()
    for handler in (_HTTPHandler(policy), _HTTPSHandler(policy), _RedirectHandler(policy),
                    urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def fetch_url(uri: str, name: str, policy: SourcePolicy) -> bytes:
    """The body at the http(s) `uri`, named `name` in errors.

    Raises:
        DataError: the host or a redirect is refused, the response is not valid HTTP, or its status is a
            client error; `TooLarge` over `policy.max_bytes`.
        Unavailable: the server cannot be reached, answers a status worth retrying, or is slower than
            `policy.timeout_s`.
    """
    try:
        return _fetch(uri, policy)
    except (DataError, Unavailable) as err:
        raise type(err)(f"{name}: {err}") from None


def _fetch(uri: str, policy: SourcePolicy) -> bytes:
    if problem := host_problem(urllib.parse.urlsplit(uri).hostname or "", policy):
        raise DataError(problem)
    deadline = time.monotonic() + policy.timeout_s
    try:
        with _opener(policy).open(uri, timeout=policy.timeout_s) as response:
            return _read_capped(response, policy, deadline)
    except urllib.error.HTTPError as err:
        err.close()
        error = Unavailable if err.code in _TRANSIENT else DataError
        raise error(f"HTTP {err.code} {_printable(str(err.reason))}") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, OSError):
            raise Unavailable(f"cannot fetch ({_os_reason(err.reason)})") from None
        raise DataError(f"cannot fetch ({_printable(str(err.reason))})") from None
    except (http.client.RemoteDisconnected, http.client.IncompleteRead, ConnectionError) as err:
        raise Unavailable(f"the server closed the connection ({type(err).__name__})") from None
    except http.client.HTTPException as err:  # an invalid status line or headers: retrying cannot help
        raise DataError(f"not a valid HTTP response ({type(err).__name__})") from None
    except OSError as err:
        raise Unavailable(f"cannot fetch ({_os_reason(err)})") from None


def _read_capped(response: http.client.HTTPResponse, policy: SourcePolicy, deadline: float) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > policy.max_bytes:
        raise TooLarge(f"{length} bytes is over the {policy.max_bytes}-byte cap on sources")
    chunks, total = [], 0
    while chunk := response.read1(_CHUNK):
        chunks.append(chunk)
        total += len(chunk)
        if total > policy.max_bytes:
            raise TooLarge(f"over the {policy.max_bytes}-byte cap on sources")
        if time.monotonic() > deadline:
            raise Unavailable(f"the server took longer than {policy.timeout_s:g} s")
    return b"".join(chunks)


def _printable(text: str, limit: int = 80) -> str:
    """A server's words as an error may repeat them: printable characters only, and few of them."""
    return "".join(c for c in text[:limit] if c.isprintable())


def _os_reason(err: OSError) -> str:
    if isinstance(err, TimeoutError):
        return "timed out"
    return err.strerror or type(err).__name__
