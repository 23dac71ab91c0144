"""The trainer's event handlers: plan one training job per (policy, seed), then train each.

Both are idempotent. The planner publishes with a deterministic `Nats-Msg-Id`; the trainer skips a job that
already succeeded and re-announces its adapter, so a redelivered event never trains twice.
"""

from __future__ import annotations

import asyncio
import shutil

import structlog

from selfaware.bus import Delivery
from selfaware.jobs import JobRun, model_label, train_job
from selfaware.models import resolve_base_model
from selfaware.service import Runtime
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.trainer import convert
from services.trainer.backends import BACKENDS
from services.trainer.config import TrainerConfig

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
        experiment = await self.rt.state.get_experiment(event.experiment_id)
        for dataset in event.manifest.policies:
            for seed in experiment.spec.training.seeds:
                request = ev.TrainingRequested(experiment_id=event.experiment_id, policy=dataset.policy, seed=seed,
                                               train=dataset.train, probe=event.manifest.probe)
                await self.rt.bus.publish(request, msg_id=f"train:{event.experiment_id}:{dataset.policy}:s{seed}")

    async def train(self, event: ev.TrainingRequested, delivery: Delivery) -> None:
        structlog.contextvars.bind_contextvars(policy=event.policy, seed=event.seed)
        key = train_job(event.policy, event.seed)
        run = JobRun(self.rt.state, event.experiment_id, key, delivery, self.config.max_deliver)
        label = model_label(event.policy, event.seed)
        if (job := await run.done_before()) is not None:
            await self._announce(event, label, job.artifact)
            return
        async with run:
            experiment = await self.rt.state.get_experiment(event.experiment_id)
            rows = convert.parse_rows(await self.rt.store.get_bytes(event.train))
            base = await asyncio.to_thread(resolve_base_model, experiment.spec.base_model, self.config.data_dir)
            output = self.config.data_dir / "scratch" / f"adapter-{event.experiment_id}-{event.policy}-s{event.seed}"
            shutil.rmtree(output, ignore_errors=True)
            job = convert.training_job(experiment.spec, rows, event.seed, base, output)
            backend = BACKENDS.get(experiment.spec.training.backend)(threads=self.config.torch_threads)

            def progress(step: int, total: int, loss: float) -> None:
                run.progress_from_thread(step, total, {"loss": loss})

            result = await asyncio.to_thread(backend.train, job, progress)
            adapter = await self.rt.store.put_dir(result.adapter_dir)
            shutil.rmtree(output, ignore_errors=True)
            job = await run.succeed(adapter, result.train_seconds,
                                    {"final_loss": result.losses[-1], "steps": float(result.steps)})
            if job.status == rec.JOB_STATUS_SUCCEEDED:
                await self._announce(event, label, adapter)

    async def _announce(self, event: ev.TrainingRequested, label: str, adapter: rec.ArtifactRef) -> None:
        model = rec.ModelUnderTest(label=label, policy=event.policy, seed=event.seed, adapter=adapter)
        ready = ev.AdapterReady(experiment_id=event.experiment_id, model=model, probe=event.probe)
        await self.rt.bus.publish(ready, msg_id=f"adapter:{event.experiment_id}:{label}")
