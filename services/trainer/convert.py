"""Proto <-> trainer domain conversions (the only trainer module that knows both)."""

from __future__ import annotations

import json
from pathlib import Path

from selfaware.errors import DataError
from selfaware.params import struct_to_dict
from selfaware.v1 import spec_pb2
from services.trainer.backends import LoraSettings, TrainingJob


def parse_rows(data: bytes) -> list[dict]:
    try:
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise DataError(f"training set is not JSONL: {exc}") from None


def training_job(t: spec_pb2.TrainingSpec, rows: list[dict], seed: int, base_model: str,
                 output_dir: Path) -> TrainingJob:
    """`t` is an arm's effective training settings (`selfaware.specs.arm_training`)."""
    return TrainingJob(
        base_model=base_model,
        rows=rows,
        seed=seed,
        lora=LoraSettings(t.lora.rank, t.lora.alpha, t.lora.dropout, tuple(t.lora.target_modules)),
        learning_rate=t.learning_rate,
        epochs=t.epochs,
        batch_size=t.batch_size,
        output_dir=output_dir,
        params=struct_to_dict(t.params),
    )
