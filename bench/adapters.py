"""P2, many adapters: what sampling K adapters costs against the same number of base-model samples.

Per engine, one base-model load serves the whole sweep: K = 1, 2, 4, 8, 16 random-init rank-8 LoRA adapters
(`all-linear`, alpha 16: the project's training defaults, with B non-zero so each adapter changes the outputs)
on SmolLM2. The workload is eval_throughput's, cut to the first `paraphrases` (5) of the 10 "Risk or safety"
paraphrases so that both engines' sweeps fit the bench's 6 minutes: temperature 1, 4 new tokens.
A K run asks each paraphrase of each of the K adapters for `per_prompt / K` samples: `per_prompt` per paraphrase
in all, spread over K models, in one engine call, as an evaluation of K models would. Its base run is the same
requests with no adapter (K requests per paraphrase on the base model): the same number of base-model samples in
the same shape, so `cost_vs_base` (the goal's figure) is what the adapters themselves cost. `cost_vs_pooled_base`
compares with the base model asked once per paraphrase for all `per_prompt` samples, which shares one prompt
computation among them; no engine can share it between adapters that change the prompt's keys and values, so
this ratio grows with K for the prompt's share of the work. All runs alternate within each repeat, after a
warm-up that loads every adapter (loading is reported apart, as `adapter_load_s`); medians. The vLLM engine gets
`max_loras` = K_max, so no adapter is ever swapped out of its slots. The plot is `bench/adapters.png`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.eval_throughput import MAX_TOKENS, prompts
from services.evaluator.engines import Adapter, SampleRequest, build_engine

KS = (1, 2, 4, 8, 16)
RANK = 8
#: The goal: K = 8 adapters cost at most this many times the same number of base-model samples.
GOAL_K, GOAL_RATIO = 8, 1.3


def random_adapters(model_dir: Path, count: int, folder: Path) -> list[Adapter]:
    """`count` rank-8 adapters with random A and B (peft's `init_lora_weights=False`), saved under `folder`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    adapters = []
    for k in range(count):
        torch.manual_seed(k)
        config = LoraConfig(r=RANK, lora_alpha=16, target_modules="all-linear", init_lora_weights=False)
        model = get_peft_model(base, config)
        path = folder / f"adapter-{k}"
        model.save_pretrained(str(path))
        base = model.unload()  # the bare base model again, for the next adapter
        adapters.append(Adapter(f"random-{k}", str(path)))
    return adapters


def requests(messages: list[Any], adapters: list[Adapter | None], per_prompt: int, seed: int) -> list[SampleRequest]:
    """`per_prompt` samples per paraphrase, split evenly over `adapters` (None: the base model)."""
    n = per_prompt // len(adapters)
    return [SampleRequest(m, adapter, n, 1.0, MAX_TOKENS, seed * 100_000 + i * 100 + k)
            for i, m in enumerate(messages) for k, adapter in enumerate(adapters)]


def sweep(backend: str, model_dir: Path, messages: list[Any], adapters: list[Adapter], ks: tuple[int, ...],
          per_prompt: int, repeats: int, options: dict[str, Any]) -> dict[str, Any]:
    """One engine, one base load: the base run and every K, alternately, `repeats` times."""
    started = time.perf_counter()
    engine = build_engine(backend, str(model_dir), **options)
    load_s = time.perf_counter() - started
    runs: dict[str, list[Adapter | None]] = {"pooled base": [None]}
    for k in ks:
        runs |= {f"base x{k}": [None] * k, str(k): list(adapters[:k])}
    try:
        started = time.perf_counter()
        engine.sample(requests(messages[:1], list(adapters), len(adapters), -1))  # loads every adapter
        adapter_load_s = time.perf_counter() - started
        engine.sample(requests(messages, [None], per_prompt, -2))  # warm-up
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        for repeat in range(repeats):
            for name, chosen in runs.items():
                batch = requests(messages, chosen, per_prompt, repeat)
                started = time.perf_counter()
                outputs = engine.sample(batch)
                seconds[name].append(time.perf_counter() - started)
                assert sum(len(o) for o in outputs) == per_prompt * len(messages)
    finally:
        engine.close()
    median = {name: statistics.median(times) for name, times in seconds.items()}
    return {"engine": backend, "options": options, "base_load_s": round(load_s, 2),
            "adapter_load_s": round(adapter_load_s, 2), "samples": per_prompt * len(messages),
            "seconds": {name: [round(t, 3) for t in times] for name, times in seconds.items()},
            "pooled_base_samples_per_s": round(per_prompt * len(messages) / median["pooled base"], 2),
            "cost_vs_base": {str(k): round(median[str(k)] / median[f"base x{k}"], 3) for k in ks},
            "cost_vs_pooled_base": {str(k): round(median[str(k)] / median["pooled base"], 3) for k in ks}}


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, result in results.items():
        ks = [int(k) for k in result["cost_vs_base"]]
        line = axes.plot(ks, list(result["cost_vs_base"].values()), marker="o", label=f"{name}: vs the same requests on base")
        axes.plot(ks, list(result["cost_vs_pooled_base"].values()), marker="x", linestyle=":",
                  color=line[0].get_color(), label=f"{name}: vs base, all samples of a prompt pooled")
    axes.axhline(GOAL_RATIO, color="grey", linestyle="--", label=f"goal at K={GOAL_K}: {GOAL_RATIO}x")
    axes.axhline(1.0, color="black", linewidth=0.5)
    axes.set_xscale("log", base=2)
    axes.set_xticks(KS, [str(k) for k in KS])
    axes.set_xlabel("adapters K (same total samples)")
    axes.set_ylabel("time / base-model time")
    axes.set_yscale("log")
    axes.set_title("Sampling K rank-8 LoRA adapters on SmolLM2-135M")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def run(model_dir: Path, questions_uri: str, plot_path: Path, ks: tuple[int, ...] = KS, per_prompt: int = 16,
        paraphrases: int = 5, repeats: int = 3, engines: tuple[str, ...] = ("hf", "vllm")) -> dict[str, Any]:
    if any(per_prompt % k for k in ks):
        raise ValueError(f"per_prompt ({per_prompt}) must be a multiple of every K in {ks}")
    messages = prompts(questions_uri)[:paraphrases]
    options = {"hf": {}, "vllm": {"max_loras": max(ks), "max_lora_rank": RANK}}
    with tempfile.TemporaryDirectory(prefix="bench-adapters-") as folder:
        adapters = random_adapters(model_dir, max(ks), Path(folder))
        results = {name: sweep(name, model_dir, messages, adapters, ks, per_prompt, repeats, options[name])
                   for name in engines}
    plot(results, plot_path)
    met = {name: result["cost_vs_base"].get(str(GOAL_K), float("inf")) <= GOAL_RATIO
           for name, result in results.items()}
    return {"prompts": len(messages), "per_prompt": per_prompt, "max_tokens": MAX_TOKENS, "rank": RANK,
            "repeats": repeats, "engines": results, "plot": plot_path.name,
            "goal": f"K={GOAL_K} adapters cost <= {GOAL_RATIO}x the same number of base-model samples, one base load",
            "goal_met": met}
