"""The trainer's memo of finished adapters: the key changes with every input an adapter depends on."""

from __future__ import annotations

from pathlib import Path

from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.trainer.memo import Trained, recall, remember, training_key

BASE = spec_pb2.BaseModel(name="m")
TRAIN = rec.ArtifactRef(sha256="a" * 64)


def settings(**fields: object) -> spec_pb2.TrainingSpec:
    return spec_pb2.TrainingSpec(**{"backend": "peft-lora", "learning_rate": 1e-3, "epochs": 2, "batch_size": 8,
                                    "seeds": [0, 1], **fields})


def test_the_key_depends_on_every_input_but_the_other_seeds() -> None:
    key = training_key(BASE, TRAIN, settings(), 0)
    assert key == training_key(BASE, TRAIN, settings(seeds=[0]), 0)
    assert key != training_key(BASE, TRAIN, settings(), 1)
    assert key != training_key(BASE, TRAIN, settings(epochs=3), 0)
    assert key != training_key(spec_pb2.BaseModel(name="other"), TRAIN, settings(), 0)
    assert key != training_key(BASE, rec.ArtifactRef(sha256="b" * 64), settings(), 0)


def test_remembered_adapters_are_recalled(tmp_path: Path) -> None:
    adapter = rec.ArtifactRef(sha256="c" * 64, size=10, media_type="application/x-tar")
    assert recall(tmp_path, "k") is None
    remember(tmp_path, "k", Trained(adapter, {"final_loss": 0.5, "steps": 4.0}, 4))
    assert recall(tmp_path, "k") == Trained(adapter, {"final_loss": 0.5, "steps": 4.0}, 4)


def test_a_remembered_training_brings_its_checkpoints(tmp_path: Path) -> None:
    adapter = rec.ArtifactRef(sha256="c" * 64, size=10, media_type="application/x-tar")
    checkpoints = (rec.Checkpoint(epoch=1, step=4, adapter=rec.ArtifactRef(sha256="d" * 64)),
                   rec.Checkpoint(epoch=2, step=8, adapter=adapter))
    remember(tmp_path, "k", Trained(adapter, {"steps": 8.0}, 8, checkpoints))
    assert recall(tmp_path, "k") == Trained(adapter, {"steps": 8.0}, 8, checkpoints)
    assert settings(params={"checkpoint_epochs": True}) != settings()
    assert training_key(BASE, TRAIN, settings(params={"checkpoint_epochs": True}), 0) != training_key(
        BASE, TRAIN, settings(), 0)
