"""The experiment lifecycle the aggregator owns: submit, read, cancel, and react to the other services' events.

The status of an experiment is derived from its jobs (see planning.py) each time an event arrives; cancel and
failure are the two transitions made directly. Every reaction is idempotent: it re-reads state and recomputes.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import structlog

from selfaware.catalogue import complete
from selfaware.errors import FieldViolation, NotFound, SpecError
from selfaware.plan import plan_jobs
from selfaware.redact import redact
from selfaware.status import JOB_TERMINAL, TERMINAL, now
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator.planning import derive_status

if TYPE_CHECKING:  # the stores are handed in by main.py; this module never reaches the transport itself
    from selfaware.bus import EventBus
    from selfaware.state import StateStore

log = structlog.get_logger(__name__)


class Experiments:
    def __init__(self, state: StateStore, bus: EventBus) -> None:
        self.state, self.bus = state, bus

    async def validate(self, spec: spec_pb2.ExperimentSpec) -> tuple[spec_pb2.ExperimentSpec, list[FieldViolation]]:
        """The completed spec and every violation, judged against the catalogues the services published."""
        return await asyncio.to_thread(complete, spec, await self.state.catalogues())  # reads the files it checks

    async def catalogues(self) -> list[cat.Catalogue]:
        return await self.state.catalogues()

    async def submit(self, spec: spec_pb2.ExperimentSpec, idempotency_key: str = "") -> rec.Experiment:
        """Validate before any side effect, then store the plan and announce it.

        With an `idempotency_key`, the experiment id is derived from the key: a retried submit (the client lost
        the reply, or the aggregator died mid-submit) returns the experiment the first call created, and
        announces it again in case the first call died before its publish. JetStream's duplicate window drops
        the second announcement when the first got through.
        """
        completed, violations = await self.validate(spec)
        if violations:
            raise SpecError(violations)
        experiment_id = id_for(idempotency_key) if idempotency_key else uuid.uuid4().hex[:12]
        return await self.create(experiment_id, completed, "idempotency_key")

    async def create(self, experiment_id: str, completed: spec_pb2.ExperimentSpec, field: str, *,
                     sweep_id: str = "", held: bool = False) -> rec.Experiment:
        """Store the plan of a validated, completed spec under `experiment_id` and announce it unless it is held.

        An experiment that exists already with the same spec is returned (and announced again unless held); one
        with another spec is INVALID_ARGUMENT naming the request `field` the id derives from.
        """
        experiment = rec.Experiment(id=experiment_id, spec=completed, created_at=now(), updated_at=now(),
                                    sweep_id=sweep_id, held=held)
        jobs = plan_jobs(experiment.id, completed)
        experiment.status = derive_status(experiment.status, jobs)  # type: ignore[assignment]
        if not await self.state.create_experiment(experiment, jobs):
            experiment = await self.state.get_experiment(experiment_id)
            if experiment.spec != completed:
                raise SpecError.single(field, f"was used for a different spec (experiment {experiment_id})")
            log.info("experiment_submit_repeated", experiment_id=experiment_id)
        else:
            log.info("experiment_submitted", experiment_id=experiment.id, name=completed.name, sweep_id=sweep_id,
                     held=held)
        if not experiment.held:
            await self.announce(experiment.id)
        return experiment

    async def differs(self, experiment_id: str, completed: spec_pb2.ExperimentSpec) -> bool:
        """True if an experiment `experiment_id` exists with a spec other than `completed`."""
        try:
            return (await self.state.get_experiment(experiment_id)).spec != completed
        except NotFound:
            return False

    async def release(self, experiment_id: str) -> rec.Experiment:
        """Admit a held experiment: clear `held`, then announce it exactly as a submit does. A crash in between
        leaves an unheld, unannounced experiment, which the reconciler announces."""
        def unhold(experiment: rec.Experiment) -> bool:
            if not experiment.held:
                return False
            experiment.held = False
            experiment.updated_at.CopyFrom(now())
            return True

        experiment = await self.state.update_experiment(experiment_id, unhold)
        if experiment.status not in TERMINAL:
            await self.announce(experiment_id)
            log.info("experiment_admitted", experiment_id=experiment_id, sweep_id=experiment.sweep_id)
        return experiment

    async def announce(self, experiment_id: str) -> bool:
        """Publish `ExperimentSubmitted` (deduplicated by its msg id); the reconciler calls it again."""
        return await self.bus.publish(ev.ExperimentSubmitted(experiment_id=experiment_id),
                                      msg_id=f"submitted:{experiment_id}")

    async def get(self, experiment_id: str) -> tuple[rec.Experiment, list[rec.Job]]:
        return await self.state.get_experiment(experiment_id), await self.state.list_jobs(experiment_id)

    async def list(self) -> list[rec.Experiment]:
        return await self.state.list_experiments()

    def watch(self, experiment_id: str) -> AsyncIterator[rec.Experiment | rec.Job]:
        return self.state.watch(experiment_id)

    async def cancel(self, experiment_id: str, reason: str) -> rec.Experiment:
        current = await self.state.get_experiment(experiment_id)
        if current.status in TERMINAL:
            raise SpecError.single("experiment_id", f"experiment {experiment_id} already ended "
                                   f"({rec.ExperimentStatus.Name(current.status)})")
        experiment = await self._end(experiment_id, rec.EXPERIMENT_STATUS_CANCELLED, reason or "cancelled by user")
        await self.bus.publish(ev.ExperimentCancelled(experiment_id=experiment_id, reason=experiment.error),
                               msg_id=f"cancelled:{experiment_id}")
        return experiment

    async def refresh(self, experiment_id: str) -> rec.Experiment:
        """Recompute the status from the jobs (called on every event the aggregator sees)."""
        jobs = await self.state.list_jobs(experiment_id)

        def update(experiment: rec.Experiment) -> bool:
            status = derive_status(experiment.status, jobs)
            if status == rec.EXPERIMENT_STATUS_SUCCEEDED and not experiment.HasField("report"):
                status = rec.EXPERIMENT_STATUS_REPORTING  # never SUCCEEDED without its report
            if status == experiment.status:
                return False
            experiment.status = status  # type: ignore[assignment]
            experiment.updated_at.CopyFrom(now())
            if status == rec.EXPERIMENT_STATUS_FAILED and not experiment.error:
                failed = [j for j in jobs if j.status == rec.JOB_STATUS_FAILED]
                experiment.error = f"job {failed[0].key} failed: {failed[0].message}" if failed else "a job failed"
            return True

        current = await self.state.get_experiment(experiment_id)
        if derive_status(current.status, jobs) == rec.EXPERIMENT_STATUS_FAILED:
            await self._close_jobs(experiment_id, "not run: the experiment failed")  # before watchers see FAILED
        return await self.state.update_experiment(experiment_id, update)

    async def attach_report(self, experiment_id: str, report: rec.Report) -> None:
        """Store the report's refs on the experiment (unless it ended meanwhile); `refresh` then succeeds it."""
        def attach(experiment: rec.Experiment) -> bool:
            if experiment.status in TERMINAL:
                return False
            experiment.report.CopyFrom(report)
            return True

        await self.state.update_experiment(experiment_id, attach)

    async def fail(self, experiment_id: str, error: str) -> rec.Experiment:
        """A dead-lettered event: the experiment cannot finish."""
        return await self._end(experiment_id, rec.EXPERIMENT_STATUS_FAILED, error)

    async def _end(self, experiment_id: str, status: int, error: str) -> rec.Experiment:
        def end(experiment: rec.Experiment) -> bool:
            if experiment.status in TERMINAL:
                return False
            experiment.status = status  # type: ignore[assignment]
            experiment.error = redact(error)
            experiment.updated_at.CopyFrom(now())
            return True

        if (await self.state.get_experiment(experiment_id)).status not in TERMINAL:
            note = "cancelled" if status == rec.EXPERIMENT_STATUS_CANCELLED else "not run: the experiment failed"
            await self._close_jobs(experiment_id, note)  # before watchers see the experiment end
        experiment = await self.state.update_experiment(experiment_id, end)
        log.info("experiment_ended", status=rec.ExperimentStatus.Name(experiment.status), error=experiment.error)
        return experiment

    async def _close_jobs(self, experiment_id: str, message: str) -> None:
        for job in await self.state.list_jobs(experiment_id):
            if job.status in JOB_TERMINAL:
                continue

            def close(j: rec.Job) -> bool:
                if j.status in JOB_TERMINAL:
                    return False
                j.status = rec.JOB_STATUS_CANCELLED
                j.message = message
                j.finished_at.CopyFrom(now())
                return True

            await self.state.update_job(experiment_id, job.key, close)


def id_for(idempotency_key: str) -> str:
    """The experiment id of an idempotency key: the same key always names the same experiment."""
    return hashlib.sha256(b"submit:" + idempotency_key.encode()).hexdigest()[:12]
