"""The peft-lora backend's `training.params`: their declarations, and how they resolve on this machine's hardware.

Declared once here, they are published in the trainer's catalogue (so a spec is checked at submit) and read back
by the backend with the same defaults. Options that need hardware this process lacks (4-bit QLoRA, sharding
with `device_map`) fail the job at its start with an error naming the field: the aggregator validates against
the catalogue, not against the GPUs of whichever replica will take the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfaware.errors import SpecError
from selfaware.params import REQUIRED, Param

FIELD = "training.params"

PARAMS: tuple[Param, ...] = (
    Param("dtype", "string", "weights and compute dtype; auto: bfloat16 on CUDA, float32 on CPU", default="auto",
          choices=("auto", "float32", "bfloat16")),
    Param("precision", "string", "compute precision of float32 weights: bfloat16 runs the forward and backward "
          "under torch.autocast (the LoRA weights and optimiser stay float32); auto: bfloat16 only where the "
          "hardware has native bf16 (CUDA, or a CPU with AVX512-BF16 or AMX), else float32", default="auto",
          choices=("auto", "float32", "bfloat16")),
    Param("gradient_accumulation_steps", "int", "micro-batches of batch_size summed into one optimiser step",
          default=1, min=1, max=1024),
    Param("gradient_checkpointing", "bool", "recompute activations in the backward pass: less memory, ~30% "
          "slower", default=False),
    Param("load_in_4bit", "bool", "QLoRA: the base model in 4-bit NF4 via bitsandbytes (CUDA only)", default=False),
    Param("device_map", "string", "none: the whole model on one device; auto: shard a large base over this "
          "node's GPUs with accelerate (CUDA only)", default="none", choices=("none", "auto")),
    Param("group_by_length", "bool", "batch rows of similar length (less padding), batches in seeded random "
          "order; false: rows in seeded random order", default=True),
    Param("lr_scheduler", "string", "learning-rate schedule after warm-up (the paper's hosted runs' schedule is "
          "not reported)", default="constant", choices=("constant", "linear", "cosine")),
    Param("warmup_steps", "int", "optimiser steps of linear warm-up from 0", default=0, min=0),
    Param("checkpoint_epochs", "bool", "store the adapter after every epoch as a checkpoint (Job.checkpoints)",
          default=False),
    Param("checkpoint_every_steps", "int", "also store the adapter every N optimiser steps; 0: never",
          default=0, min=0),
    Param("max_tokens_per_row", "int", "most tokens of a training row (chat template included); a longer row "
          "loses whole trailing turns, keeping its start, and a row whose first assistant turn ends past the "
          "limit is dropped (job metrics rows_truncated, rows_dropped_too_long); rows are not packed, one per "
          "sequence; 0: no limit", default=0, min=0),
)


@dataclass(frozen=True)
class PeftOptions:
    """`training.params` of one job, with every default filled."""

    dtype: str
    precision: str
    gradient_accumulation_steps: int
    gradient_checkpointing: bool
    load_in_4bit: bool
    device_map: str
    group_by_length: bool
    lr_scheduler: str
    warmup_steps: int
    checkpoint_epochs: bool
    checkpoint_every_steps: int
    max_tokens_per_row: int

    @classmethod
    def parse(cls, params: dict[str, Any]) -> PeftOptions:
        """Defaults for what a caller left out (a spec completed at submit has them all already)."""
        known = {p.name: p for p in PARAMS}
        if unknown := sorted(set(params) - set(known)):
            raise SpecError.single(f"{FIELD}.{unknown[0]}", f"unknown parameter; valid: {', '.join(known)}")
        values = {name: params.get(name, p.default) for name, p in known.items()}
        assert all(v is not REQUIRED for v in values.values())
        return cls(**values)


@dataclass(frozen=True)
class Placement:
    """Where and how the base model is loaded."""

    device: str
    #: A torch dtype's name: "float32" or "bfloat16".
    dtype: str
    #: None (one device) or "auto" (accelerate shards over the visible GPUs).
    device_map: str | None
    load_in_4bit: bool


def placement(options: PeftOptions, cuda: bool) -> Placement:
    """Resolve the options on this machine; a SpecError naming the field if they need CUDA and there is none."""
    if not cuda:
        if options.load_in_4bit:
            raise SpecError.single(f"{FIELD}.load_in_4bit", "4-bit QLoRA needs a CUDA GPU and bitsandbytes; this "
                                                            "trainer has no CUDA device (set it to false here)")
        if options.device_map != "none":
            raise SpecError.single(f"{FIELD}.device_map", f"{options.device_map!r} shards over CUDA GPUs; this "
                                                          "trainer has none (use none)")
    if options.load_in_4bit:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise SpecError.single(f"{FIELD}.load_in_4bit", "4-bit QLoRA needs the bitsandbytes package, which "
                                                            "this trainer lacks (pip install bitsandbytes)") from None
    dtype = options.dtype if options.dtype != "auto" else ("bfloat16" if cuda else "float32")
    return Placement("cuda" if cuda else "cpu", dtype, None if options.device_map == "none" else "auto",
                     options.load_in_4bit)


def native_bf16(cuda: bool) -> bool:
    """Whether bf16 matmuls run natively here. Why it matters: on a CPU without AVX512-BF16 or AMX, torch emulates
    bf16 at about 0.3x its fp32 rate (bench/ceiling.py), so autocast would slow training down."""
    if cuda:
        import torch

        return bool(torch.cuda.is_bf16_supported())
    flags = cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """This CPU's feature flags (empty where /proc/cpuinfo is absent)."""
    if not cpuinfo.exists():
        return []
    return next((line.split(":", 1)[1].split() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("flags")), [])


def autocast_bf16(options: PeftOptions, place: Placement) -> bool:
    """Whether the job computes under bf16 autocast, decided at run time from `precision` and the hardware."""
    if place.dtype == "bfloat16" or options.load_in_4bit:
        return False  # the weights are bf16 already (4-bit computes in its own compute dtype)
    if options.precision == "auto":
        return native_bf16(place.device == "cuda")
    return options.precision == "bfloat16"
