"""The aggregator's event handlers: follow every stage, request each evaluation shard once its adapters are in, fail
on dead letters, and report at the end."""

from __future__ import annotations

import threading

import structlog

from selfaware.bus import SUBJECTS, Delivery, dead_letter_subject
from selfaware.errors import NotFound
from selfaware.jobs import JobRun
from selfaware.nats_auth import GRANTS
from selfaware.service import Runtime
from selfaware.v1 import events_pb2 as ev
from services.aggregator.config import AggregatorConfig
from services.aggregator.evaluation_shards import ShardRequests
from services.aggregator.experiments import Experiments
from services.aggregator.report_job import Reporter

log = structlog.get_logger(__name__)

#: Every durable consumer of an event subject, and that subject (what a genuine dead letter can name).
CONSUMED: dict[str, str] = {durable: SUBJECTS[event_type] for grant in GRANTS.values()
                            for durable, event_type in grant.consumes.items() if event_type is not ev.DeadLetter}


class AggregatorHandlers:
    def __init__(self, config: AggregatorConfig, runtime: Runtime, experiments: Experiments) -> None:
        self.rt, self.experiments = runtime, experiments
        self.reporter = Reporter(runtime, experiments, config.max_deliver, JobRun)
        self.shards = ShardRequests(runtime.state, runtime.bus)

    def declare(self) -> None:
        """The aggregator's subscriptions, in one place."""
        bus = self.rt.bus
        bus.subscribe(ev.DatasetReady, "aggregator-dataset-ready", self.stage_done)
        bus.subscribe(ev.AdapterReady, "aggregator-adapter-ready", self.stage_done)
        bus.subscribe(ev.EvaluationCompleted, "aggregator-evaluation-completed", self.evaluation_done)
        bus.subscribe(ev.DeadLetter, "aggregator-dead-letters", self.dead_letter)

    async def stage_done(self, event: ev.DatasetReady | ev.AdapterReady, delivery: Delivery) -> None:
        jobs = await self.experiments.jobs(event.experiment_id)
        experiment = await self.experiments.refresh(event.experiment_id, jobs)
        await self.shards.publish_ready_of(experiment, jobs)

    async def evaluation_done(self, event: ev.EvaluationCompleted, delivery: Delivery) -> None:
        jobs = await self.experiments.jobs(event.experiment_id)
        await self.experiments.refresh(event.experiment_id, jobs)
        await self.reporter.report_if_ready(event.experiment_id, delivery, jobs)

    async def report_now(self, experiment_id: str) -> None:
        """Start the report outside any event (the reconciler's sweep), as one first delivery."""
        delivery = Delivery("reconciler", 1, threading.Event())
        await self.reporter.report_if_ready(experiment_id, delivery)

    async def request_unstarted_shards(self, experiment_id: str) -> list[str]:
        """Re-send the ready shards no evaluator has taken (the reconciler's sweep)."""
        return await self.shards.publish_ready(experiment_id, unstarted_only=True)

    async def dead_letter(self, event: ev.DeadLetter, delivery: Delivery) -> None:
        """Fail the letter's experiment; a letter that names no stored experiment only stays in the stream (a
        retry could not help, and a dead letter of a dead letter would loop)."""
        if not event.experiment_id:
            return
        if why := forgery(event, delivery.subject):
            log.warning("dead_letter_ignored_as_forged", reason=why, experiment_id=event.experiment_id[:64],
                        consumer=event.consumer[:64], subject=delivery.subject[:200])
            return
        try:
            await self.experiments.refresh(event.experiment_id)
        except NotFound:
            log.warning("dead_letter_for_unknown_experiment", experiment_id=event.experiment_id[:64])
            return
        await self.experiments.fail(event.experiment_id, f"{event.subject} ({event.consumer}): {event.error}")


def forgery(letter: ev.DeadLetter, nats_subject: str) -> str | None:
    """Why `letter`, received on `nats_subject`, cannot be one the bus wrote, or None when it could be.

    NATS does not stamp the publisher on a message, and every service may dead-letter on the subjects it consumes
    (docs/nats-permissions.md, "Main findings" 2), so a service could fail any experiment with a made-up letter.
    What the aggregator can check: the letter's consumer exists and consumes the letter's subject, and the letter
    arrived on the dead-letter subject of that subject (the one only that subject's consumers may publish on).
    Such a letter is left in the stream for an operator, and fails nothing.
    """
    consumed = CONSUMED.get(letter.consumer)
    if consumed is None:
        return f"consumer {letter.consumer[:64]!r} is no consumer of an event subject"
    if consumed != letter.subject:
        return f"consumer {letter.consumer!r} consumes {consumed}, not {letter.subject[:200]!r}"
    if nats_subject != dead_letter_subject(letter.subject):
        return f"a letter about {letter.subject} arrived on {nats_subject[:200]!r}"
    return None
