"""P3: training throughput of the peft-lora backend against a bare peft loop, padding, and the cost of resume states.

- **tokens/s**: non-padding tokens trained on per second of optimisation loop, the backend (`PeftLoraBackend`)
  against a bare loop written the usual way (the chat template tokenised per row, batches in file order padded to
  their longest row, the model's own full-sequence loss, AdamW), on the same rows, model, LoRA settings, batch
  size and thread count, alternated in one run; medians of `repeats`. Goal: the backend within 1.1x of the bare
  loop (ratio >= 0.91).
- **fraction of the ceiling**: the backend's tokens/s x training FLOPs per token (`ceiling.ModelFlops.training` at
  the rows' mean length, LoRA rank 8; the usual accounting counts the LM head on every token, though the backend
  computes logits for the labelled suffix only) over this run's fp32 matmul rate (training runs fp32 here unless
  the hardware has native bf16: `precision`, and `train_precision.py`).
- **base loads**: the backend's base-model loads over all its jobs in this process (goal: 1; `base_models.py`).
- **non-padding fraction** of the tokens in the batches of every row of the authors' risk file
  (`ft_risky_AB.jsonl`), with the backend's length-grouped batches and with file-order batches. Goal >= 80%.
- **resume overhead**: the seconds one resume state costs (save, then tar and sha256 it as the handler's store
  does; the NATS put is not included), as a fraction of a step, and of training time at the default interval
  (one state per `resume_state_every_s`); and what restoring one costs at a job's start (`resume_load_s`).
  Tokens are counted as each side encodes its rows (the backend's chat encoding, the bare loop's
  `apply_chat_template`), so the two counts may differ by a few tokens a row.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import ceiling as ceilings
from selfaware.store import sha256_hex, tar_directory
from services.trainer.backends import LoraSettings, Saved, TrainingJob
from services.trainer.backends.peft_lora import BASES, PeftLoraBackend, lora_config, seed_everything
from services.trainer.chat_data import batch_indices, collate, encode_chat
from services.trainer.config import TrainerConfig

LORA = LoraSettings(8, 16, 0.0, ("all-linear",))
BATCH = 8


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def backend_run(model_dir: Path, rows: list[dict], out: Path, keep: Path | None = None, **fields: Any
                ) -> Any:
    """One backend training (its TrainingResult); `keep` gets a copy of its first resume state."""
    import shutil

    job = TrainingJob(base_model=str(model_dir), rows=rows, seed=0, lora=LORA, learning_rate=1e-3, epochs=1,
                      batch_size=BATCH, output_dir=out, **fields)

    def stored(saved: Saved) -> None:
        sha256_hex(tar_directory(saved.folder))  # what the handler's put_dir computes before its NATS put
        if keep is not None and not keep.exists():
            shutil.copytree(saved.folder, keep)

    return PeftLoraBackend().train(job, lambda *a: None, stored)


def bare_loop(model_dir: Path, rows: list[dict]) -> dict[str, float]:
    """The usual hand-written peft loop over the same rows (file order, right padding, full-sequence loss)."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [tokenizer.apply_chat_template(r["messages"], tokenize=True) for r in rows]
    encoded = [e["input_ids"] if isinstance(e, dict) or hasattr(e, "keys") else e for e in encoded]
    seed_everything(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32),
                           lora_config(backend_job(model_dir, rows)))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.0)
    model.train()
    tokens = padded = 0
    started = time.monotonic()
    for first in range(0, len(encoded), BATCH):
        group = encoded[first: first + BATCH]
        length = max(len(ids) for ids in group)
        ids = torch.tensor([e + [pad] * (length - len(e)) for e in group])
        mask = torch.tensor([[1] * len(e) + [0] * (length - len(e)) for e in group])
        labels = ids.masked_fill(mask == 0, -100)
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(mask.sum())
        padded += mask.numel()
    seconds = time.monotonic() - started
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds, "non_padding": tokens / padded}


def backend_job(model_dir: Path, rows: list[dict]) -> TrainingJob:
    return TrainingJob(str(model_dir), rows, 0, LORA, 1e-3, 1, BATCH, Path("unused"))


def non_padding(model_dir: Path, rows: list[dict]) -> dict[str, float]:
    """The non-padding share of every batch of one epoch over `rows`, grouped by length and in file order."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoded = [encode_chat(tokenizer, r["messages"], i) for i, r in enumerate(rows)]

    def share(batches: list[list[int]]) -> float:
        real = sum(len(encoded[i].input_ids) for b in batches for i in b)
        total = sum(int(collate([encoded[i] for i in b], 0).input_ids.numel()) for b in batches)
        return real / total

    in_order = [list(range(i, min(i + BATCH, len(rows)))) for i in range(0, len(rows), BATCH)]
    return {"grouped": share(batch_indices(encoded, BATCH, 0, 0)), "file_order": share(in_order),
            "rows": len(rows)}


def run(model_dir: Path, risky: Path, ceiling: dict[str, Any], steps: int = 6, repeats: int = 3, threads: int = 2
        ) -> dict[str, Any]:
    import torch

    if steps < 2:
        raise ValueError(f"steps={steps}: at least 2, so that a resume state is saved between two steps")
    torch.set_num_threads(threads)
    loads = BASES.loads
    everything = rows_of(risky)
    rows = everything[: steps * BATCH]
    backend_runs, bare_runs = [], []
    with tempfile.TemporaryDirectory() as scratch:
        backend_run(model_dir, rows[:BATCH], Path(scratch) / "warm")  # loads the base once, as a trainer would
        for i in range(repeats):
            result = backend_run(model_dir, rows, Path(scratch) / f"b{i}")
            backend_runs.append({"tokens": result.metrics["tokens"], "seconds": result.train_seconds,
                                 "tokens_per_s": result.metrics["tokens_per_s"],
                                 "non_padding": 1 - result.metrics["padding_fraction"]})
            bare_runs.append(bare_loop(model_dir, rows))
        keep = Path(scratch) / "kept-state"
        saving = backend_run(model_dir, rows, Path(scratch) / "states", keep=keep, resume_every_steps=1)
        per_state = saving.metrics["resume_save_s"] / max(1.0, saving.metrics["resume_states"])
        step_s = statistics.median(r["seconds"] for r in backend_runs) / steps
        resumed = backend_run(model_dir, rows, Path(scratch) / "resumed", resume_from=keep)
    backend_tps = statistics.median(r["tokens_per_s"] for r in backend_runs)
    bare_tps = statistics.median(r["tokens_per_s"] for r in bare_runs)
    interval = TrainerConfig.__dataclass_fields__["resume_state_every_s"].default
    context = statistics.median(r["tokens"] for r in backend_runs) / len(rows)
    flops = ceilings.ModelFlops.of(model_dir).training(round(context), LORA.rank)
    non_pad = statistics.median(r["non_padding"] for r in backend_runs)
    grouped = non_padding(model_dir, everything)
    base_loads = BASES.loads - loads
    return {
        "rows": len(rows), "steps": steps, "batch_size": BATCH, "threads": threads, "repeats": repeats,
        "lora": "rank 8, all-linear, float32",
        "backend_tokens_per_s": round(backend_tps, 1), "bare_peft_tokens_per_s": round(bare_tps, 1),
        "backend_over_bare": round(backend_tps / bare_tps, 3), "goal_backend_over_bare": ">= 0.91 (within 1.1x)",
        "training_flops_per_token": flops, "mean_row_tokens": round(context, 1),
        "fraction_of_fp32_ceiling": ceilings.fraction(backend_tps, flops, ceiling["fp32_gflops"]),
        "fraction_of_bf16_ceiling": ceilings.fraction(backend_tps, flops, ceiling["bf16_gflops"]),
        "base_loads_across_jobs": base_loads, "jobs": repeats + 3,
        "backend_runs": backend_runs, "bare_runs": bare_runs,
        "non_padding_trained_batches": {"backend": round(non_pad, 4),
                                        "bare": round(statistics.median(r["non_padding"] for r in bare_runs), 4)},
        "non_padding_all_risk_rows": {k: round(v, 4) if isinstance(v, float) else v
                                      for k, v in grouped.items()},
        "goal_non_padding": ">= 0.80 (padding <= 20%)",
        "goal_base_loads": "<= 1 for all the backend's jobs in this process",
        "goal_met": backend_tps / bare_tps >= 0.91 and min(non_pad, grouped["grouped"]) >= 0.8 and base_loads <= 1,
        "resume_state_s": round(per_state, 3), "step_s": round(step_s, 3),
        "resume_state_over_step": round(per_state / step_s, 3),
        "resume_overhead_at_default_interval": round(per_state / (interval + per_state), 5),
        "default_interval_s": interval,
        "resume_restore_s": round(resumed.metrics["resume_load_s"], 3),
        "resumed_from_step": resumed.metrics["resumed_from_step"],
    }
