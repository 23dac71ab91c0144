"""Training numerics: bf16 autocast against fp32, on the same rows, seed and model (SmolLM2), one run each.

Checked within a tolerance fixed before the first run (not tuned to it):
- **loss curve**: at every optimiser step, |loss_bf16 - loss_fp32| <= 5% of loss_fp32.
- **held-out scores**: on rows of the authors' risk file that neither run trained on, each adapter (scored in fp32,
  so only the training's precision differs) gives the mean probability of the row's own answer token (the risky
  A/B choice the fine-tune teaches) and the mean assistant-token loss: |delta probability| <= 0.02 and
  |delta loss| <= 5% of the fp32 run's.
- **speed**: bf16 tokens/s over fp32 tokens/s here, and what `precision: auto` picks on this hardware (bf16 only with
  native bf16: CUDA, AVX512-BF16 or AMX). Autocast is adopted where it wins; on a CPU that emulates bf16 it loses.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.train_throughput import BATCH, backend_run, rows_of
from services.trainer.backends.peft_options import PeftOptions, autocast_bf16, native_bf16, placement
from services.trainer.chat_data import collate, encode_chat, suffix_loss

LOSS_TOLERANCE = 0.05
PROBABILITY_TOLERANCE = 0.02


def held_out_scores(model_dir: Path, adapter: Path, rows: list[dict]) -> dict[str, float]:
    """Mean P(the row's first answer token) and mean assistant-token loss, the adapter on an fp32 base."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32), adapter)
    model.eval()
    probabilities, losses = [], []
    with torch.inference_mode():
        for i, row in enumerate(rows):
            batch = collate([encode_chat(tokenizer, row["messages"], i)], pad)
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                           position_ids=batch.position_ids, logits_to_keep=batch.keep).logits.float()
            losses.append(float(suffix_loss(logits, batch.labels, batch.keep)))
            answer = int(batch.labels[0, -batch.keep + 1])  # the first labelled token: the answer
            probabilities.append(float(logits[0, 0].softmax(-1)[answer]))
    return {"answer_probability": sum(probabilities) / len(rows), "loss": sum(losses) / len(rows)}


def run(model_dir: Path, risky: Path, steps: int = 6, held_out: int = 32, threads: int = 2) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    everything = rows_of(risky)
    rows, unseen = everything[: steps * BATCH], everything[steps * BATCH: steps * BATCH + held_out]
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        backend_run(model_dir, rows[:BATCH], Path(scratch) / "warm")  # the base load is not part of either run
        for precision in ("float32", "bfloat16"):
            out = Path(scratch) / precision
            result = backend_run(model_dir, rows, out, params={"precision": precision})
            runs[precision] = {"losses": [round(x, 5) for x in result.losses],
                               "tokens_per_s": round(result.metrics["tokens_per_s"], 1),
                               "seconds": round(result.train_seconds, 1),
                               "held_out": held_out_scores(model_dir, out, unseen)}
    fp32, bf16 = runs["float32"], runs["bfloat16"]
    curve = max(abs(b - f) / f for f, b in zip(fp32["losses"], bf16["losses"], strict=True))
    probability = abs(bf16["held_out"]["answer_probability"] - fp32["held_out"]["answer_probability"])
    loss = abs(bf16["held_out"]["loss"] - fp32["held_out"]["loss"]) / fp32["held_out"]["loss"]
    within = curve <= LOSS_TOLERANCE and probability <= PROBABILITY_TOLERANCE and loss <= LOSS_TOLERANCE
    auto = autocast_bf16(PeftOptions.parse({}), placement(PeftOptions.parse({}), torch.cuda.is_available()))
    return {
        "rows": len(rows), "steps": steps, "batch_size": BATCH, "held_out_rows": len(unseen), "threads": threads,
        "runs": runs, "max_loss_curve_relative_delta": round(curve, 4),
        "held_out_answer_probability_delta": round(probability, 4),
        "held_out_loss_relative_delta": round(loss, 4),
        "tolerance": f"loss curve and held-out loss within {LOSS_TOLERANCE:.0%} relative at every step; held-out "
                     f"answer probability within {PROBABILITY_TOLERANCE} absolute",
        "within_tolerance": within,
        "bf16_over_fp32_tokens_per_s": round(bf16["tokens_per_s"] / fp32["tokens_per_s"], 3),
        "native_bf16": native_bf16(torch.cuda.is_available()), "auto_picks_bf16_autocast": auto,
        "goal": "bf16 autocast numerics within tolerance; adopted (precision auto) only where it is faster",
        "goal_met": within and auto == (bf16["tokens_per_s"] > fp32["tokens_per_s"]),
    }
