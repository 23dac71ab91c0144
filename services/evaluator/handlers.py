"""The evaluator's event handler: once every adapter of an experiment is trained, evaluate them all together.

All models of an experiment (the base model and every adapter) are evaluated in one engine session, batched
together per question type (`evaluate_models`), after training is over. That is where multi-LoRA pays off (one
base-model load, one batch for all adapters), and it keeps evaluation from competing with training for the CPU
on small machines. Idempotent: models whose evaluation already succeeded are re-announced from their stored
records, never recomputed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from selfaware.bus import Delivery
from selfaware.jobs import BASE_LABEL, JobRun, eval_job, parse_label
from selfaware.models import resolve_base_model
from selfaware.probes import load_probe
from selfaware.service import Runtime
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.evaluator import convert
from services.evaluator.config import EvaluatorConfig
from services.evaluator.engine_pool import EnginePool
from services.evaluator.engines import Adapter, ModelEngine
from services.evaluator.evaluation import EvaluationResult, evaluate_models

log = structlog.get_logger(__name__)


class EvaluatorHandlers:
    def __init__(self, config: EvaluatorConfig, runtime: Runtime, engines: EnginePool) -> None:
        self.config, self.rt, self.engines = config, runtime, engines

    def declare(self) -> None:
        """The evaluator's subscriptions, in one place."""
        self.rt.bus.subscribe(ev.AdapterReady, "evaluator-adapter-ready", self.adapter_ready)

    async def adapter_ready(self, event: ev.AdapterReady, delivery: Delivery) -> None:
        jobs = {j.key: j for j in await self.rt.state.list_jobs(event.experiment_id)}
        training = [j for j in jobs.values() if j.stage == rec.STAGE_TRAIN]
        if any(j.status != rec.JOB_STATUS_SUCCEEDED for j in training):
            log.info("waiting_for_adapters", trained=sum(j.status == rec.JOB_STATUS_SUCCEEDED for j in training),
                     adapters=len(training))
            return
        models = [rec.ModelUnderTest(label=BASE_LABEL)] if eval_job(BASE_LABEL) in jobs else []
        for job in training:
            policy, seed = parse_label(job.model)
            models.append(rec.ModelUnderTest(label=job.model, policy=policy, seed=seed, adapter=job.artifact))
        pending = [m for m in models if jobs[eval_job(m.label)].status != rec.JOB_STATUS_SUCCEEDED]
        if pending:
            await self._evaluate(event.experiment_id, pending, event.probe, delivery)
        for model in models:
            await self._announce(event.experiment_id, model)

    async def _evaluate(self, experiment_id: str, models: list[rec.ModelUnderTest], probe: rec.ArtifactRef,
                        delivery: Delivery) -> None:
        runs = [JobRun(self.rt.state, experiment_id, eval_job(m.label), delivery, self.config.max_deliver)
                for m in models]
        async with contextlib.AsyncExitStack() as stack:
            for run in runs:
                await stack.enter_async_context(run)
            spec = (await self.rt.state.get_experiment(experiment_id)).spec
            plan = convert.evaluation_plan(spec, load_probe(await self.rt.store.get_bytes(probe)))
            adapters: list[Adapter | None] = []
            for model in models:
                folder = await self.rt.store.get_dir(model.adapter) if model.HasField("adapter") else None
                adapters.append(Adapter(name=model.label, path=str(folder)) if folder else None)
            base = await asyncio.to_thread(resolve_base_model, spec.base_model, self.config.data_dir)

            def progress(done: int, total: int) -> None:
                for run in runs:
                    run.progress_from_thread(done, total)

            def work(engine: ModelEngine) -> tuple[list[EvaluationResult], float]:
                started = time.monotonic()
                results = evaluate_models(engine, adapters, plan, progress,
                                          should_stop=lambda: any(run.cancelled for run in runs))
                return results, time.monotonic() - started

            log.info("evaluating", models=[m.label for m in models])
            results, seconds = await self.engines.run(spec.evaluation.backend, base, work)
            for run, result in zip(runs, results, strict=True):
                records = await self.rt.store.put_bytes(convert.records_jsonl(result), "application/jsonl")
                await run.succeed(records, seconds / len(runs), convert.score_metrics(convert.suite_scores(result)))

    async def _announce(self, experiment_id: str, model: rec.ModelUnderTest) -> None:
        job = await self.rt.state.get_job(experiment_id, eval_job(model.label))
        if job.status != rec.JOB_STATUS_SUCCEEDED:
            return  # cancelled meanwhile
        completed = ev.EvaluationCompleted(experiment_id=experiment_id, model=model, records=job.artifact,
                                           scores=convert.scores_from_metrics(dict(job.metrics)))
        await self.rt.bus.publish(completed, msg_id=f"evaluation:{experiment_id}:{model.label}")
