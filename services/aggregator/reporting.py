"""The report job: once every evaluation is in, compute the statistics and store markdown, JSON and PNG.

Scores are recomputed from the evaluation records (the single source of truth), not from event summaries.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass

import structlog

from selfaware import specs
from selfaware.bus import Delivery
from selfaware.errors import FailedPrecondition
from selfaware.jobs import REPORT_JOB, JobRun, parse_label
from selfaware.service import Runtime
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.aggregator.experiments import Experiments
from services.aggregator.planning import evaluations_done
from services.aggregator.report import ModelScores, build_report

log = structlog.get_logger(__name__)


@dataclass
class StoredReport:
    report: rec.Report
    markdown: str
    json: str
    png: bytes


#: How many of a suite's most common sampled answers the report lists per model.
TOP_ANSWERS = 5


def model_scores(label: str, records: bytes) -> ModelScores:
    """Per-suite item scores, means and most common sampled answers of one model, from its records (JSONL)."""
    items: dict[str, list[float]] = {}
    answers: dict[str, Counter[str]] = {}
    for line in records.decode().splitlines():
        if line.strip():
            record = json.loads(line)
            items.setdefault(record["suite"], [])
            if record.get("score") is not None:
                items[record["suite"]].append(float(record["score"]))
            if isinstance(record.get("answer"), str):
                answers.setdefault(record["suite"], Counter())[record["answer"].strip()] += 1
    policy, seed = parse_label(label)
    means = {s: sum(v) / len(v) for s, v in items.items() if v}
    return ModelScores(label=label, policy=policy, seed=seed, is_base=not policy, suite_means=means,
                       item_scores=items, top_answers={s: c.most_common(TOP_ANSWERS) for s, c in answers.items()})


class Reporter:
    def __init__(self, runtime: Runtime, experiments: Experiments, max_deliver: int) -> None:
        self.rt, self.experiments, self.max_deliver = runtime, experiments, max_deliver

    async def report_if_ready(self, experiment_id: str, delivery: Delivery) -> None:
        experiment, jobs = await self.experiments.get(experiment_id)
        if not evaluations_done(jobs):
            return
        run = JobRun(self.rt.state, experiment_id, REPORT_JOB, delivery, self.max_deliver)
        if await run.done_before() is None:
            async with run:
                started = time.monotonic()
                report = await self._build(experiment, jobs)
                await run.succeed(report.json, time.monotonic() - started)

                def attach(e: rec.Experiment) -> None:
                    e.report.CopyFrom(report)

                await self.rt.state.update_experiment(experiment_id, attach)
        experiment = await self.experiments.refresh(experiment_id)
        if experiment.HasField("report"):
            await self.rt.bus.publish(ev.ReportReady(experiment_id=experiment_id, report=experiment.report),
                                      msg_id=f"report:{experiment_id}")

    async def _build(self, experiment: rec.Experiment, jobs: list[rec.Job]) -> rec.Report:
        models = [model_scores(j.model, await self.rt.store.get_bytes(j.artifact))
                  for j in jobs if j.stage == rec.STAGE_EVALUATE]
        spec = experiment.spec
        files = await asyncio.to_thread(
            build_report, experiment.id, spec.name, spec.behavior.family, spec.behavior.policy,
            spec.behavior.opposite_policy, list(spec.evaluation.suites), models, specs.spec_to_yaml(spec))
        store = self.rt.store
        report = rec.Report(
            markdown=await store.put_bytes(files.markdown.encode(), "text/markdown"),
            json=await store.put_bytes(files.json.encode(), "application/json"),
            png=await store.put_bytes(files.png, "image/png"),
        )
        log.info("report_built", models=len(models))
        return report

    async def load(self, experiment_id: str) -> StoredReport:
        experiment = await self.rt.state.get_experiment(experiment_id)
        if not experiment.HasField("report"):
            raise FailedPrecondition(f"experiment {experiment_id} has no report yet "
                                     f"({rec.ExperimentStatus.Name(experiment.status)})")
        r = experiment.report
        get = self.rt.store.get_bytes
        return StoredReport(r, (await get(r.markdown)).decode(), (await get(r.json)).decode(), await get(r.png))
