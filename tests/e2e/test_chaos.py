"""The chaos test: one small real experiment (2 arms x 2 seeds) run twice at the same time on two supervised local
stacks, one undisturbed and one while each part of the platform is killed with SIGKILL and restarted.

In the chaos run, in this order, at a seeded random point in each one's busiest stage:
- the generator, while the dataset job is being made;
- one of two trainer replicas, mid-job (after its first step); the other replica or the restarted one takes
  the job over once its lease lapses;
- nats-server (the supervisor restarts it on its port with its file store);
- the aggregator, while training;
- the evaluator, mid-evaluation (after its first record chunk).
The final records, adapters and scores must equal the undisturbed run's; no record is lost or duplicated, and
no job runs twice to completion (each adapter is trained to the end once, each shard evaluated to the end once).
A poison message then lands in the dead-letter stream, and `selfaware dlq list` / `dlq replay` see and resend it.
The figures (kills, restarts, take-over seconds, records compared) are printed and written to the run folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest

from selfaware.cli.stack import LocalStack, RestartPolicy
from selfaware.client import Client
from selfaware.specs import spec_from_dict
from selfaware.status import TERMINAL
from selfaware.store import ArtifactStore
from selfaware.v1 import records_pb2 as rec
from tests.service.conftest import tiny_spec_dict

pytestmark = pytest.mark.slow

SEED = 20261202
SELFAWARE = [sys.executable, "-m", "selfaware.cli.main"]
#: Short leases and sweeps so that take-overs happen in seconds, as a deployment would configure a small cluster.
FAST = {"SELFAWARE_ACK_WAIT_S": "6", "SELFAWARE_RECONCILE_INTERVAL_S": "3", "SELFAWARE_RECONCILE_GRACE_S": "5",
        "SELFAWARE_SHUTDOWN_GRACE_S": "2"}


@dataclass
class Outcome:
    experiment: rec.Experiment
    jobs: dict[str, rec.Job]
    #: (model label, unit) -> what was measured, for every stored record.
    records: dict[tuple[str, str], tuple[Any, ...]]
    duplicates: int
    scores: dict[str, Any]
    logs: dict[str, str]
    kills: list[dict[str, Any]] = field(default_factory=list)


def chaos_spec(risky_dataset: Path, questions_dir: Path, model_dir: Path) -> dict[str, Any]:
    spec = tiny_spec_dict(risky_dataset, questions_dir)
    spec["name"] = "chaos"
    spec["base_models"] = [{"name": "tiny", "path": str(model_dir)}]
    # As small as still gives every kill its moment: 4 training rows, 2 steps of 2 (the trainer is killed after
    # its first); 4 held-out items in both orders, 4 lottery pairs and one sample per paraphrase (three suites, so
    # at least three record chunks: the evaluator is killed after its first). On 2 busy cores a step of 4 rows
    # cost about 5 s and a probe query about 1 s, and both stacks run all of it.
    spec["arms"]["risk-seeking"]["data"]["steps"] = [{"sample": 4}]
    spec["holdout"]["rows"] = 4
    spec["training"]["seeds"] = [0, 1]
    spec["training"]["batch_size"] = 2
    spec["evaluation"]["suites"] = spec["evaluation"]["suites"][:3]  # logprob probes and one sampled suite
    spec["evaluation"]["suites"][1]["lotteries"]["pairs"] = 4
    spec["evaluation"]["suites"][2]["risk_or_safety"]["samples_per_paraphrase"] = 1
    spec["evaluation"]["engine"] = "hf"  # restarts in seconds; vLLM's start-up would dominate every kill
    return spec


async def poll(client: Client, experiment_id: str) -> tuple[rec.Experiment, dict[str, rec.Job]] | None:
    """The experiment and its jobs, or None while the aggregator or NATS is down."""
    try:
        reply = await asyncio.wait_for(client.get(experiment_id), timeout=5)
    except (grpc.aio.AioRpcError, TimeoutError):
        return None
    return reply.experiment, {job.key: job for job in reply.jobs}


async def until(client: Client, experiment_id: str,
                condition: Callable[[rec.Experiment, dict[str, rec.Job]], Any], timeout_s: float = 600) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = await poll(client, experiment_id)
        if state is not None:
            if (found := condition(*state)) or state[0].status in TERMINAL:
                return found
        await asyncio.sleep(0.5)
    raise AssertionError("condition not met in time")


def kill(stack: LocalStack, name: str) -> int:
    process = stack.processes[name]
    os.kill(process.pid, signal.SIGKILL)
    return process.pid


async def monkey(stack: LocalStack, client: Client, experiment_id: str, rng: random.Random) -> list[dict[str, Any]]:
    kills: list[dict[str, Any]] = []

    async def strike(name: str, why: str) -> None:
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        kills.append({"service": name, "pid": kill(stack, name), "when": why, "at": time.time()})

    await strike("generator", "dataset stage")
    train = await until(client, experiment_id, lambda e, jobs: next(
        (j for j in jobs.values() if j.stage == rec.STAGE_TRAIN and j.status == rec.JOB_STATUS_RUNNING
         and j.done >= 1), None))
    assert train is not None, "training ended before the trainer could be killed"
    owner_pid = int(train.owner.split("/")[1])
    replica = next(name for name, p in stack.processes.items() if p.pid == owner_pid)
    killed_at = time.time()
    kills.append({"service": replica, "pid": kill(stack, replica), "when": f"{train.key} at step {train.done}",
                  "at": killed_at, "job": train.key, "attempt": train.attempt})
    retaken = await until(client, experiment_id, lambda e, jobs: jobs[train.key].attempt > train.attempt
                          and jobs[train.key] or None)
    kills[-1]["takeover_s"] = round(retaken.started_at.ToNanoseconds() / 1e9 - killed_at, 1)
    await strike("nats", "training")
    nats_pid, deadline = kills[-1]["pid"], time.monotonic() + 60
    while stack.processes["nats"].pid == nats_pid:  # poll for the supervisor's restart instead of sleeping
        assert time.monotonic() < deadline, "the supervisor did not restart nats-server"
        await asyncio.sleep(0.1)
    await until(client, experiment_id, lambda e, jobs: e.status >= rec.EXPERIMENT_STATUS_TRAINING)
    await strike("aggregator", "training")
    chunked = await until(client, experiment_id, lambda e, jobs: any(
        j.stage == rec.STAGE_EVALUATE and j.chunks and j.status == rec.JOB_STATUS_RUNNING for j in jobs.values()))
    assert chunked, "evaluation ended before the evaluator could be killed"
    await strike("evaluator", "evaluation, after its first chunk")
    return kills


async def run_once(root: Path, spec: dict[str, Any], chaos: bool) -> Outcome:
    stack = LocalStack(root / "run")
    await stack.start(root / "data", root / "nats", extra_env=FAST, replicas={"trainer": 2} if chaos else None)
    supervising = asyncio.create_task(stack.supervise(RestartPolicy(initial_backoff_s=0.2)))
    try:
        async with stack.client() as client:
            experiment = await client.submit(spec_from_dict(spec), idempotency_key=f"chaos-{chaos}")
            kills = await monkey(stack, client, experiment.id, random.Random(SEED)) if chaos else []
            await until(client, experiment.id, lambda e, jobs: e.status in TERMINAL, timeout_s=900)
            final = await client.get(experiment.id)
            report = json.loads((await client.report(experiment.id)).json)
        records, duplicates = await read_records(stack, root / "reader", list(final.jobs))
        if chaos:
            await poison_and_replay(stack)
    finally:
        supervising.cancel()
        await asyncio.gather(supervising, return_exceptions=True)
        await asyncio.to_thread(stack.stop, grace_s=10)  # the other run's stack goes on meanwhile
    logs = {p.stem: p.read_text(errors="replace") for p in (root / "run" / "logs").glob("*.log")}
    return Outcome(final.experiment, {j.key: j for j in final.jobs}, records, duplicates, scores_of(report), logs,
                   kills)


async def read_records(stack: LocalStack, cache: Path, jobs: list[rec.Job]
                       ) -> tuple[dict[tuple[str, str], tuple[Any, ...]], int]:
    nc = await nats.connect(stack.nats_url, **stack.nats_connect_options())
    store = await ArtifactStore.open(nc.jetstream(), cache)
    records: dict[tuple[str, str], tuple[Any, ...]] = {}
    duplicates = 0
    for job in jobs:
        for ref in job.chunks:
            for record in rec.RecordChunk.FromString(await store.get_bytes(ref)).records:
                key = (job.model, record.unit)
                duplicates += key in records
                records[key] = (record.answer, round(record.score, 6) if record.HasField("score") else None,
                                record.dropped_reason, tuple(sorted((k, round(v, 5)) for k, v in record.probs.items())))
    await nc.close()
    return records, duplicates


def scores_of(report: dict[str, Any]) -> dict[str, Any]:
    return {instance["id"]: {g["label"]: g["mean"] for g in instance["groups"]} for instance in report["instances"]}


async def poison_and_replay(stack: LocalStack) -> None:
    """A message no handler can decode lands in the DLQ; `dlq list` shows it and `dlq replay` resends it."""
    nc = await nats.connect(stack.nats_url, **stack.nats_connect_options())
    await nc.jetstream().publish("selfaware.events.adapter.ready", b"\xff not a protobuf",
                                 headers={"Nats-Msg-Id": "chaos-poison"})
    await nc.close()
    deadline = time.monotonic() + 60
    files = stack.client_env  # the stack's admin token and CA
    remote = ["--endpoint", stack.endpoint, "--token-file", files["SELFAWARE_TOKEN_FILE"],
              "--ca-file", files["SELFAWARE_CA_FILE"]]
    while True:
        listed = await asyncio.to_thread(cli, "dlq", "list", *remote)
        if "adapter.ready" in listed.stdout:
            break
        assert time.monotonic() < deadline, f"the poison message never reached the DLQ: {listed.stdout}{listed.stderr}"
        await asyncio.sleep(0.5)
    replayed = await asyncio.to_thread(cli, "dlq", "replay", "--all", *remote)
    assert replayed.returncode == 0, replayed.stderr


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SELFAWARE, *args], capture_output=True, text=True, timeout=60)


def finished_lines(logs: dict[str, str], event: str) -> list[dict[str, Any]]:
    """The services' JSON log lines of one event: what ran to the end."""
    return [json.loads(line) for text in logs.values() for line in text.splitlines()
            if line.startswith("{") and f'"event": "{event}"' in line]


async def test_every_part_killed_once_changes_nothing(tmp_path: Path, risky_dataset: Path, questions_dir: Path,
                                                      tiny_model_dir: Path) -> None:
    spec = chaos_spec(risky_dataset, questions_dir, tiny_model_dir)
    # The two runs share nothing (own NATS, stack, data dir and memo), so they run side by side: the undisturbed
    # run uses the CPU while the chaos run waits on leases and restarts.
    calm, wild = await asyncio.gather(run_once(tmp_path / "calm", spec, chaos=False),
                                      run_once(tmp_path / "chaos", spec, chaos=True))

    for outcome in (calm, wild):
        assert outcome.experiment.status == rec.EXPERIMENT_STATUS_SUCCEEDED, outcome.experiment.error
        assert outcome.experiment.HasField("report")
    assert [k["service"] for k in wild.kills][0] == "generator" and len(wild.kills) == 5
    restarts = len(finished_lines({"supervisor": wild.logs.get("supervisor", "")}, "child_exited"))
    assert restarts >= 5, wild.logs.get("supervisor", "")[-2000:]

    # the same adapters, records and scores as the undisturbed run
    for key, job in calm.jobs.items():
        if job.stage == rec.STAGE_TRAIN:
            assert wild.jobs[key].artifact.sha256 == job.artifact.sha256, key
    assert calm.duplicates == 0 and wild.duplicates == 0
    assert len(calm.records) > 0 and wild.records.keys() == calm.records.keys()
    differing = [k for k in calm.records if calm.records[k] != wild.records[k]]
    assert not differing, f"{len(differing)} records differ, e.g. {differing[:3]}"
    assert wild.scores == calm.scores

    # no job ran twice to completion; the killed training was taken over by a new attempt
    trained = [line["model"] for line in finished_lines(wild.logs, "adapter_trained")]
    assert sorted(trained) == sorted(k.removeprefix("train.").replace(".s", "/s") for k in wild.jobs
                                     if k.startswith("train.")), trained
    evaluated = [m for line in finished_lines(wild.logs, "evaluation_finished")
                 for m in line["records_computed_per_model"]]
    assert sorted(evaluated) == sorted(j.model for j in wild.jobs.values() if j.stage == rec.STAGE_EVALUATE)
    trainer_kill = wild.kills[1]
    assert wild.jobs[trainer_kill["job"]].attempt == trainer_kill["attempt"] + 1
    # bounded by the lease (6 s here) plus the restart of a trainer (torch import) on 2 busy cores
    assert trainer_kill["takeover_s"] < 90

    figures = {"kills": wild.kills, "restarts": restarts, "records_compared": len(calm.records),
               "duplicates": wild.duplicates, "attempts": {k: j.attempt for k, j in wild.jobs.items()},
               "takeover_s": trainer_kill["takeover_s"]}
    (tmp_path / "chaos-figures.json").write_text(json.dumps(figures, indent=2))
    print("chaos figures:", json.dumps(figures))
