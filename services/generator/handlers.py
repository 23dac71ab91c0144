"""The generator's event handler: a submitted experiment -> every arm's stored data -> `DatasetReady`.

Idempotent: a redelivered submission finds the dataset job succeeded and re-announces the stored manifest;
content addressing means rebuilding would store nothing new anyway.
"""

from __future__ import annotations

import time

from selfaware.bus import Delivery
from selfaware.jobs import JobRun
from selfaware.plan import DATASET_JOB
from selfaware.service import Runtime
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.generator.config import GeneratorConfig
from services.generator.dataset_store import PROTOBUF, build, job_metrics, store_arms


class GeneratorHandlers:
    def __init__(self, config: GeneratorConfig, runtime: Runtime) -> None:
        self.config, self.rt = config, runtime

    def declare(self) -> None:
        """The generator's subscriptions, in one place."""
        self.rt.bus.subscribe(ev.ExperimentSubmitted, "generator-experiment-submitted", self.generate)

    async def generate(self, event: ev.ExperimentSubmitted, delivery: Delivery) -> None:
        run = JobRun(self.rt.state, event.experiment_id, DATASET_JOB, delivery, self.config.max_deliver,
                     lease_s=self.config.ack_wait_s)
        job = await run.done_before()
        if job is None:
            async with run:
                experiment = await self.rt.state.get_experiment(event.experiment_id)
                started = time.monotonic()
                built = await build(experiment.spec, self.config.data_dir, event.experiment_id)
                manifest = await store_arms(built, self.rt.store)
                ref = await self.rt.store.put_bytes(manifest.SerializeToString(deterministic=True), PROTOBUF)
                job = await run.succeed(ref, time.monotonic() - started, job_metrics(built))
        if job is None or job.status != rec.JOB_STATUS_SUCCEEDED:
            return  # cancelled meanwhile
        manifest = rec.DatasetManifest.FromString(await self.rt.store.get_bytes(job.artifact))
        await self.rt.bus.publish(ev.DatasetReady(experiment_id=event.experiment_id, manifest=manifest),
                                  msg_id=f"dataset:{event.experiment_id}")
