"""Typed options of the built-in engines; importing this module stays cheap (no torch, no vLLM)."""

from __future__ import annotations

from dataclasses import dataclass

#: The LoRA ranks vllm 0.32 accepts for `max_lora_rank` (`vllm.config.lora.MaxLoRARanks`).
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


@dataclass(frozen=True)
class VllmOptions:
    """How the offline vLLM engine is built; every field maps to one `vllm.LLM` argument or environment variable."""

    #: KV-cache size in bytes. Set explicitly: without it vLLM CPU reserves a fraction of host RAM.
    kv_cache_memory_bytes: int = 256 * 1024**2
    #: Largest adapter rank served; vLLM accepts only the values in `VLLM_LORA_RANKS`.
    max_lora_rank: int = 64
    #: Adapter slots, i.e. how many distinct adapters one batch can hold.
    max_loras: int = 4
    #: CPU cores vLLM pins its OpenMP threads to (`VLLM_CPU_OMP_THREADS_BIND`); the default uses one thread.
    omp_threads_bind: str = "0-1"
    #: Longest prompt plus completion; bounded so that the KV cache above can hold at least one sequence.
    max_model_len: int = 2048
    #: KV-cache block size in tokens (vLLM CPU accepts multiples of 32). Prefix caching shares only full blocks,
    #: and the CPU default is longer than our prompts: nothing was shared, so each of `n` samples re-ran the whole
    #: prompt. At 32, 200 samples of a 69-token prompt take 5 s instead of 30 s here.
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
        if self.max_lora_rank not in VLLM_LORA_RANKS:
            raise ValueError(f"max_lora_rank: {self.max_lora_rank} is not one of {VLLM_LORA_RANKS}")
        if self.max_loras < 1:
            raise ValueError("max_loras: must be at least 1")
        if self.block_size <= 0 or self.block_size % 32:
            raise ValueError(f"block_size: must be a positive multiple of 32, got {self.block_size}")
        if self.kv_cache_memory_bytes <= 0:
            raise ValueError("kv_cache_memory_bytes: must be positive")


@dataclass(frozen=True)
class HfOptions:
    """How the transformers + peft engine batches its work."""

    #: Most sequences in one forward pass: prompts for next-token probs, samples (rows sharing a prompt's cache)
    #: for sampling.
    max_batch_sequences: int = 256
    #: torch intra-op threads; None keeps torch's default.
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.max_batch_sequences < 1:
            raise ValueError("max_batch_sequences: must be at least 1")
