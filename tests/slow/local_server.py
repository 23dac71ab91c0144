"""The project's OpenAI-compatible server (`services.evaluator.openai_server`) serving the tiny model in a child
process, started the same way by every test that talks to it over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: The model name the server answers to.
SERVED = "tiny"


def start_server(model_dir: Path) -> subprocess.Popen[str]:
    """The server on a free loopback port: it binds port 0 and prints its URL once ready (read it with `url_of`).

    One torch thread: these prompts are too short to gain from two, and two threads on a machine busy with other
    work wait on each other (calls took 3-8x longer here then).
    """
    return subprocess.Popen(
        [sys.executable, "-m", "services.evaluator.openai_server", "--model", str(model_dir),
         "--served-name", SERVED, "--port", "0", "--threads", "1"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)


def url_of(process: subprocess.Popen[str]) -> str:
    """Waits for the server's "listening on URL" line; fails the test with its exit code if it never comes."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on http://127.0.0.1:"):
        process.kill()
        pytest.fail(f"openai_server did not start (exit {process.wait()}): {line!r}")
    return line.split()[-1]


def stop_server(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=30)
