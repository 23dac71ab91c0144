"""What an experiment's status is, given the states of its jobs.

All jobs are planned at submit time (`selfaware.jobs.plan_jobs`), so progress displays know the whole shape of
the run from the start, and the experiment's status is derived from its jobs instead of being tracked separately.
"""

from __future__ import annotations

from selfaware.status import TERMINAL
from selfaware.v1 import records_pb2 as rec

_STAGE_STATUS = [
    (rec.STAGE_GENERATE, rec.EXPERIMENT_STATUS_GENERATING),
    (rec.STAGE_TRAIN, rec.EXPERIMENT_STATUS_TRAINING),
    (rec.STAGE_EVALUATE, rec.EXPERIMENT_STATUS_EVALUATING),
    (rec.STAGE_REPORT, rec.EXPERIMENT_STATUS_REPORTING),
]


def derive_status(current: int, jobs: list[rec.Job]) -> int:
    """The experiment status its jobs imply; a terminal status never changes."""
    if current in TERMINAL:
        return current
    if any(j.status == rec.JOB_STATUS_FAILED for j in jobs):
        return rec.EXPERIMENT_STATUS_FAILED
    for stage, status in _STAGE_STATUS:
        if any(j.stage == stage and j.status != rec.JOB_STATUS_SUCCEEDED for j in jobs):
            return status
    return rec.EXPERIMENT_STATUS_SUCCEEDED


def evaluations_done(jobs: list[rec.Job]) -> bool:
    evals = [j for j in jobs if j.stage == rec.STAGE_EVALUATE]
    return bool(evals) and all(j.status == rec.JOB_STATUS_SUCCEEDED for j in evals)
