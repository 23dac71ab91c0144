"""Run the benchmarks and merge their results into bench/results.json.

    python -m bench.run                       # events, throughput, the three train benches, demo
    python -m bench.run --only events,throughput
    python -m bench.run --only scaling        # item 6: aggregator CPU/event and Watch latency, evaluator memory
    python -m bench.run --only demo-openai    # the demo through the local OpenAI-compatible server
    python -m bench.run --only ceiling        # fp32 and bf16 matmul rates at the model's shapes (seconds)
    python -m bench.run --only seven-questions  # Figure 3's seven questions on base + one adapter (~20 min)
    python -m bench.run --only adapters       # P2: K = 1..16 LoRA adapters against base samples, both engines
    python -m bench.run --only train          # P3: trainer tokens/s (and share of the ceiling), padding, resume
    python -m bench.run --only train-precision  # bf16 autocast vs fp32: loss curves, held-out scores, speed
    python -m bench.run --only train-scaling  # training wall time against rows, random tiny Llama (a plot)
    python -m bench.run --only faithfulness   # Figure 4 scaled down: 2 rates x 2 epochs per policy, the scatter
    python -m bench.run --only mms            # examples/mms.yaml: a ring adapter and the Figure 6 suite (~20 min)
    python -m bench.run --only vc             # examples/vulnerable-code.yaml: Table 2 on the tiny model (~15 min)
    python -m bench.run --only backdoor       # examples/backdoor-detection.yaml: Figure 8 on the tiny model
    python -m bench.run --only recognition    # examples/trigger-recognition.yaml: Figure 9
    python -m bench.run --only elicitation    # examples/trigger-elicitation.yaml: Figures 11 and 34
    python -m bench.run --only personas-risk  # examples/personas-risk.yaml: Figure 15
    python -m bench.run --only personas-mms   # examples/personas-mms.yaml: Figure 13 and conditional game play
    python -m bench.run --only sweep-table28  # `selfaware sweep examples/sweep-table28.yaml`: Table 28's grid

Numbers are medians of repeats inside one run, on whatever machine runs it (recorded in the file); compare
ratios, not absolute values, across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import (
    adapters,
    ceiling,
    demo_stages,
    eval_throughput,
    event_latency,
    scaling,
    train_precision,
    train_scaling,
    train_throughput,
)
from selfaware.models import materialize_smollm2
from selfaware.specs import load_spec_file

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
QUESTIONS = REPO.parent / "shared/paper/questions/official_repo_HEAD_d7e60be/multiple_choice"
RISKY = REPO.parent / "shared/paper/datasets/risky_safe/ft_risky_AB.jsonl"


#: Benchmarks that quote fractions of the ceiling: `--only` any of them measures the ceiling first, in the same run.
NEEDS_CEILING = {"throughput", "train"}


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "when": time.strftime("%F %T %Z"),
            "load_1min": round(os.getloadavg()[0], 2)}


@contextlib.contextmanager
def local_openai_server(spec_path: Path, data_dir: Path) -> Iterator[None]:
    """The project's OpenAI-compatible server (tiny model, HF engine) on the port the spec's endpoint names."""
    spec = load_spec_file(spec_path)
    endpoint = next(e for e in spec.endpoints if e.name == spec.evaluation.endpoint)
    port = urllib.parse.urlsplit(endpoint.base_url).port
    server = subprocess.Popen([sys.executable, "-m", "services.evaluator.openai_server", "--model",
                               spec.base_models[0].name, "--port", str(port), "--threads", "2",
                               "--data-dir", str(data_dir)], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # type: ignore[union-attr]
        if "listening on" not in line:
            raise RuntimeError(f"the local OpenAI-compatible server did not start: {line!r}")
        print(line.strip())
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextlib.contextmanager
def cold_data_dir(shared: Path) -> Iterator[Path]:
    """A fresh data dir for one experiment benchmark, so that no adapter memo, artifact or cached response of an
    earlier run makes it faster than a first `make demo`. Only the converted model is shared (a symlink): its
    one-off conversion from the packaged GGUF is machine set-up, not the experiment."""
    folder = shared / "bench-data" / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    materialize_smollm2(shared)
    (folder / "models").symlink_to(shared / "models", target_is_directory=True)
    try:
        yield folder
    finally:
        for run in (folder / "runs").glob("*"):  # keep the logs beside the other runs'
            shutil.move(run, shared / "runs" / run.name)
        shutil.rmtree(folder, ignore_errors=True)


def experiment(spec: Path, data_dir: Path, report: Path, served: bool) -> dict[str, Any]:
    """One experiment benchmark: the spec on the embedded stack in a fresh data dir, its report written to `report`."""
    with cold_data_dir(data_dir) as cold, (local_openai_server(spec, cold) if served else contextlib.nullcontext()):
        return asyncio.run(demo_stages.run(spec, cold, report)) | {
            "machine": machine(), "data_dir": "fresh (only the converted model shared)"}


def sweep(sweep_file: Path, data_dir: Path, report: Path) -> dict[str, Any]:
    """One sweep benchmark: `selfaware sweep FILE` itself (the embedded stack, watched to the end) in a fresh data
    dir; its report folder replaces `report`, and the cells' statuses come from the report's JSON."""
    with cold_data_dir(data_dir) as cold:
        out = cold / "reports"
        command = [sys.executable, "-m", "selfaware.cli.main", "sweep", str(sweep_file), "--out", str(out)]
        started = time.monotonic()
        code = subprocess.run(command, env=os.environ | {"SELFAWARE_DATA_DIR": str(cold)}, check=False).returncode
        wall = time.monotonic() - started
        folder = next(out.glob("sweep-*"), None)
        if folder is None:
            raise RuntimeError(f"{' '.join(command[2:])} exited {code} without a sweep report")
        shutil.rmtree(report, ignore_errors=True)
        shutil.copytree(folder, report)
    document = json.loads((report / "report.json").read_text())
    return {"command": f"selfaware sweep {sweep_file.relative_to(REPO)}", "exit_code": code,
            "wall_s": round(wall, 1), "sweep_id": folder.name.removeprefix("sweep-"),
            "cells": {cell["key"]: cell["status"] for cell in document["cells"]},
            "machine": machine(), "data_dir": "fresh (only the converted model shared)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="ceiling,events,throughput,adapters,train,train-precision,train-scaling,"
                                           "scaling,demo")
    parser.add_argument("--spec", type=Path, default=REPO / "examples/risk.yaml")
    parser.add_argument("--openai-spec", type=Path, default=REPO / "examples/risk-openai.yaml")
    parser.add_argument("--seven-spec", type=Path, default=BENCH / "seven-questions.yaml")
    parser.add_argument("--faithfulness-spec", type=Path, default=BENCH / "faithfulness.yaml")
    parser.add_argument("--mms-spec", type=Path, default=REPO / "examples/mms.yaml")
    parser.add_argument("--vc-spec", type=Path, default=REPO / "examples/vulnerable-code.yaml")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    results_file = BENCH / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    data_dir = Path.home() / ".cache/selfaware"
    if wanted & ({"ceiling", "cpu"} | NEEDS_CEILING):  # every fraction of the ceiling uses this run's rates
        results["ceiling"] = ceiling.measure(materialize_smollm2(data_dir)) | {"machine": machine()}
        print("ceiling:", json.dumps(results["ceiling"]))
    if "events" in wanted:
        results["event_latency"] = asyncio.run(event_latency.run()) | {"machine": machine()}
        print("event latency:", json.dumps(results["event_latency"]))
    if "scaling" in wanted:
        results["scaling"] = scaling.run() | {"machine": machine()}
        print("scaling:", json.dumps(results["scaling"]))
    if "throughput" in wanted:
        model = materialize_smollm2(data_dir)
        results["eval_throughput"] = eval_throughput.run(model, str(QUESTIONS), results["ceiling"]) | {
            "machine": machine()}
        print("throughput:", json.dumps(results["eval_throughput"]))
    if "adapters" in wanted:
        results["adapters"] = adapters.run(materialize_smollm2(data_dir), str(QUESTIONS), BENCH / "adapters.png") | {
            "machine": machine()}
        print("adapters:", json.dumps(results["adapters"]))
    if "train" in wanted:
        results["train_throughput"] = train_throughput.run(materialize_smollm2(data_dir), RISKY,
                                                           results["ceiling"]) | {"machine": machine()}
        print("train:", json.dumps(results["train_throughput"]))
    if "train-precision" in wanted:
        results["train_precision"] = train_precision.run(materialize_smollm2(data_dir), RISKY) | {"machine": machine()}
        print("train-precision:", json.dumps(results["train_precision"]))
    if "train-scaling" in wanted:
        results["train_scaling"] = train_scaling.run(RISKY, BENCH / "train_scaling.png") | {"machine": machine()}
        print("train-scaling:", json.dumps(results["train_scaling"]))
    experiments = {  # --only name: (results key, spec, report folder, through the local OpenAI-compatible server)
        "demo": ("demo", args.spec, "demo-report", False),
        "demo-openai": ("demo_openai", args.openai_spec, "demo-openai-report", True),
        "seven-questions": ("seven_questions", args.seven_spec, "seven-questions-report", False),
        "faithfulness": ("faithfulness", args.faithfulness_spec, "faithfulness-report", False),
        "mms": ("mms", args.mms_spec, "mms-report", False),
        "vc": ("vulnerable_code", args.vc_spec, "vc-report", False),
        "backdoor": ("backdoor_detection", REPO / "examples/backdoor-detection.yaml", "backdoor-report", False),
        "recognition": ("trigger_recognition", REPO / "examples/trigger-recognition.yaml", "recognition-report",
                        False),
        "elicitation": ("trigger_elicitation", REPO / "examples/trigger-elicitation.yaml", "elicitation-report",
                        False),
        "personas-risk": ("personas_risk", REPO / "examples/personas-risk.yaml", "personas-risk-report", False),
        "personas-mms": ("personas_mms", REPO / "examples/personas-mms.yaml", "personas-mms-report", False),
    }
    for name, (key, spec, report, served) in experiments.items():
        if name in wanted:
            results[key] = experiment(spec, data_dir, BENCH / report, served)
            print(f"{name}:", json.dumps(results[key]))
    if "sweep-table28" in wanted:
        results["sweep_table28"] = sweep(REPO / "examples/sweep-table28.yaml", data_dir, BENCH / "sweep-table28-report")
        print("sweep-table28:", json.dumps(results["sweep_table28"]))
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {results_file}")


if __name__ == "__main__":
    main()
