"""The report job: once every evaluation is in, stream the records, compute the report and store its files.

Scores are recomputed from the evaluation records (the single source of truth), not from event summaries.
Each evaluation job lists its record chunks in order (`Job.chunks`); they are read and folded one at a time,
so the aggregator's memory holds one chunk plus the fold's small per-(model, instance) state. The report also
reads the evaluator's catalogue (how each suite is presented, and its paper defaults) and the dataset manifest
(how many rows each arm trained on, for the size × epochs grid).

Every figure file (PNG and SVG) is stored in the artifact store under its sha256, which the JSON report lists
(`figures`), so a reader of the JSON can fetch them; the `Report` message refs each of them by the file name the
Markdown links (`Report.figures`), and `GetReport` hands them out with the Markdown.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from selfaware.errors import DataError, NotFound
from selfaware.plan import REPORT_JOB, eval_job, planned_models
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.aggregator.experiments import Experiments
from services.aggregator.planning import evaluations_done
from services.aggregator.record_fold import ModelScores, RecordFold
from services.aggregator.report_files import build_report
from services.aggregator.suite_info import suite_infos

if TYPE_CHECKING:  # handed in by handlers.py; this module never reaches the transport itself
    from selfaware.bus import Delivery
    from selfaware.jobs import JobRun
    from selfaware.service import Runtime

log = structlog.get_logger(__name__)


@dataclass
class StoredReport:
    report: rec.Report
    markdown: str
    json: str
    png: bytes
    #: File name -> bytes of every figure file, in `report.figures` order.
    figures: dict[str, bytes]


class Reporter:
    """Builds, stores and announces an experiment's report once its evaluations are in; serves it after.

    Args:
        job_run: `selfaware.jobs.JobRun`, handed in by the handlers so that this module does not import the
            job runner's transport (the bus' delivery and hand-back).
    """

    def __init__(self, runtime: Runtime, experiments: Experiments, max_deliver: int,
                 job_run: type[JobRun]) -> None:
        self.rt, self.experiments, self.max_deliver, self.job_run = runtime, experiments, max_deliver, job_run

    async def report_if_ready(self, experiment_id: str, delivery: Delivery, jobs: list[rec.Job] | None = None
                              ) -> None:
        """Build the report once every evaluation is in; `jobs`: the caller's listing, read just before."""
        experiment = await self.experiments.state.get_experiment(experiment_id)
        if jobs is None:
            jobs = await self.experiments.jobs(experiment_id)
        if not evaluations_done(jobs):
            return
        run = self.job_run(self.rt.state, experiment_id, REPORT_JOB, delivery, self.max_deliver)
        if await run.done_before() is None:
            async with run:
                started = time.monotonic()
                report = await self.build(experiment)
                # Attach first, then mark the job done: a crash in between leaves the job to a redelivery,
                # which rebuilds the same files (the store is content-addressed) and attaches them again. The
                # experiment turns SUCCEEDED only in `refresh`, whose revision-checked write requires the report.
                await self.experiments.attach_report(experiment_id, report)
                await run.succeed(report.json, time.monotonic() - started)
        experiment = await self.experiments.refresh(experiment_id)
        if experiment.HasField("report"):
            await self.rt.bus.publish(ev.ReportReady(experiment_id=experiment_id, report=experiment.report),
                                      msg_id=f"report:{experiment_id}")

    async def build(self, experiment: rec.Experiment) -> rec.Report:
        """Fold the records, build every report file and store them; the `Report` refs the three main ones."""
        models = await self.fold_records(experiment)
        suites = suite_infos(await self.rt.state.catalogues())
        datasets = await self.datasets(experiment.id)
        files = await asyncio.to_thread(build_report, experiment.id, experiment.spec, models, suites, datasets)
        store = self.rt.store
        figures = [rec.ReportFigure(name=name, file=await store.put_bytes(
                       data, "image/svg+xml" if name.endswith(".svg") else "image/png"))
                   for name, data in files.figure_files().items()]
        return rec.Report(
            markdown=await store.put_bytes(files.markdown.encode(), "text/markdown"),
            json=await store.put_bytes(files.json.encode(), "application/json"),
            png=await store.put_bytes(files.png, "image/png"),
            figures=figures,
        )

    async def fold_records(self, experiment: rec.Experiment) -> list[ModelScores]:
        """Every evaluation job's chunks, read from the store one at a time, folded per model and instance."""
        planned = planned_models(experiment.spec)
        by_job = {eval_job(model.label): model for model in planned}
        fold = RecordFold(planned)
        chunks = 0
        for job in await self.rt.state.list_jobs(experiment.id):
            if job.stage != rec.STAGE_EVALUATE:
                continue
            model = by_job.get(job.key)
            if model is None:
                raise DataError(f"evaluation job {job.key} of experiment {experiment.id} "
                                "matches no planned model")
            for ref in job.chunks:
                fold.add_chunk(model.label, rec.RecordChunk.FromString(await self.rt.store.get_bytes(ref)))
                chunks += 1
        log.info("records_folded", experiment_id=experiment.id, models=len(planned), chunks=chunks)
        return fold.results()

    async def datasets(self, experiment_id: str) -> dict[str, rec.ArmDataset]:
        """Arm -> its dataset (rows, provenance, shape), from the dataset job's manifest; empty when there is none."""
        for job in await self.rt.state.list_jobs(experiment_id):
            if job.stage == rec.STAGE_GENERATE and job.artifact.sha256:
                manifest = rec.DatasetManifest.FromString(await self.rt.store.get_bytes(job.artifact))
                return {arm.arm: arm for arm in manifest.arms}
        return {}

    async def load(self, experiment_id: str) -> StoredReport:
        experiment = await self.rt.state.get_experiment(experiment_id)
        if not experiment.HasField("report"):
            raise NotFound(f"experiment {experiment_id} has no report yet "
                           f"({rec.ExperimentStatus.Name(experiment.status)})")
        r = experiment.report
        get = self.rt.store.get_bytes
        return StoredReport(r, (await get(r.markdown)).decode(), (await get(r.json)).decode(),
                            await get(r.png), {f.name: await get(f.file) for f in r.figures})
