"""The local multi-replica simulation (issue 12): one nats-server, 1 aggregator, 1 generator, 3 trainer and 2
evaluator processes (real child processes of `LocalStack`, restarted by its supervisor like pods), on a sweep of 4
small risk experiments (SubmitSweep): training epochs 1 or 2 x 6 or 8 training rows sampled from the authors' risky file,
2 arms x 2 seeds each (16 training jobs), evaluated with the `hf` engine on a held-out probe and 2 lotteries.

The base model is a random-weight Llama (`random_model_dir`: ~300k parameters besides SmolLM2's embeddings,
SmolLM2's tokenizer). This is plumbing, not a measurement: the scores are noise, and nothing here reads them. What
it shows, with the job records, the JetStream stream and the services' logs:
- the number of jobs in flight grows with the replicas: with 1 trainer, at most 1 training job runs at a time
  while others wait; after 2 more trainers start (as KEDA would scale the Deployment on queue lag), 3 run at once;
- each job runs exactly once: every job SUCCEEDED, each adapter was trained to the end once and each model
  evaluated once (the logs), and each `adapter.ready` / `evaluation.requested` was published once (the stream);
- the jobs spread over the replicas: the training jobs' owners are at least 2 trainers, the evaluation jobs'
  both evaluators;
- killing a replica mid-job loses nothing: a trainer is SIGKILLed while it owns a running training job and is not
  restarted (a lost node); another replica takes the job over (attempt 2) once its lease lapses, and every
  experiment succeeds, its report listing each model once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest

from selfaware.bus import EVENTS_STREAM, SUBJECTS
from selfaware.cli.stack import LocalStack, RestartPolicy
from selfaware.client import Client
from selfaware.status import TERMINAL
from selfaware.sweeps import expand
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from tests.e2e.test_chaos import finished_lines
from tests.service.conftest import tiny_spec_dict

pytestmark = pytest.mark.slow

#: Short leases, so that the killed trainer's job is taken over in seconds (a lease lasts `ack_wait_s`); one torch
#: thread per process, as 5 model processes share 2 cores; evaluation shards of at most 2 adapters (the
#: evaluators' `vllm_max_loras`, which the aggregator plans shards with), so each experiment is 2 shards.
ENV = {"SELFAWARE_ACK_WAIT_S": "6", "SELFAWARE_RECONCILE_INTERVAL_S": "3", "SELFAWARE_RECONCILE_GRACE_S": "5",
       "SELFAWARE_SHUTDOWN_GRACE_S": "2", "SELFAWARE_SWEEP_INTERVAL_S": "1", "SELFAWARE_TORCH_THREADS": "1", "SELFAWARE_VLLM_MAX_LORAS": "2"}
#: The sweep's grid, in the sweep file's form (dotted spec paths; a mapping names its values). Every cell's
#: trainings differ (rows or epochs), so none is reused from another experiment's memo.
GRID: dict[str, Any] = {"training.epochs": [1, 2],
                        "arms.risk-seeking.data.steps": {"6-rows": [{"sample": 6}], "8-rows": [{"sample": 8}]}}
TRAINERS, EVALUATORS = 3, 2


def experiment(risky_dataset: Path, questions_dir: Path, model_dir: Path) -> dict[str, Any]:
    """The sweep's experiment: risk-seeking vs risk-averse on a few of the authors' rows, 2 seeds, a tiny
    evaluation (4 held-out items in both letter orders, 2 lottery pairs) with the `hf` engine."""
    spec = tiny_spec_dict(risky_dataset, questions_dir)
    spec["name"] = "multi-replica"
    spec["base_models"] = [{"name": "random-llama", "path": str(model_dir)}]
    spec["holdout"]["rows"] = 4
    spec["training"].update(batch_size=2, seeds=[0, 1])
    spec["evaluation"]["engine"] = "hf"
    spec["evaluation"]["suites"] = [spec["evaluation"]["suites"][0], {"lotteries": {"pairs": 2}}]
    return spec


async def submit_sweep(client: Client, spec: dict[str, Any], grid: dict[str, Any]) -> tuple[str, list[str]]:
    """Submit the grid as one sweep (expanded as `selfaware sweep` expands a file; every cell admitted at once, as
    4 is the aggregator's default `sweep_slots`); returns the sweep id and its cells' experiment ids."""
    sweep = expand({"name": "multi-replica", "grid": grid, "max_running": 4}, spec, Path.cwd())
    submitted = await client.submit_sweep(sweep, idempotency_key="sweep:multi-replica")
    return submitted.id, [cell.experiment_id for cell in submitted.cells]


async def until_sweep_ends(client: Client, sweep_id: str, timeout_s: float = 60) -> Any:
    """The sweep once its report is attached (the aggregator's next tick after the last cell ended)."""
    deadline = time.monotonic() + timeout_s
    while (reply := await client.get_sweep(sweep_id)).sweep.status not in TERMINAL:
        assert time.monotonic() < deadline, reply.sweep
        await asyncio.sleep(0.5)
    return reply


@dataclass
class Sample:
    """One look at the training jobs of every experiment."""

    at: float
    phase: str  # ONE (1 trainer), SCALING (2 more starting), THREE (3 serving), or KILLED (one was killed)
    running: dict[str, str]  # experiment/job key -> owner, for training jobs RUNNING under a live lease
    waiting: int  # training jobs planned but not started (QUEUED)
    ack_pending: int  # the trainer work queue's unacked messages: jobs handed to a replica


@dataclass
class Watcher:
    """Samples the jobs through the aggregator's GetExperiment and the consumer through JetStream."""

    client: Client
    js: Any
    experiment_ids: list[str]
    phase: str = "ONE"
    samples: list[Sample] = field(default_factory=list)
    jobs: dict[str, rec.Job] = field(default_factory=dict)  # the latest record of every job, by experiment/key
    statuses: dict[str, int] = field(default_factory=dict)

    async def look(self) -> None:
        jobs, statuses = {}, {}
        for experiment_id in self.experiment_ids:
            reply = await asyncio.wait_for(self.client.get(experiment_id), timeout=10)
            statuses[experiment_id] = reply.experiment.status
            jobs |= {f"{experiment_id}/{job.key}": job for job in reply.jobs}
        info = await self.js.consumer_info(EVENTS_STREAM, "trainer-training-requested")
        now_ns = time.time_ns()
        train = {k: j for k, j in jobs.items() if j.stage == rec.STAGE_TRAIN}
        running = {k: j.owner for k, j in train.items() if j.status == rec.JOB_STATUS_RUNNING
                   and j.lease_expires_at.ToNanoseconds() > now_ns}
        waiting = sum(j.status == rec.JOB_STATUS_QUEUED for j in train.values())
        self.jobs, self.statuses = jobs, statuses
        self.samples.append(Sample(time.monotonic(), self.phase, running, waiting, info.num_ack_pending))

    async def run(self, every_s: float = 0.5) -> None:
        while True:
            await self.look()
            await asyncio.sleep(every_s)

    async def until(self, what: str, condition: Any, timeout_s: float) -> Any:
        """Wait (while `run` samples) until `condition(self)` is truthy; fails naming `what` after the timeout."""
        deadline = time.monotonic() + timeout_s
        while not (found := condition(self)):
            assert time.monotonic() < deadline, f"{what}: not within {timeout_s:.0f} s; last {self.samples[-1:]}"
            assert not self.statuses or not all(s in TERMINAL for s in self.statuses.values()), \
                f"{what}: every experiment ended first"
            await asyncio.sleep(0.1)
        return found


async def kill_mid_job(stack: LocalStack, watcher: Watcher) -> tuple[str, int, float, tuple[str, rec.Job]]:
    """SIGKILL a trainer while it owns a running training job, without restart; returns the replica, its pid, the
    time, and (key, record) of the job it held. The replica is frozen (SIGSTOP) while its job is read, so the job
    cannot end between the look and the kill."""
    trainers = {stack.processes[name].pid: name for name in stack.replicas("trainer")}
    while True:
        key = await watcher.until("a running training job to kill", lambda w: next(
            (k for k, j in w.jobs.items() if j.stage == rec.STAGE_TRAIN and j.status == rec.JOB_STATUS_RUNNING
             and pid_of(j.owner) in trainers), None), 60)
        pid = pid_of(watcher.jobs[key].owner)
        os.kill(pid, signal.SIGSTOP)
        await watcher.look()
        held = [(k, j) for k, j in watcher.jobs.items() if j.stage == rec.STAGE_TRAIN
                and j.status == rec.JOB_STATUS_RUNNING and pid_of(j.owner) == pid
                and j.lease_expires_at.ToNanoseconds() > time.time_ns()]
        if held:
            assert len(held) == 1, f"a trainer runs one job at a time, {trainers[pid]} held {held}"
            stack.kill(trainers[pid], restart=False)
            return trainers[pid], pid, time.time(), held[0]
        os.kill(pid, signal.SIGCONT)  # it finished that job just before: try again


def busy(sample: Sample) -> int:
    """Trainer processes holding a running job's live lease in `sample`."""
    return len({pid_of(owner) for owner in sample.running.values()})


def pid_of(owner: str) -> int:
    """A lease owner is `host/pid/random` (`selfaware.jobs.new_owner`)."""
    return int(owner.split("/")[1])


async def stream_counts(js: Any) -> dict[str, int]:
    """Messages per subject in the events stream (deduplicated by Nats-Msg-Id, as JetStream stores them)."""
    info = await js.stream_info(EVENTS_STREAM, subjects_filter="selfaware.events.>")
    return dict(info.state.subjects or {})


async def test_replicas_share_the_work_once_scale_and_survive_a_kill(tmp_path: Path, risky_dataset: Path,
                                                                     questions_dir: Path,
                                                                     random_model_dir: Path) -> None:
    started = time.monotonic()
    spec = experiment(risky_dataset, questions_dir, random_model_dir)
    stack = LocalStack(tmp_path / "run")
    await stack.start(tmp_path / "data", tmp_path / "nats", extra_env=ENV, replicas={"evaluator": EVALUATORS})
    supervising = asyncio.create_task(stack.supervise(RestartPolicy(initial_backoff_s=0.2)))
    nc = await nats.connect(stack.nats_url, **stack.nats_connect_options())
    sampling: asyncio.Task[None] | None = None
    try:
        async with stack.client() as client:
            sweep_id, experiment_ids = await submit_sweep(client, spec, GRID)
            watcher = Watcher(client, nc.jetstream(), experiment_ids)
            sampling = asyncio.create_task(watcher.run())

            # 1 trainer: jobs wait in the queue while it works through them one at a time
            def done_training(w: Watcher) -> int:
                return sum(j.stage == rec.STAGE_TRAIN and j.status == rec.JOB_STATUS_SUCCEEDED for j in w.jobs.values())
            await watcher.until("the single trainer finishing 2 jobs", lambda w: done_training(w) >= 2, 120)

            # scale to 3 trainers, as KEDA would on the queue's lag: 3 jobs run at once
            watcher.phase = "SCALING"
            added = await stack.scale_up("trainer", TRAINERS)
            watcher.phase = "THREE"
            busiest = await watcher.until("3 trainers running 3 jobs at once", lambda w: next(
                (s for s in w.samples if len({pid_of(o) for o in s.running.values()}) == TRAINERS), None), 90)

            # kill a trainer mid-job and do not restart it: its job must be taken over by another replica
            victim, killed_pid, killed_at, (lost_key, lost_job) = await kill_mid_job(stack, watcher)
            watcher.phase = "KILLED"

            await watcher.until("every experiment ending", lambda w: w.statuses and all(
                s in TERMINAL for s in w.statuses.values()), 240)
            sampling.cancel()
            await watcher.look()
            reports = {i: json.loads((await client.report(i)).json) for i in watcher.experiment_ids}
            sweep = await until_sweep_ends(client, sweep_id)
        counts = await stream_counts(nc.jetstream())
    finally:
        if sampling is not None:
            sampling.cancel()
        await nc.close()
        supervising.cancel()
        await asyncio.gather(supervising, return_exceptions=True)
        await asyncio.to_thread(stack.stop, grace_s=10)
    logs = {p.stem: p.read_text(errors="replace") for p in (tmp_path / "run" / "logs").glob("*.log")}
    jobs = watcher.jobs
    pids = {line["pid"]: line["child"] for line in map(json.loads, logs["supervisor"].splitlines())
            if line["event"] == "child_started"}  # every process each child ran as

    # every experiment succeeded, every job exactly once
    assert all(s == rec.EXPERIMENT_STATUS_SUCCEEDED for s in watcher.statuses.values()), watcher.statuses
    assert all(j.status == rec.JOB_STATUS_SUCCEEDED for j in jobs.values()), \
        {k: (j.status, j.message) for k, j in jobs.items() if j.status != rec.JOB_STATUS_SUCCEEDED}
    train = {k: j for k, j in jobs.items() if j.stage == rec.STAGE_TRAIN}
    evaluate = {k: j for k, j in jobs.items() if j.stage == rec.STAGE_EVALUATE}
    assert len(train) == 16 and len(evaluate) == 20  # 4 x (2 arms x 2 seeds), plus the base model each
    trained = Counter(line["model"] for line in finished_lines(logs, "adapter_trained"))
    assert trained == Counter(j.model for j in train.values()), trained  # each adapter trained to the end once
    assert not finished_lines(logs, "adapter_reused")
    evaluated = Counter(m for line in finished_lines(logs, "evaluation_finished")
                        for m in line["records_computed_per_model"])
    assert evaluated == Counter(j.model for j in evaluate.values()), evaluated
    assert counts.get(SUBJECTS[ev.AdapterReady]) == len(train), counts
    assert counts.get(SUBJECTS[ev.EvaluationRequested]) == 8, counts  # 2 shards per experiment
    assert counts.get(SUBJECTS[ev.EvaluationCompleted]) == len(evaluate), counts
    for experiment_id, report in reports.items():
        labels = [m["label"] for m in report["models"]]
        assert sorted(labels) == sorted(j.model for k, j in evaluate.items() if k.startswith(experiment_id + "/"))

    # the sweep saw its 4 cells succeed and put them side by side
    assert sweep.sweep.status == rec.EXPERIMENT_STATUS_SUCCEEDED, sweep.sweep
    assert [c.status for c in sweep.sweep.cells] == [rec.EXPERIMENT_STATUS_SUCCEEDED] * 4
    assert all(c.key in sweep.markdown for c in sweep.sweep.cells)

    # the killed trainer's job was taken over by another replica, after its lease lapsed
    final = jobs[lost_key]
    assert final.attempt == lost_job.attempt + 1, (lost_job, final)
    assert pid_of(final.owner) != killed_pid and pids[pid_of(final.owner)].startswith("trainer")
    # not before the dead owner's lease lapsed; then as soon as a replica was free (the 2 new ones start cold)
    assert final.started_at.ToNanoseconds() >= lost_job.lease_expires_at.ToNanoseconds(), (lost_job, final)
    takeover_s = final.started_at.ToNanoseconds() / 1e9 - killed_at
    assert lost_key.split("/", 1)[1] in {line["job"] for line in finished_lines(logs, "job_taken_over")}

    # the work spread over the replicas
    train_owners = Counter(pids[pid_of(j.owner)] for j in train.values())
    eval_owners = Counter(pids[pid_of(j.owner)] for j in evaluate.values())
    assert len(train_owners) >= 2 and set(train_owners) <= set(stack.replicas("trainer")), train_owners
    assert set(eval_owners) == set(stack.replicas("evaluator")), eval_owners

    # jobs in flight grew with the replicas: 1 at a time (others waiting) with one trainer, 3 at once with three
    # (replicas busy at once: a sample reads the experiments one after another, so a trainer that finishes a job
    # of one and starts a job of the next in between is seen on both; JetStream's ack_pending is one reading)
    alone = [s for s in watcher.samples if s.phase == "ONE"]
    assert max(busy(s) for s in alone) == 1 and max(s.ack_pending for s in alone) == 1, alone
    assert any(s.waiting >= 2 and busy(s) == 1 for s in alone), "the single trainer was never the limit"
    scaled = [s for s in watcher.samples if s.phase in ("SCALING", "THREE")]  # before the kill
    assert max(busy(s) for s in scaled) == TRAINERS and max(s.ack_pending for s in scaled) == TRAINERS

    figures = {"wall_s": round(time.monotonic() - started, 1), "added": added, "killed": victim,
               "three_at_once": sorted(busiest.running), "lost_job": lost_key, "takeover_s": round(takeover_s, 1), "train_owners": dict(train_owners),
               "eval_owners": dict(eval_owners), "samples": len(watcher.samples),
               "max_busy": {"1 trainer": max(busy(s) for s in alone), "3 trainers": max(busy(s) for s in scaled)}}
    print("multi-replica figures:", json.dumps(figures))
