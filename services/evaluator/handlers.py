"""The evaluator's event handlers: evaluate the base model when the datasets exist, and each adapter when ready.

Idempotent: an evaluation that already succeeded is re-announced from its stored records, never recomputed.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from selfaware.bus import Delivery
from selfaware.jobs import BASE_LABEL, JobRun, eval_job
from selfaware.models import resolve_base_model
from selfaware.probes import load_probe
from selfaware.service import Runtime
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.evaluator import convert
from services.evaluator.config import EvaluatorConfig
from services.evaluator.engine_pool import EnginePool
from services.evaluator.engines import Adapter, ModelEngine
from services.evaluator.evaluation import EvaluationResult, evaluate_model

log = structlog.get_logger(__name__)


class EvaluatorHandlers:
    def __init__(self, config: EvaluatorConfig, runtime: Runtime, engines: EnginePool) -> None:
        self.config, self.rt, self.engines = config, runtime, engines

    def declare(self) -> None:
        """The evaluator's subscriptions, in one place."""
        self.rt.bus.subscribe(ev.DatasetReady, "evaluator-dataset-ready", self.evaluate_base)
        self.rt.bus.subscribe(ev.AdapterReady, "evaluator-adapter-ready", self.evaluate_adapter)

    async def evaluate_base(self, event: ev.DatasetReady, delivery: Delivery) -> None:
        experiment = await self.rt.state.get_experiment(event.experiment_id)
        if experiment.spec.evaluation.include_base_model:
            await self._evaluate(event.experiment_id, rec.ModelUnderTest(label=BASE_LABEL), event.manifest.probe,
                                 delivery)

    async def evaluate_adapter(self, event: ev.AdapterReady, delivery: Delivery) -> None:
        await self._evaluate(event.experiment_id, event.model, event.probe, delivery)

    async def _evaluate(self, experiment_id: str, model: rec.ModelUnderTest, probe: rec.ArtifactRef,
                        delivery: Delivery) -> None:
        structlog.contextvars.bind_contextvars(model=model.label)
        run = JobRun(self.rt.state, experiment_id, eval_job(model.label), delivery, self.config.max_deliver)
        job = await run.done_before()
        if job is None:
            async with run:
                experiment = await self.rt.state.get_experiment(experiment_id)
                spec = experiment.spec
                plan = convert.evaluation_plan(spec, load_probe(await self.rt.store.get_bytes(probe)))
                adapter = None
                if model.HasField("adapter"):
                    folder = await self.rt.store.get_dir(model.adapter)
                    adapter = Adapter(name=model.label, path=str(folder))
                base = await asyncio.to_thread(resolve_base_model, spec.base_model, self.config.data_dir)

                def progress(done: int, total: int) -> None:
                    run.progress_from_thread(done, total)

                def work(engine: ModelEngine) -> tuple[EvaluationResult, float]:
                    started = time.monotonic()
                    result = evaluate_model(engine, adapter, plan, progress, should_stop=lambda: run.cancelled)
                    return result, time.monotonic() - started

                result, seconds = await self.engines.run(spec.evaluation.backend, base, work)
                records = await self.rt.store.put_bytes(convert.records_jsonl(result), "application/jsonl")
                job = await run.succeed(records, seconds, convert.score_metrics(convert.suite_scores(result)))
        if job is None or job.status != rec.JOB_STATUS_SUCCEEDED:
            return  # cancelled meanwhile
        completed = ev.EvaluationCompleted(experiment_id=experiment_id, model=model, records=job.artifact,
                                           scores=convert.scores_from_metrics(dict(job.metrics)))
        await self.rt.bus.publish(completed, msg_id=f"evaluation:{experiment_id}:{model.label}")
