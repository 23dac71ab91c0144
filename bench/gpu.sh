#!/usr/bin/env bash
# One prepared benchmark for a GPU machine (issue 8): bf16 LoRA training tokens/s as a fraction of the measured
# bf16 matmul rate, on randomly initialised Llama models (no weights, no internet, no vLLM).
#
#   bench/gpu.sh > bench/gpu-results.json          # SIZES="1b 8b" by default; STEPS=10 timed steps each
#
# Needs python with the CUDA build of torch, transformers and peft ($PYTHON, default python3). Prints one JSON
# object on stdout; progress goes to stderr. Exit 2 without CUDA. Counting: a LoRA step over frozen weights does
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

import torch

if not torch.cuda.is_available():
    print(json.dumps({"error": "torch sees no CUDA device", "torch": torch.__version__}))
    sys.exit(2)

import peft
import transformers
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

log = lambda *parts: print(*parts, file=sys.stderr, flush=True)  # noqa: E731
STEPS = int(os.environ.get("STEPS", "10"))
BATCH, SEQ = int(os.environ.get("BATCH", "8")), int(os.environ.get("SEQ", "512"))
#: Llama-3.2-1B- and Llama-3.1-8B-shaped configs (vocab cut to 32k for the 1B: it is embedding-heavy otherwise).
SHAPES = {
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=32000),
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256),
}


def timed(work, repeats: int, warmup: int = 3) -> float:
    """Median seconds of `work()` on the GPU, timed with CUDA events after `warmup` calls."""
    for _ in range(warmup):
        work()
    seconds = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        work()
        end.record()
        torch.cuda.synchronize()
        seconds.append(start.elapsed_time(end) / 1e3)
    return statistics.median(seconds)


def matmul_tflops(m: int, k: int, n: int) -> float:
    a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(k, n, device="cuda", dtype=torch.bfloat16)
    return 2 * m * k * n / timed(lambda: a @ b, repeats=20) / 1e12


def lora_run(size: str, peak_tflops: float) -> dict:
    shape = SHAPES[size]
    config = LlamaConfig(**shape, max_position_embeddings=4096, tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", lora_dropout=0.0))
    linear = sum(p.numel() for n, p in model.named_parameters() if "lora_" not in n and "embed_tokens" not in n
                 and p.dim() == 2)
    adapters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, shape["vocab_size"], (BATCH, SEQ), device="cuda")
    model.train()

    def step() -> None:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

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
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1),
    }
    return result


props = torch.cuda.get_device_properties(0)
log("device:", props.name)
peak = matmul_tflops(8192, 8192, 8192)
out = {
    "benchmark": "bf16 LoRA training tokens/s against the bf16 matmul rate (bench/gpu.sh)",
    "device": props.name, "gpu_memory_gib": round(props.total_memory / 2**30, 1),
    "torch": torch.__version__, "cuda": torch.version.cuda, "transformers": transformers.__version__,
    "peft": peft.__version__,
    "matmul_tflops": {"8192^3": round(peak, 1), "4096x4096 @ 4096x14336": round(matmul_tflops(4096, 4096, 14336), 1)},
    "runs": [],
}
for size in os.environ.get("SIZES", "1b 8b").split():
    log("lora:", size)
    try:
        out["runs"].append(lora_run(size, peak))
    except torch.cuda.OutOfMemoryError as exc:
        out["runs"].append({"size": size, "error": f"out of memory: {exc}".splitlines()[0]})
    torch.cuda.empty_cache()  # the run's model and optimiser are gone with its frame
print(json.dumps(out, indent=2))
PY
