"""Evaluator settings (flags `--name`, env `SELFAWARE_NAME`)."""

from __future__ import annotations

from dataclasses import dataclass

from selfaware.config import require, setting
from selfaware.plan import DEFAULT_MAX_LORAS
from selfaware.source_policy import SourceReadingConfig


@dataclass(frozen=True)
class EvaluatorConfig(SourceReadingConfig):
    """The evaluator: measures behaviour and self-reports of the base model and every adapter (reading the
    suites' question files under its `source_*` settings)."""

    grpc_port: int = setting(50054, "gRPC port")
    vllm_kv_cache_mib: int = setting(256, "vLLM KV-cache size in MiB (vLLM CPU otherwise takes a share of RAM)")
    vllm_max_lora_rank: int = setting(64, "largest adapter rank vLLM serves (1, 8, 16, 32, 64, 128, 256, ...)")
    vllm_max_loras: int = setting(DEFAULT_MAX_LORAS, "adapters one vLLM batch can hold, and one evaluation shard for "
                                                     "every engine (published in the catalogue; the aggregator "
                                                     "plans the shards with it)")
    vllm_omp_threads_bind: str = setting("0-1", "CPU cores vLLM's OpenMP threads are pinned to (VLLM_CPU_OMP_THREADS_BIND)")
    hf_batch_sequences: int = setting(256, "most sequences in one forward pass of the hf engine")
    response_cache: bool = setting(True, "answer repeated requests (same model, messages, parameters and sample) "
                                         "from <data dir>/response-cache.sqlite instead of the engine")
    batch_requests: int = setting(64, "most (model, query) requests per engine call; records are stored after "
                                      "each call, so this bounds what an interrupted evaluation recomputes")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.vllm_kv_cache_mib > 0, "vllm_kv_cache_mib", "a positive number of MiB")
        require(self.vllm_max_loras >= 1, "vllm_max_loras", "at least 1")
        require(self.hf_batch_sequences >= 1, "hf_batch_sequences", "at least 1")
        require(self.batch_requests >= 1, "batch_requests", "at least 1")

    def engine_options(self, backend: str) -> dict[str, object]:
        """Keyword options for `build_engine(backend, ...)`."""
        if backend == "vllm":
            return {"kv_cache_memory_bytes": self.vllm_kv_cache_mib * 1024**2,
                    "max_lora_rank": self.vllm_max_lora_rank, "max_loras": self.vllm_max_loras,
                    "omp_threads_bind": self.vllm_omp_threads_bind}
        if backend == "hf":
            return {"max_batch_sequences": self.hf_batch_sequences}
        return {}
