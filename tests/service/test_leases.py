"""Job leases and fencing (`selfaware.jobs.JobRun`) against a real nats-server's state bucket.

Two workers stand for a redelivery or a second replica running the same job: before leases, both wrote RUNNING
and progress, and the slower one's outcome overwrote the other's.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator

import nats
import pytest

from selfaware.bus import Delivery, HandBack
from selfaware.errors import DataError
from selfaware.jobs import Fenced, JobRun, Superseded
from selfaware.state import StateStore
from selfaware.status import now
from selfaware.v1 import records_pb2 as rec

JOB = "train.a.s0"


@pytest.fixture
async def state(nats_url: str) -> AsyncIterator[StateStore]:
    nc = await nats.connect(nats_url)
    yield await StateStore.open(nc.jetstream())
    await nc.close()


async def new_experiment(state: StateStore) -> str:
    experiment_id = "lease" + uuid.uuid4().hex[:8]
    experiment = rec.Experiment(id=experiment_id, created_at=now(), status=rec.EXPERIMENT_STATUS_TRAINING)
    await state.create_experiment(experiment, [rec.Job(experiment_id=experiment_id, key=JOB, stage=rec.STAGE_TRAIN)])
    return experiment_id


def delivery(n: int = 1) -> Delivery:
    return Delivery("selfaware.events.training.requested", n, threading.Event())


def worker(state: StateStore, experiment_id: str, n: int = 1, lease_s: float = 1.5) -> JobRun:
    return JobRun(state, experiment_id, JOB, delivery(n), max_deliver=4, min_interval_s=0.0, lease_s=lease_s)


async def test_a_second_worker_waits_for_a_live_lease_then_takes_over_and_fences_the_first(
        state: StateStore) -> None:
    experiment_id = await new_experiment(state)
    first = await worker(state, experiment_id).__aenter__()
    await first.progress(3, 10)
    assert first.attempt == 1
    first._renewer.cancel()  # type: ignore[union-attr]  # the first worker stalls (paused, partitioned)

    second = worker(state, experiment_id, n=2)
    started = time.monotonic()
    await second.__aenter__()
    waited = time.monotonic() - started
    job = await state.get_job(experiment_id, JOB)
    assert (job.owner, job.attempt) == (second.owner, 2)
    assert 0.5 < waited < 5.0, "the second worker took over only after the first one's lease ran out"

    await second.progress(1, 10)
    with pytest.raises(Fenced):
        await first.progress(9, 10)
    with pytest.raises(Fenced):
        first.progress_from_thread(9, 10)  # the worker thread's next step stops it
    with pytest.raises(Fenced):
        await first.succeed(None, 1.0)
    await first.__aexit__(Fenced, Fenced("x"), None)  # the stale owner's way out writes nothing
    job = await state.get_job(experiment_id, JOB)
    assert (job.status, job.done, job.attempt) == (rec.JOB_STATUS_RUNNING, 1, 2)

    await second.succeed(None, 2.0)
    await second.__aexit__(None, None, None)
    job = await state.get_job(experiment_id, JOB)
    assert job.status == rec.JOB_STATUS_SUCCEEDED and job.compute_seconds == 2.0


async def test_the_lease_is_renewed_while_the_work_runs(state: StateStore) -> None:
    experiment_id = await new_experiment(state)
    async with worker(state, experiment_id, lease_s=0.9) as first:
        await asyncio.sleep(2.0)  # more than two lease lengths, renewed every 0.3 s
        second = asyncio.create_task(worker(state, experiment_id, n=2).__aenter__())
        await asyncio.sleep(1.5)
        assert not second.done(), "a live, renewed lease must not be taken over"
        await first.succeed(None, 1.0)
    with pytest.raises(Superseded):
        await second  # the job ended while the second delivery waited: nothing left to do
    job = await state.get_job(experiment_id, JOB)
    assert (job.status, job.attempt, job.owner) == (rec.JOB_STATUS_SUCCEEDED, 1, first.owner)


async def test_a_hand_back_frees_the_lease_for_the_next_delivery_at_once(state: StateStore) -> None:
    experiment_id = await new_experiment(state)
    with pytest.raises(HandBack):
        async with worker(state, experiment_id, lease_s=30.0):
            raise HandBack("shutting down")
    job = await state.get_job(experiment_id, JOB)
    assert job.status == rec.JOB_STATUS_QUEUED and not job.HasField("lease_expires_at")
    started = time.monotonic()
    async with worker(state, experiment_id, n=2, lease_s=30.0) as second:
        assert time.monotonic() - started < 1.0
        assert second.attempt == 2


async def test_a_failed_jobs_message_masks_the_secrets_in_its_error(state: StateStore) -> None:
    experiment_id = await new_experiment(state)
    secret = "S3cr3tToken0123456789abcdef"
    with pytest.raises(DataError):
        async with worker(state, experiment_id):
            raise DataError(f"https://u:{secret}@h.example/d.jsonl?token={secret}: HTTP 403")
    job = await state.get_job(experiment_id, JOB)
    assert job.status == rec.JOB_STATUS_FAILED
    assert secret not in job.message and "https://***@h.example/d.jsonl?token=***: HTTP 403" in job.message
