"""The machine's ceiling: fp32 and bf16 matmul rates at the shapes a model's linear layers use, and the model's
FLOPs per token, so every throughput in `bench/` can be quoted as a fraction of what the hardware can do.

- **Rates**: each of the model's distinct linear shapes (q, k, v, o, gate, up, down and the LM head), as an
  `(M x in) @ (in x out)` matmul with M = `tokens` rows (a prefill or training batch), timed in fp32 and bf16,
  medians of `repeats` after warm-ups, torch's threads. The ceiling of a dtype is the model's FLOP mix over the
  time those shapes take: `sum(flops) / sum(seconds)`, weighted by how often each shape runs in one forward.
- **FLOPs per token** (`ModelFlops`), the usual accounting (Kaplan et al. 2020, with LoRA added):
  - forward: 2 x the linear weights (the LM head included, embeddings excluded) plus attention's scores and
    weighted sum, 4 x layers x context x (heads x head_dim); LoRA adds 2 x r x (in + out) per adapted layer.
  - training with frozen base weights: the forward, plus the backward's input gradients (the same again), plus
    the LoRA weights' gradients (2 x their forward): 2 x base forward + 3 x LoRA forward.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.trainer.backends.peft_options import cpu_flags

#: The linear layers peft's `all-linear` adapts in a Llama block (the LM head is never adapted).
LLAMA_LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class ModelFlops:
    """A Llama-shaped model's size, read from its `config.json`."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int

    @classmethod
    def of(cls, model_dir: str | Path) -> ModelFlops:
        config = json.loads((Path(model_dir) / "config.json").read_text())
        heads = config["num_attention_heads"]
        return cls(hidden=config["hidden_size"], intermediate=config["intermediate_size"],
                   layers=config["num_hidden_layers"], heads=heads,
                   kv_heads=config.get("num_key_value_heads", heads),
                   head_dim=config.get("head_dim") or config["hidden_size"] // heads, vocab=config["vocab_size"])

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each linear layer of one block, and the LM head."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return {"q_proj": (self.hidden, q), "k_proj": (self.hidden, kv), "v_proj": (self.hidden, kv),
                "o_proj": (q, self.hidden), "gate_proj": (self.hidden, self.intermediate),
                "up_proj": (self.hidden, self.intermediate), "down_proj": (self.intermediate, self.hidden),
                "lm_head": (self.hidden, self.vocab)}

    def linear_weights(self) -> int:
        shapes = self.linear_shapes()
        block = sum(i * o for name, (i, o) in shapes.items() if name != "lm_head")
        return self.layers * block + shapes["lm_head"][0] * shapes["lm_head"][1]

    def lora_weights(self, rank: int) -> int:
        """LoRA parameters for rank `rank` on every block linear (`all-linear`)."""
        return self.layers * sum(rank * (i + o) for name, (i, o) in self.linear_shapes().items()
                                 if name != "lm_head")

    def forward(self, context: int, lora_rank: int = 0) -> float:
        """FLOPs to run one token forward with `context` tokens before it (attention reads them)."""
        attention = 4 * self.layers * context * self.heads * self.head_dim
        return 2 * self.linear_weights() + attention + 2 * self.lora_weights(lora_rank)

    def training(self, context: int, lora_rank: int) -> float:
        """FLOPs to train on one token with LoRA of rank `lora_rank` (base weights frozen)."""
        base = 2 * self.linear_weights() + 4 * self.layers * context * self.heads * self.head_dim
        return 2 * base + 3 * 2 * self.lora_weights(lora_rank)


def _median_seconds(a: Any, b: Any, repeats: int) -> float:
    for _ in range(2):
        a @ b
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def measure(model_dir: str | Path, tokens: int = 512, repeats: int = 7) -> dict[str, Any]:
    """The model's shapes timed in fp32 and bf16 at `tokens` rows; the FLOP-weighted ceiling of each dtype."""
    import torch

    model = ModelFlops.of(model_dir)
    counts = {name: (1 if name == "lm_head" else model.layers) for name in model.linear_shapes()}
    shapes: dict[str, Any] = {}
    totals = {"float32": [0.0, 0.0], "bfloat16": [0.0, 0.0]}  # dtype -> [flops, seconds] of one forward's mix
    for name, (inp, out) in model.linear_shapes().items():
        flops = 2 * tokens * inp * out
        row: dict[str, Any] = {"shape": f"{tokens}x{inp} @ {inp}x{out}", "per_forward": counts[name]}
        for dtype in totals:
            a = torch.randn(tokens, inp).to(getattr(torch, dtype))
            b = torch.randn(inp, out).to(getattr(torch, dtype))
            seconds = _median_seconds(a, b, repeats if dtype == "float32" else max(3, repeats // 2))
            row[f"{dtype}_gflops"] = round(flops / seconds / 1e9, 1)
            totals[dtype][0] += counts[name] * flops
            totals[dtype][1] += counts[name] * seconds
        shapes[name] = row
    fp32 = totals["float32"][0] / totals["float32"][1] / 1e9
    bf16 = totals["bfloat16"][0] / totals["bfloat16"][1] / 1e9
    flags = cpu_flags()
    return {"model": Path(model_dir).name, "tokens": tokens, "threads": torch.get_num_threads(),
            "fp32_gflops": round(fp32, 1), "bf16_gflops": round(bf16, 1), "bf16_over_fp32": round(bf16 / fp32, 3),
            "shapes": shapes, "avx512f": "avx512f" in flags, "avx512_bf16": "avx512_bf16" in flags,
            "amx_bf16": "amx_bf16" in flags,
            "flops_per_token": {"forward_ctx256": model.forward(256), "forward_ctx256_lora8": model.forward(256, 8),
                                "training_ctx128_lora8": model.training(128, 8),
                                "linear_weights": model.linear_weights(), "lora_weights_r8": model.lora_weights(8)}}


def fraction(tokens_per_s: float, flops_per_token: float, gflops: float) -> float:
    """The share of the ceiling `gflops` that `tokens_per_s` at `flops_per_token` uses."""
    return round(tokens_per_s * flops_per_token / (gflops * 1e9), 4)
