"""Scaling curves (issue 14, item 6): how the aggregator's cost per event and the Watch latency grow with the
experiments in flight, and how the evaluator's memory grows with the records it writes.

Aggregator: a real nats-server and the real aggregator service (its own process, gRPC with TLS); the generator
and trainer are played by this bench. For every point N of `EXPERIMENTS` (1, 10, 100, 1,000 in flight), N - 1
background experiments sit in the state bucket exactly as a submit stores them (the plan of the risk example,
written with `StateStore.create_experiment`, which is what `Experiments.create` calls; no RPC, so that 999 submits
do not dominate the run), and `ROUNDS` experiments are submitted through the `SubmitExperiment` RPC one after
another. Each is driven as the stage services would drive it: the dataset job is written SUCCEEDED and
`DatasetReady` published, then each training job is written SUCCEEDED with an adapter ref and `AdapterReady`
published (the spec's seeds are widened to `SEEDS` so one experiment makes 1 + 2 x SEEDS events). The bench waits
until the aggregator's durable consumers have acked every event, then cancels the experiment through the RPC (so
exactly N stay in flight). Measured per round: the aggregator process's CPU seconds (utime + stime from /proc)
over the events, divided by the events; per job update: the Watch latency, from the start of the bench's KV write
to the moment the `WatchExperiment` stream (the real gRPC client) hands the updated job over. The reconciler's
periodic pass is set to an hour: it is not per-event work (its cost grows with the experiments by design).

Evaluator memory: the evaluator's record path (`services.evaluator.handlers`: each engine call's records stored as
one chunk in the artifact store and appended to the eval job, then the job's summary at the end) in a fresh
process per size, on a real nats-server and file store, fed synthetic `EvalRecord`s in the evaluator's default
batch size (the engine is not what is measured; sampling 1M records with it would take hours). Peak RSS is
`ru_maxrss` of that process, minus its RSS before the first record.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nats  # noqa: E402

from selfaware.bus import EVENTS_STREAM, SUBJECTS, EventBus  # noqa: E402
from selfaware.catalogue import complete  # noqa: E402
from selfaware.cli.stack import LocalStack, local_catalogues  # noqa: E402
from selfaware.logs import configure_logging  # noqa: E402
from selfaware.plan import DATASET_JOB, plan_jobs  # noqa: E402
from selfaware.specs import load_spec_file  # noqa: E402
from selfaware.state import StateStore  # noqa: E402
from selfaware.status import now  # noqa: E402
from selfaware.v1 import events_pb2 as ev  # noqa: E402
from selfaware.v1 import records_pb2 as rec  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
EXPERIMENTS = (1, 10, 100, 1000)
ROUNDS = 3
SEEDS = 5
RECORDS = (10_000, 100_000, 1_000_000)
DURABLES = ("aggregator-dataset-ready", "aggregator-adapter-ready")
#: "Flat" for the goal: the largest point's cost per event at most this many times the smallest point's.
FLAT = 1.5


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Driver:
    """Plays the generator and the trainer against one running aggregator."""

    def __init__(self, stack: LocalStack, state: StateStore, bus: EventBus, js: Any, spec: Any) -> None:
        self.stack, self.state, self.bus, self.js, self.spec = stack, state, bus, js, spec
        self.client = stack.client()
        self.pid = stack.processes["aggregator"].pid
        self.background = 0
        #: Experiment ids of the `EvaluationRequested` events the aggregator published (its reaction to the
        #: adapters, so a round checks that the events did the aggregator's real work).
        self.requested: list[str] = []

    async def listen(self, nc: Any) -> None:
        async def heard(msg: Any) -> None:
            self.requested.append(ev.EvaluationRequested.FromString(msg.data).experiment_id)

        await nc.subscribe(SUBJECTS[ev.EvaluationRequested], cb=heard)

    async def add_background(self, count: int) -> None:
        """Store `count` more in-flight experiments as a submit stores them."""
        for _ in range(count):
            experiment_id = uuid.uuid4().hex[:12]
            experiment = rec.Experiment(id=experiment_id, spec=self.spec, created_at=now(), updated_at=now(),
                                        owner="bench-background", status=rec.EXPERIMENT_STATUS_GENERATING)
            await self.state.create_experiment(experiment, plan_jobs(experiment_id, self.spec))
        self.background += count

    async def acked(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            infos = [await self.js.consumer_info(EVENTS_STREAM, durable) for durable in DURABLES]
            if all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos):
                return
            await asyncio.sleep(0.005)
        raise TimeoutError("the aggregator did not ack the bench's events in time")

    async def round(self) -> tuple[float, int, list[float]]:
        """One submitted experiment driven through its stage events: (aggregator CPU s, events, Watch ms)."""
        experiment = await self.client.submit(self.spec, idempotency_key=uuid.uuid4().hex)
        jobs = await self.state.list_jobs(experiment.id)
        written: dict[str, int] = {}
        seen: dict[str, int] = {}

        async def watch() -> None:
            async for update in self.client.watch(experiment.id):
                if update.HasField("job") and update.job.status == rec.JOB_STATUS_SUCCEEDED:
                    seen.setdefault(update.job.key, time.perf_counter_ns())

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.2)  # the stream has sent the current values
        stages = [j for j in jobs if j.key == DATASET_JOB] + [j for j in jobs if j.stage == rec.STAGE_TRAIN]
        await self.acked()
        cpu = cpu_seconds(self.pid)
        for job in stages:
            written[job.key] = time.perf_counter_ns()
            await self.state.update_job(experiment.id, job.key, succeed)
            if job.key == DATASET_JOB:
                await self.bus.publish(ev.DatasetReady(experiment_id=experiment.id), msg_id=f"bench-ds:{experiment.id}")
            else:
                await self.bus.publish(ev.AdapterReady(experiment_id=experiment.id),
                                       msg_id=f"bench-ad:{experiment.id}:{job.key}")
            await asyncio.sleep(0.01)
        await self.acked()
        deadline = time.monotonic() + 30
        while len(seen) < len(written) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        cpu = cpu_seconds(self.pid) - cpu
        await self.client.cancel(experiment.id, "bench round done")
        await asyncio.wait_for(watcher, 30)
        if missing := sorted(set(written) - set(seen)):
            raise RuntimeError(f"the Watch stream never showed {missing} succeeded")
        if experiment.id not in self.requested:
            raise RuntimeError(f"the aggregator requested no evaluation shard of {experiment.id}")
        return cpu, len(stages), [(seen[k] - written[k]) / 1e6 for k in written]


def succeed(job: rec.Job) -> bool:
    job.status = rec.JOB_STATUS_SUCCEEDED
    job.artifact.CopyFrom(rec.ArtifactRef(sha256=uuid.uuid4().hex * 2, size=1, media_type="application/x-bench"))
    job.finished_at.CopyFrom(now())
    return True


async def aggregator_curve(experiments: tuple[int, ...] = EXPERIMENTS, rounds: int = ROUNDS) -> dict[str, Any]:
    spec, violations = complete(load_spec_file(REPO / "examples/risk.yaml"), catalogues := local_catalogues())
    if violations:
        raise RuntimeError(f"examples/risk.yaml does not validate: {violations}")
    del spec.training.seeds[:]
    spec.training.seeds.extend(range(SEEDS))
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(Path(tmp))
        try:
            await stack.start(Path(tmp) / "data", Path(tmp) / "nats", log_level="warning", services=("aggregator",),
                              extra_env={"SELFAWARE_RECONCILE_INTERVAL_S": "3600"})
            nc = await nats.connect(stack.nats_url, **stack.nats_connect_options())
            js = nc.jetstream()
            state = await StateStore.open(js)
            for published in catalogues:
                await state.put_catalogue(published)
            bus = await EventBus.connect(stack.nats_url, name="bench-scaling", options=stack.nats_connect_options())
            driver = Driver(stack, state, bus, js, spec)
            await driver.listen(nc)
            points = []
            for n in experiments:
                started = time.monotonic()
                await driver.add_background(n - 1 - driver.background)
                stored_s = time.monotonic() - started
                per_event, watch_ms = [], []
                for _ in range(rounds):
                    cpu, events, latencies = await driver.round()
                    per_event.append(cpu / events * 1000)
                    watch_ms += latencies
                points.append({"experiments": n, "events": rounds * (1 + 2 * SEEDS),
                               "cpu_ms_per_event": round(statistics.median(per_event), 3),
                               "cpu_ms_per_event_rounds": [round(v, 3) for v in per_event],
                               "watch_p50_ms": round(statistics.median(watch_ms), 3),
                               "watch_p99_ms": round(percentile(watch_ms, 99), 3),
                               "background_store_s": round(stored_s, 1)})
                print("aggregator:", json.dumps(points[-1]), flush=True)
            await bus.close()
            await nc.close()
        finally:
            stack.stop()
    first, last = points[0]["cpu_ms_per_event"], points[-1]["cpu_ms_per_event"]
    return {"points": points, "events_per_experiment": 1 + 2 * SEEDS,
            "goal": f"flat per event: CPU per event at {experiments[-1]} in flight <= {FLAT}x at {experiments[0]}",
            "ratio": round(last / first, 2) if first else None, "goal_met": bool(first) and last <= FLAT * first}


def evaluator_curve(sizes: tuple[int, ...] = RECORDS) -> dict[str, Any]:
    """Peak RSS of the evaluator's record path per size, each in a fresh process (`bench.scaling_records`)."""
    points = []
    for size in sizes:
        out = subprocess.run([sys.executable, "-m", "bench.scaling_records", str(size)], cwd=REPO, check=True,
                             capture_output=True, text=True, timeout=600).stdout
        points.append(json.loads(out.strip().splitlines()[-1]))
        print("evaluator:", json.dumps(points[-1]), flush=True)
    first, last = points[0]["peak_rss_growth_mb"], points[-1]["peak_rss_growth_mb"]
    return {"points": points, "goal": f"flat: peak RSS growth at {sizes[-1]:,} records <= {FLAT}x at {sizes[0]:,} "
            "(+ 20 MB)", "goal_met": last <= FLAT * first + 20}


def panel(ax: Any, points: list[dict[str, Any]], x: str, series: dict[str, str], xlabel: str, ylabel: str,
          title: str) -> None:
    """One log-x curve per `series` (key in the points -> legend label) on `ax`, from 0 up."""
    for (key, label), style in zip(series.items(), ("o-", "s--"), strict=False):
        ax.plot([p[x] for p in points], [p[key] for p in points], style, label=label)
    ax.set(xscale="log", xlabel=xlabel, ylabel=ylabel, ylim=(0, None), title=title)
    if len(series) > 1:
        ax.legend()


def plot(aggregator: dict[str, Any] | None, evaluator: dict[str, Any] | None, folder: Path = BENCH) -> list[str]:
    """`scaling_aggregator.png` and `scaling_evaluator_memory.png` from this run's numbers (the parts it ran)."""
    written = []
    if aggregator:
        fig, (cpu, watch) = plt.subplots(1, 2, figsize=(9, 3.5))
        panel(cpu, aggregator["points"], "experiments", {"cpu_ms_per_event": "CPU"}, "experiments in flight",
              "aggregator CPU ms / event", "aggregator CPU per event")
        panel(watch, aggregator["points"], "experiments", {"watch_p50_ms": "p50", "watch_p99_ms": "p99"},
              "experiments in flight", "ms", "Watch latency (job write to client)")
        written.append(save(fig, folder / "scaling_aggregator.png"))
    if evaluator:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        panel(ax, evaluator["points"], "records", {"peak_rss_mb": "peak RSS", "peak_rss_growth_mb": "growth over start"},
              "records written", "MB", "evaluator memory against records")
        written.append(save(fig, folder / "scaling_evaluator_memory.png"))
    return written


def save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def run(experiments: tuple[int, ...] = EXPERIMENTS, records: tuple[int, ...] = RECORDS,
        folder: Path = BENCH) -> dict[str, Any]:
    aggregator = asyncio.run(aggregator_curve(experiments)) if experiments else None
    evaluator = evaluator_curve(records) if records else None
    plots = plot(aggregator, evaluator, folder)
    met = [part["goal_met"] for part in (aggregator, evaluator) if part]
    return {"aggregator": aggregator, "evaluator_memory": evaluator, "plots": plots,
            "goal": "flat per event and flat memory", "goal_met": all(met)}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", default=",".join(map(str, EXPERIMENTS)))
    parser.add_argument("--records", default=",".join(map(str, RECORDS)))
    parser.add_argument("--out", type=Path, default=BENCH)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    ints = lambda text: tuple(int(v) for v in text.split(",") if v)  # noqa: E731
    configure_logging("bench-scaling", "warning")
    result = run(ints(args.experiments), ints(args.records), args.out)
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
