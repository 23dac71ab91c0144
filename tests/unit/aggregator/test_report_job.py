"""The report job's read path: jobs from state, each evaluation's chunks from the store, in order."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from selfaware.errors import DataError
from selfaware.jobs import JobRun
from selfaware.plan import eval_job
from selfaware.v1 import records_pb2 as rec
from services.aggregator.report_job import Reporter
from tests.unit.aggregator.records import AVERSE, SEEKING, make_spec, scored, stored, two_option


class ChunkStore:
    """The artifact store's read side over a dict; it logs which object was read when."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.reads: list[str] = []

    def put(self, data: bytes) -> rec.ArtifactRef:
        sha = hashlib.sha256(data).hexdigest()
        self.objects[sha] = data
        return rec.ArtifactRef(sha256=sha, size=len(data), media_type="application/x-protobuf")

    async def get_bytes(self, ref: rec.ArtifactRef) -> bytes:
        self.reads.append(ref.sha256)
        return self.objects[ref.sha256]


class Jobs:
    def __init__(self, jobs: list[rec.Job]) -> None:
        self.jobs = jobs

    async def list_jobs(self, experiment_id: str) -> list[rec.Job]:
        return self.jobs


SPEC = make_spec([0, 1])
LEVELS = {"base": 0.5, f"{SEEKING}/s0": 0.8, f"{SEEKING}/s1": 0.9, f"{AVERSE}/s0": 0.2, f"{AVERSE}/s1": 0.1}


def _reporter(extra_jobs: tuple[rec.Job, ...] = ()) -> tuple[Reporter, ChunkStore, list[rec.Job]]:
    store = ChunkStore()
    jobs = [rec.Job(key="dataset", stage=rec.STAGE_GENERATE)]
    for label, level in LEVELS.items():
        records = [two_option(f"q{i}", {"A": level, "B": 1 - level}, "A") for i in range(4)]
        records += scored("risk_or_safety", [level] * 3)
        job = rec.Job(key=eval_job(label), stage=rec.STAGE_EVALUATE, model=label)
        job.chunks.extend(store.put(data) for data in stored(records, per_chunk=2))
        jobs.append(job)
    jobs += extra_jobs
    runtime = SimpleNamespace(state=Jobs(jobs), store=store, bus=None)
    return Reporter(runtime, experiments=None, max_deliver=3, job_run=JobRun), store, jobs  # type: ignore[arg-type]


async def test_every_chunk_is_read_once_in_job_order_and_folded() -> None:
    reporter, store, jobs = _reporter()
    models = await reporter.fold_records(rec.Experiment(id="e1", spec=SPEC))
    assert store.reads == [ref.sha256 for job in jobs for ref in job.chunks]
    assert [m.label for m in models] == list(LEVELS)
    for model in models:
        heldout = model.instances["heldout"]
        assert heldout.n_records == 4 and heldout.mean == pytest.approx(LEVELS[model.label])
        assert model.instances["risk_or_safety"].n_units == 3


async def test_an_evaluation_job_outside_the_plan_is_an_error() -> None:
    reporter, _, _ = _reporter((rec.Job(key="eval.stray.s0", stage=rec.STAGE_EVALUATE),))
    with pytest.raises(DataError, match="eval.stray.s0"):
        await reporter.fold_records(rec.Experiment(id="e1", spec=SPEC))
