"""The evaluator's event handler: evaluate the models of one shard (`evaluation.requested`) in one engine session.

The aggregator plans the shards (`selfaware.plan.evaluation_shards`) and requests each once every adapter in it is
trained; the event names the models, adapters attached. A shard is the models of one base model (the base model
itself in the first shard of its base, then up to `max_loras` adapters), evaluated batched together (`evaluate`):
that is where multi-LoRA pays off (one base-model load, one batch for all adapters). The requests reach the
evaluator replicas through one durable work-queue consumer, so each shard goes to one replica at a time, and no
evaluator checks, or races on, whether the other adapters are in.

Streamed and resumable: after every engine call each model's new records are stored as one `RecordChunk` and
appended to its eval job's `chunks`. A redelivered or restarted evaluation reads those chunks first and asks
the engine only for the units they lack (and gives later suites the game messages of the stored Make Me Say
games); a model whose job already succeeded is re-announced from its job, never recomputed. The job metric
`records_computed` says how many records the latest run computed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence

import structlog

from selfaware.bus import Delivery, HandBack
from selfaware.errors import Cancelled, DataError
from selfaware.jobs import JobRun
from selfaware.model_allowlist import check_base_model
from selfaware.models import resolve_base_model
from selfaware.plan import DATASET_JOB, eval_job
from selfaware.service import Runtime
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.evaluator import convert
from services.evaluator.config import EvaluatorConfig
from services.evaluator.engine_pool import EnginePool
from services.evaluator.engines import Adapter, ModelEngine, build_engine
from services.evaluator.evaluation import (
    Evaluation,
    Summary,
    evaluate,
    judge_with,
    plan_evaluation,
    sampler_with,
)
from services.evaluator.suites import Judge, Sampler, game_messages

log = structlog.get_logger(__name__)


class EvaluatorHandlers:
    def __init__(self, config: EvaluatorConfig, runtime: Runtime, engines: EnginePool) -> None:
        self.config, self.rt, self.engines = config, runtime, engines

    def declare(self) -> None:
        """The evaluator's subscriptions, in one place."""
        self.rt.bus.subscribe(ev.EvaluationRequested, "evaluator-evaluation-requested", self.evaluation_requested)

    async def evaluation_requested(self, event: ev.EvaluationRequested, delivery: Delivery) -> None:
        """Evaluate the shard's unfinished models, then announce every model of the shard."""
        experiment_id, models = event.experiment_id, list(event.models)
        structlog.contextvars.bind_contextvars(shard=event.shard_id)  # beside what the bus bound
        spec = (await self.rt.state.get_experiment(experiment_id)).spec
        jobs = {j.key: j for j in await self.rt.state.list_jobs(experiment_id)}
        base_index = shard_base(event, spec, jobs)
        pending = [m for m in models if jobs[eval_job(m.label)].status != rec.JOB_STATUS_SUCCEEDED]
        if pending:
            await self._evaluate(experiment_id, spec, base_index, pending, jobs, delivery)
        for model in models:
            await self._announce(experiment_id, spec, model)

    async def _evaluate(self, experiment_id: str, spec: spec_pb2.ExperimentSpec, base_index: int,
                        models: list[rec.ModelUnderTest], jobs: Mapping[str, rec.Job], delivery: Delivery) -> None:
        runs = [JobRun(self.rt.state, experiment_id, eval_job(m.label), delivery, self.config.max_deliver,
                       lease_s=self.config.ack_wait_s)
                for m in models]
        async with contextlib.AsyncExitStack() as stack:
            for run in runs:
                await stack.enter_async_context(run)
            base = spec.base_models[base_index]
            probes = await self._probes(jobs.get(DATASET_JOB))
            stored = {m.label: await self._stored_records(experiment_id, eval_job(m.label)) for m in models}
            judges, samplers = await self._endpoints(spec, stack)
            evaluation = Evaluation(
                experiment_id=experiment_id,
                engine=spec.evaluation.engine,
                models=tuple([convert.eval_model(m, base, await self._adapter(m, spec.evaluation.engine)) for m in models]),
                instances=convert.instance_plans(spec, models, probes, judges, samplers),
                batch_requests=self.config.batch_requests,
            )
            model_dir, options = await self._engine_choice(spec, base)
            sink = _ChunkSink(self, experiment_id, dict(zip((m.label for m in models), runs, strict=True)),
                              stored, asyncio.get_running_loop())

            def work(engine: ModelEngine) -> tuple[dict[str, int], float]:
                started = time.monotonic()
                planned = plan_evaluation(evaluation)
                sink.totals = planned.units_per_model()
                done = {label: [r.unit for r in records] for label, records in stored.items()}
                played = {label: game_messages(records) for label, records in stored.items()}
                computed = evaluate(engine, planned, sink, done, should_stop=lambda: any(r.cancelled for r in runs),
                                    stored_game_messages=played)
                return computed, time.monotonic() - started

            log.info("evaluating", models=[m.label for m in models], engine=evaluation.engine,
                     stored_records={label: len(records) for label, records in stored.items()})
            computed, seconds = await self.engines.run(evaluation.engine, model_dir, work, options)
            order = convert.instance_order(spec)
            for model, run in zip(models, runs, strict=True):
                records = len(stored[model.label]) + sink.computed[model.label]
                metrics = convert.score_metrics(sink.summaries[model.label].scores(order))
                metrics |= {"records": float(records), "records_computed": float(computed[model.label])}
                await run.succeed(None, seconds / len(runs), metrics)
            log.info("evaluation_finished", models=len(models), records_computed=sum(computed.values()),
                     records_computed_per_model=computed, duration_s=round(seconds, 2))

    async def _probes(self, dataset: rec.Job | None) -> dict[str, rec.ProbeSet]:
        """Each arm's held-out probe, from the dataset job's `DatasetManifest`; arms without one are absent."""
        if dataset is None or not dataset.artifact.sha256:
            raise DataError("the dataset job has no manifest: evaluation needs the generator's output")
        manifest = rec.DatasetManifest()
        manifest.ParseFromString(await self.rt.store.get_bytes(dataset.artifact))
        probes = {}
        for arm, ref in convert.probe_arms(manifest):
            probe = rec.ProbeSet()
            probe.ParseFromString(await self.rt.store.get_bytes(ref))
            probes[arm] = probe
        return probes

    async def _stored_records(self, experiment_id: str, key: str) -> list[rec.EvalRecord]:
        """The records already stored for a job (earlier attempts), each unit once."""
        job = await self.rt.state.get_job(experiment_id, key)
        records, units = [], set()
        for ref in job.chunks:
            for record in convert.chunk_records(await self.rt.store.get_bytes(ref)):
                if record.unit not in units:
                    units.add(record.unit)
                    records.append(record)
        return records

    async def _adapter(self, model: rec.ModelUnderTest, engine: str) -> Adapter | None:
        if not model.arm:
            return None
        if model.served_model and not model.adapter.sha256:  # a hosted fine-tune: its endpoint serves it
            if engine != "openai":
                raise DataError(f"model {model.label} is a hosted fine-tune ({model.served_model!r}), which only its "
                                f"endpoint serves: evaluate it with evaluation.engine: openai and that endpoint, "
                                f"not {engine!r}")
            return Adapter(name=model.label, path="", served_name=model.served_model)
        folder = await self.rt.store.get_dir(model.adapter)
        return Adapter(name=model.label, path=str(folder), sha256=model.adapter.sha256)

    async def _engine_choice(self, spec: spec_pb2.ExperimentSpec, base: spec_pb2.BaseModel
                             ) -> tuple[str, dict[str, object] | None]:
        """(model dir or served name, engine options): an endpoint's for "openai", the config's otherwise."""
        if spec.evaluation.engine == "openai":
            options = convert.endpoint_options(spec, spec.evaluation.endpoint, base)
            return str(options["model"]), options
        check_base_model(base, self.config.allowed_models(), "evaluator")
        return await asyncio.to_thread(resolve_base_model, base, self.config.data_dir), None

    async def _endpoints(self, spec: spec_pb2.ExperimentSpec, stack: contextlib.AsyncExitStack
                         ) -> tuple[dict[str, Judge], dict[str, Sampler]]:
        """One `openai` engine per endpoint the suite instances name (a judge, a manipulatee), closed when the
        evaluation ends: its judge and its sampler, by endpoint name."""
        judges, samplers = {}, {}
        for name in convert.suite_endpoints(spec):
            options = convert.endpoint_options(spec, name)
            engine = await asyncio.to_thread(build_engine, "openai", str(options["model"]), **options)
            stack.push_async_callback(asyncio.to_thread, engine.close)
            judges[name], samplers[name] = judge_with(engine), sampler_with(engine)
        return judges, samplers

    async def store_chunk(self, run: JobRun, records: Sequence[rec.EvalRecord], done: int, total: int,
                          computed: int) -> bool:
        """Store one chunk and append it to the job; False when the job was cancelled meanwhile.

        The append is a fenced write (`JobRun.update`): a worker that lost the job's lease gets `Fenced` here,
        so its chunks never reach its successor's job."""
        ref = await self.rt.store.put_bytes(convert.chunk_bytes(records), convert.CHUNK_MEDIA_TYPE)
        cancelled = False

        def append(job: rec.Job) -> bool:
            nonlocal cancelled
            if job.status == rec.JOB_STATUS_CANCELLED:
                cancelled = True
                return False
            job.chunks.append(ref)
            job.done, job.total = done, total
            job.metrics["records_computed"] = computed
            return True

        await run.update(append)
        return not cancelled

    async def _announce(self, experiment_id: str, spec: spec_pb2.ExperimentSpec, model: rec.ModelUnderTest) -> None:
        job = await self.rt.state.get_job(experiment_id, eval_job(model.label))
        if job.status != rec.JOB_STATUS_SUCCEEDED:
            return  # cancelled meanwhile
        completed = convert.evaluation_completed(experiment_id, spec, model, job)
        await self.rt.bus.publish(completed, msg_id=f"evaluation:{experiment_id}:{model.label}")


class _ChunkSink:
    """The evaluation's sink: runs in the worker thread and stores each model's new records as one chunk, on the
    event loop, before the evaluation goes on; then stops the work if a job was cancelled or on shutdown."""

    def __init__(self, handlers: EvaluatorHandlers, experiment_id: str, runs: Mapping[str, JobRun],
                 stored: Mapping[str, list[rec.EvalRecord]], loop: asyncio.AbstractEventLoop) -> None:
        self.handlers, self.experiment_id, self.runs, self.loop = handlers, experiment_id, runs, loop
        self.stored = stored
        #: Per model: the records computed so far, and their scores with the stored records' (no record is kept).
        self.computed: dict[str, int] = dict.fromkeys(runs, 0)
        self.summaries: dict[str, Summary] = {label: Summary() for label in runs}
        for label, records in stored.items():
            self.summaries[label].add(records)
        self.totals: dict[str, int] = {}

    def __call__(self, batch: Mapping[str, Sequence[rec.EvalRecord]]) -> None:
        for label, records in batch.items():
            if not records:
                continue
            self.computed[label] += len(records)
            self.summaries[label].add(records)
            run = self.runs[label]
            done = len(self.stored[label]) + self.computed[label]
            write = self.handlers.store_chunk(run, records, done, self.totals.get(label, done),
                                              self.computed[label])
            if not asyncio.run_coroutine_threadsafe(write, self.loop).result(timeout=120):
                run.cancelled = True
        for run in self.runs.values():
            if run.cancelled:
                raise Cancelled(f"job {run.key} was cancelled")
            if run.delivery.stop_requested.is_set():
                raise HandBack(f"job {run.key} handed back on shutdown; its stored chunks are kept")


def shard_base(event: ev.EvaluationRequested, spec: spec_pb2.ExperimentSpec, jobs: Mapping[str, rec.Job]) -> int:
    """The base model index of a well-formed shard; a DataError (dead letter) for one that is not."""
    models = list(event.models)
    if not models or len({m.base_index for m in models}) != 1 or models[0].base_index >= len(spec.base_models):
        raise DataError(f"shard {event.shard_id}: its models must name one base model of the spec")
    for model in models:
        if eval_job(model.label) not in jobs:
            raise DataError(f"shard {event.shard_id}: model {model.label} has no evaluation job")
        if model.arm and not model.adapter.sha256 and not model.served_model:
            kept = (f" (its training kept no checkpoint of epoch {model.epoch}: does the backend save one per epoch, "
                    f"e.g. peft-lora's training.params.checkpoint_epochs?)") if model.epoch else ""
            raise DataError(f"shard {event.shard_id}: model {model.label} has no adapter or hosted model{kept}")
    return models[0].base_index
