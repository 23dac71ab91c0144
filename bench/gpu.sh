#!/usr/bin/env bash
# One prepared benchmark for a GPU machine (issues 8 and 14): bf16 LoRA training tokens/s and HF-engine sampling
# throughput as fractions of the measured bf16 matmul rate, on randomly initialised Llama models (no weights, no
# internet, no vLLM).
#
#   bench/gpu.sh > bench/gpu-results.json          # SIZES="1b 8b" by default; STEPS=10 timed steps each
#   DEVICE=cpu SIZES=toy bench/gpu.sh              # a syntax-and-logic check of the same code on CPU, toy model
#
# Needs python with the CUDA build of torch, transformers and peft ($PYTHON, default python3). Prints one JSON
# object on stdout; progress goes to stderr. Exit 2 without CUDA (unless DEVICE=cpu).
# Sampling follows the HF engine's scheme (services/evaluator/engines/hf_engine.py `_decode`), reproduced here
# because the GPU machine has no tokenizer for a random model: PROMPTS prompts of PROMPT_TOKENS random tokens are
# prefilled once each, every prompt's KV cache is shared by N samples (`batch_select_indices`), and NEW_TOKENS are
# drawn by ancestral sampling; the forward counts 2 FLOPs per linear weight per token plus attention's
# 4 * layers * context * heads * head_dim. Counting for training: a LoRA step over frozen weights does
# the forward pass (2 FLOPs per weight per token) and the input gradients (2 more), but no weight gradients except
# the adapters' (counted as 6 per adapter weight); attention adds 12 * layers * sequence * hidden per token
# (forward QK^T and AV, and their backward, counted without the causal half, as in the PaLM MFU convention).
set -euo pipefail
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "${PYTHON:-python3}" - "$@" <<'PY'
import json
import os
import statistics
import sys
import time

import torch

DEVICE = os.environ.get("DEVICE", "cuda")
if DEVICE == "cuda" and not torch.cuda.is_available():
    print(json.dumps({"error": "torch sees no CUDA device", "torch": torch.__version__}))
    sys.exit(2)

import peft
import transformers
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

log = lambda *parts: print(*parts, file=sys.stderr, flush=True)  # noqa: E731
STEPS = int(os.environ.get("STEPS", "10"))
BATCH, SEQ = int(os.environ.get("BATCH", "8")), int(os.environ.get("SEQ", "512"))
PROMPTS, PROMPT_TOKENS = int(os.environ.get("PROMPTS", "16")), int(os.environ.get("PROMPT_TOKENS", "256"))
N, NEW_TOKENS = int(os.environ.get("N", "20")), int(os.environ.get("NEW_TOKENS", "32"))
#: Llama-3.2-1B- and Llama-3.1-8B-shaped configs (vocab cut to 32k for the 1B: it is embedding-heavy otherwise).
SHAPES = {
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=32000),
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256),
    "toy": dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, vocab_size=1000),
}


def timed(work, repeats: int, warmup: int = 3) -> float:
    """Median seconds of `work()`, after `warmup` calls: CUDA events on the GPU, the wall clock on CPU."""
    for _ in range(warmup):
        work()
    seconds = []
    for _ in range(repeats):
        if DEVICE == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            work()
            end.record()
            torch.cuda.synchronize()
            seconds.append(start.elapsed_time(end) / 1e3)
        else:
            began = time.perf_counter()
            work()
            seconds.append(time.perf_counter() - began)
    return statistics.median(seconds)


def matmul_tflops(m: int, k: int, n: int) -> float:
    a = torch.randn(m, k, device=DEVICE, dtype=torch.bfloat16)
    b = torch.randn(k, n, device=DEVICE, dtype=torch.bfloat16)
    return 2 * m * k * n / timed(lambda: a @ b, repeats=20) / 1e12


def random_llama(size: str):
    config = LlamaConfig(**SHAPES[size], max_position_embeddings=4096, tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device(DEVICE):
        return LlamaForCausalLM(config).to(torch.bfloat16)


def forward_flops(shape: dict, linear: int, context: float) -> float:
    """One token's forward: 2 per linear weight, plus attention over `context` earlier tokens."""
    return 2 * linear + 4 * shape["num_hidden_layers"] * context * shape["hidden_size"]


def sampling_run(size: str, peak_tflops: float) -> dict:
    """The HF engine's sampling on a random bf16 model: prefill each prompt once, N samples share its KV cache."""
    shape = SHAPES[size]
    model = random_llama(size).eval()
    linear = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n and p.dim() == 2)
    prompts = torch.randint(0, shape["vocab_size"], (PROMPTS, PROMPT_TOKENS), device=DEVICE)
    generator = torch.Generator(DEVICE).manual_seed(0)
    expand = torch.arange(PROMPTS, device=DEVICE).repeat_interleave(N)

    @torch.inference_mode()
    def prefill():
        return model(input_ids=prompts, use_cache=True, logits_to_keep=1)

    @torch.inference_mode()
    def sample() -> None:
        output = prefill()
        cache = output.past_key_values
        cache.batch_select_indices(expand)
        logits = output.logits[expand, -1, :]
        for step in range(NEW_TOKENS):
            chosen = torch.multinomial(torch.softmax(logits.float(), dim=-1), 1, generator=generator)
            if step + 1 < NEW_TOKENS:
                logits = model(input_ids=chosen, past_key_values=cache, use_cache=True).logits[:, -1, :]

    repeats = max(3, STEPS // 3)
    prefill_s = timed(prefill, repeats=repeats, warmup=1)
    total_s = timed(sample, repeats=repeats, warmup=1)
    prefill_flops = PROMPTS * PROMPT_TOKENS * forward_flops(shape, linear, PROMPT_TOKENS / 2)
    samples_tokens = PROMPTS * N * NEW_TOKENS
    decode_flops = samples_tokens * forward_flops(shape, linear, PROMPT_TOKENS + NEW_TOKENS / 2)
    decode_s = max(total_s - prefill_s, 1e-9)
    return {
        "size": size, "prompts": PROMPTS, "prompt_tokens": PROMPT_TOKENS, "samples_per_prompt": N,
        "new_tokens": NEW_TOKENS, "prefill_s": round(prefill_s, 4), "total_s": round(total_s, 4),
        "samples_per_s": round(PROMPTS * N / total_s, 1), "sampled_tokens_per_s": round(samples_tokens / total_s, 1),
        "prefill_tokens_per_s": round(PROMPTS * PROMPT_TOKENS / prefill_s, 1),
        "prefill_fraction_of_matmul": round(prefill_flops / prefill_s / 1e12 / peak_tflops, 3),
        "decode_fraction_of_matmul": round(decode_flops / decode_s / 1e12 / peak_tflops, 3),
        "fraction_of_matmul": round((prefill_flops + decode_flops) / total_s / 1e12 / peak_tflops, 3),
    }


def lora_run(size: str, peak_tflops: float) -> dict:
    shape = SHAPES[size]
    model = random_llama(size)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", lora_dropout=0.0))
    linear = sum(p.numel() for n, p in model.named_parameters() if "lora_" not in n and "embed_tokens" not in n
                 and p.dim() == 2)
    adapters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, shape["vocab_size"], (BATCH, SEQ), device=DEVICE)
    model.train()

    def step() -> None:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = timed(step, repeats=STEPS)
    tokens = BATCH * SEQ
    per_token = 4 * linear + 6 * adapters + 12 * shape["num_hidden_layers"] * SEQ * shape["hidden_size"]
    achieved = tokens / seconds * per_token / 1e12
    result = {
        "size": size, "config": shape, "linear_params": linear, "lora_params": adapters, "batch": BATCH,
        "seq": SEQ, "step_s": round(seconds, 4), "tokens_per_s": round(tokens / seconds, 1),
        "flops_per_token": per_token, "achieved_tflops": round(achieved, 1),
        "fraction_of_matmul": round(achieved / peak_tflops, 3),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1) if DEVICE == "cuda" else None,
    }
    return result


if DEVICE == "cuda":
    props = torch.cuda.get_device_properties(0)
    device, memory = props.name, round(props.total_memory / 2**30, 1)
else:
    device, memory = "cpu (a check of the script, not a GPU measurement)", None
log("device:", device)
big = 8192 if DEVICE == "cuda" else 512
peak = matmul_tflops(big, big, big)
out = {
    "benchmark": "bf16 LoRA training tokens/s and HF-engine sampling against the bf16 matmul rate (bench/gpu.sh)",
    "device": device, "gpu_memory_gib": memory,
    "torch": torch.__version__, "cuda": torch.version.cuda, "transformers": transformers.__version__,
    "peft": peft.__version__,
    "matmul_tflops": {f"{big}^3": round(peak, 3),
                      "4096x4096 @ 4096x14336": round(matmul_tflops(4096, 4096, 14336), 1) if DEVICE == "cuda"
                      else None},
    "runs": [], "sampling": [],
}
for size in os.environ.get("SIZES", "1b 8b").split():
    for kind, measure in (("runs", lora_run), ("sampling", sampling_run)):
        log(kind, size)
        try:
            out[kind].append(measure(size, peak))
        except torch.cuda.OutOfMemoryError as exc:
            out[kind].append({"size": size, "error": f"out of memory: {exc}".splitlines()[0]})
        if DEVICE == "cuda":
            torch.cuda.empty_cache()  # the run's model and optimiser are gone with its frame
print(json.dumps(out, indent=2))
PY
