"""The trainer's event handlers: plan one training job per (base model, arm, seed), then train each.

Both are idempotent. The planner publishes with a deterministic `Nats-Msg-Id`; the trainer skips a job that
already succeeded and re-announces its adapter, so a redelivered event never trains twice.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import structlog

from selfaware.bus import Delivery
from selfaware.errors import DataError, NotFound
from selfaware.jobs import JobRun
from selfaware.model_allowlist import check_base_model
from selfaware.models import resolve_base_model
from selfaware.plan import planned_models, train_job
from selfaware.service import Runtime
from selfaware.specs import arm_training
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.trainer import convert
from services.trainer.backends import BACKENDS
from services.trainer.config import TrainerConfig
from services.trainer.job_saves import JobSaves, add_checkpoint, check_cancel, watch_cancel
from services.trainer.memo import Trained, recall, remember, training_key

log = structlog.get_logger(__name__)


class TrainerHandlers:
    def __init__(self, config: TrainerConfig, runtime: Runtime) -> None:
        self.config, self.rt = config, runtime

    def declare(self) -> None:
        """The trainer's subscriptions, in one place."""
        self.rt.bus.subscribe(ev.DatasetReady, "trainer-dataset-ready", self.plan_training)
        self.rt.bus.subscribe(ev.TrainingRequested, "trainer-training-requested", self.train,
                              concurrency=self.config.concurrency)

    async def plan_training(self, event: ev.DatasetReady, delivery: Delivery) -> None:
        """One `TrainingRequested` per (base model, arm, seed), each with its arm's training set (an epoch
        checkpoint model comes out of its seed's training, not one of its own)."""
        experiment = await self.rt.state.get_experiment(event.experiment_id)
        train_sets = {dataset.arm: dataset.train for dataset in event.manifest.arms}
        for model in planned_models(experiment.spec):
            if model.arm and not model.epoch:
                request = ev.TrainingRequested(experiment_id=event.experiment_id, model=model,
                                               train=train_sets[model.arm])
                await self.rt.bus.publish(request, msg_id=f"train:{event.experiment_id}:{model.label}")

    async def train(self, event: ev.TrainingRequested, delivery: Delivery) -> None:
        model = event.model
        structlog.contextvars.bind_contextvars(model=model.label)
        key_in_plan = train_job(model.label)
        run = JobRun(self.rt.state, event.experiment_id, key_in_plan, delivery, self.config.max_deliver,
                     lease_s=self.config.ack_wait_s)
        if (job := await run.done_before()) is not None:
            await self._announce(event, job.artifact, job.served_model)
            return
        async with run:
            spec = (await self.rt.state.get_experiment(event.experiment_id)).spec
            arm = next(a for a in spec.arms if a.name == model.arm)
            training = arm_training(spec, arm)
            key = training_key(spec.base_models[model.base_index], event.train, training, model.seed)
            if (reused := await self._reuse(key)) is not None:
                for checkpoint in reused.checkpoints:
                    await run.update(lambda job, c=checkpoint: add_checkpoint(job, c))
                job = await run.succeed(reused.adapter, 0.0, reused.metrics | {"reused": 1.0},
                                        done=reused.steps, total=reused.steps)
                if job.status == rec.JOB_STATUS_SUCCEEDED:
                    await self._announce(event, reused.adapter)
                return
            rows = convert.parse_rows(await self.rt.store.get_bytes(event.train))
            check_base_model(spec.base_models[model.base_index], self.config.allowed_models(), "trainer")
            base = await asyncio.to_thread(resolve_base_model, spec.base_models[model.base_index],
                                           self.config.data_dir)
            # One scratch directory per attempt: a worker that lost its lease never deletes its successor's.
            output = self.config.data_dir / "scratch" / f"adapter-{event.experiment_id}-{key_in_plan}-a{run.attempt}"
            shutil.rmtree(output, ignore_errors=True)
            resume_from = await self._resume_state(event.experiment_id, key_in_plan)
            factory = BACKENDS.get(training.backend)
            context = convert.endpoint_context(spec, training, getattr(factory, "params", ()),
                                               f"{event.experiment_id}/{key_in_plan}")
            job = convert.training_job(training, rows, model.seed, base, output, resume_from,
                                       self.config.resume_state_every_s, self.config.resume_state_every_steps,
                                       context)
            backend = factory(threads=self.config.torch_threads)
            cancelled = threading.Event()
            watcher = asyncio.create_task(watch_cancel(self.rt.state, event.experiment_id, key_in_plan, cancelled))

            def progress(step: int, total: int, loss: float) -> None:
                check_cancel(cancelled, key_in_plan)
                run.progress_from_thread(step, total, {"loss": loss})

            try:
                result = await asyncio.to_thread(backend.train, job, progress,
                                                 JobSaves(run, self.rt.store, asyncio.get_running_loop()))
            finally:
                watcher.cancel()
            metrics = {"final_loss": result.losses[-1] if result.losses else 0.0, "steps": float(result.steps)}
            metrics |= result.metrics
            if result.adapter_dir is None:
                await self._served(event, run, result.served_model, result.train_seconds, metrics)
                return
            adapter = await self.rt.store.put_dir(result.adapter_dir)
            for stale in output.parent.glob(f"adapter-{event.experiment_id}-{key_in_plan}-a*"):
                shutil.rmtree(stale, ignore_errors=True)  # this attempt's, and any a dead predecessor left
            job = await run.succeed(adapter, result.train_seconds, metrics)
            if self.config.reuse_adapters:
                remember(self._memo_dir, key, Trained(adapter, metrics, result.steps, tuple(job.checkpoints)))
            if job.status == rec.JOB_STATUS_SUCCEEDED:
                await self._announce(event, adapter)

    async def _served(self, event: ev.TrainingRequested, run: JobRun, served_model: str, seconds: float,
                      metrics: dict[str, float]) -> None:
        """A hosted fine-tune's outcome: the endpoint serves the model under `served_model`; no adapter."""
        if not served_model:
            raise DataError(f"training backend for {event.model.label} returned neither an adapter nor a served model")
        await run.update(lambda job: setattr(job, "served_model", served_model))
        job = await run.succeed(None, seconds, metrics)
        if job.status == rec.JOB_STATUS_SUCCEEDED:
            await self._announce(event, None, served_model)

    async def _resume_state(self, experiment_id: str, key: str) -> Path | None:
        """The job's latest resume state (a killed predecessor's, on any replica), unpacked; None to start over."""
        ref = (await self.rt.state.get_job(experiment_id, key)).resume_state
        if not ref.sha256:
            return None
        try:
            return await self.rt.store.get_dir(ref)
        except NotFound:
            log.warning("resume_state_missing", sha256=ref.sha256)
            return None

    @property
    def _memo_dir(self) -> Path:
        return self.config.data_dir / "trained"

    async def _reuse(self, key: str) -> Trained | None:
        """The adapter of an identical earlier training, put back into this stack's store; None to train."""
        if not self.config.reuse_adapters or (trained := recall(self._memo_dir, key)) is None:
            return None
        try:  # the local cache keeps every artifact's bytes
            for ref in [trained.adapter, *(c.adapter for c in trained.checkpoints)]:
                await self.rt.store.put_bytes(await self.rt.store.get_bytes(ref), ref.media_type)
        except NotFound:
            return None
        log.info("adapter_reused", key=key, adapter=trained.adapter.sha256)
        return trained

    async def _announce(self, event: ev.TrainingRequested, adapter: rec.ArtifactRef | None,
                        served_model: str = "") -> None:
        model = rec.ModelUnderTest()
        model.CopyFrom(event.model)
        if adapter is not None and adapter.sha256:
            model.adapter.CopyFrom(adapter)
        model.served_model = served_model
        await self.rt.bus.publish(ev.AdapterReady(experiment_id=event.experiment_id, model=model),
                                  msg_id=f"adapter:{event.experiment_id}:{model.label}")
