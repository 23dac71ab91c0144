"""`JobRun`: how a worker records one job's life in the state bucket, under a lease.

Every unit of work has a job planned at submit time (`selfaware.plan.plan_jobs`). A worker wraps its work in
`async with JobRun(...)`: it takes the job's lease and marks it RUNNING, renews the lease while the work runs,
throttles progress writes from the worker thread, notices a cancel (the aggregator marks the job CANCELLED), and
on the way out records the outcome. Failures are recorded as FAILED only when the bus will not retry them any
more (a permanent error, or the last allowed delivery), so a transient error shows as a message on a running job.

Leases and fencing: the job records its `owner` (one id per JobRun, so every attempt is a new owner), its
`attempt` and `lease_expires_at`. A worker that finds a live lease held by another owner waits until it expires
or the job ends; an expired lease is taken over, with `attempt + 1`. Every write is checked against the owner and
attempt in the same revision-checked update, so a worker that lost its lease (paused, partitioned, or presumed
dead) gets `Fenced` on its next write and stops, without touching its successor's progress. Leases compare
wall-clock times written by different machines, so they assume clocks within a second or so (NTP).

Metrics: every attempt that took the lease counts once in `selfaware_jobs_finished_total` by how it ended
(`selfaware.metrics.JOB_STATUSES`), and a success's time from lease to success goes to the duration histogram.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from types import TracebackType

import structlog

from selfaware.bus import Delivery, HandBack
from selfaware.errors import Cancelled, PermanentError
from selfaware.metrics import job_finished
from selfaware.redact import redact
from selfaware.state import StateStore
from selfaware.status import JOB_TERMINAL, TERMINAL, now
from selfaware.v1 import records_pb2 as rec

log = structlog.get_logger(__name__)

#: Seconds a lease holds unless renewed; workers renew at a third of it. Matches the bus's default ack wait, so
#: a job is taken over about when JetStream redelivers its event.
LEASE_S = 15.0


class Fenced(HandBack):
    """This worker lost the job's lease to another owner: stop, and write nothing more."""


class Superseded(Cancelled):
    """Another owner finished the job while this delivery waited for its lease: nothing left to do."""


def new_owner() -> str:
    """A worker id that says where it ran: host, process and a random part (one per JobRun)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class JobRun:
    """Record one job's progress and outcome; usable from the event loop and (for progress) worker threads."""

    def __init__(self, state: StateStore, experiment_id: str, key: str, delivery: Delivery,
                 max_deliver: int, min_interval_s: float = 1.0, lease_s: float = LEASE_S) -> None:
        self.state, self.experiment_id, self.key = state, experiment_id, key
        self.delivery, self.max_deliver = delivery, max_deliver
        self.min_interval_s, self.lease_s = min_interval_s, lease_s
        self.owner = new_owner()
        #: Set once the lease is taken: 1 on the job's first start, +1 on every takeover.
        self.attempt = 0
        self.cancelled = False
        self.fenced = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_write = 0.0
        self._renewer: asyncio.Task[None] | None = None
        #: For the metrics: the job's stage, when the lease was taken, and the seconds to success once succeeded.
        self._stage = ""
        self._leased_at = 0.0
        self._succeeded_after: float | None = None

    async def __aenter__(self) -> JobRun:
        self._loop = asyncio.get_running_loop()
        experiment = await self.state.get_experiment(self.experiment_id)
        if experiment.status in TERMINAL:
            raise Cancelled(f"experiment {self.experiment_id} already ended")
        job = await self._take_lease()
        if job.status == rec.JOB_STATUS_CANCELLED:
            raise Cancelled(f"job {self.key} was cancelled")
        if job.status == rec.JOB_STATUS_SUCCEEDED:
            raise Superseded(f"job {self.key} was finished by {job.owner} (attempt {job.attempt})")
        self._stage = rec.Stage.Name(job.stage).removeprefix("STAGE_").lower()
        self._leased_at = time.monotonic()
        self._renewer = asyncio.create_task(self._renew(), name=f"lease:{self.key}")
        return self

    async def _take_lease(self) -> rec.Job:
        """Wait while another owner holds a live lease, then take the job (or return it if it ended)."""
        taken = False

        def start(job: rec.Job) -> bool:
            nonlocal taken
            if job.status in JOB_TERMINAL or _lease_live(job):
                return False
            if job.owner:
                log.warning("job_taken_over", job=self.key, previous_owner=job.owner, previous_attempt=job.attempt)
            job.status = rec.JOB_STATUS_RUNNING
            job.started_at.CopyFrom(now())
            job.owner, job.attempt = self.owner, job.attempt + 1
            job.lease_expires_at.FromNanoseconds(_in(self.lease_s))
            job.message = f"attempt {job.attempt}" if job.attempt > 1 else ""
            taken = True
            return True

        while True:
            job = await self.state.update_job(self.experiment_id, self.key, start)
            if taken:
                self.attempt = job.attempt
                return job
            if job.status in JOB_TERMINAL:
                return job
            if self.delivery.stop_requested.is_set():
                raise HandBack(f"job {self.key} is held by {job.owner}; handed back on shutdown")
            log.info("job_lease_held", job=self.key, owner=job.owner, attempt=job.attempt)
            await asyncio.sleep(min(1.0, self.lease_s / 5))

    async def _renew(self) -> None:
        """Extend the lease every third of its length while the work runs; stops once fenced."""
        while not self.fenced:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self.update(lambda job: None)
            except (Fenced, Cancelled):
                return
            except Exception:  # noqa: BLE001 - a missed renewal only risks a takeover, which fencing makes safe
                log.warning("lease_renewal_failed", job=self.key, exc_info=True)

    async def update(self, mutate: Callable[[rec.Job], bool | None], renew: bool = True) -> rec.Job:
        """A fenced write: apply `mutate` (and renew the lease) only while this run still owns the job.

        Raises `Fenced` if another owner or attempt holds the job. `mutate` may return False to skip the write.
        """
        lost = False

        def fenced(job: rec.Job) -> bool:
            nonlocal lost
            if job.owner != self.owner or job.attempt != self.attempt:
                lost = True
                return False
            if mutate(job) is False:
                return False
            if renew and job.status not in JOB_TERMINAL:
                job.lease_expires_at.FromNanoseconds(_in(self.lease_s))
            return True

        job = await self.state.update_job(self.experiment_id, self.key, fenced)
        if lost:
            self.fenced = True
            log.warning("job_fenced", job=self.key, owner=self.owner, attempt=self.attempt,
                        new_owner=job.owner, new_attempt=job.attempt)
            raise Fenced(f"job {self.key}: attempt {self.attempt} lost its lease to {job.owner} "
                         f"(attempt {job.attempt})")
        return job

    async def done_before(self) -> rec.Job | None:
        """The job if it already succeeded (a redelivered event): the caller re-announces and returns."""
        job = await self.state.get_job(self.experiment_id, self.key)
        return job if job.status == rec.JOB_STATUS_SUCCEEDED else None

    async def progress(self, done: int, total: int, metrics: Mapping[str, float] | None = None) -> None:
        def write(job: rec.Job) -> bool:
            if job.status == rec.JOB_STATUS_CANCELLED:
                self.cancelled = True
                return False
            job.done, job.total = done, total
            for k, v in (metrics or {}).items():
                job.metrics[k] = v
            return True

        await self.update(write)

    def progress_from_thread(self, done: int, total: int, metrics: Mapping[str, float] | None = None) -> None:
        """Throttled progress from a worker thread; raises Cancelled or HandBack to stop the work."""
        if self.cancelled:
            raise Cancelled(f"job {self.key} was cancelled")
        if self.fenced:
            raise Fenced(f"job {self.key}: attempt {self.attempt} lost its lease")
        if self.delivery.stop_requested.is_set():
            raise HandBack(f"job {self.key} handed back on shutdown")
        moment = time.monotonic()
        if done < total and moment - self._last_write < self.min_interval_s:
            return
        self._last_write = moment
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self.progress(done, total, metrics), self._loop).result(timeout=30)

    async def succeed(self, artifact: rec.ArtifactRef | None = None, compute_seconds: float = 0.0,
                      metrics: Mapping[str, float] | None = None, done: int = 0, total: int = 0) -> rec.Job:
        """Record success; `done`/`total` set the final progress when the work ran elsewhere (a reused result)."""
        def finish(job: rec.Job) -> bool:
            if job.status == rec.JOB_STATUS_CANCELLED:
                return False
            job.status = rec.JOB_STATUS_SUCCEEDED
            job.finished_at.CopyFrom(now())
            job.ClearField("lease_expires_at")
            job.message = ""
            job.compute_seconds = compute_seconds
            if artifact is not None:
                job.artifact.CopyFrom(artifact)
            if total:
                job.total = total
            if job.total == 0:
                job.total = 1
            job.done = done or job.total
            for k, v in (metrics or {}).items():
                job.metrics[k] = v
            return True

        job = await self.update(finish)
        if job.status == rec.JOB_STATUS_SUCCEEDED:
            self._succeeded_after = time.monotonic() - self._leased_at
        elif job.status == rec.JOB_STATUS_CANCELLED:
            self.cancelled = True
        return job

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        if self._renewer is not None:
            self._renewer.cancel()
        job_finished(self._stage, self._ended_as(exc), self._succeeded_after)
        if exc is None:
            return False
        if isinstance(exc, Fenced):
            log.info("job_stopped_fenced", job=self.key, attempt=self.attempt)
            return False  # the bus hands the event back; the new owner's delivery does the work
        if isinstance(exc, Cancelled):
            await self._set(rec.JOB_STATUS_CANCELLED, str(exc))
            log.info("job_cancelled", job=self.key)
            return True  # swallow: the event is handled
        if isinstance(exc, (HandBack, asyncio.CancelledError)):
            await self._set(rec.JOB_STATUS_QUEUED, "handed back on shutdown; will resume")
            return False
        final = self._final(exc)
        status = rec.JOB_STATUS_FAILED if final else rec.JOB_STATUS_RUNNING
        prefix = "" if final else f"attempt {self.delivery.deliveries} failed, retrying: "
        await self._set(status, prefix + f"{type(exc).__name__}: {exc}"[:1000])
        return False

    def _ended_as(self, exc: BaseException | None) -> str:
        """How this attempt ended, for the metrics (`__aexit__` records the same outcome in the job)."""
        if self._succeeded_after is not None:
            return "succeeded"
        if isinstance(exc, Fenced):
            return "fenced"
        if isinstance(exc, Cancelled) or (exc is None and self.cancelled):
            return "cancelled"
        if isinstance(exc, (HandBack, asyncio.CancelledError)):
            return "handed_back"
        if exc is None:
            return "stopped"
        return "failed" if self._final(exc) else "retried"

    def _final(self, exc: BaseException) -> bool:
        """True when the bus will not retry this failure: a permanent error, or the last allowed delivery."""
        return isinstance(exc, PermanentError) or self.delivery.deliveries >= self.max_deliver

    async def _set(self, status: int, message: str) -> None:
        """The last write on the way out. It frees the lease: the work stopped, so the next delivery (a retry or
        a hand-back) starts at once instead of waiting for the lease to expire."""
        def write(job: rec.Job) -> bool:
            if job.status in JOB_TERMINAL:
                return False
            job.status = status  # type: ignore[assignment]
            job.message = redact(message)
            if status in JOB_TERMINAL:
                job.finished_at.CopyFrom(now())
            job.ClearField("lease_expires_at")
            return True

        try:
            await asyncio.shield(self.update(write, renew=False))
        except Fenced:
            pass  # a successor owns the job: its outcome is not ours to write


def _in(seconds: float) -> int:
    """Wall-clock nanoseconds `seconds` from now."""
    return time.time_ns() + int(seconds * 1e9)


def _lease_live(job: rec.Job) -> bool:
    """True while another owner's lease on a running job has not expired."""
    return (job.status == rec.JOB_STATUS_RUNNING and job.HasField("lease_expires_at")
            and job.lease_expires_at.ToNanoseconds() > time.time_ns())
