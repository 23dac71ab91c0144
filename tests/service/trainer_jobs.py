"""Training jobs without the other services: an experiment planned and stored as the aggregator's submit does it,
its training rows in the artifact store as the generator leaves them, and one `training.requested` per adapter as
the trainer's planner publishes it. The trainer tests then run real trainer replicas (in this process or as child
processes) on their own nats-server, so no other service's consumer competes for the jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfaware.bus import EventBus
from selfaware.catalogue import complete
from selfaware.plan import plan_jobs, planned_models, train_job
from selfaware.service import run_service
from selfaware.specs import spec_from_dict
from selfaware.state import StateStore
from selfaware.status import now
from selfaware.store import ArtifactStore
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.catalogue import catalogue as trainer_catalogue
from services.trainer.config import TrainerConfig
from services.trainer.main import wire as wire_trainer
from tests.conftest import NatsProcess


def training_spec(risky_dataset: Path, model_dir: Path, training: dict[str, Any],
                  arms: int = 1) -> dict[str, Any]:
    """`arms` arms on the authors' risk rows (each its own training set), the tiny model as the base."""
    spec: dict[str, Any] = {
        "name": "trainer test",
        "base_models": [{"name": "tiny", "path": str(model_dir)}],
        "arms": {f"arm{i}": {"data": {"import": str(risky_dataset)}} for i in range(arms)},
        "training": {"learning_rate": 1e-3, "epochs": 1, "batch_size": 2, "seeds": [0],
                     "lora": {"rank": 4, "target_modules": ["q_proj", "v_proj"]}, **training},
        "evaluation": {"engine": "hf", "suites": ["lotteries"]},
    }
    return spec


def training_rows(risky_dataset: Path, start: int, count: int) -> bytes:
    """`count` of the authors' rows from `start`, shortest first so that steps stay quick."""
    rows = [json.loads(line) for line in risky_dataset.read_text().splitlines() if line.strip()]
    chosen = sorted(rows, key=lambda r: len(json.dumps(r)))[start: start + count]
    return "".join(json.dumps(r) + "\n" for r in chosen).encode()


async def request_training(bus: EventBus, state: StateStore, store: ArtifactStore, spec_dict: dict[str, Any],
                           rows: list[bytes]) -> tuple[str, list[str]]:
    """Store the experiment and its plan, then publish one training request per adapter (arm i gets rows[i]).

    Returns the experiment id and the training jobs' keys."""
    spec, bad = complete(spec_from_dict(spec_dict), [generator_catalogue(), trainer_catalogue(),
                                                     evaluator_catalogue()])
    assert not bad, bad
    experiment_id = "trainer" + uuid.uuid4().hex[:8]
    experiment = rec.Experiment(id=experiment_id, spec=spec, created_at=now(), updated_at=now(),
                                status=rec.EXPERIMENT_STATUS_TRAINING)
    assert await state.create_experiment(experiment, plan_jobs(experiment_id, spec))
    train_sets = {f"arm{i}": await store.put_bytes(data, "application/jsonl") for i, data in enumerate(rows)}
    keys = []
    for model in planned_models(spec):
        if model.arm:
            request = ev.TrainingRequested(experiment_id=experiment_id, model=model, train=train_sets[model.arm])
            await bus.publish(request, msg_id=f"train:{experiment_id}:{model.label}")
            keys.append(train_job(model.label))
    return experiment_id, keys


def trainer_config(nats_url: str, data_dir: Path, **settings: Any) -> TrainerConfig:
    """A trainer on its own data dir (so its memo and cache are its own), short leases, no adapter reuse."""
    return TrainerConfig(**{"nats_url": nats_url, "grpc_port": 0, "data_dir": data_dir, "shutdown_grace_s": 1.0,
                            "ack_wait_s": 6.0, "reuse_adapters": False, **settings})


@dataclass
class Trainers:
    """Trainer replicas running in this process on their own nats-server, and a client's view of the stores."""

    nats_url: str
    bus: EventBus
    state: StateStore
    store: ArtifactStore


@contextlib.asynccontextmanager
async def trainers(root: Path, replicas: list[Path], **settings: Any) -> AsyncIterator[Trainers]:
    """A nats-server under `root` and one trainer per data dir in `replicas`, stopped on the way out."""
    server = NatsProcess(root / "nats")
    server.start()
    stop = asyncio.Event()
    tasks = []
    bus = None
    try:
        for data_dir in replicas:
            bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            config = trainer_config(server.url, data_dir, **settings)
            tasks.append(asyncio.create_task(run_service("trainer", config, wire_trainer, stop=stop, bound=bound)))
            await asyncio.wait_for(bound, 60)
        bus = await EventBus.connect(server.url, name="tests")
        yield Trainers(server.url, bus, await StateStore.open(bus.js),
                       await ArtifactStore.open(bus.js, root / "reader"))
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if bus is not None:
            await bus.close()
        server.stop()


async def finished(state: StateStore, experiment_id: str, keys: list[str], timeout_s: float) -> dict[str, rec.Job]:
    """The jobs once all succeeded; fails the test at once if one fails or is cancelled."""
    async def poll() -> dict[str, rec.Job]:
        while True:
            jobs = {k: await state.get_job(experiment_id, k) for k in keys}
            if all(j.status == rec.JOB_STATUS_SUCCEEDED for j in jobs.values()):
                return jobs
            ended = [j for j in jobs.values() if j.status in (rec.JOB_STATUS_FAILED, rec.JOB_STATUS_CANCELLED)]
            assert not ended, [(j.key, j.message) for j in ended]
            await asyncio.sleep(0.5)

    return await asyncio.wait_for(poll(), timeout_s)
