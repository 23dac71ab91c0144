"""The reconciler: a periodic pass over unfinished experiments that re-sends what a stage is still waiting for.

Events drive every stage, and each handler acks only after its work and its own publishes, so a crash inside a
handler is repaired by redelivery. Two gaps are not: a submit whose `ExperimentSubmitted` publish failed after
the plan was stored (the RPC is not an event, nothing redelivers it), and work the aggregator itself starts (the
report, the evaluation shards) when the event that would start it was handled while a write failed. The pass closes both. It is
safe to run at any time: every publish carries its deterministic msg id, and every reaction is idempotent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from selfaware.errors import Cancelled
from selfaware.plan import DATASET_JOB, REPORT_JOB
from selfaware.status import TERMINAL
from selfaware.v1 import records_pb2 as rec
from services.aggregator.experiments import Experiments
from services.aggregator.planning import evaluations_done

log = structlog.get_logger(__name__)

#: Starts the report of an experiment whose evaluations are all in (`Reporter.report_if_ready`, bound to a
#: delivery by the caller).
ReportStarter = Callable[[str], Awaitable[None]]
#: Publishes the experiment's ready evaluation shards that no evaluator has taken (`ShardRequests.publish_ready`
#: with `unstarted_only`); returns the shard ids JetStream had not seen.
ShardRequester = Callable[[str], Awaitable[list[str]]]


@dataclass
class ReconcilePass:
    """What one pass found and did, for its log line and the tests."""

    unfinished: int = 0
    announced: list[str] = field(default_factory=list)
    #: "<experiment id>:<shard id>" of every shard request re-sent.
    requested: list[str] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(self, experiments: Experiments, start_report: ReportStarter, request_shards: ShardRequester, *,
                 interval_s: float, grace_s: float) -> None:
        self.experiments, self.start_report, self.request_shards = experiments, start_report, request_shards
        self.interval_s, self.grace_s = interval_s, grace_s

    async def reconcile_once(self) -> ReconcilePass:
        """One pass over every unfinished experiment older than the grace period; a held experiment (a sweep's
        cell waiting for admission) is left alone: admission announces it."""
        found = ReconcilePass()
        for experiment in await self.experiments.list():
            if experiment.status in TERMINAL or experiment.held:
                continue
            found.unfinished += 1
            if time.time() - experiment.created_at.ToSeconds() < self.grace_s:
                continue  # its first events may still be in flight
            jobs = {job.key: job for job in (await self.experiments.get(experiment.id))[1]}
            dataset = jobs.get(DATASET_JOB)
            if dataset is not None and dataset.status == rec.JOB_STATUS_QUEUED and not dataset.owner:
                if await self.experiments.announce(experiment.id):
                    found.announced.append(experiment.id)  # the original publish never reached the stream
            found.requested += [f"{experiment.id}:{shard}" for shard in await self.request_shards(experiment.id)]
            report = jobs.get(REPORT_JOB)
            if (evaluations_done(list(jobs.values())) and report is not None
                    and report.status != rec.JOB_STATUS_SUCCEEDED):
                try:
                    await self.start_report(experiment.id)
                    found.reported.append(experiment.id)
                except Cancelled:
                    pass  # another delivery finished it, or the experiment ended meanwhile
            await self.experiments.refresh(experiment.id)
        if found.announced or found.requested or found.reported:
            log.warning("reconciled", unfinished=found.unfinished, announced=found.announced,
                        requested=found.requested, reported=found.reported)
        return found

    async def run(self) -> None:
        """Reconcile every `interval_s` until the task is cancelled; a failed pass is retried on the next tick."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.reconcile_once()
            except Exception:  # noqa: BLE001 - the next pass retries; NATS may be restarting
                log.warning("reconcile_failed", exc_info=True)
