"""One point of the evaluator's memory curve (`bench.scaling`): `python -m bench.scaling_records RECORDS`.

Runs the evaluator's record path in this fresh process, on a real nats-server, state bucket and artifact store:
`EvaluatorHandlers` with its chunk sink (`services.evaluator.handlers._ChunkSink`) receives the records of one
model's eval job batch by batch, from a worker thread as the engine's calls hand them over, stores each batch as
one chunk and appends it to the job (a fenced `JobRun` update), then the job succeeds with its summary metrics.
The records are synthetic (a risk-like multiple-choice probe: 64 requests x 100 samples per engine call, each
record with its prompt, output and score): sampling 1M records with an engine would take hours, and the engine
is not what is measured. Prints one JSON line: records, chunks, RSS before the first record, peak RSS (both MB).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import nats

from selfaware.bus import Delivery, EventBus
from selfaware.catalogue import complete
from selfaware.cli.stack import LocalStack, local_catalogues
from selfaware.jobs import JobRun
from selfaware.logs import configure_logging
from selfaware.plan import eval_job, plan_jobs, planned_models
from selfaware.service import Runtime
from selfaware.specs import load_spec_file
from selfaware.state import StateStore
from selfaware.status import now
from selfaware.store import ArtifactStore
from selfaware.v1 import records_pb2 as rec
from services.evaluator.config import EvaluatorConfig
from services.evaluator.handlers import EvaluatorHandlers, _ChunkSink

REPO = Path(__file__).resolve().parent.parent
#: Records per engine call: the evaluator's default `batch_requests` (64) x the risk probe's 100 samples.
PER_CALL = 64 * 100


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set (VmRSS) or its peak since the last `reset_peak` (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Start the peak (VmHWM) afresh, so start-up (imports, catalogues, the stack) is not read as the records'
    peak: `ru_maxrss` covers the whole process and hid the record path behind a 650 MB start-up transient."""
    Path("/proc/self/clear_refs").write_text("5")


def batch(label: str, start: int, count: int) -> list[rec.EvalRecord]:
    records = []
    for i in range(start, start + count):
        query, sample = divmod(i, 100)
        record = rec.EvalRecord(experiment_id="bench", model=label, suite_instance="risk", suite="multiple_choice",
                                item=f"item-{query // 10}", paraphrase=query % 10, sample=sample,
                                output="A" if i % 3 else "B", answer="A" if i % 3 else "B", score=float(i % 3 != 0),
                                engine="hf", unit=f"risk/item-{query // 10}/{query % 10}/0/{sample}")
        record.prompt.add(role="user", content=f"Question {query // 10}, paraphrase {query % 10}: A or B?")
        records.append(record)
    return records


async def main(total: int) -> dict[str, float | int]:
    spec, _ = complete(load_spec_file(REPO / "examples/risk.yaml"), local_catalogues())
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(Path(tmp))
        try:
            url = await stack.start_nats(Path(tmp) / "nats")
            login = stack.nats_connect_options()
            nc = await nats.connect(url, **login)
            js = nc.jetstream()
            state = await StateStore.open(js)
            runtime = Runtime(bus=await EventBus.connect(url, name="bench-records", options=login), state=state,
                              store=await ArtifactStore.open(js, Path(tmp) / "cache"))
            handlers = EvaluatorHandlers(EvaluatorConfig(data_dir=Path(tmp) / "data"), runtime, None)  # type: ignore[arg-type]
            experiment = rec.Experiment(id="bench", spec=spec, created_at=now(), owner="bench")
            await state.create_experiment(experiment, plan_jobs(experiment.id, spec))
            label = planned_models(spec)[0].label
            run = JobRun(state, experiment.id, eval_job(label), Delivery("bench", 1, threading.Event()), 4)
            async with run:
                sink = _ChunkSink(handlers, experiment.id, {label: run}, {label: []}, asyncio.get_running_loop())
                sink.totals = {label: total}
                reset_peak()
                before = rss_mb()
                started = time.monotonic()

                def feed() -> None:
                    for start in range(0, total, PER_CALL):
                        sink({label: batch(label, start, min(PER_CALL, total - start))})

                await asyncio.to_thread(feed)
                scores = sink.summaries[label].scores(["risk"])
                await run.succeed(None, time.monotonic() - started, {"records": float(sink.computed[label]),
                                                                     "mean.risk": scores[0].mean})
            job = await state.get_job(experiment.id, eval_job(label))
            peak = rss_mb("VmHWM")
            await runtime.bus.close()
            await nc.close()
        finally:
            stack.stop()
    return {"records": total, "chunks": len(job.chunks), "seconds": round(time.monotonic() - started, 1),
            "rss_before_mb": round(before, 1), "peak_rss_mb": round(peak, 1),
            "peak_rss_growth_mb": round(peak - before, 1)}


if __name__ == "__main__":
    configure_logging("bench-records", "warning")
    print(json.dumps(asyncio.run(main(int(sys.argv[1])))))
