"""Checkpoints listed on a training job stay in step order, and one redone after a resume replaces its twin."""

from __future__ import annotations

from selfaware.v1 import records_pb2 as rec
from services.trainer.job_saves import add_checkpoint


def checkpoint(epoch: int, step: int, sha: str) -> rec.Checkpoint:
    return rec.Checkpoint(epoch=epoch, step=step, adapter=rec.ArtifactRef(sha256=sha * 64))


def test_checkpoints_are_kept_in_step_order_and_a_redone_one_replaces_the_first() -> None:
    job = rec.Job()
    for c in (checkpoint(2, 8, "b"), checkpoint(1, 4, "a"), checkpoint(3, 12, "c"), checkpoint(1, 4, "d")):
        add_checkpoint(job, c)
    assert [(c.epoch, c.step, c.adapter.sha256[0]) for c in job.checkpoints] == [(1, 4, "d"), (2, 8, "b"),
                                                                                  (3, 12, "c")]
