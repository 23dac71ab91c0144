"""Two trainer replicas on one real nats-server share four training jobs through the JetStream work queue: each
job is trained exactly once, by one of them, and both take part."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from tests.service.streams import events_of
from tests.service.trainer_jobs import finished, request_training, trainers, training_rows, training_spec


async def test_two_replicas_train_four_jobs_each_exactly_once(tmp_path: Path, risky_dataset: Path,
                                                              tiny_model_dir: Path) -> None:
    replicas = [tmp_path / "replica0", tmp_path / "replica1"]
    async with trainers(tmp_path, replicas, reuse_adapters=True) as t:  # each one's memo says what it trained
        spec = training_spec(risky_dataset, tiny_model_dir, {}, arms=4)
        with capture_logs() as logs:
            experiment_id, keys = await request_training(
                t.bus, t.state, t.store, spec, [training_rows(risky_dataset, 4 * i, 4) for i in range(4)])
            jobs = await finished(t.state, experiment_id, keys, 600)
        announced = await events_of(t.bus, experiment_id)
    assert len(keys) == 4
    assert {j.attempt for j in jobs.values()} == {1}, "no job was taken over or restarted"
    assert len({j.artifact.sha256 for j in jobs.values()}) == 4  # four trainings, four adapters
    trained = [event for event in logs if event["event"] == "adapter_trained"]
    assert len(trained) == 4, "each job trained to the end exactly once"
    by_replica = [sorted(p.stem for p in (d / "trained").glob("*.json")) for d in replicas]
    assert sum(len(k) for k in by_replica) == 4 and not set(by_replica[0]) & set(by_replica[1])
    assert all(by_replica), f"both replicas take jobs from the shared queue: {by_replica}"
    assert announced["adapter.ready"] == 4
