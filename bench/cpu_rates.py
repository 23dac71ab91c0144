"""The CPU's matmul rates at SmolLM2's MLP shape, fp32 and bf16, and whether it has AVX-512.

Training speed here follows the fp32 rate, and whether bf16 autocast pays depends on native bf16 support
(`avx512_bf16`): with it, `../shared/environment.md` measured bf16 about 4.3x faster than fp32; without it,
bf16 is emulated and much slower. Medians of 20 after 3 warm-ups, torch's default threads.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any


def _rate(dtype: Any, m: int = 1024, k: int = 576, n: int = 1536, repeats: int = 20) -> float:
    import torch

    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    for _ in range(3):
        a @ b
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        seconds.append(time.perf_counter() - started)
    return 2 * m * k * n / statistics.median(seconds) / 1e9


def run() -> dict[str, Any]:
    import torch

    flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("flags")), [])
    fp32, bf16 = _rate(torch.float32), _rate(torch.bfloat16, repeats=5)
    return {
        "shape": "1024x576 @ 576x1536",
        "threads": torch.get_num_threads(),
        "fp32_gflops": round(fp32, 1),
        "bf16_gflops": round(bf16, 1),
        "bf16_over_fp32": round(bf16 / fp32, 3),
        "avx512f": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
    }
