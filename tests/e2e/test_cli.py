"""The `selfaware` command as a user runs it: child processes, a real nats-server, exit codes and files."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import CACHE, REPO, free_port
from tests.service.conftest import on_random_model, tiny_spec_dict

SELFAWARE = [sys.executable, "-m", "selfaware.cli.main"]


def run_cli(*args: str, timeout: float = 60, cwd: Path = REPO, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SELFAWARE_DATA_DIR": str(CACHE), **(env or {})}
    return subprocess.run([*SELFAWARE, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


@pytest.fixture
def tiny_spec(tmp_path: Path, risky_dataset: Path, questions_dir: Path) -> Path:
    spec = tiny_spec_dict(risky_dataset, questions_dir)
    spec["name"] = "cli tiny risk"
    spec["evaluation"]["engine"] = "hf"  # vLLM is covered in tests/slow and tests/service; its start-up costs a minute
    # As small as still exercises every stage: 4 training rows (one step of 4 per arm), 4 held-out items, one
    # sample per paraphrase (on 2 busy cores a training row or a probe query costs about a second).
    spec["arms"]["risk-seeking"]["data"]["steps"] = [{"sample": 4}]
    spec["training"]["batch_size"] = 4
    spec["holdout"]["rows"] = 4
    spec["evaluation"]["suites"][1]["lotteries"]["pairs"] = 4
    for suite in spec["evaluation"]["suites"][2:]:
        next(iter(suite.values()))["samples_per_paraphrase"] = 1
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_bad_spec_exits_2_naming_the_field_before_anything_starts(tmp_path: Path, tiny_spec: Path) -> None:
    spec = yaml.safe_load(tiny_spec.read_text())
    spec["training"]["learning_rate"] = -1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    for command in ("validate", "run", "validate --offline"):
        started = time.monotonic()
        result = run_cli(*command.split(), str(bad))
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "training.learning_rate" in result.stderr
        assert time.monotonic() - started < 30  # no stack was started
    assert not (tmp_path / "reports").exists()


def test_a_missing_spec_file_exits_2(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "cannot read" in result.stderr


@pytest.mark.parametrize(("args", "reason"), [
    ("dlq replay", "one letter's sequence number or --all"),
    ("dlq replay 3 --all", "one letter's sequence number or --all"),
    ("dlq replay x", "'x' is not a dead letter's sequence number"),
    ("dlq replay 0", "'0' is not a dead letter's sequence number"),
    ("dlq list --limit 0", "a number from 1 to 1000"),
    ("dlq", "required"),
    ("list --bogus", "unrecognized arguments: --bogus"),
])
def test_bad_operator_input_exits_2_with_a_one_line_reason(args: str, reason: str) -> None:
    result = run_cli(*args.split(), timeout=30)  # nothing is contacted: no deployment runs
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and reason in result.stderr, result.stderr


def test_validate_checks_parts_and_paths_against_the_installed_services(tmp_path: Path, tiny_spec: Path) -> None:
    good = run_cli("validate", str(tiny_spec))
    assert good.returncode == 0 and "valid (7 jobs" in good.stdout, good.stderr
    spec = yaml.safe_load(tiny_spec.read_text())
    spec["evaluation"]["suites"][2]["risk_or_safety"]["questions"] = str(tmp_path / "missing")
    spec["arms"]["risk-averse"]["data"]["steps"] = ["flop"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    result = run_cli("validate", str(bad))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "evaluation.suites[2].params.questions" in result.stderr and "arms.risk-averse.data.steps[0]" in result.stderr
    assert "did you mean 'flip'" in result.stderr
    offline = run_cli("validate", "--offline", str(bad))  # structure only: these are semantic errors
    assert offline.returncode == 0


def test_catalogue_lists_the_parts_a_spec_can_name() -> None:
    result = run_cli("catalogue")
    assert result.returncode == 0, result.stderr
    for name in ("heldout", "lotteries", "flip", "sample", "peft-lora", "vllm", "openai", "procedural-gambles"):
        assert name in result.stdout


@pytest.mark.slow
def test_run_trains_evaluates_and_writes_the_report(tmp_path: Path, tiny_spec: Path, random_model_dir: Path) -> None:
    # plumbing: the random-weight Llama, as nothing here reads what the model answers
    tiny_spec.write_text(yaml.safe_dump(on_random_model(yaml.safe_load(tiny_spec.read_text()), random_model_dir)))
    started = time.time()
    result = run_cli("run", str(tiny_spec), "--out", str(tmp_path / "reports"), timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    folders = list((tmp_path / "reports").iterdir())
    assert len(folders) == 1
    report = json.loads((folders[0] / "report.json").read_text())
    assert [i["id"] for i in report["instances"]] == ["heldout", "lotteries", "risk_or_safety",
                                                      "risk_predisposition_scale"]
    assert (folders[0] / "report.png").read_bytes().startswith(b"\x89PNG")
    # Every figure the Markdown links was written beside it, with its SVG.
    linked = re.findall(r"\]\(([\w.-]+\.png)\)", (folders[0] / "report.md").read_text())
    assert "report.png" in linked and len(linked) > 1, linked
    for name in linked:
        assert (folders[0] / name).read_bytes().startswith(b"\x89PNG"), name
        assert b"<svg" in (folders[0] / name).with_suffix(".svg").read_bytes()[:400], name
    assert "Held-out" in result.stdout and str(folders[0] / "report.md") in result.stdout.replace("\n", "")
    # The aggregator process never loaded torch, vllm, peft or transformers (it says so when it stops).
    runs = [d for d in (CACHE / "runs").iterdir() if d.stat().st_mtime >= started - 1]
    log = (max(runs, key=lambda d: d.stat().st_mtime) / "logs" / "aggregator.log").read_text().splitlines()
    stopped = [json.loads(line) for line in log if '"service_stopped"' in line]
    assert stopped and stopped[-1]["heavy_modules"] == [], stopped


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def exported_credentials(up: subprocess.Popen[str]) -> dict[str, str]:
    """The `export SELFAWARE_TOKEN_FILE=... SELFAWARE_CA_FILE=...` line `selfaware up` prints after "up"."""
    for _ in range(5):
        line = up.stdout.readline().strip()  # type: ignore[union-attr]
        if line.startswith("export "):
            found = dict(item.split("=", 1) for item in line.removeprefix("export ").split())
            assert set(found) == {"SELFAWARE_TOKEN_FILE", "SELFAWARE_CA_FILE"}, line
            return found
    raise AssertionError("selfaware up printed no export line")


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_up_serves_remote_commands_and_stops_cleanly_on_ctrl_c(tmp_path: Path, stop: signal.Signals) -> None:
    """`up` is started with SIGINT ignored, as a background job of a script (or a test runner's worker) is, and
    still stops on Ctrl-C; SIGTERM stops it the same way (here with two trainer replicas, each of which drains,
    and `--metrics`: every child serves its own Prometheus metrics)."""
    port = str(free_port())
    env = {**os.environ, "SELFAWARE_DATA_DIR": str(tmp_path / "data"), "PYTHONFAULTHANDLER": "1"}
    replicas = ["--trainers", "2", "--metrics"] if stop == signal.SIGTERM else []
    up = subprocess.Popen([*SELFAWARE, "up", "--grpc-port", port, *replicas], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
                          preexec_fn=_ignore_sigint)
    try:
        deadline = time.monotonic() + 120
        line, metrics = "", {}
        while "selfaware is up" not in line:
            assert time.monotonic() < deadline and up.poll() is None, "selfaware up did not come up"
            line = up.stdout.readline()  # type: ignore[union-attr]
            if " metrics: http" in line:
                name, url = line.split(" metrics: ")
                metrics[name.strip()] = url.strip()
        if replicas:  # one port per child, each serving its own process's consumers
            assert sorted(metrics) == ["aggregator", "evaluator", "generator", "trainer-1", "trainer-2"], metrics
            assert len(set(metrics.values())) == 5
            for name, url in metrics.items():
                text = urllib.request.urlopen(url, timeout=10).read().decode()
                assert f'service="{name.split("-")[0]}"' in text and "selfaware_handlers_in_flight{" in text, text[:500]
        connect = exported_credentials(up)  # `up` says what to export: its token and CA
        endpoint = f"127.0.0.1:{port}"
        anonymous = run_cli("list", "--endpoint", endpoint, "--ca-file", connect["SELFAWARE_CA_FILE"])
        assert anonymous.returncode == 1 and "UNAUTHENTICATED" in anonymous.stderr, anonymous.stderr
        listed = run_cli("list", "--endpoint", endpoint, env=connect)
        assert listed.returncode == 0 and listed.stdout == "", listed.stderr
        missing = run_cli("report", "no-such-experiment", "--endpoint", endpoint, env=connect)
        assert missing.returncode == 2 and "NOT_FOUND" in missing.stderr
    finally:
        up.send_signal(stop)
        try:
            code = up.wait(timeout=90)
        except subprocess.TimeoutExpired:
            up.send_signal(signal.SIGABRT)  # faulthandler (PYTHONFAULTHANDLER) prints every thread's stack
            stacks, _ = up.communicate(timeout=30)
            os.killpg(up.pid, signal.SIGKILL)
            logs = tmp_path / "data" / "up" / "logs"
            tails = {log.name: log.read_text()[-1500:] for log in sorted(logs.glob("*.log"))}
            pytest.fail(f"selfaware up did not stop within 90 s of {stop.name}; it printed: {stacks[-6000:]}\n"
                        f"its logs end with: {tails}")
        assert code == 0
    trainers = ["trainer-1", "trainer-2"] if replicas else ["trainer"]
    for service in ("aggregator", "generator", *trainers, "evaluator"):  # each drained and exited on SIGTERM
        log = (tmp_path / "data" / "up" / "logs" / f"{service}.log").read_text()
        assert '"event": "service_stopped"' in log, log[-2000:]
