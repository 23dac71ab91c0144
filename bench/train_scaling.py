"""Training wall time against dataset size, on a random-weight tiny Llama so that the trainer's own work (chat
encoding, batching, the loop, the adapter's save) shows rather than the model's arithmetic.

Each size trains one epoch over that many rows (the authors' risk rows, cycled), batch 8, in one process through
the peft-lora backend's `train()` (one base load, kept across the jobs); the wall time is the whole call, medians
of `repeats`. Goal: linear cost, the wall seconds per row at the largest size at most 1.1x those at the size before
it (a fixed start-up cost only lowers the per-row time as the rows grow; a cost per row that grows with the dataset
raises it). A least-squares line (numpy) gives the fixed and the per-row cost. Plot: `bench/train_scaling.png`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.train_throughput import backend_run, rows_of
from selfaware.models import random_llama

SIZES = (128, 256, 512, 1024, 2048)
GOAL = 1.1


def plot(points: list[dict[str, Any]], fit: tuple[float, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [p["rows"] for p in points]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(rows, [p["wall_s"] for p in points], "o", label="median wall")
    left.plot(rows, [fit[1] + fit[0] * r for r in rows], "-", label=f"{1e3 * fit[0]:.1f} ms/row + {fit[1]:.1f} s")
    left.set(xlabel="training rows (one epoch, batch 8)", ylabel="wall seconds", title="training wall time",
             xlim=(0, None), ylim=(0, None))
    left.legend(fontsize=8)
    right.plot(rows, [1e3 * p["wall_s"] / p["rows"] for p in points], "o-")
    right.set_xscale("log", base=2)
    right.set_xticks(rows, [str(r) for r in rows])
    right.set(xlabel="training rows", ylabel="ms per row", ylim=(0, None), title="per row")
    figure.suptitle("peft-lora backend, random-weight tiny Llama (bench/train_scaling.py)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(risky: Path, out_png: Path, sizes: tuple[int, ...] = SIZES, repeats: int = 3, threads: int = 2
        ) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    source = rows_of(risky)
    points = []
    with tempfile.TemporaryDirectory() as scratch:
        model = random_llama(Path(scratch) / "random-llama")
        backend_run(model, source[:8], Path(scratch) / "warm")
        for size in sizes:
            rows = [source[i % len(source)] for i in range(size)]
            walls, loops = [], []
            for i in range(repeats):
                started = time.monotonic()
                result = backend_run(model, rows, Path(scratch) / f"{size}-{i}")
                walls.append(time.monotonic() - started)
                loops.append(result.train_seconds)
            points.append({"rows": size, "wall_s": round(statistics.median(walls), 3),
                           "loop_s": round(statistics.median(loops), 3), "walls": [round(w, 3) for w in walls]})
    import numpy as np

    per_row, fixed = np.polyfit([p["rows"] for p in points], [p["wall_s"] for p in points], 1)
    growth = (points[-1]["wall_s"] / points[-1]["rows"]) / (points[-2]["wall_s"] / points[-2]["rows"])
    plot(points, (float(per_row), float(fixed)), out_png)
    return {"model": "random Llama, 2 layers, width 128, SmolLM2 tokenizer", "batch_size": 8, "epochs": 1,
            "repeats": repeats, "threads": threads, "points": points,
            "fit_ms_per_row": round(1e3 * float(per_row), 3), "fit_fixed_s": round(float(fixed), 3),
            "per_row_last_over_previous": round(growth, 3),
            "goal": f"wall s per row at the largest size <= {GOAL}x that at the size before it",
            "goal_met": growth <= GOAL, "plot": out_png.name}
