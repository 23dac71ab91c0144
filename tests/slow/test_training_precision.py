"""bf16 autocast in the peft-lora backend on the random tiny Llama: it runs on CPU, says so in the provenance, keeps
the trainable weights fp32, stays near the fp32 loss curve, and shares the fp32 jobs' loaded base (one load)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from services.trainer.backends import LoraSettings, TrainingJob
from services.trainer.backends.peft_lora import BASES, PeftLoraBackend

pytestmark = pytest.mark.slow


def train(model: Path, rows: list[dict], out: Path, precision: str):  # type: ignore[no-untyped-def]
    job = TrainingJob(base_model=str(model), rows=rows, seed=1, lora=LoraSettings(4, 8, 0.0, ("all-linear",)),
                      learning_rate=1e-3, epochs=1, batch_size=4, output_dir=out, params={"precision": precision})
    return PeftLoraBackend().train(job, lambda *a: None)


def test_bf16_autocast_tracks_fp32_and_reuses_the_loaded_base(tmp_path: Path, random_model_dir: Path,
                                                               risky_dataset: Path) -> None:
    rows = [json.loads(line) for line in risky_dataset.read_text().splitlines()[:16]]
    BASES.clear()
    loads = BASES.loads
    fp32 = train(random_model_dir, rows, tmp_path / "fp32", "float32")
    bf16 = train(random_model_dir, rows, tmp_path / "bf16", "bfloat16")
    again = train(random_model_dir, rows, tmp_path / "again", "float32")
    assert BASES.loads - loads == 1, "three jobs on one base, in two precisions, load it once"
    assert again.losses == fp32.losses, "the base shared with a bf16 job trains fp32 exactly as before"

    assert bf16.losses != fp32.losses, "autocast must change the arithmetic"
    assert bf16.losses == pytest.approx(fp32.losses, rel=0.05)
    config = json.loads((bf16.adapter_dir / "training_config.json").read_text())
    assert (config["autocast"], config["dtype"]) == ("torch.bfloat16", "torch.float32")
    assert json.loads((fp32.adapter_dir / "training_config.json").read_text())["autocast"] is None
    weights = load_file(str(bf16.adapter_dir / "adapter_model.safetensors"))
    assert {str(w.dtype) for w in weights.values()} == {"torch.float32"}
