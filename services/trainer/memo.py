"""Trained adapters remembered across experiments and stacks, so an identical training is never run twice.

Training is deterministic given (base model, training rows, settings, seed, backend): the seed is set before the
adapter is initialised and batches are seeded. So the trainer keys each finished adapter by the sha256 of exactly
those inputs, in `<data dir>/trained/<key>.json` (the adapter's artifact ref and the job's metrics), and an
identical request reuses the adapter's bytes from the local artifact cache instead of training. Anything that
changes the inputs changes the key; deleting the folder (or `--reuse-adapters false`) turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format

from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2


@dataclass(frozen=True)
class Trained:
    adapter: rec.ArtifactRef
    metrics: dict[str, float]
    steps: int
    #: The run's checkpoints (epoch and step adapters), reused with the final adapter.
    checkpoints: tuple[rec.Checkpoint, ...] = ()


def training_key(base_model: spec_pb2.BaseModel, train: rec.ArtifactRef, training: spec_pb2.TrainingSpec,
                 seed: int) -> str:
    """sha256 of everything an adapter depends on (the seeds list is left out: only this seed matters)."""
    settings = spec_pb2.TrainingSpec()
    settings.CopyFrom(training)
    settings.ClearField("seeds")
    identity = {"base": json_format.MessageToDict(base_model), "train": train.sha256, "seed": seed,
                "training": json_format.MessageToDict(settings)}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def recall(folder: Path, key: str) -> Trained | None:
    path = folder / f"{key}.json"
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    checkpoints = tuple(json_format.ParseDict(c, rec.Checkpoint()) for c in raw.get("checkpoints", []))
    return Trained(json_format.ParseDict(raw["adapter"], rec.ArtifactRef()), raw["metrics"], raw["steps"],
                   checkpoints)


def remember(folder: Path, key: str, trained: Trained) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{key}.{os.getpid()}.tmp"
    staging.write_text(json.dumps({"adapter": json_format.MessageToDict(trained.adapter),
                                   "metrics": trained.metrics, "steps": trained.steps,
                                   "checkpoints": [json_format.MessageToDict(c) for c in trained.checkpoints]},
                                  sort_keys=True))
    os.replace(staging, folder / f"{key}.json")
