"""Evaluation shards: the models of one base model per engine session, at most `max_loras` adapters each, the base
model in the first shard of its base."""

from __future__ import annotations

import pytest

from selfaware.plan import evaluation_shards, planned_models
from selfaware.specs import spec_from_dict, with_defaults
from selfaware.v1 import spec_pb2


def spec(arms: int = 2, seeds: int = 1, bases: int = 1, include_base: bool = True) -> spec_pb2.ExperimentSpec:
    return with_defaults(spec_from_dict({
        "base_models": [{"name": f"m{i}", "key": f"m{i}"} for i in range(bases)] if bases > 1 else [{"name": "m"}],
        "arms": {f"a{i}": {"data": {"import": "/x.jsonl"}} for i in range(arms)},
        "training": {"seeds": list(range(seeds))},
        "evaluation": {"engine": "vllm", "include_base_model": include_base, "suites": ["heldout"]},
    }))


def layout(shards) -> list[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    return [(s.id, [m.label for m in s.models]) for s in shards]


def test_the_demo_is_one_shard_base_model_first() -> None:
    assert layout(evaluation_shards(spec(arms=2), max_loras=4)) == [("0.0", ["base", "a0/s0", "a1/s0"])]


def test_adapters_are_split_at_max_loras_and_the_base_model_rides_in_the_first_shard() -> None:
    shards = evaluation_shards(spec(arms=2, seeds=5), max_loras=4)
    assert layout(shards) == [
        ("0.0", ["base", "a0/s0", "a0/s1", "a0/s2", "a0/s3"]),
        ("0.1", ["a0/s4", "a1/s0", "a1/s1", "a1/s2"]),
        ("0.2", ["a1/s3", "a1/s4"]),
    ]
    assert all(sum(bool(m.arm) for m in s.models) <= 4 for s in shards)


def test_every_planned_model_is_in_exactly_one_shard() -> None:
    experiment = spec(arms=3, seeds=3, bases=2)
    for max_loras in (1, 2, 4, 9, 100):
        labels = [m.label for s in evaluation_shards(experiment, max_loras) for m in s.models]
        assert sorted(labels) == sorted(m.label for m in planned_models(experiment))


def test_each_base_model_has_its_own_shards() -> None:
    shards = evaluation_shards(spec(arms=1, seeds=3, bases=2), max_loras=2)
    assert layout(shards) == [
        ("0.0", ["m0/base", "m0/a0/s0", "m0/a0/s1"]), ("0.1", ["m0/a0/s2"]),
        ("1.0", ["m1/base", "m1/a0/s0", "m1/a0/s1"]), ("1.1", ["m1/a0/s2"]),
    ]
    assert all({m.base_index for m in s.models} == {s.base_index} for s in shards)


def test_without_the_base_model_shards_hold_only_adapters() -> None:
    assert layout(evaluation_shards(spec(arms=3, include_base=False), max_loras=2)) == [
        ("0.0", ["a0/s0", "a1/s0"]), ("0.1", ["a2/s0"])]


def test_one_adapter_per_shard() -> None:
    assert layout(evaluation_shards(spec(arms=2), max_loras=1)) == [("0.0", ["base", "a0/s0"]), ("0.1", ["a1/s0"])]


def test_the_plan_is_the_same_every_time() -> None:
    experiment = spec(arms=2, seeds=3)
    assert layout(evaluation_shards(experiment, 2)) == layout(evaluation_shards(experiment, 2))


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_loras"):
        evaluation_shards(spec(), 0)
