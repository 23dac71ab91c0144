"""The experiment lifecycle the aggregator owns: submit, read, cancel, and react to the other services' events.

The status of an experiment is derived from its jobs (see planning.py) each time an event arrives; cancel and
failure are the two transitions made directly. Every reaction is idempotent: it re-reads state and recomputes.
Every experiment has an owner (the submitting caller's subject, `ownership.py`) and counts against the owner's
quotas (`quotas.py`), checked before anything is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import structlog

from selfaware.auth import LOCAL, Principal
from selfaware.catalogue import complete
from selfaware.errors import FieldViolation, NotFound, PermanentError, SpecError
from selfaware.plan import plan_jobs
from selfaware.redact import redact
from selfaware.secret_store import is_reference
from selfaware.sources import is_url, read_uri, uri_scheme
from selfaware.status import JOB_TERMINAL, TERMINAL, now
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator import ownership, quotas
from services.aggregator.planning import derive_status

if TYPE_CHECKING:  # the stores are handed in by main.py; this module never reaches the transport itself
    from selfaware.bus import EventBus
    from selfaware.state import StateStore

log = structlog.get_logger(__name__)


class Experiments:
    def __init__(self, state: StateStore, bus: EventBus, limits: quotas.QuotaLimits | None = None) -> None:
        self.state, self.bus = state, bus
        self.limits = limits or quotas.QuotaLimits()
        #: Held while a quota is checked and the experiment created or admitted, so two submits (or a submit
        #: and a sweep admission) cannot both fit into the same room under a quota.
        self.quota_lock = asyncio.Lock()
        self._costs: dict[str, quotas.Cost] = {}

    async def validate(self, spec: spec_pb2.ExperimentSpec) -> tuple[spec_pb2.ExperimentSpec, list[FieldViolation]]:
        """The completed spec and every violation, judged against the catalogues the services published."""
        return await asyncio.to_thread(complete, spec, await self.state.catalogues())  # reads the files it checks

    async def catalogues(self) -> list[cat.Catalogue]:
        return await self.state.catalogues()

    async def submit(self, spec: spec_pb2.ExperimentSpec, idempotency_key: str = "", owner: str = LOCAL.subject
                     ) -> rec.Experiment:
        """Validate and check `owner`'s quotas before any side effect, then store the plan and announce it.

        With an `idempotency_key`, the experiment id is derived from the owner and the key: a retried submit
        (the client lost the reply, or the aggregator died mid-submit) returns the experiment the first call
        created, and announces it again in case the first call died before its publish. JetStream's duplicate
        window drops the second announcement when the first got through. Two owners' keys never name the same
        experiment.
        """
        completed, violations = await self.validate(spec)
        if violations:
            raise SpecError(violations)
        experiment_id = id_for(idempotency_key, owner) if idempotency_key else uuid.uuid4().hex[:12]
        async with self.quota_lock:
            if not await self._exists(experiment_id):  # a retried submit was counted when it was created
                quotas.check(owner, await self.usage(owner), await self.cost(experiment_id, completed), self.limits)
            return await self.create(experiment_id, completed, "idempotency_key", owner=owner)

    async def owned(self, experiment_id: str, principal: Principal) -> rec.Experiment:
        """The experiment, if `principal` may use it (NOT_FOUND, then PERMISSION_DENIED)."""
        experiment = await self.state.get_experiment(experiment_id)
        ownership.check(principal, experiment.owner, f"experiment {experiment_id}")
        return experiment

    async def owner_of(self, experiment_id: str) -> str:
        """The experiment's owner; "" for one without an owner, or an unknown id (an admin's)."""
        try:
            return (await self.state.get_experiment(experiment_id)).owner
        except NotFound:
            return ""

    async def cost(self, experiment_id: str, completed: spec_pb2.ExperimentSpec) -> quotas.Cost:
        """The estimated cost of an experiment's spec (`quotas.estimate`), computed once per experiment."""
        if experiment_id not in self._costs:
            self._costs[experiment_id] = await asyncio.to_thread(quotas.estimate, completed, self.limits,
                                                                 _count_rows)
        return self._costs[experiment_id]

    async def usage(self, owner: str) -> quotas.Usage:
        """`owner`'s experiments in flight and their estimated GPU hours."""
        usage = quotas.Usage()
        for experiment in await self.state.list_experiments():
            if experiment.owner == owner and not experiment.held and experiment.status not in TERMINAL:
                usage.add(await self.cost(experiment.id, experiment.spec))
        return usage

    async def _exists(self, experiment_id: str) -> bool:
        try:
            await self.state.get_experiment(experiment_id)
        except NotFound:
            return False
        return True

    async def create(self, experiment_id: str, completed: spec_pb2.ExperimentSpec, field: str, *,
                     sweep_id: str = "", held: bool = False, owner: str = LOCAL.subject) -> rec.Experiment:
        """Store the plan of a validated, completed spec under `experiment_id`, owned by `owner`, and announce it
        unless it is held.

        An experiment that exists already with the same spec and owner is returned (and announced again unless
        held); one with another spec is INVALID_ARGUMENT naming the request `field` the id derives from.
        """
        experiment = rec.Experiment(id=experiment_id, spec=completed, created_at=now(), updated_at=now(),
                                    sweep_id=sweep_id, held=held, owner=owner)
        jobs = plan_jobs(experiment.id, completed)
        experiment.status = derive_status(experiment.status, jobs)  # type: ignore[assignment]
        if not await self.state.create_experiment(experiment, jobs):
            experiment = await self.state.get_experiment(experiment_id)
            ownership.check(Principal(owner), experiment.owner, f"experiment {experiment_id}")
            if experiment.spec != completed:
                raise SpecError.single(field, f"was used for a different spec (experiment {experiment_id})")
            log.info("experiment_submit_repeated", experiment_id=experiment_id)
        else:
            log.info("experiment_submitted", experiment_id=experiment.id, name=completed.name, sweep_id=sweep_id,
                     held=held, owner=owner)
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
        return await self.state.get_experiment(experiment_id), await self.jobs(experiment_id)

    async def jobs(self, experiment_id: str) -> list[rec.Job]:
        return await self.state.list_jobs(experiment_id)

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

    async def refresh(self, experiment_id: str, jobs: list[rec.Job] | None = None) -> rec.Experiment:
        """Recompute the status from the jobs (called on every event the aggregator sees); `jobs`: the caller's
        listing, read just before, so that one event lists the experiment's jobs once."""
        if jobs is None:
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


def id_for(idempotency_key: str, owner: str = "") -> str:
    """The experiment id of an idempotency key: the same owner's same key always names the same experiment, and
    two owners' keys never name the same one. (Ids derived before owners existed used the key alone.)"""
    scoped = f"{owner}\0{idempotency_key}" if owner else idempotency_key
    return hashlib.sha256(b"submit:" + scoped.encode()).hexdigest()[:12]


def _count_rows(uri: str) -> int | None:
    """The non-empty lines of a local file (an imported dataset's rows); None for a URL (not fetched at submit),
    for a secret reference (only the fetching service reads a secret) and for a file that cannot be read now
    (its experiment was validated when it was submitted)."""
    if is_reference(uri) or (is_url(uri) and uri_scheme(uri) != "file"):
        return None
    try:
        return sum(1 for line in read_uri(uri).splitlines() if line.strip())
    except PermanentError:
        return None
