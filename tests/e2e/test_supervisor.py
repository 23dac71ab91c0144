"""The local stack's supervisor: a child that dies comes back (with backoff, the reason logged), one that keeps
failing stops the stack with a clear error, and under `selfaware up` a service or nats-server killed with
kill -9 is restarted, serves again, and the stack keeps working (NATS keeps its file store)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path

import nats
import pytest

from selfaware.bus import DLQ_PREFIX, DLQ_STREAM
from selfaware.cli.stack import LocalStack, RestartPolicy, StackError, free_port
from selfaware.client import Credentials, wait_serving
from selfaware.v1 import events_pb2 as ev
from tests.e2e.test_cli import SELFAWARE, exported_credentials, run_cli

QUICK = RestartPolicy(initial_backoff_s=0.05, max_backoff_s=0.2, stable_after_s=5.0, max_quick_failures=3,
                      ready_timeout_s=10.0)


def records(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / "logs" / "supervisor.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def no_wait(timeout_s: float) -> None:
    """Readiness of a child that is ready as soon as it runs."""


def python_child(stack: LocalStack, name: str, code: str) -> None:
    stack._spawn(name, [sys.executable, "-c", code], "", no_wait)
    stack.children[name].ready_at = time.monotonic()


async def test_a_child_that_keeps_failing_stops_the_stack_naming_it_and_its_exit(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path)
    python_child(stack, "flaky", "import sys; print('cannot open the store'); sys.exit(3)")
    python_child(stack, "steady", "import time; time.sleep(60)")
    started = time.monotonic()
    try:
        with pytest.raises(StackError) as caught:
            await asyncio.wait_for(stack.supervise(QUICK), timeout=20)
    finally:
        stack.stop(grace_s=1)
    message = str(caught.value)
    assert message.startswith("flaky failed 3 times in a row") and "exit code 3" in message
    assert "cannot open the store" in message  # the tail of its log
    assert time.monotonic() - started < 10
    exits = [r for r in records(tmp_path) if r["event"] == "child_exited"]
    assert [r["child"] for r in exits] == ["flaky", "flaky"] and [r["backoff_s"] for r in exits] == [0.05, 0.1]
    assert records(tmp_path)[-1]["event"] == "child_gave_up"
    assert not [r for r in records(tmp_path) if r["child"] == "steady" and r["event"] != "child_started"]


async def test_a_killed_child_is_restarted_and_its_signal_logged(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path)
    python_child(stack, "worker", "import time; time.sleep(60)")
    lines: list[str] = []
    supervising = asyncio.create_task(stack.supervise(QUICK, notify=lines.append))
    try:
        first = stack.processes["worker"].pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not [r for r in records(tmp_path) if r["event"] == "child_ready"]:
            assert time.monotonic() < deadline and not supervising.done()
            await asyncio.sleep(0.05)
        assert stack.processes["worker"].pid != first and stack.processes["worker"].poll() is None
    finally:
        supervising.cancel()
        stack.stop(grace_s=1)
    exited = next(r for r in records(tmp_path) if r["event"] == "child_exited")
    assert exited["exit"] == "signal SIGKILL" and exited["pid"] == first and exited["restarts"] == 0
    assert lines[0].startswith("worker exited (signal SIGKILL)") and "restart 1 in 0.1 s" in lines[0]


async def test_a_replica_killed_without_restart_stays_down_and_the_others_are_still_supervised(tmp_path: Path
                                                                                             ) -> None:
    """`kill(name, restart=False)` is a lost node whose pod is not replaced: the supervisor lets that child go,
    and keeps restarting the others, including one it was handed while it ran (`Supervisor.watch`)."""
    stack = LocalStack(tmp_path)
    python_child(stack, "worker-1", "import time; time.sleep(60)")
    supervising = asyncio.create_task(stack.supervise(QUICK))
    try:
        await asyncio.sleep(0.2)
        python_child(stack, "worker-2", "import time; time.sleep(60)")
        stack._supervisor.watch(stack.children["worker-2"])  # type: ignore[union-attr]
        lost = stack.kill("worker-1", restart=False)
        second = stack.kill("worker-2")
        deadline = time.monotonic() + 10
        while not [r for r in records(tmp_path) if r["event"] == "child_ready"]:
            assert time.monotonic() < deadline and not supervising.done()
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # QUICK restarts within 0.2 s: worker-1 would be back by now
        assert stack.processes["worker-1"].pid == lost and stack.processes["worker-1"].poll() is not None
        assert stack.processes["worker-2"].pid != second and stack.processes["worker-2"].poll() is None
        assert [r["child"] for r in records(tmp_path) if r["event"] == "child_exited"] == ["worker-2"]
        assert stack.replicas("worker") == ["worker-1", "worker-2"]
    finally:
        supervising.cancel()
        stack.stop(grace_s=1)


@pytest.fixture
def stack_up(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`selfaware up` on a free port with its own data dir: (aggregator endpoint, run dir)."""
    port = str(free_port())
    env = {**os.environ, "SELFAWARE_DATA_DIR": str(tmp_path / "data")}
    up = subprocess.Popen([*SELFAWARE, "up", "--grpc-port", port], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        line = ""
        while "selfaware is up" not in line:
            assert time.monotonic() < deadline and up.poll() is None, "selfaware up did not come up"
            line = up.stdout.readline()  # type: ignore[union-attr]
        exported_credentials(up)
        yield f"127.0.0.1:{port}", tmp_path / "data" / "up"
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=90) == 0


def latest(run_dir: Path, child: str, event: str) -> dict[str, object]:
    found = [r for r in records(run_dir) if r["child"] == child and r["event"] == event]
    return found[-1] if found else {}


async def kill_and_wait_back(run_dir: Path, child: str, timeout_s: float = 120) -> dict[str, object]:
    """kill -9 the child's current process; return the supervisor's `child_ready` record of its successor."""
    victim = latest(run_dir, child, "child_started")
    os.kill(int(victim["pid"]), signal.SIGKILL)  # type: ignore[call-overload]
    deadline = time.monotonic() + timeout_s
    while True:
        ready = latest(run_dir, child, "child_ready")
        if ready and ready["pid"] != victim["pid"]:
            return ready
        assert time.monotonic() < deadline, f"{child} did not come back:\n{records(run_dir)[-5:]}"
        await asyncio.sleep(0.2)


async def poison(nats_url: str) -> bytes:
    """Publish an undecodable `experiment.submitted`: the generator dead-letters it at once."""
    payload = b"\xff" + uuid.uuid4().bytes
    nc = await nats.connect(nats_url)
    await nc.jetstream().publish("selfaware.events.experiment.submitted", payload,
                                 headers={"Nats-Msg-Id": uuid.uuid4().hex})
    await nc.close()
    return payload


async def dead_letters(nats_url: str) -> dict[int, bytes]:
    """The payload of every letter in the dead-letter stream, by its sequence there."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    state = (await js.stream_info(DLQ_STREAM, subjects_filter=DLQ_PREFIX + ">")).state
    found, seq = {}, state.first_seq
    for _ in range(sum((state.subjects or {}).values())):
        msg = await js.get_msg(DLQ_STREAM, seq=seq, subject=DLQ_PREFIX + ">", next=True)
        found[msg.seq] = ev.DeadLetter.FromString(msg.data).payload
        seq = msg.seq + 1
    await nc.close()
    return found


async def letters_of(nats_url: str, payload: bytes, timeout_s: float = 60, not_in: Collection[int] = ()
                     ) -> list[int]:
    """The sequences of the letters carrying `payload`, once there is one whose sequence is not in `not_in`."""
    deadline = time.monotonic() + timeout_s
    while True:
        seqs = [seq for seq, found in (await dead_letters(nats_url)).items() if found == payload]
        if set(seqs) - set(not_in):
            return seqs
        assert time.monotonic() < deadline, f"no new dead letter with {payload!r}"
        await asyncio.sleep(0.3)


@pytest.mark.slow
async def test_up_brings_back_killed_services_and_nats_and_keeps_working(stack_up: tuple[str, Path]) -> None:
    endpoint, run_dir = stack_up
    tls = run_dir / "tls"
    remote = ("--endpoint", endpoint, "--token-file", str(tls / "token"), "--ca-file", str(tls / "ca.pem"))
    admin = (run_dir / "nats-auth" / "admin.password").read_text().strip()  # the stack's local operator
    nats_url = f"nats://admin:{admin}@{latest(run_dir, 'nats', 'child_started')['address']}"
    payload = await poison(nats_url)
    [first] = await letters_of(nats_url, payload)
    listed = await asyncio.to_thread(run_cli, "dlq", "list", *remote)
    assert listed.returncode == 0 and f"{first}  " in listed.stdout, listed.stdout + listed.stderr
    assert "selfaware.events.experiment.submitted  generator-experiment-submitted" in listed.stdout

    for child in ("trainer", "aggregator", "nats"):
        ready = await kill_and_wait_back(run_dir, child)
        exited = latest(run_dir, child, "child_exited")
        assert exited["exit"] == "signal SIGKILL" and ready["restarts"] == 1, exited
        if child != "nats":
            await wait_serving(str(ready["address"]), timeout_s=5,
                               credentials=Credentials(ca_file=tls / "ca.pem"))  # gRPC health SERVING on the same port

    # The stack still works: the aggregator answers, and NATS kept its file store (the letter is still there).
    assert (await asyncio.to_thread(run_cli, "list", *remote)).returncode == 0
    assert await letters_of(nats_url, payload) == [first]
    replayed = await asyncio.to_thread(run_cli, "dlq", "replay", "--all", *remote)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"{first} replayed on selfaware.events.experiment.submitted" in replayed.stdout
    # The replayed poison reached the (restarted) generator again, which dead-lettered it again; the replayed
    # letter itself is gone.
    [again] = await letters_of(nats_url, payload, not_in=[first])
    assert again > first
    # Nothing else died: each killed child was restarted once.
    assert sorted(r["child"] for r in records(run_dir) if r["event"] == "child_exited") == [
        "aggregator", "nats", "trainer"]
