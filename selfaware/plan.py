"""Which models and jobs an experiment consists of, and their labels and keys.

Pure functions of the spec, shared by the aggregator (plans every job at submit), the trainer (one training per
adapter model), the evaluator (which models to evaluate together) and the CLI (`validate` lists the jobs).
"""

from __future__ import annotations

from selfaware.specs import arm_training
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2

DATASET_JOB = "dataset"
REPORT_JOB = "report"
BASE_LABEL = "base"


def model_label(base_key: str, arm: str = "", seed: int = 0) -> str:
    """"base" or "<arm>/s<seed>", prefixed by "<base key>/" when the experiment has several base models."""
    label = f"{arm}/s{seed}" if arm else BASE_LABEL
    return f"{base_key}/{label}" if base_key else label


def train_job(label: str) -> str:
    return "train." + label.replace("/", ".")


def eval_job(label: str) -> str:
    return "eval." + label.replace("/", ".")


def planned_models(spec: spec_pb2.ExperimentSpec) -> list[rec.ModelUnderTest]:
    """Every model an experiment evaluates, in report order: per base model, the base model (unless
    `evaluation.include_base_model` is false), then each arm's seeds. Adapters are attached once trained."""
    models = []
    for index, base in enumerate(spec.base_models):
        if spec.evaluation.include_base_model:
            models.append(rec.ModelUnderTest(label=model_label(base.key), base_index=index))
        for arm in spec.arms:
            for seed in arm_training(spec, arm).seeds:
                models.append(rec.ModelUnderTest(label=model_label(base.key, arm.name, seed), base_index=index,
                                                 arm=arm.name, seed=seed))
    return models


def plan_jobs(experiment_id: str, spec: spec_pb2.ExperimentSpec) -> list[rec.Job]:
    """The dataset job, one training job per (base model, arm, seed), one evaluation job per model (each base
    model's too), and the report, all QUEUED."""

    def job(key: str, stage: int, model: str = "") -> rec.Job:
        return rec.Job(experiment_id=experiment_id, key=key, stage=stage, status=rec.JOB_STATUS_QUEUED, model=model)

    models = planned_models(spec)
    jobs = [job(DATASET_JOB, rec.STAGE_GENERATE)]
    jobs += [job(train_job(m.label), rec.STAGE_TRAIN, m.label) for m in models if m.arm]
    jobs += [job(eval_job(m.label), rec.STAGE_EVALUATE, m.label) for m in models]
    jobs.append(job(REPORT_JOB, rec.STAGE_REPORT))
    return jobs
