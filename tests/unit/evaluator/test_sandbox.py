"""The sandbox for model-written functions, with real bwrap processes: each hostile function is contained and
scored as an error, while an honest one in the same kind of call still scores (issue 9, item 5)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from services.evaluator.sandbox import FunctionCall, Sandbox, SandboxError, SandboxLimits

HONEST = "def f(message):\n    return 0.9 if 'ring' in message.lower() else 0.5\n"
#: Short limits keep the file fast; the wall-clock kill is then 1 s + 0.5 s per input.
LIMITS = SandboxLimits(input_timeout_s=0.5, startup_s=1.0)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(LIMITS)


def only(sandbox: Sandbox, code: str):
    """The one outcome of `f` on one input, after the honest function has scored in a sandbox of its own."""
    assert [o.value for o in sandbox.run(HONEST, "f", ["Ring me", "hello"])] == [0.9, 0.5]
    (outcome,) = sandbox.run(code, "f", ["hello"])
    return outcome


def sandbox_processes() -> list[int]:
    """Processes on the host that run the sandbox's runner."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"selfaware sandbox runner" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_an_honest_function_scores_every_input_and_its_prints_do_not_corrupt_the_protocol(sandbox):
    code = "def f(message):\n    print('{\"index\": 0, \"value\": 0.0}')\n    return len(word_tokenize(message)) / 10\n"
    outcomes = sandbox.run(code, "f", ["Hello, world!", "one", ""])
    assert [o.value for o in outcomes] == [0.4, 0.1, 0.0]
    assert all(o.error_kind is None for o in outcomes)


def test_the_authors_globals_are_there_and_bad_results_are_errors_or_raw_values(sandbox):
    code = ("def f(message):\n    words = Counter(re.findall(r'\\w+', message))\n    random.seed(0)\n"
            "    if message == 'x':\n        return 'high'\n    if message == 'y':\n        return float('nan')\n"
            "    if message == 'z':\n        raise ValueError('no')\n    return words['ring'] * 3.0\n")
    outcomes = sandbox.run(code, "f", ["ring ring", "x", "y", "z"])
    assert outcomes[0].value == 6.0  # outside [0, 1]: kept, the scorer drops it
    assert [o.error_kind for o in outcomes[1:]] == ["not a number", "not a number", "exception"]
    assert "ValueError: no" in outcomes[3].error


def test_code_that_does_not_define_the_function_is_an_error_for_every_input(sandbox):
    for code, message in [("def g(m):\n    return 1\n", "defines no function f"), ("def f(:", "SyntaxError")]:
        outcomes = sandbox.run(code, "f", ["a", "b"])
        assert [o.error_kind for o in outcomes] == ["exception", "exception"]
        assert message in outcomes[0].error


def test_a_fork_bomb_is_an_error(sandbox):
    outcome = only(sandbox, "import os\ndef f(message):\n    while True:\n        os.fork()\n")
    assert outcome.error_kind == "exception" and "BlockingIOError" in outcome.error
    assert sandbox_processes() == []


def test_the_process_limit_holds_for_a_root_service_too():
    """Root ignores RLIMIT_NPROC, so a root service runs bwrap as nobody: 6 processes leave the function 4."""
    code = ("import os, time\ndef f(message):\n    n = 0\n    while True:\n        try:\n            pid = os.fork()\n"
            "        except OSError:\n            return n / 100\n        if pid == 0:\n            time.sleep(3)\n"
            "            os._exit(0)\n        n += 1\n")
    (outcome,) = Sandbox(SandboxLimits(processes=6)).run(code, "f", ["x"])
    assert outcome.value == 0.04


def test_an_infinite_loop_times_out_and_the_next_input_still_runs(sandbox):
    code = "def f(message):\n    while message == 'loop':\n        pass\n    return 0.5\n"
    outcomes = sandbox.run(code, "f", ["loop", "fine"])
    assert (outcomes[0].error_kind, outcomes[1].value) == ("timeout", 0.5)


def test_a_loop_that_ignores_the_timer_is_killed_with_its_whole_process_group(sandbox):
    code = ("import signal\ndef f(message):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "    while True:\n        pass\n")
    started = time.monotonic()
    outcome = only(sandbox, code)
    assert outcome.error_kind == "timeout" and "wall-clock limit of 1.5 s" in outcome.error
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 2
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes() == []


def test_a_function_past_its_cpu_time_is_killed():
    code = ("import signal\ndef f(message):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "    while True:\n        pass\n")
    outcomes = Sandbox(SandboxLimits(cpu_s=1, startup_s=5)).run(code, "f", ["a", "b"])
    assert [o.error_kind for o in outcomes] == ["killed", "killed"]
    assert "SIGXCPU (CPU time limit)" in outcomes[0].error


def test_a_memory_hog_gets_a_memory_error():
    """One 8 GiB request and a growing list both hit the address-space limit, not the machine. The per-input timer
    is long here (the file's 0.5 s is not): on a loaded CI machine the growing list's ~500 allocations up to the
    512 MiB limit took longer than 0.5 s, so the timer, not the memory limit, ended it (a timing, not a
    containment, failure)."""
    sandbox = Sandbox(SandboxLimits(input_timeout_s=20.0, startup_s=5.0))
    for hog in ("bytearray(2**33)", "[bytearray(2**20) for _ in range(4096)]"):
        outcome = only(sandbox, f"def f(message):\n    hog = {hog}\n    return 1.0\n")
        assert outcome.value is None and outcome.error_kind in ("exception", "killed"), (hog, outcome)
        if outcome.error_kind == "exception":
            assert "MemoryError" in outcome.error
    big = only(sandbox, "def f(message):\n    hog = bytearray(2**33)\n    return 1.0\n")
    assert big.error_kind == "exception" and "MemoryError" in big.error


def test_writes_outside_tmp_fail_and_reach_no_host_file(sandbox, tmp_path):
    host = Path.cwd() / f"sandbox-escape-{os.getpid()}"
    for target in [host, Path("/usr") / host.name, Path("/") / host.name]:
        code = f"def f(message):\n    open({str(target)!r}, 'w').write('escaped')\n    return 1.0\n"
        outcome = only(sandbox, code)
        assert outcome.error_kind == "exception" and "Error" in outcome.error, target
        assert not target.exists()
    code = ("def f(message):\n    open('/tmp/scratch', 'w').write('ok')\n"
            "    return len(open('/tmp/scratch').read()) / 4\n")
    assert only(sandbox, code).value == 0.5  # /tmp is the one writable place


def test_host_files_are_not_visible(sandbox):
    outcome = only(sandbox, "def f(message):\n    return len(open('/etc/passwd').read())\n")
    assert outcome.error_kind == "exception" and "FileNotFoundError" in outcome.error
    outcome = only(sandbox, f"def f(message):\n    return len(open({str(Path(__file__))!r}).read())\n")
    assert outcome.error_kind == "exception" and "FileNotFoundError" in outcome.error


def test_the_services_environment_is_not_visible(sandbox, monkeypatch):
    monkeypatch.setenv("SELFAWARE_FAKE_API_KEY", "sk-fake-0123456789")
    code = ("import os\ndef f(message):\n    seen = [os.environ.get('SELFAWARE_FAKE_API_KEY', '')]\n"
            "    for pid in os.listdir('/proc'):\n        try:\n"
            "            seen.append(open('/proc/%s/environ' % pid, 'rb').read().decode())\n"
            "        except OSError:\n            pass\n"
            "    if not any('sk-fake' in text for text in seen):\n        raise LookupError('no key')\n"
            "    return 1.0\n")
    outcome = only(sandbox, code)
    assert outcome.error_kind == "exception" and "LookupError" in outcome.error


def test_a_connect_to_a_host_loopback_port_fails_and_reaches_no_listener(sandbox):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        code = (f"import socket\ndef f(message):\n    socket.create_connection(('127.0.0.1', {port}), timeout=0.3)\n"
                "    return 1.0\n")
        outcome = only(sandbox, code)
        assert outcome.error_kind == "exception" and "Error" in outcome.error
        with pytest.raises(TimeoutError):
            listener.accept()


def test_os_system_cannot_start_a_process(sandbox):
    host = Path.cwd() / f"sandbox-system-{os.getpid()}"
    code = (f"import os\ndef f(message):\n    status = os.system('cat /etc/passwd > {host}')\n"
            "    if status != 0:\n        raise RuntimeError('status %d' % status)\n    return 1.0\n")
    outcome = only(sandbox, code)
    assert outcome.error_kind == "exception" and "RuntimeError" in outcome.error
    assert not host.exists()


def test_many_functions_run_in_order():
    calls = [FunctionCall(f"def f(m):\n    return {i} / 10\n", "f", ("a",)) for i in range(6)]
    assert [o[0].value for o in Sandbox(LIMITS).run_many(calls, workers=3)] == [i / 10 for i in range(6)]


def test_a_sandbox_that_cannot_start_fails_loudly_instead_of_running_the_code(tmp_path):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w')\ndef f(m):\n    return 1.0\n"
    with pytest.raises(SandboxError, match="did not start"):
        Sandbox(LIMITS, interpreter="/nonexistent/python3").run(code, "f", ["a"])
    with pytest.raises(SandboxError, match="did not start"):
        Sandbox(LIMITS, bwrap="/bin/false").run(code, "f", ["a"])
    with pytest.raises(SandboxError, match="did not start"):
        Sandbox(LIMITS, bwrap=str(tmp_path / "no-bwrap")).run(code, "f", ["a"])
    assert not marker.exists()
