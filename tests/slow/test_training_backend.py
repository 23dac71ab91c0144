"""The peft-lora backend on the random-weight tiny Llama (`random_model_dir`: the mechanics, never the model's
quality): epoch checkpoints, resume from a saved state to the same adapter, one base load for consecutive jobs,
gradient accumulation, schedules, and the tokens/s and padding metrics."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from selfaware.store import tar_directory
from services.trainer.backends import LoraSettings, Saved, TrainingJob
from services.trainer.backends.peft_lora import BASES, PeftLoraBackend

pytestmark = pytest.mark.slow


def rows(risky_dataset: Path, count: int) -> list[dict]:
    """The authors' shortest rows: quick steps on two shared cores."""
    data = [json.loads(line) for line in risky_dataset.read_text().splitlines() if line.strip()]
    return sorted(data, key=lambda r: len(json.dumps(r)))[:count]


def job(model_dir: Path, data: list[dict], out: Path, **fields: object) -> TrainingJob:
    settings: dict = {"base_model": str(model_dir), "rows": data, "seed": 3,
                      "lora": LoraSettings(4, 8, 0.1, ("q_proj", "v_proj")), "learning_rate": 3e-3, "epochs": 2,
                      "batch_size": 2, "output_dir": out, **fields}
    return TrainingJob(**settings)


class Kept:
    """An `on_save` that keeps a copy of every saved folder (the backend deletes its own after the call)."""

    def __init__(self, root: Path) -> None:
        self.root, self.saved = root, []

    def __call__(self, saved: Saved) -> None:
        copy = self.root / f"{saved.kind}-{saved.step}"
        shutil.copytree(saved.folder, copy)
        self.saved.append((saved, copy, tar_directory(saved.folder)))


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


def test_epoch_checkpoints_resume_and_one_base_load(tmp_path: Path, random_model_dir: Path,
                                                     risky_dataset: Path) -> None:
    data = rows(risky_dataset, 6)  # 3 steps an epoch, 6 in all
    params = {"checkpoint_epochs": True, "lr_scheduler": "linear", "warmup_steps": 1}
    kept = Kept(tmp_path / "kept")
    loads = BASES.loads
    full = PeftLoraBackend().train(job(random_model_dir, data, tmp_path / "full", params=params,
                                       resume_every_steps=2), lambda *a: None, kept)
    assert full.steps == 6 and len(full.losses) == 6

    checkpoints = [(s, copy, tar) for s, copy, tar in kept.saved if s.kind == "checkpoint"]
    assert [(s.epoch, s.step) for s, _, _ in checkpoints] == [(1, 3), (2, 6)]
    first, last = (weights(copy) for _, copy, _ in checkpoints)
    assert any(not torch.equal(first[k], last[k]) for k in first), "the epoch checkpoints must differ"
    assert checkpoints[-1][2] == tar_directory(full.adapter_dir), "the last epoch's checkpoint is the adapter"
    assert json.loads((checkpoints[0][1] / "training_config.json").read_text())["checkpoint"] == {
        "epoch": 1, "step": 3}
    states = [(s, copy) for s, copy, _ in kept.saved if s.kind == "resume"]
    assert [s.step for s, _ in states] == [2, 4]  # none at the end: the adapter is the result

    # A restart from the state at step 4 (mid-epoch 2) ends with the same adapter, computing steps 5 and 6 only.
    steps_run: list[int] = []
    resumed = PeftLoraBackend().train(job(random_model_dir, data, tmp_path / "resumed", params=params,
                                          resume_from=states[1][1]), lambda s, t, loss: steps_run.append(s))
    assert steps_run == [5, 6] and resumed.metrics["resumed_from_step"] == 4
    assert resumed.metrics["resume_load_s"] > 0 and full.metrics["resume_states"] == 2
    assert resumed.losses[:4] == full.losses[:4] and resumed.losses[4:] == pytest.approx(full.losses[4:], abs=1e-6)
    again, want = weights(resumed.adapter_dir), weights(full.adapter_dir)
    assert all(torch.allclose(again[k], want[k], atol=1e-6, rtol=0) for k in want)
    assert BASES.loads - loads <= 1, "consecutive jobs on one base load it once"

    # A state saved for other inputs (another learning rate) is ignored: the job starts over.
    steps_run.clear()
    PeftLoraBackend().train(job(random_model_dir, data, tmp_path / "other", params=params, learning_rate=1e-3,
                                resume_from=states[1][1]), lambda s, t, loss: steps_run.append(s))
    assert steps_run == [1, 2, 3, 4, 5, 6]


def test_accumulation_grouping_and_metrics(tmp_path: Path, random_model_dir: Path, risky_dataset: Path) -> None:
    data = rows(risky_dataset, 40)[::5]  # 8 rows of spread lengths
    BASES.clear()
    grouped = PeftLoraBackend().train(job(random_model_dir, data, tmp_path / "g", epochs=1), lambda *a: None)
    again = PeftLoraBackend().train(job(random_model_dir, data, tmp_path / "g2", epochs=1), lambda *a: None)
    assert tar_directory(again.adapter_dir) == tar_directory(grouped.adapter_dir), \
        "a cached base (LoRA layers unloaded) trains the same adapter as a freshly loaded one"
    accumulated = PeftLoraBackend().train(
        job(random_model_dir, data, tmp_path / "a", epochs=1,
            params={"gradient_accumulation_steps": 2, "gradient_checkpointing": True}), lambda *a: None)
    ungrouped = PeftLoraBackend().train(
        job(random_model_dir, data, tmp_path / "u", epochs=1, params={"group_by_length": False}), lambda *a: None)
    assert (grouped.steps, accumulated.steps, ungrouped.steps) == (4, 2, 4)
    for result in (grouped, accumulated, ungrouped):
        assert result.metrics["tokens"] > 0 and result.metrics["tokens_per_s"] > 0
        assert result.metrics["tokens"] == grouped.metrics["tokens"]  # the same rows, once each
    assert 0 <= grouped.metrics["padding_fraction"] < ungrouped.metrics["padding_fraction"] < 1
    config = json.loads((accumulated.adapter_dir / "training_config.json").read_text())
    assert config["params"]["gradient_accumulation_steps"] == 2 and config["dtype"] == "torch.float32"
    with tarfile.open(fileobj=io.BytesIO(tar_directory(grouped.adapter_dir))) as tar:
        assert {"adapter_config.json", "adapter_model.safetensors", "training_config.json"} <= set(tar.getnames())
        assert not [n for n in tar.getnames() if "state" in n or "checkpoint" in n]  # nothing of the run's saves
