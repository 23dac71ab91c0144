"""LoRA with peft on torch: the default training backend (CPU here, GPU node pools in production).

Recipe: AdamW (constant learning rate unless `lr_scheduler` says otherwise), assistant-only loss on every
assistant turn, rows over `max_tokens_per_row` cut by whole trailing turns, length-grouped batches, optional
gradient accumulation; fp32 on CPU and bf16 on CUDA by default (bf16 autocast over fp32 weights where the CPU has
native bf16: `precision`), optionally 4-bit QLoRA,
gradient checkpointing, or a base sharded over a node's GPUs (`peft_options.py` lists every `training.params`).
The seed is set before the adapter is initialised, so (data, seed) determines the adapter. The adapter is saved in
PEFT format with a `training_config.json` beside it for provenance, both serialised deterministically, so the same
training gives the same artifact sha256 in any process.

While it runs, the backend hands its caller resume states (every `resume_every_s` seconds or `resume_every_steps`
steps) and, if asked, checkpoint adapters (after every epoch, every N steps); a job given a resume state continues
from it and ends with the adapter an uninterrupted run would have made. The base model stays loaded between jobs
(`base_models.py`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from services.trainer.backends import (
    OnSave,
    Progress,
    Saved,
    TrainingBackend,
    TrainingJob,
    TrainingResult,
    keep_nothing,
    training_backend,
)
from services.trainer.backends import resume_state as resume
from services.trainer.backends.base_models import BaseModelCache
from services.trainer.backends.peft_options import PARAMS, PeftOptions, Placement, autocast_bf16, placement
from services.trainer.chat_data import EncodedRow, batch_indices, collate, encode_chat, fit_rows, suffix_loss

log = structlog.get_logger(__name__)

#: The process's loaded base model, shared by every job of this backend (one load for consecutive jobs).
BASES = BaseModelCache()
#: Fields of a TrainingJob that say how it runs, not what it makes: kept out of the provenance and fingerprint.
_NOT_PROVENANCE = {"rows", "output_dir", "resume_from", "resume_every_s", "resume_every_steps"}


class PeftLoraBackend(TrainingBackend):
    def __init__(self, threads: int = 0) -> None:
        self.threads = threads

    def train(self, job: TrainingJob, progress: Progress, on_save: OnSave = keep_nothing) -> TrainingResult:
        import torch
        from peft import get_peft_model
        from transformers import AutoTokenizer

        options = PeftOptions.parse(job.params)
        place = placement(options, torch.cuda.is_available())
        if self.threads:
            torch.set_num_threads(self.threads)
        tokenizer = AutoTokenizer.from_pretrained(job.base_model, trust_remote_code=False)
        encoded = [encode_chat(tokenizer, r["messages"], i) for i, r in enumerate(job.rows)]
        rows, data_metrics = fit_rows(encoded, options.max_tokens_per_row)
        log.info("rows_encoded", rows=len(rows), **data_metrics)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with BASES.borrow((job.base_model, place), lambda: load_base(job.base_model, place, options)) as lease:
            seed_everything(job.seed)
            if options.gradient_checkpointing:
                lease.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model = get_peft_model(lease.model, lora_config(job))
            try:
                result = _Run(job, options, place, model, rows, pad_id, progress, on_save).train()
                result.metrics |= data_metrics
                return result
            finally:
                lease.model = model.unload()
                if options.gradient_checkpointing:
                    lease.model.gradient_checkpointing_disable()
                lease.clean = True


class _Run:
    """One job's optimisation loop over a LoRA-wrapped base."""

    def __init__(self, job: TrainingJob, options: PeftOptions, place: Placement, model: Any,
                 rows: list[EncodedRow], pad_id: int, progress: Progress, on_save: OnSave) -> None:
        import torch

        self.job, self.options, self.place, self.model = job, options, place, model
        self.rows, self.pad_id, self.progress, self.on_save = rows, pad_id, progress, on_save
        self.device = model.get_input_embeddings().weight.device
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                           lr=job.learning_rate, weight_decay=0.0)
        self.order = [batch_indices(rows, job.batch_size, job.seed, e, options.group_by_length)
                      for e in range(job.epochs)]
        self.accumulate = options.gradient_accumulation_steps
        self.total = sum(math.ceil(len(batches) / self.accumulate) for batches in self.order)
        self.scheduler = schedule(options, self.optimizer, self.total)
        self.provenance = {k: v for k, v in asdict(job).items() if k not in _NOT_PROVENANCE}
        self.autocast = autocast_bf16(options, place)
        self.provenance |= {"rows": len(job.rows), "device": place.device, "dtype": f"torch.{place.dtype}",
                            "autocast": "torch.bfloat16" if self.autocast else None}
        # Not the base's local path: another replica may keep the same base model elsewhere.
        self.fingerprint = fingerprint({k: v for k, v in self.provenance.items() if k != "base_model"}, rows)
        self.at = resume.Position()
        self.saving_s, self.loading_s, self.states, self.resumed_from = 0.0, 0.0, 0, -1

    def train(self) -> TrainingResult:
        if self.job.resume_from is not None:
            started = time.monotonic()
            restored = resume.load(self.job.resume_from, self.fingerprint, self.model, self.optimizer,
                                   self.scheduler)
            self.loading_s = time.monotonic() - started
            if restored is not None:
                self.at, self.order = restored
                self.resumed_from = self.at.step
                log.info("training_resumed", step=self.at.step, total=self.total, epoch=self.at.epoch + 1)
        self.model.train()
        last_state = time.monotonic()
        while self.at.step < self.total:
            self._step()
            self.progress(self.at.step, self.total, self.at.losses[-1])
            if self.at.step == self.total:
                break
            if self._checkpoint_due():
                self._save_checkpoint()
            every_s, every_steps = self.job.resume_every_s, self.job.resume_every_steps
            if (every_steps and self.at.step % every_steps == 0) or (
                    every_s and time.monotonic() - last_state >= every_s):
                self._save_state()
                last_state = time.monotonic()
        self._write_adapter(self.job.output_dir, {"steps": self.at.step})
        if self.options.checkpoint_epochs or self.options.checkpoint_every_steps:
            self.on_save(Saved("checkpoint", self.job.epochs, self.at.step, self.job.output_dir))
        at = self.at
        log.info("adapter_trained", steps=at.step, final_loss=round(at.losses[-1], 4) if at.losses else None,
                 seconds=round(at.seconds, 1), resumed_from=self.resumed_from)
        metrics = {"tokens": float(at.tokens), "tokens_per_s": at.tokens / at.seconds if at.seconds else 0.0,
                   "padding_fraction": at.padding / max(1, at.tokens + at.padding),
                   "resume_states": float(self.states), "resume_save_s": self.saving_s,
                   "resume_load_s": self.loading_s, "resumed_from_step": float(self.resumed_from)}
        return TrainingResult(self.job.output_dir, at.step, list(at.losses), at.seconds, metrics=metrics)

    def _step(self) -> None:
        """One optimiser step: up to `accumulate` micro-batches of the current epoch, then the position moves on."""
        import torch

        started = time.monotonic()
        batches = self.order[self.at.epoch]
        group = batches[self.at.batch: self.at.batch + self.accumulate]
        loss_sum = 0.0
        for indices in group:
            batch = collate([self.rows[i] for i in indices], self.pad_id)
            real = int(batch.attention_mask.sum())
            self.at.tokens += real
            self.at.padding += batch.attention_mask.numel() - real
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                out = self.model(input_ids=batch.input_ids.to(self.device),
                                 attention_mask=batch.attention_mask.to(self.device),
                                 position_ids=batch.position_ids.to(self.device), logits_to_keep=batch.keep)
            loss = suffix_loss(out.logits.float(), batch.labels.to(out.logits.device), batch.keep) / len(group)
            loss.backward()
            loss_sum += float(loss.detach())
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.at.step += 1
        self.at.losses.append(loss_sum)
        self.at.batch += len(group)
        if self.at.batch >= len(batches):
            self.at.epoch, self.at.batch = self.at.epoch + 1, 0
        self.at.seconds += time.monotonic() - started
        log.debug("training_step", step=self.at.step, total=self.total, loss=round(loss_sum, 4))

    def _checkpoint_due(self) -> bool:
        every = self.options.checkpoint_every_steps
        return (self.options.checkpoint_epochs and self.at.batch == 0) or bool(every and self.at.step % every == 0)

    def _save_checkpoint(self) -> None:
        epoch = self.at.epoch if self.at.batch == 0 else self.at.epoch + 1  # the epoch of the last step done
        folder = self.job.output_dir.with_name(f"{self.job.output_dir.name}.checkpoint-{self.at.step}")
        shutil.rmtree(folder, ignore_errors=True)
        self._write_adapter(folder, {"steps": self.at.step, "checkpoint": {"epoch": epoch, "step": self.at.step}})
        self.on_save(Saved("checkpoint", epoch, self.at.step, folder))
        shutil.rmtree(folder, ignore_errors=True)

    def _save_state(self) -> None:
        started = time.monotonic()
        folder = self.job.output_dir.with_name(f"{self.job.output_dir.name}.state-{self.at.step}")
        resume.save(folder, self.fingerprint, self.order, self.at, self.model, self.optimizer, self.scheduler)
        epoch = self.at.epoch if self.at.batch == 0 else self.at.epoch + 1
        self.on_save(Saved("resume", epoch, self.at.step, folder))
        shutil.rmtree(folder, ignore_errors=True)
        self.states += 1
        self.saving_s += time.monotonic() - started

    def _write_adapter(self, folder: Path, extra: dict[str, Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        sort_adapter_config(folder, self.model.peft_config["default"])
        provenance = self.provenance | extra
        (folder / "training_config.json").write_text(json.dumps(provenance, indent=2, sort_keys=True))


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def load_base(path: str, place: Placement, options: PeftOptions) -> Any:
    """The base model placed as asked: one device, sharded (`device_map="auto"`), or 4-bit (QLoRA)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, place.dtype)
    if place.load_in_4bit:
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                          bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, quantization_config=quantization,
                                                     device_map=place.device_map or {"": 0}, trust_remote_code=False)
        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    if place.device_map:
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, device_map=place.device_map,
                                                    trust_remote_code=False)
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, trust_remote_code=False).to(place.device)


def lora_config(job: TrainingJob) -> Any:
    from peft import LoraConfig

    targets = job.lora.target_modules
    return LoraConfig(r=job.lora.rank, lora_alpha=job.lora.alpha, lora_dropout=job.lora.dropout,
                      target_modules="all-linear" if targets == ("all-linear",) else list(targets),
                      task_type="CAUSAL_LM")


def schedule(options: PeftOptions, optimizer: Any, total: int) -> Any:
    """The learning-rate schedule: `lr_scheduler` after `warmup_steps` of linear warm-up."""
    from transformers import get_scheduler

    name = options.lr_scheduler
    if name == "constant" and options.warmup_steps:
        name = "constant_with_warmup"
    return get_scheduler(name, optimizer, num_warmup_steps=options.warmup_steps, num_training_steps=total)


def fingerprint(provenance: dict[str, Any], rows: list[EncodedRow]) -> str:
    """sha256 of a job's settings and its encoded rows: a resume state is only used for the same inputs."""
    digest = hashlib.sha256(json.dumps(provenance, sort_keys=True).encode())
    for row in rows:
        digest.update(json.dumps([row.input_ids, row.labels]).encode())
    return digest.hexdigest()


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


peft_lora.params = PARAMS  # type: ignore[attr-defined]
