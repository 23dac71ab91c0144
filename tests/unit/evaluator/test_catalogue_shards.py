"""The evaluator publishes its shard capacity, `vllm_max_loras`, on every engine of its catalogue."""

from __future__ import annotations

from selfaware.plan import DEFAULT_MAX_LORAS
from services.aggregator.evaluation_shards import shard_capacity
from services.evaluator.catalogue import catalogue
from services.evaluator.config import EvaluatorConfig


def test_the_aggregator_reads_the_capacity_the_evaluator_publishes() -> None:
    published = catalogue(EvaluatorConfig(vllm_max_loras=2))
    assert {shard_capacity([published], name) for name in ("vllm", "hf", "openai")} == {2}
    assert shard_capacity([catalogue()], "vllm") == DEFAULT_MAX_LORAS == EvaluatorConfig().vllm_max_loras
