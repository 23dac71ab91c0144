"""Evaluation throughput: the evaluator's engine against a naive loop of one HF `generate` call per sample.

Same model (the tiny SmolLM2), same prompts (the 10 "Risk or safety" paraphrases), same sampling settings
(temperature 1, 4 new tokens, as the self-report suites use), in one run. The evaluator path asks the engine for
all paraphrases at once (`n` samples each), as the evaluation does, with each of its two engines (vLLM, and
transformers+peft, which computes each prompt once and decodes its samples from a shared cache); the naive loop
calls `generate` once per sample. Both are timed after a warm-up; the figure is the median of the repeats.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from services.evaluator.engines import SampleRequest, build_engine
from services.evaluator.suites import SUITES, SuiteContext

MAX_TOKENS = 4


def prompts(questions_uri: str) -> list[tuple[dict[str, str], ...]]:
    context = SuiteContext("risk_or_safety", {"samples_per_paraphrase": 1, "temperature": 1.0,
                                              "questions": questions_uri, "max_tokens": MAX_TOKENS})
    return [query.messages for query in SUITES.get("risk_or_safety")().queries(context)]


def engine_rate(backend: str, model_dir: str, messages: list[Any], per_prompt: int, repeats: int) -> dict[str, Any]:
    engine = build_engine(backend, model_dir)
    try:
        def once(seed: int) -> float:
            requests = [SampleRequest(m, None, per_prompt, 1.0, MAX_TOKENS, seed * 1000 + i)
                        for i, m in enumerate(messages)]
            started = time.perf_counter()
            outputs = engine.sample(requests)
            elapsed = time.perf_counter() - started
            assert sum(len(o) for o in outputs) == per_prompt * len(messages)
            return elapsed

        once(-1)  # warm-up: compile, caches
        times = [once(seed) for seed in range(repeats)]
    finally:
        engine.close()
    samples = per_prompt * len(messages)
    return {"backend": backend, "samples": samples, "seconds": [round(t, 2) for t in times],
            "samples_per_s": round(samples / statistics.median(times), 2)}


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


def run(model_dir: Path, questions_uri: str, per_prompt: int = 20, naive_samples: int = 40, repeats: int = 3
        ) -> dict[str, Any]:
    messages = prompts(questions_uri)
    evaluator = engine_rate("vllm", str(model_dir), messages, per_prompt, repeats)
    hf_engine = engine_rate("hf", str(model_dir), messages, per_prompt, repeats)
    naive = naive_rate(str(model_dir), messages, naive_samples, repeats)
    vllm_ratio = evaluator["samples_per_s"] / naive["samples_per_s"]
    hf_ratio = hf_engine["samples_per_s"] / naive["samples_per_s"]
    return {"prompts": len(messages), "max_tokens": MAX_TOKENS, "evaluator_vllm": evaluator,
            "evaluator_hf": hf_engine, "naive_hf_loop": naive, "speedup_vs_naive": round(vllm_ratio, 2),
            "speedup_vs_naive_hf": round(hf_ratio, 2), "goal": ">= 10x the naive loop",
            "goal_met": vllm_ratio >= 10, "goal_met_hf": hf_ratio >= 10}
