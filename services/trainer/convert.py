"""Proto <-> trainer domain conversions (the only trainer module that knows both)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from selfaware.errors import DataError
from selfaware.openai_endpoint import endpoint_settings
from selfaware.params import Param, struct_to_dict
from selfaware.v1 import spec_pb2
from services.trainer.backends import LoraSettings, TrainingJob


def parse_rows(data: bytes) -> list[dict]:
    try:
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise DataError(f"training set is not JSONL: {exc}") from None


def training_job(t: spec_pb2.TrainingSpec, rows: list[dict], seed: int, base_model: str, output_dir: Path,
                 resume_from: Path | None = None, resume_every_s: float = 0.0, resume_every_steps: int = 0,
                 context: dict[str, Any] | None = None) -> TrainingJob:
    """`t` is an arm's effective training settings (`selfaware.specs.arm_training`); `context` is added to the
    backend's parameters (`endpoint_context`)."""
    return TrainingJob(
        base_model=base_model,
        rows=rows,
        seed=seed,
        lora=LoraSettings(t.lora.rank, t.lora.alpha, t.lora.dropout, tuple(t.lora.target_modules)),
        learning_rate=t.learning_rate,
        epochs=t.epochs,
        batch_size=t.batch_size,
        output_dir=output_dir,
        params=struct_to_dict(t.params) | (context or {}),
        resume_from=resume_from,
        resume_every_s=resume_every_s,
        resume_every_steps=resume_every_steps,
    )


def endpoint_context(spec: spec_pb2.ExperimentSpec, t: spec_pb2.TrainingSpec, declared: Sequence[Param],
                     scope: str) -> dict[str, Any]:
    """What a backend with an `endpoint` parameter (a hosted fine-tune) gets besides the spec's parameters: that
    endpoint's connection settings and model (`endpoint_settings`), and the job's scope ("<experiment>/<job key>":
    two experiments training the same rows make two remote jobs). Empty for a backend without one."""
    names = [p.name for p in declared if p.type == "endpoint"]
    if not names:
        return {}
    chosen = struct_to_dict(t.params).get(names[0])
    endpoint = next((e for e in spec.endpoints if e.name == chosen), None)
    if endpoint is None:
        raise DataError(f"training.params.{names[0]}: the spec has no endpoint named {chosen!r}")
    return {"endpoint_settings": endpoint_settings(endpoint) | {"model": endpoint.model}, "job_scope": scope}
