"""What a running training hands its job: resume states and checkpoints stored, and a cancel noticed at once.

Both travel through the job's record in the state bucket, so they outlive the worker: a resume state is stored by
content hash and referenced as `Job.resume_state` (a redelivery, on any replica, continues from it), and each
checkpoint adapter is listed in `Job.checkpoints`, in step order. Every write goes through the job's lease
(`JobRun.update`), so a worker that lost the job to another stops at its next save instead of overwriting.

Cancel: the aggregator marks the experiment and its jobs CANCELLED. A worker used to notice only at its next
(throttled) progress write; `watch_cancel` follows the experiment's keys and sets an event that the training
thread checks after every step, so training stops within one step however short the steps are.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

import structlog

from selfaware.errors import Cancelled
from selfaware.status import TERMINAL
from selfaware.v1 import records_pb2 as rec
from services.trainer.backends import Saved

if TYPE_CHECKING:  # handed in by the handler: this module reaches no transport itself
    from selfaware.jobs import JobRun
    from selfaware.state import StateStore
    from selfaware.store import ArtifactStore

log = structlog.get_logger(__name__)


class JobSaves:
    """The `on_save` of one training run: store the folder, then record it on the job."""

    def __init__(self, run: JobRun, store: ArtifactStore, loop: asyncio.AbstractEventLoop) -> None:
        self.run, self.store, self.loop = run, store, loop

    def __call__(self, saved: Saved) -> None:
        """Called from the training thread; returns once the save is durable."""
        asyncio.run_coroutine_threadsafe(self.keep(saved), self.loop).result(timeout=600)

    async def keep(self, saved: Saved) -> None:
        if saved.folder is None:  # a hosted checkpoint: the endpoint keeps it
            hosted = rec.Checkpoint(epoch=saved.epoch, step=saved.step, served_model=saved.served_model)
            await self.run.update(lambda job: add_checkpoint(job, hosted))
            return
        ref = await self.store.put_dir(saved.folder)
        if saved.kind == "resume":
            def point(job: rec.Job) -> None:
                job.resume_state.CopyFrom(ref)
                job.metrics["resume_state_step"] = saved.step

            await self.run.update(point)
            log.info("resume_state_stored", step=saved.step, sha256=ref.sha256, size=ref.size)
        else:
            checkpoint = rec.Checkpoint(epoch=saved.epoch, step=saved.step, adapter=ref)
            await self.run.update(lambda job: add_checkpoint(job, checkpoint))
            log.info("checkpoint_stored", epoch=saved.epoch, step=saved.step, sha256=ref.sha256)


def add_checkpoint(job: rec.Job, checkpoint: rec.Checkpoint) -> None:
    """Insert in step order; a checkpoint redone after a resume replaces the earlier one of its step."""
    kept = [c for c in job.checkpoints if c.step != checkpoint.step] + [checkpoint]
    del job.checkpoints[:]
    job.checkpoints.extend(sorted(kept, key=lambda c: c.step))


async def watch_cancel(state: StateStore, experiment_id: str, key: str, cancelled: threading.Event) -> None:
    """Set `cancelled` once the experiment ends or the job is cancelled (runs until its task is cancelled).

    A watch that fails (NATS reconnecting) is logged and not retried: the job's progress writes still notice a
    cancel, a step or a second later."""
    try:
        async for item in state.watch(experiment_id):
            ended = isinstance(item, rec.Experiment) and item.status in TERMINAL
            if ended or (isinstance(item, rec.Job) and item.key == key and item.status == rec.JOB_STATUS_CANCELLED):
                cancelled.set()
                return
    except Exception:  # noqa: BLE001 - the fallback above covers it
        log.warning("cancel_watch_failed", job=key, exc_info=True)


def check_cancel(cancelled: threading.Event, key: str) -> None:
    """Raise in the training thread once a cancel was seen."""
    if cancelled.is_set():
        raise Cancelled(f"job {key} was cancelled")
