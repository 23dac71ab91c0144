"""Which models and jobs an experiment consists of, and their labels and keys.

Pure functions of the spec, shared by the aggregator (plans every job at submit, and the evaluation shards), the
trainer (one training per adapter model) and the CLI (`validate` lists the jobs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from selfaware.specs import checkpoint_epochs, trained_seeds
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2

DATASET_JOB = "dataset"
REPORT_JOB = "report"
BASE_LABEL = "base"
#: The key of the evaluator catalogue's engine `info` that says how many adapters one evaluation shard holds.
SHARD_CAPACITY_INFO = "max_loras"
#: The shard capacity before any evaluator has published one (the evaluator's default `vllm_max_loras`).
DEFAULT_MAX_LORAS = 4


def model_label(base_key: str, arm: str = "", seed: int = 0, epoch: int = 0) -> str:
    """"base", "<arm>/s<seed>" or, for an epoch checkpoint, "<arm>/s<seed>/e<epoch>"; prefixed by "<base key>/"
    when the experiment has several base models."""
    label = f"{arm}/s{seed}" if arm else BASE_LABEL
    if epoch:
        label += f"/e{epoch}"
    return f"{base_key}/{label}" if base_key else label


def training_label(model: rec.ModelUnderTest) -> str:
    """The label of the training a model comes from: its own, or for an epoch checkpoint the final model's."""
    return model.label.removesuffix(f"/e{model.epoch}") if model.epoch else model.label


def train_job(label: str) -> str:
    return "train." + label.replace("/", ".")


def eval_job(label: str) -> str:
    return "eval." + label.replace("/", ".")


def planned_models(spec: spec_pb2.ExperimentSpec) -> list[rec.ModelUnderTest]:
    """Every model an experiment evaluates, in report order: per base model, the base model (unless
    `evaluation.include_base_model` is false), then each trained arm's seeds (a data-only arm has none), each
    seed's epoch checkpoints (with `evaluation.checkpoints`) before its final model. Adapters are attached once trained (`attach_trained`)."""
    models = []
    for index, base in enumerate(spec.base_models):
        if spec.evaluation.include_base_model:
            models.append(rec.ModelUnderTest(label=model_label(base.key), base_index=index))
        for arm in spec.arms:
            for seed in trained_seeds(spec, arm):
                for epoch in [*checkpoint_epochs(spec, arm), 0]:
                    models.append(rec.ModelUnderTest(label=model_label(base.key, arm.name, seed, epoch),
                                                     base_index=index, arm=arm.name, seed=seed, epoch=epoch))
    return models


def attach_trained(model: rec.ModelUnderTest, jobs: Mapping[str, rec.Job]) -> bool:
    """Give an adapter model what its training made (the adapter, or a hosted fine-tune's model id); for an epoch
    checkpoint, the last checkpoint the training stored in that epoch (its end). False while the training has not
    succeeded. A succeeded training without that epoch's checkpoint attaches nothing, which the evaluator refuses
    with the model's label (a backend that kept no such checkpoint)."""
    trained = jobs.get(train_job(training_label(model)))
    if trained is None or trained.status != rec.JOB_STATUS_SUCCEEDED:
        return False
    if not model.epoch:
        model.adapter.CopyFrom(trained.artifact)
        model.served_model = trained.served_model
        return True
    kept = [c for c in trained.checkpoints if c.epoch == model.epoch]
    if kept:
        last = max(kept, key=lambda c: c.step)
        model.adapter.CopyFrom(last.adapter)
        model.served_model = last.served_model
    return True


def plan_jobs(experiment_id: str, spec: spec_pb2.ExperimentSpec) -> list[rec.Job]:
    """The dataset job, one training job per (base model, arm, seed), one evaluation job per model (each base
    model's and each evaluated checkpoint's too), and the report, all QUEUED."""

    def job(key: str, stage: int, model: str = "") -> rec.Job:
        return rec.Job(experiment_id=experiment_id, key=key, stage=stage, status=rec.JOB_STATUS_QUEUED, model=model)

    models = planned_models(spec)
    jobs = [job(DATASET_JOB, rec.STAGE_GENERATE)]
    jobs += [job(train_job(m.label), rec.STAGE_TRAIN, m.label) for m in models if m.arm and not m.epoch]
    jobs += [job(eval_job(m.label), rec.STAGE_EVALUATE, m.label) for m in models]
    jobs.append(job(REPORT_JOB, rec.STAGE_REPORT))
    return jobs


@dataclass(frozen=True)
class Shard:
    """The models of one base model that one engine session evaluates: one `evaluation.requested` event."""

    #: "<base index>.<shard index>": unique within the experiment, and part of the event's Nats-Msg-Id.
    id: str
    base_index: int
    #: In report order; the base model (when evaluated) first in its base's first shard. No adapters attached.
    models: tuple[rec.ModelUnderTest, ...]


def evaluation_shards(spec: spec_pb2.ExperimentSpec, max_loras: int) -> list[Shard]:
    """Each base model's models in shards of at most `max_loras` adapters, the base model in the first one.

    Why this shape: a shard is one base-model load serving its adapters together (vLLM's `max_loras` is how many
    one batch holds), so the base model rides in the first shard for free and an experiment with up to
    `max_loras` adapters per base model is one engine session, as before sharding. Larger ones spread over
    evaluator replicas. A pure function of the spec and the capacity, so every replanning gives the same ids.
    """
    if max_loras < 1:
        raise ValueError(f"max_loras: at least 1, got {max_loras}")
    planned, shards = planned_models(spec), []
    for index in range(len(spec.base_models)):
        models = [m for m in planned if m.base_index == index]
        base = [m for m in models if not m.arm]
        adapters = [m for m in models if m.arm]
        groups = [adapters[start:start + max_loras] for start in range(0, len(adapters), max_loras)] or [[]]
        groups[0] = base + groups[0]
        shards += [Shard(f"{index}.{n}", index, tuple(group)) for n, group in enumerate(groups) if group]
    return shards
