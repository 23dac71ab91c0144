"""Which jobs an experiment consists of, and what its status is given their states.

All jobs are planned at submit time, so progress displays know the whole shape of the run from the start, and
the experiment's status is derived from its jobs instead of being tracked separately.
"""

from __future__ import annotations

from selfaware.jobs import BASE_LABEL, DATASET_JOB, REPORT_JOB, eval_job, model_label, train_job
from selfaware.state import TERMINAL
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2


def policies(spec: spec_pb2.ExperimentSpec) -> list[str]:
    return [spec.behavior.policy, spec.behavior.opposite_policy]


def plan_jobs(experiment_id: str, spec: spec_pb2.ExperimentSpec) -> list[rec.Job]:
    """Dataset, one training and one evaluation job per (policy, seed), the base model's evaluation, report."""

    def job(key: str, stage: int, model: str = "") -> rec.Job:
        return rec.Job(experiment_id=experiment_id, key=key, stage=stage, status=rec.JOB_STATUS_QUEUED, model=model)

    jobs = [job(DATASET_JOB, rec.STAGE_GENERATE)]
    for policy in policies(spec):
        for seed in spec.training.seeds:
            jobs.append(job(train_job(policy, seed), rec.STAGE_TRAIN, model_label(policy, seed)))
    if spec.evaluation.include_base_model:
        jobs.append(job(eval_job(BASE_LABEL), rec.STAGE_EVALUATE, BASE_LABEL))
    for policy in policies(spec):
        for seed in spec.training.seeds:
            label = model_label(policy, seed)
            jobs.append(job(eval_job(label), rec.STAGE_EVALUATE, label))
    jobs.append(job(REPORT_JOB, rec.STAGE_REPORT))
    return jobs


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
