"""Recovery the aggregator owns, against a real nats-server: idempotent submit, the reconciler, and no
SUCCEEDED without a report.

Before these, a retried submit made a second experiment, a submit whose publish failed after the plan was
stored sat QUEUED for good, and a crash between marking the report job done and attaching its refs gave a
SUCCEEDED experiment with no report.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from selfaware.bus import EventBus
from selfaware.errors import SpecError
from selfaware.specs import spec_from_dict
from selfaware.state import StateStore
from selfaware.status import now
from selfaware.v1 import records_pb2 as rec
from services.aggregator.experiments import Experiments
from services.aggregator.main import catalogue as aggregator_catalogue
from services.aggregator.reconciler import Reconciler
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.catalogue import catalogue as trainer_catalogue
from tests.service.streams import events_of


@dataclass
class Aggregator:
    bus: EventBus
    state: StateStore
    experiments: Experiments


@pytest.fixture
async def aggregator(nats_url: str) -> AsyncIterator[Aggregator]:
    bus = await EventBus.connect(nats_url, name="test-recovery")
    state = await StateStore.open(bus.js)
    for published in (aggregator_catalogue(), generator_catalogue(), trainer_catalogue(), evaluator_catalogue()):
        await state.put_catalogue(published)
    yield Aggregator(bus, state, Experiments(state, bus))
    await bus.close()


async def no_shards(experiment_id: str) -> list[str]:
    return []


async def end(aggregator: Aggregator, experiment_id: str) -> None:
    """Cancel, so that services of other tests in this session never run these experiments."""
    if (await aggregator.state.get_experiment(experiment_id)).status not in (
            rec.EXPERIMENT_STATUS_CANCELLED, rec.EXPERIMENT_STATUS_SUCCEEDED, rec.EXPERIMENT_STATUS_FAILED):
        await aggregator.experiments.cancel(experiment_id, "test over")


async def test_a_retried_submit_returns_the_experiment_the_first_one_created(aggregator, make_spec) -> None:  # type: ignore[no-untyped-def]
    spec = spec_from_dict(make_spec())
    first = await aggregator.experiments.submit(spec, idempotency_key="retry-me-1")
    try:
        again = await aggregator.experiments.submit(spec, idempotency_key="retry-me-1")
        assert again.id == first.id
        assert len(await aggregator.state.list_jobs(first.id)) == 7
        assert (await events_of(aggregator.bus, first.id)).get("experiment.submitted") == 1  # deduplicated
        with pytest.raises(SpecError, match="different spec") as caught:
            await aggregator.experiments.submit(spec_from_dict(make_spec(name="other")),
                                                idempotency_key="retry-me-1")
        assert [v.field for v in caught.value.violations] == ["idempotency_key"]
        other = await aggregator.experiments.submit(spec)
        assert other.id != first.id  # without a key, every submit is a new experiment
        await end(aggregator, other.id)
    finally:
        await end(aggregator, first.id)


async def test_a_submit_whose_publish_failed_is_announced_by_the_reconciler(aggregator, nats_url, make_spec  # type: ignore[no-untyped-def]
                                                                            ) -> None:
    broken = await EventBus.connect(nats_url, name="test-recovery-broken")
    await broken.close()  # the submit's publish will fail after the plan is stored
    with pytest.raises(Exception):  # noqa: B017 - whatever the closed connection raises
        await Experiments(aggregator.state, broken).submit(spec_from_dict(make_spec()), idempotency_key="lost-1")
    stranded = [e for e in await aggregator.experiments.list() if e.spec.name == "tiny risk"
                and e.status == rec.EXPERIMENT_STATUS_GENERATING
                and not await events_of(aggregator.bus, e.id)]
    assert len(stranded) == 1, "the plan is stored, but nothing announced it"
    experiment_id = stranded[0].id
    try:
        reports: list[str] = []

        async def start_report(eid: str) -> None:
            reports.append(eid)

        reconciler = Reconciler(aggregator.experiments, start_report, no_shards, interval_s=1.0, grace_s=0.0)
        assert experiment_id in (await reconciler.reconcile_once()).announced
        assert (await events_of(aggregator.bus, experiment_id)).get("experiment.submitted") == 1
        assert experiment_id not in (await reconciler.reconcile_once()).announced  # the duplicate window drops a repeat
        assert experiment_id not in reports
    finally:
        await end(aggregator, experiment_id)


async def test_evaluated_experiment_without_a_report_is_reported_by_the_reconciler_and_never_succeeds_bare(
        aggregator) -> None:  # type: ignore[no-untyped-def]
    experiment = rec.Experiment(id="recover" + uuid.uuid4().hex[:5], created_at=now(),
                                status=rec.EXPERIMENT_STATUS_REPORTING)
    jobs = [rec.Job(experiment_id=experiment.id, key=key, stage=stage, status=rec.JOB_STATUS_SUCCEEDED)
            for key, stage in [("dataset", rec.STAGE_GENERATE), ("train.a.s0", rec.STAGE_TRAIN),
                               ("eval.base", rec.STAGE_EVALUATE), ("report", rec.STAGE_REPORT)]]
    assert await aggregator.state.create_experiment(experiment, jobs)
    refreshed = await aggregator.experiments.refresh(experiment.id)
    assert refreshed.status == rec.EXPERIMENT_STATUS_REPORTING, "every job is done, but there is no report"

    def reopen(job: rec.Job) -> None:
        job.status = rec.JOB_STATUS_QUEUED

    await aggregator.state.update_job(experiment.id, "report", reopen)
    reports: list[str] = []

    async def start_report(eid: str) -> None:
        reports.append(eid)

    reconciler = Reconciler(aggregator.experiments, start_report, no_shards, interval_s=1.0, grace_s=0.0)
    await reconciler.reconcile_once()
    assert experiment.id in reports
    await aggregator.experiments.attach_report(experiment.id, rec.Report(json=rec.ArtifactRef(sha256="0" * 64)))
    assert (await aggregator.experiments.refresh(experiment.id)).status == rec.EXPERIMENT_STATUS_REPORTING
    await aggregator.state.update_job(experiment.id, "report",
                                      lambda job: setattr(job, "status", rec.JOB_STATUS_SUCCEEDED))
    assert (await aggregator.experiments.refresh(experiment.id)).status == rec.EXPERIMENT_STATUS_SUCCEEDED


async def test_the_reconciler_leaves_a_held_experiment_alone_and_release_announces_it_once(
        aggregator, make_spec) -> None:  # type: ignore[no-untyped-def]
    completed, violations = await aggregator.experiments.validate(spec_from_dict(make_spec()))
    assert not violations
    experiment_id = "held" + uuid.uuid4().hex[:6]
    await aggregator.experiments.create(experiment_id, completed, "a test", sweep_id="s", held=True)
    try:
        reconciler = Reconciler(aggregator.experiments, no_shards, no_shards, interval_s=1.0, grace_s=0.0)
        assert experiment_id not in (await reconciler.reconcile_once()).announced
        assert not await events_of(aggregator.bus, experiment_id)  # held: nothing announced it
        released = await aggregator.experiments.release(experiment_id)
        assert not released.held and released.sweep_id == "s"
        assert (await events_of(aggregator.bus, experiment_id)).get("experiment.submitted") == 1
    finally:
        await end(aggregator, experiment_id)
