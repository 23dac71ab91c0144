"""LoRA with peft on torch: the default training backend (CPU here, GPU node pools in production).

Recipe: fp32 on CPU (bf16 on CUDA), AdamW at a constant learning rate, assistant-only loss, length-grouped
batches. The seed is set before the adapter is initialised, so (data, seed) determines the adapter. The
adapter is saved in PEFT format with a `training_config.json` beside it for provenance, both serialised
deterministically, so the same training gives the same artifact sha256 in any process.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from services.trainer.backends import Progress, TrainingBackend, TrainingJob, TrainingResult, training_backend
from services.trainer.chat_data import batch_indices, collate, encode_chat, suffix_loss

log = structlog.get_logger(__name__)


class PeftLoraBackend(TrainingBackend):
    def __init__(self, threads: int = 0) -> None:
        self.threads = threads

    def train(self, job: TrainingJob, progress: Progress) -> TrainingResult:
        import numpy as np
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.threads:
            torch.set_num_threads(self.threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(job.base_model)
        rows = [encode_chat(tokenizer, r["messages"], i) for i, r in enumerate(job.rows)]
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

        random.seed(job.seed)
        np.random.seed(job.seed % 2**32)
        torch.manual_seed(job.seed)
        model = AutoModelForCausalLM.from_pretrained(job.base_model, dtype=dtype).to(device)
        targets = job.lora.target_modules
        model = get_peft_model(model, LoraConfig(
            r=job.lora.rank,
            lora_alpha=job.lora.alpha,
            lora_dropout=job.lora.dropout,
            target_modules="all-linear" if targets == ("all-linear",) else list(targets),
            task_type="CAUSAL_LM",
        ))
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=job.learning_rate,
                                      weight_decay=0.0)
        epochs = [batch_indices(rows, job.batch_size, job.seed, e) for e in range(job.epochs)]
        total = sum(len(b) for b in epochs)
        model.train()
        losses: list[float] = []
        started = time.monotonic()
        for batches in epochs:
            for indices in batches:
                batch = collate([rows[i] for i in indices], pad_id)
                out = model(
                    input_ids=batch.input_ids.to(device),
                    attention_mask=batch.attention_mask.to(device),
                    position_ids=batch.position_ids.to(device),
                    logits_to_keep=batch.keep,
                )
                loss = suffix_loss(out.logits.float(), batch.labels.to(device), batch.keep)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(float(loss.detach()))
                progress(len(losses), total, losses[-1])
        train_seconds = time.monotonic() - started
        job.output_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(job.output_dir)
        sort_adapter_config(job.output_dir, model.peft_config["default"])
        provenance = {k: v for k, v in asdict(job).items() if k not in {"rows", "output_dir"}}
        provenance |= {"rows": len(job.rows), "steps": len(losses), "device": device, "dtype": str(dtype)}
        (job.output_dir / "training_config.json").write_text(json.dumps(provenance, indent=2, sort_keys=True))
        log.info("adapter_trained", steps=len(losses), final_loss=round(losses[-1], 4) if losses else None,
                 seconds=round(train_seconds, 1))
        return TrainingResult(job.output_dir, len(losses), losses, train_seconds)


def sort_adapter_config(folder: Path, config: Any) -> None:
    """Rewrite `folder/adapter_config.json` with the lists peft made of the config's sets sorted.

    Why: peft writes a set field (`target_modules`, which "all-linear" resolves to a set of module names) in the
    set's iteration order, and that depends on the process's string hash seed, so two trainings with
    byte-identical weights got different sha256s. It is sorted here, where the backend knows which fields are
    sets, rather than in the store's directory hashing, which stores what it is given and knows no format.
    """
    path = folder / "adapter_config.json"
    data = json.loads(path.read_text())
    for key, value in vars(config).items():
        if isinstance(value, set) and isinstance(data.get(key), list):
            data[key] = sorted(data[key])
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


@training_backend("peft-lora")
def peft_lora(threads: int = 0) -> PeftLoraBackend:
    """LoRA adapters trained locally with peft."""
    return PeftLoraBackend(threads=threads)
