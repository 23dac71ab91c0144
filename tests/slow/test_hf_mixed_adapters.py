"""The transformers engine serves a batch that mixes adapters (and the base model) in one pass: every request gets
exactly its own adapter's answer, and base requests the bare base model's.

`tiny_model_dir` comes from tests/conftest.py, `lora_adapters` (two random rank-8 adapters) from tests/slow/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.evaluator.engines import Adapter, ChoiceRequest, ModelEngine, SampleRequest, build_engine
from tests.slow.mixed_batch import PROMPTS, assert_base_stays_base, max_difference, mixed_requests

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path) -> Iterator[ModelEngine]:
    """Batches of 8 sequences, so that a call is cut into several batches, each mixing adapters. The real tiny
    model, not the random one: the random model's next-token distribution is so flat that no adapter moves it
    measurably, and these tests must see each adapter change the answers."""
    engine = build_engine("hf", str(tiny_model_dir), max_batch_sequences=8)
    yield engine
    engine.close()


def test_probabilities_of_a_mixed_batch_equal_each_adapters_own(engine, lora_adapters):
    one, two = lora_adapters
    base_first = engine.next_token_probs([ChoiceRequest(p, None) for p in PROMPTS])  # before any adapter loads
    mixed = engine.next_token_probs(mixed_requests(one, two))
    assert_base_stays_base(mixed, base_first)
    for offset, adapter in ((1, one), (2, two)):
        alone = engine.next_token_probs([ChoiceRequest(p, adapter) for p in PROMPTS])
        for index, reference in enumerate(alone):
            assert max_difference(mixed[3 * index + offset], reference) < 1e-5
    assert max_difference(mixed[1], mixed[2]) > 0.01  # the two adapters answer differently


def test_samples_of_a_mixed_batch_equal_each_requests_samples_alone(engine, lora_adapters):
    adapters: list[Adapter | None] = [None, *lora_adapters]
    requests = [SampleRequest(PROMPTS[i % len(PROMPTS)], adapter, n=3 + i, temperature=1.0, max_tokens=5, seed=i)
                for i, adapter in enumerate(adapters * 2)]
    together = engine.sample(requests)
    alone = [engine.sample([request])[0] for request in requests]
    assert together == alone
    assert [len(samples) for samples in together] == [r.n for r in requests]
    # Same prompt and seed, different adapter: the answers differ, so each row really went through its own adapter.
    greedy = engine.sample([SampleRequest(PROMPTS[0], adapter, n=1, temperature=0.0, max_tokens=8, seed=0)
                            for adapter in adapters])
    assert len({tuple(samples) for samples in greedy}) == len(adapters)
