"""Reading sources under a policy: the probe's bad paths and URLs, against real files, FIFOs and HTTP servers on
127.0.0.1 (no mocks). Each read runs in a copied context, so a policy never leaks into another test."""

from __future__ import annotations

import contextvars
import http.server
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from selfaware.errors import DataError, PermanentError, TooLarge, Unavailable
from selfaware.source_policy import SourcePolicy, SourceReadingConfig, use_source_policy
from selfaware.sources import read_uri, unreadable

STRICT = dict(allow_private_hosts=False, max_bytes=1000, timeout_s=1.0)


def under(policy: SourcePolicy, call: Callable[[str], Any], uri: str) -> Any:
    def run() -> Any:
        use_source_policy(policy)
        return call(uri)

    return contextvars.copy_context().run(run)


def refusal(policy: SourcePolicy, uri: str) -> str:
    with pytest.raises(DataError) as caught:
        under(policy, read_uri, uri)
    assert isinstance(caught.value, PermanentError)
    return str(caught.value)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    (folder / "ok.jsonl").write_bytes(b'{"messages": []}\n')
    return folder


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_at_once_instead_of_hanging(root: Path) -> None:
    os.mkfifo(root / "fifo")
    policy = SourcePolicy(roots=(root,))
    started = time.monotonic()
    assert "cannot read" in refusal(policy, str(root / "fifo"))
    assert "cannot read" in (under(policy, unreadable, str(root / "fifo")) or "")
    assert time.monotonic() - started < 2


@pytest.mark.timeout(20)
def test_devices_proc_and_sys_are_never_read_whatever_the_roots(root: Path) -> None:
    (root / "zero").symlink_to("/dev/zero")
    anywhere = SourcePolicy(roots=(Path("/"),))
    for uri in ("/dev/zero", str(root / "zero"), "/proc/self/environ", "file:///proc/self/environ",
                "/sys/kernel/mm/transparent_hugepage/enabled"):
        assert "cannot read" in refusal(anywhere, uri), uri
        assert "cannot read" in refusal(SourcePolicy(), uri), uri


def test_only_files_under_the_roots_are_read_and_the_error_says_nothing_about_the_file(root: Path,
                                                                                    tmp_path: Path) -> None:
    policy = SourcePolicy(roots=(root,))
    assert under(policy, read_uri, str(root / "ok.jsonl")) == b'{"messages": []}\n'
    assert under(policy, read_uri, (root / "ok.jsonl").as_uri()) == b'{"messages": []}\n'
    (tmp_path / "secret.jsonl").write_text("root:x:0:0:secret\n")
    (root / "escape.jsonl").symlink_to(tmp_path / "secret.jsonl")
    os.mkfifo(root / "fifo")
    texts = {}
    for name, uri in {"outside": str(tmp_path / "secret.jsonl"), "file url": (tmp_path / "secret.jsonl").as_uri(),
                      "symlink out": str(root / "escape.jsonl"), "dotdot": f"{root}/../secret.jsonl",
                      "missing": str(root / "missing.jsonl"), "fifo": str(root / "fifo"),
                      "folder": str(root), "etc": "/etc/passwd", "long": "/" + "a" * 10_000}.items():
        text = refusal(policy, uri)
        assert "secret" not in text.replace("secret.jsonl", "") and "root:x" not in text, name
        texts[name] = text.split(": ", 1)[1]
    assert len(set(texts.values())) == 1, texts  # missing, unreadable and outside read the same
    assert str(root) in texts["missing"]
    assert len(refusal(policy, "/" + "a" * 10_000)) < 400 + len(str(root))  # the path is cut; the roots are named


def test_a_folder_passes_the_submit_check_but_is_not_read(root: Path) -> None:
    policy = SourcePolicy(roots=(root,))
    assert under(policy, unreadable, str(root)) is None  # suite `questions` names a folder
    assert under(policy, unreadable, str(root / "ok.jsonl")) is None
    assert "cannot read" in refusal(policy, str(root))


@pytest.mark.parametrize("uri", ["a\0b.jsonl", "file:///tmp/a%00b.jsonl"])
def test_a_nul_byte_is_a_permanent_data_error(uri: str) -> None:
    text = refusal(SourcePolicy(), uri)
    assert "NUL" in text and "\0" not in text


def test_files_over_the_cap_are_refused_before_they_are_read(root: Path) -> None:
    (root / "big.jsonl").write_bytes(b"x" * 1001)
    policy = SourcePolicy(roots=(root,), max_bytes=1000)
    with pytest.raises(TooLarge, match="1001 bytes is over the 1000-byte cap"):
        under(policy, read_uri, str(root / "big.jsonl"))
    assert "over the 1000-byte cap" in (under(policy, unreadable, str(root / "big.jsonl")) or "")


def test_schemes_follow_the_policy(root: Path) -> None:
    https_only = SourcePolicy(schemes=("https",))
    for uri in ("http://example.com/x.jsonl", (root / "ok.jsonl").as_uri(), "ftp://example.com/x"):
        assert "unsupported scheme" in (under(https_only, unreadable, uri) or ""), uri
        assert "unsupported scheme" in refusal(https_only, uri), uri
    assert under(https_only, unreadable, "https://example.com/x.jsonl") is None  # names are not resolved at submit
    assert under(https_only, read_uri, str(root / "ok.jsonl"))  # a local path needs no scheme


def test_config_builds_the_policy_and_names_bad_settings(root: Path) -> None:
    policy = SourceReadingConfig(source_roots=f"{root}:{root}/../root:", source_schemes="https",
                                 source_max_bytes=10).source_policy()
    assert policy == SourcePolicy(roots=(root,), schemes=("https",), max_bytes=10, timeout_s=60.0,
                                  allow_private_hosts=False)
    assert SourceReadingConfig(source_roots="").source_policy().roots == ()
    assert SourceReadingConfig().source_policy().roots == (Path.cwd().resolve(), (Path.cwd() / "../shared").resolve())
    with pytest.raises(PermanentError, match="source_schemes"):
        SourceReadingConfig(source_schemes="gopher")


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.hits.append(self.path)
        if self.path == "/ok.jsonl":
            self._reply(200, b'{"messages": []}\n')
        elif self.path == "/endless":
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass
        elif self.path == "/declared-huge":
            self.send_response(200)
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
        elif self.path == "/slow":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.25)
            except OSError:
                pass
        elif self.path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif self.path == "/busy":
            self._reply(503, b"")
        else:
            self._reply(404, b"")

    def _reply(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def served() -> Iterator[str]:
    _Handler.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def not_http() -> Iterator[str]:
    """A server whose reply has an invalid status line."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_loopback_and_private_hosts_are_refused_before_anything_is_sent(served: str) -> None:
    policy = SourcePolicy(**STRICT)
    port = served.split(":")[1]
    for host in ("127.0.0.1", "localhost", "[::1]", "127.1", "2130706433", "[::ffff:127.0.0.1]", "10.1.2.3",
                 "169.254.169.254"):
        uri = f"http://{host}:{port}/ok.jsonl"
        assert "public" in (under(policy, unreadable, uri) or ""), uri
        assert "public" in refusal(policy, uri), uri
    assert _Handler.hits == []


def test_a_name_that_resolves_to_a_private_address_is_refused_on_connect(served: str) -> None:
    name = socket.gethostname()
    address = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)[0][4][0]
    from selfaware.source_policy import address_refused

    if not address_refused(address, SourcePolicy(allow_private_hosts=False)):
        pytest.skip(f"{name} resolves to the public address {address} here")
    uri = f"http://{name}:{served.split(':')[1]}/ok.jsonl"
    policy = SourcePolicy(**STRICT)
    assert under(policy, unreadable, uri) is None  # a name: not resolved at submit
    assert f"resolves to {address}" in refusal(policy, uri)
    assert _Handler.hits == []


@pytest.mark.timeout(30)
def test_fetches_stop_at_the_cap_and_the_deadline(served: str) -> None:
    policy = SourcePolicy(max_bytes=100_000, timeout_s=1.0)
    assert under(policy, read_uri, f"http://{served}/ok.jsonl") == b'{"messages": []}\n'
    with pytest.raises(TooLarge, match="over the 100000-byte cap"):
        under(policy, read_uri, f"http://{served}/endless")
    with pytest.raises(TooLarge, match="1000000000000 bytes"):
        under(policy, read_uri, f"http://{served}/declared-huge")
    started = time.monotonic()
    with pytest.raises(Unavailable, match="longer than 1 s"):
        under(policy, read_uri, f"http://{served}/slow")
    assert time.monotonic() - started < 3


def test_statuses_and_redirects(served: str) -> None:
    policy = SourcePolicy(timeout_s=5.0)
    with pytest.raises(Unavailable, match="HTTP 503"):
        under(policy, read_uri, f"http://{served}/busy")
    assert "HTTP 404" in refusal(policy, f"http://{served}/missing")
    text = refusal(policy, f"http://{served}/to-file")
    assert "HTTP 302" in text and "not allowed" in text and "root:" not in text


def test_an_invalid_status_line_is_permanent(not_http: str) -> None:
    text = refusal(SourcePolicy(timeout_s=5.0), f"http://{not_http}/x.jsonl")
    assert "not a valid HTTP response" in text and "SSH" not in text
