"""Keep the local stack's child processes running, as Kubernetes keeps a pod's containers running.

A child that exits while the stack is up is started again with the same command (same port, same NATS file
store), after an exponential backoff: `initial_backoff_s`, doubling up to `max_backoff_s`. A child that stayed
up for `stable_after_s` after it became ready counts as healthy, and its next failure starts the backoff over.
After `max_quick_failures` failures in a row, each before it became ready or within `stable_after_s` of that,
the supervisor gives up with a `StackError` naming the child, its last exit and its log's tail (Kubernetes'
CrashLoopBackOff, made fatal because a local stack has nobody to page).

Every exit, restart and readiness is one JSON line in `<run dir>/logs/supervisor.log` (the child, its pid, exit
code or signal, restart count, backoff), and one short line for the console through `notify`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    """A part of the local stack did not start, or kept failing; the message includes the tail of its log."""


@dataclass(frozen=True)
class RestartPolicy:
    """How the supervisor restarts a child that died."""

    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    #: A child up this long after it became ready was healthy: its next failure restarts after initial_backoff_s.
    stable_after_s: float = 30.0
    #: Give up after this many failures in a row, each before ready or within stable_after_s of it.
    max_quick_failures: int = 5
    #: A restarted child that is not ready after this long is killed, and counts as a failure.
    ready_timeout_s: float = 120.0

    def backoff_s(self, failures: int) -> float:
        """The wait before the restart that follows `failures` quick failures in a row (1 or more)."""
        return min(self.initial_backoff_s * 2.0 ** max(failures - 1, 0), self.max_backoff_s)


#: Waits until a child is ready (raises TimeoutError when it is not after the given seconds).
Ready = Callable[[float], Awaitable[None]]


@dataclass
class Child:
    """One supervised process: how to start it and how to tell that it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str] | None
    log_path: Path
    ready: Ready
    #: Where it listens (host:port), for the log.
    address: str = ""
    process: subprocess.Popen[bytes] | None = None
    ready_at: float | None = None
    restarts: int = 0
    quick_failures: int = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as handle:
            self.process = subprocess.Popen(self.argv, stdout=handle, stderr=subprocess.STDOUT, env=self.env,
                                            start_new_session=True)
        self.ready_at = None

    def tail(self, lines: int = 15) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def describe_exit(code: int) -> str:
    """`exit code 3`, or `signal SIGKILL` for a child killed by a signal (Popen's negative return codes)."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


@dataclass
class Supervisor:
    """Restart the children that die, until one keeps failing (then `run` raises StackError)."""

    children: dict[str, Child]
    log_path: Path
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    notify: Callable[[str], None] = lambda line: None
    poll_s: float = 0.1
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict, init=False)
    _failed: asyncio.Future[None] | None = field(default=None, init=False)

    def record(self, event: str, child: Child, **values: object) -> None:
        line = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event,
                "child": child.name, "pid": child.process.pid if child.process else None,
                "address": child.address, "restarts": child.restarts, **values}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as handle:
            handle.write(json.dumps(line) + "\n")

    async def run(self) -> None:
        """Supervise every child until cancelled; raises StackError when one gives up. Children handed to `watch`
        while it runs are supervised too."""
        self._failed = asyncio.get_running_loop().create_future()
        for child in list(self.children.values()):
            self.watch(child)
        try:
            await self._failed
        finally:
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.clear()

    def watch(self, child: Child) -> None:
        """Start supervising `child` (a replica added while the stack runs); call only while `run` runs."""
        self.children[child.name] = child
        task = asyncio.create_task(self._keep_running(child), name=f"supervise-{child.name}")
        task.add_done_callback(self._ended)
        self._tasks[child.name] = task

    def forget(self, name: str) -> None:
        """Stop supervising a child: once it exits it stays down (a pod whose node is lost and not replaced)."""
        if (task := self._tasks.pop(name, None)) is not None:
            task.cancel()

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and self._failed and not self._failed.done():
            self._failed.set_exception(task.exception())  # type: ignore[arg-type]

    async def _keep_running(self, child: Child) -> None:
        while True:
            code = await self._exited(child)
            now = time.monotonic()
            healthy = child.ready_at is not None and now - child.ready_at >= self.policy.stable_after_s
            child.quick_failures = 0 if healthy else child.quick_failures + 1
            why = describe_exit(code)
            if child.quick_failures >= self.policy.max_quick_failures:
                self.record("child_gave_up", child, exit=why, quick_failures=child.quick_failures)
                raise StackError(f"{child.name} failed {child.quick_failures} times in a row, each within "
                                 f"{self.policy.stable_after_s:.0f} s of starting (last: {why}); giving up:\n"
                                 f"{child.tail()}")
            delay = self.policy.backoff_s(max(child.quick_failures, 1))
            ran = f"{now - child.ready_at:.1f} s after it was ready" if child.ready_at else "before it was ready"
            self.record("child_exited", child, exit=why, exit_code=code, backoff_s=delay,
                        quick_failures=child.quick_failures, ready=child.ready_at is not None)
            self.notify(f"{child.name} exited ({why}) {ran}; restart {child.restarts + 1} in {delay:.1f} s")
            await asyncio.sleep(delay)
            child.restarts += 1
            child.start()
            self.record("child_started", child)
            await self._await_ready(child)

    async def _exited(self, child: Child) -> int:
        assert child.process is not None
        while (code := child.process.poll()) is None:
            await asyncio.sleep(self.poll_s)
        return code

    async def _await_ready(self, child: Child) -> None:
        """Wait for readiness while watching for an early exit; a child never ready is killed (a failure)."""
        assert child.process is not None
        started = time.monotonic()
        ready = asyncio.create_task(child.ready(self.policy.ready_timeout_s))
        exited = asyncio.create_task(self._exited(child))
        try:
            await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            ready.cancel()  # forgotten or stopped while it started
            raise
        finally:
            exited.cancel()
        if ready.done() and not ready.cancelled() and ready.exception() is None:
            child.ready_at = time.monotonic()
            self.record("child_ready", child, after_s=round(child.ready_at - started, 2))
            self.notify(f"{child.name} is back (restart {child.restarts}, ready in {child.ready_at - started:.1f} s)")
            return
        ready.cancel()
        await asyncio.gather(ready, return_exceptions=True)
        if child.process.poll() is None:  # not ready in time: kill it, and let the loop count the failure
            self.record("child_not_ready", child, timeout_s=self.policy.ready_timeout_s)
            os.killpg(child.process.pid, signal.SIGKILL)
