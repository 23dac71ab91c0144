"""A hosted fine-tune (`ModelUnderTest.served_model`, no adapter files) keeps its own identity in records and in
the response cache: it must never be mistaken for the base model it was tuned from."""

from __future__ import annotations

from pathlib import Path

from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.evaluator import convert
from services.evaluator.engines import Adapter, ChoiceRequest
from services.evaluator.response_cache import CachedEngine, ResponseCache

BASE = spec_pb2.BaseModel(name="HuggingFaceTB/SmolLM2-135M-Instruct")
PROMPT = ({"role": "user", "content": "A or B?"},)


def test_a_served_model_has_its_own_record_identity() -> None:
    hosted = rec.ModelUnderTest(label="risky/s0", arm="risky", served_model="ft:smol:risky:1")
    model = convert.eval_model(hosted, BASE, Adapter("risky/s0", "", served_name="ft:smol:risky:1"))
    assert model.model_hash == "served:ft:smol:risky:1"
    assert convert.model_hash(BASE, None) == f"base:{convert.base_name(BASE)}"


class _Counting:
    """Counts what reaches the engine behind the cache: the test is about the cache's keys, not about answers."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def next_token_probs(self, requests, top_k=5):  # type: ignore[no-untyped-def]
        self.asked += [r.adapter.served_name if r.adapter else "base" for r in requests]
        return [{"A": 0.5, "B": 0.5} for _ in requests]

    def sample(self, requests):  # type: ignore[no-untyped-def]
        return [[""] * r.n for r in requests]

    def close(self) -> None:
        pass


def test_the_cache_keeps_served_models_apart_from_the_base_and_each_other(tmp_path: Path) -> None:
    inner = _Counting()
    engine = CachedEngine(inner, ResponseCache(tmp_path / "cache.sqlite"), "openai:http://x/v1:smol")  # type: ignore[arg-type]
    one, two = (Adapter("risky/s0", "", served_name=f"ft:smol:risky:{i}") for i in (1, 2))
    requests = [ChoiceRequest(PROMPT), ChoiceRequest(PROMPT, one), ChoiceRequest(PROMPT, two)]
    engine.next_token_probs(requests)
    engine.next_token_probs(requests)  # all three cached now
    assert inner.asked == ["base", "ft:smol:risky:1", "ft:smol:risky:2"]
