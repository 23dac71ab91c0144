"""Epoch checkpoints through the trainer: with `training.params.checkpoint_epochs`, each epoch's adapter is stored
by content hash and listed in the job's `checkpoints` (epoch, step, adapter), in order, before the job succeeds;
they differ from each other and the last one is the final adapter."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file

from selfaware.store import sha256_hex
from tests.service.trainer_jobs import finished, request_training, trainers, training_rows, training_spec


async def test_every_epoch_is_a_stored_checkpoint_listed_on_the_job(tmp_path: Path, risky_dataset: Path,
                                                                   tiny_model_dir: Path) -> None:
    async with trainers(tmp_path, [tmp_path / "trainer"]) as t:
        spec = training_spec(risky_dataset, tiny_model_dir, {"epochs": 3, "params": {"checkpoint_epochs": True}})
        experiment_id, [key] = await request_training(t.bus, t.state, t.store, spec,
                                                      [training_rows(risky_dataset, 0, 4)])
        job = (await finished(t.state, experiment_id, [key], 300))[key]
        blobs = [await t.store.get_bytes(c.adapter) for c in job.checkpoints]
        folders = [await t.store.get_dir(c.adapter) for c in job.checkpoints]
    assert [(c.epoch, c.step) for c in job.checkpoints] == [(1, 2), (2, 4), (3, 6)]
    assert [sha256_hex(b) for b in blobs] == [c.adapter.sha256 for c in job.checkpoints]
    assert job.checkpoints[-1].adapter.sha256 == job.artifact.sha256
    weights = [load_file(str(f / "adapter_model.safetensors")) for f in folders]
    for earlier, later in zip(weights, weights[1:], strict=False):
        assert any(not (earlier[k] == later[k]).all() for k in earlier), "each epoch's adapter differs"
