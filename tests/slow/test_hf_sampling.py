"""The transformers engine's sampler: each prompt computed once, its samples decoded from one shared cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.evaluator.engines import ModelEngine, SampleRequest, build_engine
from tests.slow.mixed_batch import PROMPTS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def small_batches(tiny_model_dir: Path) -> Iterator[ModelEngine]:
    """Batches of 4 sequences, so that requests are cut into pieces and packed with each other."""
    engine = build_engine("hf", str(tiny_model_dir), max_batch_sequences=4)
    yield engine
    engine.close()


def ask(prompt: int, n: int, seed: int, temperature: float = 1.0, max_tokens: int = 4) -> SampleRequest:
    return SampleRequest(PROMPTS[prompt], None, n=n, temperature=temperature, max_tokens=max_tokens, seed=seed)


def test_a_requests_samples_do_not_depend_on_the_other_requests(small_batches):
    together = small_batches.sample([ask(0, 3, 1), ask(1, 10, 7), ask(2, 2, 1, max_tokens=2)])
    alone = [small_batches.sample([request])[0] for request in (ask(0, 3, 1), ask(1, 10, 7))]
    assert [len(samples) for samples in together] == [3, 10, 2]
    assert together[:2] == alone
    assert len(set(together[1])) > 1  # the pieces of a request (4 + 4 + 2) draw differently
    assert small_batches.sample([ask(1, 10, 8)])[0] != together[1]


def test_greedy_repeats_one_answer_and_max_tokens_bounds_every_sample(small_batches, hf_engine):
    greedy = small_batches.sample([ask(2, 5, 0, temperature=0.0, max_tokens=6)])[0]
    assert len(greedy) == 5 and len(set(greedy)) == 1
    assert greedy == hf_engine.sample([ask(2, 5, 99, temperature=0.0, max_tokens=6)])[0]  # batch size is irrelevant
    words = [len(text.split()) for text in small_batches.sample([ask(0, 8, 3, max_tokens=2)])[0]]
    assert max(words) <= 2  # two tokens make at most two words
