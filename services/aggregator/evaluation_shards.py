"""Evaluation planned by the aggregator: one `evaluation.requested` per shard, once every adapter in it is trained.

Why here: the aggregator sees every `adapter.ready` and owns the plan, so the readiness check runs in one place and
its outcome is published with a deterministic Nats-Msg-Id (`evaluate:<experiment>:<shard id>`). Two deliveries of
an `adapter.ready`, or two aggregator replicas, publish one event; the evaluators' shared durable consumer hands it
to one replica. No evaluator waits for, or races on, an "all adapters are in" check.

A shard holds at most `max_loras` adapters of one base model (`selfaware.plan.evaluation_shards`). The capacity is
what the evaluator publishes for the spec's engine in its catalogue (engine `info["max_loras"]`), read when the
shards are planned; it is meant to change between experiments, not during one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import structlog

from selfaware.plan import (
    DATASET_JOB,
    DEFAULT_MAX_LORAS,
    SHARD_CAPACITY_INFO,
    Shard,
    attach_trained,
    eval_job,
    evaluation_shards,
)
from selfaware.status import JOB_TERMINAL, TERMINAL
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2

if TYPE_CHECKING:  # handed in by handlers.py; this module never reaches the transport itself
    from selfaware.bus import EventBus
    from selfaware.state import StateStore

log = structlog.get_logger(__name__)


def shard_capacity(catalogues: Sequence[cat.Catalogue], engine: str) -> int:
    """The adapters per shard the evaluator publishes for `engine`; `DEFAULT_MAX_LORAS` if it publishes none."""
    for published in catalogues:
        for entry in published.capabilities:
            if entry.kind == "engine" and entry.name == engine and entry.info.get(SHARD_CAPACITY_INFO, "").isdigit():
                return max(int(entry.info[SHARD_CAPACITY_INFO]), 1)
    return DEFAULT_MAX_LORAS


def ready_requests(experiment_id: str, spec: spec_pb2.ExperimentSpec, jobs: Mapping[str, rec.Job],
                   max_loras: int, unstarted_only: bool = False) -> list[ev.EvaluationRequested]:
    """The shards that can be evaluated now and are not done yet, as events with their adapters attached.

    A shard is ready when the dataset is in and every adapter in it is trained; it is done when every one of its
    evaluation jobs has ended (or has no job: not part of this experiment's plan). `unstarted_only` keeps the
    shards no evaluator has taken yet (no job with an owner): what the reconciler re-sends."""
    dataset = jobs.get(DATASET_JOB)
    if dataset is None or dataset.status != rec.JOB_STATUS_SUCCEEDED:
        return []
    shards = evaluation_shards(spec, max_loras)
    if unstarted_only:
        shards = [shard for shard in shards
                  if not any((job := jobs.get(eval_job(m.label))) is not None and job.owner for m in shard.models)]
    return [request for shard in shards if (request := _request(experiment_id, shard, jobs)) is not None]


def _request(experiment_id: str, shard: Shard, jobs: Mapping[str, rec.Job]) -> ev.EvaluationRequested | None:
    evals = [jobs.get(eval_job(m.label)) for m in shard.models]
    if all(job is None or job.status in JOB_TERMINAL for job in evals):
        return None
    request = ev.EvaluationRequested(experiment_id=experiment_id, shard_id=shard.id)
    for model in shard.models:
        added = request.models.add()
        added.CopyFrom(model)
        if model.arm and not attach_trained(added, jobs):
            return None
    return request


class ShardRequests:
    """Publishes the `evaluation.requested` events an experiment's jobs make ready; safe to call on every event."""

    def __init__(self, state: StateStore, bus: EventBus) -> None:
        self.state, self.bus = state, bus

    async def publish_ready(self, experiment_id: str, unstarted_only: bool = False) -> list[str]:
        """Publish every ready, unfinished shard of the experiment; the ids of those JetStream had not seen."""
        experiment = await self.state.get_experiment(experiment_id)
        if experiment.status in TERMINAL:
            return []
        return await self.publish_ready_of(experiment, await self.state.list_jobs(experiment_id), unstarted_only)

    async def publish_ready_of(self, experiment: rec.Experiment, listed: Sequence[rec.Job],
                               unstarted_only: bool = False) -> list[str]:
        """`publish_ready` for an experiment and its jobs the caller has just read (one listing per event)."""
        if experiment.status in TERMINAL:
            return []
        experiment_id, jobs = experiment.id, {j.key: j for j in listed}
        capacity = shard_capacity(await self.state.catalogues(), experiment.spec.evaluation.engine)
        published = []
        for request in ready_requests(experiment_id, experiment.spec, jobs, capacity, unstarted_only):
            if await self.bus.publish(request, msg_id=f"evaluate:{experiment_id}:{request.shard_id}"):
                published.append(request.shard_id)
                log.info("evaluation_requested", shard=request.shard_id, max_loras=capacity,
                         models=[m.label for m in request.models])
        return published
