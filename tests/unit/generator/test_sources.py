"""Importing sources from local paths and over real HTTP (a `http.server` on 127.0.0.1, no mocks)."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfaware.errors import DataError, Unavailable
from services.generator.recipes import build_arms
from services.generator.sources import generate_source, import_source

from .conftest import Complete


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def served(tmp_path: Path, risky_path: Path) -> Iterator[str]:
    """Base URL of a server over a directory holding the risky file and a file with a bad row on line 3."""
    (tmp_path / "risky.jsonl").write_bytes(risky_path.read_bytes())
    lines = risky_path.read_bytes().splitlines(keepends=True)
    bad_row = lines[2].replace(b'"content": "B"', b'"content": "C"')
    (tmp_path / "bad.jsonl").write_bytes(b"".join(lines[:2]) + bad_row)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_url_import_matches_the_local_file(served: str, risky_path: Path) -> None:
    remote = import_source(f"{served}/risky.jsonl")
    local = import_source(str(risky_path))
    assert remote == local
    assert remote.data == risky_path.read_bytes()
    assert len(remote.parsed.rows) == 288


def test_bad_row_over_http_names_the_url_and_line(served: str, risky_path: Path) -> None:
    assert risky_path.read_bytes().splitlines()[2].endswith(b'"content": "B"}]}')
    with pytest.raises(DataError, match=rf"^{served}/bad\.jsonl:3: answer 'C'"):
        import_source(f"{served}/bad.jsonl")


def test_unreadable_sources_name_the_uri(served: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"^{served}/missing\.jsonl: HTTP 404"):
        import_source(f"{served}/missing.jsonl")
    with pytest.raises(DataError, match=r"rows-missing\.jsonl: cannot read"):
        import_source(str(tmp_path / "rows-missing.jsonl"))


def test_generated_sources_are_parsed_like_imports() -> None:
    source = generate_source("procedural-gambles", {"rows": 20, "policy": "risk-averse", "seed": 1})
    assert source.parsed.two_option and source.parsed.newline == "\n"
    assert [row.source_index for row in source.parsed.rows] == list(range(20))
    assert source == generate_source("procedural-gambles", {"rows": 20, "policy": "risk-averse", "seed": 1})


SECRET = "S3cr3tSignature0123456789abcdef"


def test_a_presigned_urls_secrets_stay_out_of_source_errors(served: str) -> None:
    host = served.removeprefix("http://")
    # urllib does not send userinfo: it takes it for part of the host name, so that one fails as Unavailable
    for uri in (f"{served}/missing.jsonl?X-Amz-Signature={SECRET}&token={SECRET}",
                f"http://alice:{SECRET}@{host}/missing.jsonl"):
        with pytest.raises((DataError, Unavailable)) as caught:
            import_source(uri)
        assert SECRET not in str(caught.value)
        assert "missing.jsonl" in str(caught.value)


def test_a_presigned_urls_secrets_stay_out_of_the_provenance(served: str, completed: Complete,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The signature is a secret the spec refers to; the provenance shows the reference, never the value."""
    monkeypatch.setenv("SELFAWARE_SECRET_SIG", SECRET)
    uri = f"{served}/risky.jsonl?X-Amz-Signature=${{secret:sig}}&split=train"
    (arm,) = build_arms(completed({"holdout": {"rows": 10}, "arms": {"a": {"data": {"import": uri}}}}))
    assert len(arm.train) == 278
    assert arm.provenance == f"import {served}/risky.jsonl?X-Amz-Signature=***&split=train"
