"""`CachedEngine` over a recording engine and a real SQLite file: hits, misses, order, persistence."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from services.evaluator.engines import Adapter, ChoiceRequest, ModelEngine, SampleRequest, TokenProbs
from services.evaluator.response_cache import CachedEngine, ResponseCache


def prompt(text: str) -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": text},)


class RecordingEngine:
    """A deterministic engine that records every call it gets."""

    def __init__(self) -> None:
        self.choice_calls: list[list[ChoiceRequest]] = []
        self.sample_calls: list[list[SampleRequest]] = []
        self.closed = False

    def next_token_probs(self, requests: Sequence[ChoiceRequest], top_k: int = 5) -> list[TokenProbs]:
        self.choice_calls.append(list(requests))
        return [{r.messages[0]["content"]: 0.5, f"k{top_k}": 0.25, getattr(r.adapter, "name", "base"): 0.125}
                for r in requests]

    def sample(self, requests: Sequence[SampleRequest]) -> list[list[str]]:
        self.sample_calls.append(list(requests))
        return [[f"{r.messages[0]['content']}|{r.seed}|{r.temperature}|{i}" for i in range(r.n)] for r in requests]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def cache(tmp_path: Path):
    opened = ResponseCache(tmp_path / "cache" / "responses.sqlite")
    yield opened
    opened.close()


def ask(text: str, n: int = 2, seed: int = 0, adapter: Adapter | None = None) -> SampleRequest:
    return SampleRequest(prompt(text), adapter, n=n, temperature=1.0, max_tokens=4, seed=seed)


def test_it_is_a_model_engine(cache):
    assert isinstance(CachedEngine(RecordingEngine(), cache, "test:base"), ModelEngine)


def test_choice_hits_and_misses_in_request_order(cache):
    inner = RecordingEngine()
    engine = CachedEngine(inner, cache, "test:base")
    first = engine.next_token_probs([ChoiceRequest(prompt("a")), ChoiceRequest(prompt("b"))], top_k=3)
    assert (engine.hits, engine.misses) == (0, 2)
    mixed = [ChoiceRequest(prompt("c")), ChoiceRequest(prompt("b")), ChoiceRequest(prompt("a")),
             ChoiceRequest(prompt("d"))]
    results = engine.next_token_probs(mixed, top_k=3)
    assert (engine.hits, engine.misses) == (2, 4)
    assert [[r.messages[0]["content"] for r in call] for call in inner.choice_calls] == [["a", "b"], ["c", "d"]]
    assert results == [inner.next_token_probs([r], 3)[0] for r in mixed]
    assert results[1:3] == first[::-1]


def test_choice_keys_hold_top_k_adapter_and_engine_identity(cache):
    inner = RecordingEngine()
    engine = CachedEngine(inner, cache, "test:base")
    tuned = Adapter("risky", "/adapters/risky", sha256="ab" * 32)
    engine.next_token_probs([ChoiceRequest(prompt("a"))], top_k=3)
    engine.next_token_probs([ChoiceRequest(prompt("a"))], top_k=5)
    engine.next_token_probs([ChoiceRequest(prompt("a"), tuned)], top_k=5)
    # The same content under another name and path is the same adapter; another engine is not.
    engine.next_token_probs([ChoiceRequest(prompt("a"), Adapter("renamed", "/elsewhere", sha256="ab" * 32))], 5)
    CachedEngine(inner, cache, "test:other").next_token_probs([ChoiceRequest(prompt("a"))], top_k=5)
    assert (engine.hits, engine.misses) == (1, 3)
    assert len(inner.choice_calls) == 4


def test_fully_cached_sample_requests_are_not_sent(cache):
    inner = RecordingEngine()
    engine = CachedEngine(inner, cache, "test:base")
    first = engine.sample([ask("a"), ask("b", n=3)])
    again = engine.sample([ask("b", n=3), ask("a")])
    assert again == first[::-1] and len(inner.sample_calls) == 1
    assert (engine.hits, engine.misses) == (5, 5)


def test_a_partly_cached_batch_sends_only_the_requests_with_missing_samples(cache):
    inner = RecordingEngine()
    engine = CachedEngine(inner, cache, "test:base")
    engine.sample([ask("a", n=2), ask("b", n=2)])
    results = engine.sample([ask("b", n=2), ask("c", n=3), ask("a", n=2), ask("a", n=2, seed=1)])
    assert [(r.messages[0]["content"], r.n, r.seed) for r in inner.sample_calls[1]] == [("c", 3, 0), ("a", 2, 1)]
    assert results == [["b|0|1.0|0", "b|0|1.0|1"], [f"c|0|1.0|{i}" for i in range(3)], ["a|0|1.0|0", "a|0|1.0|1"],
                       ["a|1|1.0|0", "a|1|1.0|1"]]
    assert (engine.hits, engine.misses) == (4, 4 + 5)


def test_a_request_with_some_samples_cached_is_asked_whole(cache):
    inner = RecordingEngine()
    engine = CachedEngine(inner, cache, "test:base")
    engine.sample([ask("a", n=3)])
    with sqlite3.connect(cache.path) as db:  # lose one of its three samples
        db.execute("DELETE FROM responses WHERE rowid = (SELECT MIN(rowid) FROM responses)")
    assert len(cache) == 2
    assert engine.sample([ask("a", n=3)]) == [[f"a|0|1.0|{i}" for i in range(3)]]
    assert [r.n for r in inner.sample_calls[1]] == [3] and (engine.hits, engine.misses) == (2, 3 + 1)
    assert len(cache) == 3


def test_sample_keys_hold_n_seed_temperature_max_tokens_and_adapter(cache):
    inner = RecordingEngine()
    engine = CachedEngine(inner, cache, "test:base")
    base = ask("a", n=1)
    # n too: an engine's sample 0 of a seed may differ between n=1 and n=2, and a cache must not change results.
    variants = [base, ask("a", n=2), ask("a", n=1, seed=5), SampleRequest(base.messages, None, 1, 0.5, 4, 0),
                SampleRequest(base.messages, None, 1, 1.0, 8, 0), ask("a", n=1, adapter=Adapter("x", "/x"))]
    for request in variants:
        engine.sample([request])
    engine.sample([SampleRequest(base.messages, None, n=1, temperature=1, max_tokens=4, seed=0)])  # int 1 == 1.0
    assert len(inner.sample_calls) == len(variants) and engine.hits == 1


def test_entries_persist_across_reopening(tmp_path):
    path = tmp_path / "responses.sqlite"
    first = ResponseCache(path)
    CachedEngine(RecordingEngine(), first, "test:base").sample([ask("a", n=3)])
    CachedEngine(RecordingEngine(), first, "test:base").next_token_probs([ChoiceRequest(prompt("a"))])
    first.close()
    reopened = ResponseCache(path)
    inner = RecordingEngine()
    engine = CachedEngine(inner, reopened, "test:base")
    assert engine.sample([ask("a", n=3)]) == [[f"a|0|1.0|{i}" for i in range(3)]]
    assert engine.next_token_probs([ChoiceRequest(prompt("a"))]) == RecordingEngine().next_token_probs(
        [ChoiceRequest(prompt("a"))])
    assert inner.sample_calls == inner.choice_calls == [] and (engine.hits, engine.misses) == (4, 0)
    assert len(reopened) == 4
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened.close()


def test_close_closes_the_inner_engine_only(cache):
    inner = RecordingEngine()
    CachedEngine(inner, cache, "test:base").close()
    assert inner.closed and len(cache) == 0  # the cache stays usable for the caller
