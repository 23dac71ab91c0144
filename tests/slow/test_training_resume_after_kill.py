"""A trainer killed with SIGKILL mid-epoch: a restarted replica (another data dir, so nothing local survives)
takes the redelivered job over and resumes from the last resume state in the artifact store. The adapter must
equal an uninterrupted run's with the same seed, and the steps redone must be at most one state interval.

The same first trainer also trains the uninterrupted run before the killed one: two consecutive jobs on one base,
which it must load once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from selfaware.bus import EventBus
from selfaware.state import StateStore
from selfaware.store import ArtifactStore
from selfaware.v1 import records_pb2 as rec
from tests.conftest import REPO, NatsProcess
from tests.service.trainer_jobs import request_training, training_rows, training_spec

pytestmark = pytest.mark.slow

INTERVAL = 2  # optimiser steps between resume states
#: Batches of one row: the same 8 steps (4 an epoch, so the kill lands mid-epoch) on half the rows of batches of 2.
SETTINGS = {"epochs": 2, "batch_size": 1, "seeds": [7], "lora": {"rank": 4, "dropout": 0.1,
                                                                  "target_modules": ["q_proj", "v_proj"]}}


def start_trainer(nats_url: str, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    args = ["--nats-url", nats_url, "--data-dir", str(data_dir), "--grpc-port", "0", "--ack-wait-s", "6",
            "--reuse-adapters", "false", "--resume-state-every-steps", str(INTERVAL), "--resume-state-every-s", "0",
            "--torch-threads", "2", "--log-level", "debug", "--log-format", "json", "--shutdown-grace-s", "1"]
    return subprocess.Popen([sys.executable, "-m", "services.trainer", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"), env={**os.environ})


def lines(log: Path, event: str) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()
            if line.startswith("{") and f'"event": "{event}"' in line]


async def job_of(state: StateStore, experiment_id: str, key: str, until, timeout_s: float) -> rec.Job:  # type: ignore[no-untyped-def]
    async def poll() -> rec.Job:
        while True:
            job = await state.get_job(experiment_id, key)
            assert job.status not in (rec.JOB_STATUS_FAILED, rec.JOB_STATUS_CANCELLED), job.message
            if until(job):
                return job
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout_s)


async def adapter(store: ArtifactStore, job: rec.Job) -> dict[str, torch.Tensor]:
    return load_file(str(await store.get_dir(job.artifact) / "adapter_model.safetensors"))


async def test_a_trainer_killed_mid_epoch_resumes_to_the_same_adapter(tmp_path: Path, risky_dataset: Path,
                                                                      tiny_model_dir: Path) -> None:
    server = NatsProcess(tmp_path / "nats")
    server.start()
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_trainer(server.url, tmp_path / "first", first_log)
    second = None
    bus = await EventBus.connect(server.url, name="tests")
    try:
        state, store = await StateStore.open(bus.js), await ArtifactStore.open(bus.js, tmp_path / "reader")
        spec = training_spec(risky_dataset, tiny_model_dir, SETTINGS)
        rows = [training_rows(risky_dataset, 0, 4)]  # 4 steps an epoch, 8 in all
        calm_id, [key] = await request_training(bus, state, store, spec, rows)
        calm = await job_of(state, calm_id, key, lambda j: j.status == rec.JOB_STATUS_SUCCEEDED, 300)

        killed_id, _ = await request_training(bus, state, store, spec, rows)
        await job_of(state, killed_id, key, lambda j: j.done >= 3 and j.resume_state.sha256, 300)
        first.send_signal(signal.SIGKILL)  # mid-epoch 1 of 2, after the state of step 2
        first.wait(timeout=30)
        state_step = int((await state.get_job(killed_id, key)).metrics["resume_state_step"])
        steps_before_kill = [e["step"] for e in lines(first_log, "training_step")][calm.done:]
        assert state_step % INTERVAL == 0 and 0 < state_step < calm.total and steps_before_kill[-1] >= 3

        second = start_trainer(server.url, tmp_path / "second", second_log)  # another replica: nothing local
        resumed = await job_of(state, killed_id, key, lambda j: j.status == rec.JOB_STATUS_SUCCEEDED, 300)
        want, got = await adapter(store, calm), await adapter(store, resumed)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        await bus.close()
        server.stop()

    assert resumed.attempt == 2 and resumed.metrics["resumed_from_step"] == state_step
    [resume_line] = lines(second_log, "training_resumed")
    assert resume_line["step"] == state_step
    redone = steps_before_kill[-1] - state_step
    assert 0 < redone <= INTERVAL, f"{redone} steps redone with a state every {INTERVAL}"
    steps_after = [e["step"] for e in lines(second_log, "training_step")]
    assert steps_after == list(range(state_step + 1, calm.total + 1))
    assert want.keys() == got.keys()
    worst = max(float((want[k] - got[k]).abs().max()) for k in want)
    assert worst <= 1e-6, f"resumed adapter differs from the uninterrupted one by up to {worst}"
    assert resumed.metrics["final_loss"] == pytest.approx(calm.metrics["final_loss"], abs=1e-6)
    print(f"resume after kill: {redone} steps redone, max weight difference {worst:g}, "
          f"same artifact sha256: {resumed.artifact.sha256 == calm.artifact.sha256}")
    assert len(lines(first_log, "base_model_loaded")) == 1, "two consecutive jobs on one base: one load"
