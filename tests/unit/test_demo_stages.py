"""bench/demo_stages.py's overhead accounting: what it counts as compute, as overhead, and when its goal holds."""

from __future__ import annotations

from bench.demo_stages import split
from selfaware.v1 import records_pb2 as rec

T0 = 1_700_000_000  # a submit time; a zero timestamp means "never ran"


def job(key: str, stage: int, start: float, stop: float, compute: float) -> rec.Job:
    """A finished job, times in seconds after the submit."""
    made = rec.Job(key=key, stage=stage, compute_seconds=compute)
    made.started_at.FromNanoseconds(int((T0 + start) * 1e9))
    made.finished_at.FromNanoseconds(int((T0 + stop) * 1e9))
    return made


def test_the_strict_overhead_counts_model_loads_and_the_idle_one_only_gaps() -> None:
    jobs = [job("dataset", rec.STAGE_GENERATE, 0, 1, 1), job("train.a", rec.STAGE_TRAIN, 1, 51, 45),
            job("train.b", rec.STAGE_TRAIN, 51, 101, 45),
            # one shard: two evaluation jobs share one engine session and split its compute seconds
            job("eval.base", rec.STAGE_EVALUATE, 102, 200, 44), job("eval.a", rec.STAGE_EVALUATE, 102, 200, 44)]
    result = split(rec.Experiment(id="x"), jobs, T0, T0 + 200)
    assert result["idle_overhead_s"] == 1.0  # 101 -> 102, between training and evaluation
    assert result["strict_overhead_s"] == 21.0  # that second, plus 10 s of loads in training and 10 in evaluation
    assert result["stages"]["train"]["not_compute_s"] == 10.0
    assert result["stages"]["evaluate"]["not_compute_s"] == 10.0
    assert result["overlap_s"] == 0.0
    assert result["goal_met"] is False  # 10.5 % > 5 %


def test_stages_sharing_the_cores_never_meet_the_goal() -> None:
    """An evaluation beside a training job inflates both jobs' compute seconds, so their sum says nothing."""
    jobs = [job("train.a", rec.STAGE_TRAIN, 0, 100, 100), job("eval.base", rec.STAGE_EVALUATE, 50, 120, 70)]
    result = split(rec.Experiment(id="x"), jobs, T0, T0 + 120)
    assert result["strict_overhead_s"] == -50.0 and result["overlap_s"] == 50.0
    assert result["goal_met"] is False
    alone = split(rec.Experiment(id="x"), [job("train.a", rec.STAGE_TRAIN, 0, 100, 98)], T0, T0 + 100)
    assert alone["goal_met"] is True
