"""`JobRun`: how a worker records one job's life in the state bucket.

Every unit of work has a job planned at submit time (`selfaware.plan.plan_jobs`). A worker wraps its work in
`async with JobRun(...)`: it marks the job RUNNING, throttles progress writes from the worker thread, notices a cancel (the aggregator marks the job CANCELLED), and on the
way out records the outcome. Failures are recorded as FAILED only when the bus will not retry them any more
(a permanent error, or the last allowed delivery), so a transient error shows as a message on a running job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType

import structlog

from selfaware.bus import Delivery, HandBack
from selfaware.errors import Cancelled, PermanentError
from selfaware.state import StateStore
from selfaware.status import JOB_TERMINAL, TERMINAL, now
from selfaware.v1 import records_pb2 as rec

log = structlog.get_logger(__name__)


class JobRun:
    """Record one job's progress and outcome; usable from the event loop and (for progress) worker threads."""

    def __init__(self, state: StateStore, experiment_id: str, key: str, delivery: Delivery,
                 max_deliver: int, min_interval_s: float = 1.0) -> None:
        self.state, self.experiment_id, self.key = state, experiment_id, key
        self.delivery, self.max_deliver = delivery, max_deliver
        self.min_interval_s = min_interval_s
        self.cancelled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_write = 0.0
        self._started = time.monotonic()

    async def __aenter__(self) -> JobRun:
        self._loop = asyncio.get_running_loop()
        experiment = await self.state.get_experiment(self.experiment_id)
        if experiment.status in TERMINAL:
            raise Cancelled(f"experiment {self.experiment_id} already ended")

        def start(job: rec.Job) -> bool:
            if job.status in JOB_TERMINAL:
                return False
            job.status = rec.JOB_STATUS_RUNNING
            job.started_at.CopyFrom(now())
            job.message = f"attempt {self.delivery.deliveries}" if self.delivery.deliveries > 1 else ""
            return True

        job = await self.state.update_job(self.experiment_id, self.key, start)
        if job.status == rec.JOB_STATUS_CANCELLED:
            raise Cancelled(f"job {self.key} was cancelled")
        return self

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

        await self.state.update_job(self.experiment_id, self.key, write)

    def progress_from_thread(self, done: int, total: int, metrics: Mapping[str, float] | None = None) -> None:
        """Throttled progress from a worker thread; raises Cancelled or HandBack to stop the work."""
        if self.cancelled:
            raise Cancelled(f"job {self.key} was cancelled")
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

        return await self.state.update_job(self.experiment_id, self.key, finish)

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        if exc is None:
            return False
        if isinstance(exc, Cancelled):
            await self._set(rec.JOB_STATUS_CANCELLED, str(exc))
            log.info("job_cancelled", job=self.key)
            return True  # swallow: the event is handled
        if isinstance(exc, (HandBack, asyncio.CancelledError)):
            await self._set(rec.JOB_STATUS_QUEUED, "handed back on shutdown; will resume")
            return False
        final = isinstance(exc, PermanentError) or self.delivery.deliveries >= self.max_deliver
        status = rec.JOB_STATUS_FAILED if final else rec.JOB_STATUS_RUNNING
        prefix = "" if final else f"attempt {self.delivery.deliveries} failed, retrying: "
        await self._set(status, prefix + f"{type(exc).__name__}: {exc}"[:1000])
        return False

    async def _set(self, status: int, message: str) -> None:
        def write(job: rec.Job) -> bool:
            if job.status in JOB_TERMINAL:
                return False
            job.status = status  # type: ignore[assignment]
            job.message = message
            if status in JOB_TERMINAL:
                job.finished_at.CopyFrom(now())
            return True

        await asyncio.shield(self.state.update_job(self.experiment_id, self.key, write))
