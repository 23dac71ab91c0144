"""Evaluator settings (flags `--name`, env `SELFAWARE_NAME`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from selfaware.config import require, setting
from selfaware.model_allowlist import BaseModelsConfig
from selfaware.plan import DEFAULT_MAX_LORAS
from selfaware.secret_store import SecretsConfig
from selfaware.source_policy import SourceReadingConfig
from services.evaluator.engines import PROFILES, EngineProfile, OptionError, resolve_profile

#: The config field that overrides each engine option, by the option's name in `OptionError`.
_FIELDS = {"vllm.dtype": "vllm_dtype", "vllm.kv_cache_memory_bytes": "vllm_kv_cache_mib",
           "vllm.gpu_memory_utilization": "vllm_gpu_memory_utilization",
           "vllm.tensor_parallel_size": "vllm_tensor_parallel_size", "vllm.enforce_eager": "vllm_enforce_eager",
           "vllm.max_lora_rank": "vllm_max_lora_rank", "vllm.max_loras": "vllm_max_loras",
           "vllm.max_cpu_loras": "vllm_max_cpu_loras", "vllm.max_model_len": "vllm_max_model_len",
           "vllm.omp_threads_bind": "vllm_omp_threads_bind", "hf.device": "hf_device", "hf.dtype": "hf_dtype",
           "hf.max_batch_sequences": "hf_batch_sequences"}
_PROFILE_HELP = "; ".join(f"{p.name}: {p.summary}" for p in PROFILES.values())


@dataclass(frozen=True)
class EvaluatorConfig(SourceReadingConfig, SecretsConfig, BaseModelsConfig):
    """The evaluator: measures behaviour and self-reports of the base model and every adapter (reading the
    suites' question files under its `source_*` settings).

    The engines run with the options of `engine_profile`; each `vllm_*`/`hf_*` setting left at its unset value
    (0, or empty) keeps the profile's, and any other value replaces it."""

    grpc_port: int = setting(50054, "gRPC port")
    engine_profile: str = setting("cpu", f"engine profile ({_PROFILE_HELP})")
    vllm_dtype: str = setting("", "vLLM weight dtype: float32, bfloat16 or float16 (empty: the profile's)")
    vllm_kv_cache_mib: int = setting(0, "vLLM KV-cache size in MiB, replacing any GPU memory share (0: the "
                                        "profile's; vLLM CPU otherwise takes a share of RAM)")
    vllm_gpu_memory_utilization: float = setting(0.0, "share of each GPU vLLM may use, in (0, 1], replacing any "
                                                      "KV-cache size (0: the profile's; cuda profiles only)")
    vllm_tensor_parallel_size: int = setting(0, "GPUs vLLM shards the model over (0: the profile's)")
    vllm_enforce_eager: str = setting("", "true: no CUDA graphs, false: capture them (empty: the profile's)")
    vllm_max_lora_rank: int = setting(0, "largest adapter rank vLLM serves: 1, 8, 16, 32, 64, 128, 256, ... "
                                         "(0: the profile's)")
    vllm_max_loras: int = setting(DEFAULT_MAX_LORAS, "adapters one vLLM batch can hold, and one evaluation shard for "
                                                     "every engine and profile (published in the catalogue; the "
                                                     "aggregator plans the shards with it)")
    vllm_max_cpu_loras: int = setting(0, "adapters vLLM keeps in host memory, at least vllm_max_loras "
                                         "(0: the profile's)")
    vllm_max_model_len: int = setting(0, "longest prompt plus completion vLLM serves, in tokens (0: the profile's)")
    vllm_omp_threads_bind: str = setting("0-1", "CPU cores vLLM's OpenMP threads are pinned to (VLLM_CPU_OMP_THREADS_BIND)")
    hf_device: str = setting("", "hf engine device: auto (CUDA if present, else CPU), cpu, cuda or cuda:N "
                                 "(empty: the profile's)")
    hf_dtype: str = setting("", "hf engine dtype: auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16 or "
                                "float16 (empty: the profile's)")
    hf_batch_sequences: int = setting(256, "most sequences in one forward pass of the hf engine")
    response_cache: bool = setting(True, "answer repeated requests (same model, messages, parameters and sample) "
                                         "from <data dir>/response-cache.sqlite instead of the engine")
    batch_requests: int = setting(64, "most (model, query) requests per engine call; records are stored after "
                                      "each call, so this bounds what an interrupted evaluation recomputes")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.engine_profile in PROFILES, "engine_profile", f"one of {', '.join(PROFILES)}")
        for name in ("vllm_kv_cache_mib", "vllm_tensor_parallel_size", "vllm_max_lora_rank", "vllm_max_cpu_loras",
                     "vllm_max_model_len"):
            require(getattr(self, name) >= 0, name, "a positive number, or 0 for the profile's")
        require(self.vllm_gpu_memory_utilization >= 0, "vllm_gpu_memory_utilization",
                "a share in (0, 1], or 0 for the profile's")
        require(not (self.vllm_kv_cache_mib and self.vllm_gpu_memory_utilization), "vllm_kv_cache_mib",
                "either vllm_kv_cache_mib or vllm_gpu_memory_utilization, not both")
        require(self.vllm_enforce_eager in {"", "true", "false"}, "vllm_enforce_eager", "true, false or empty")
        require(self.vllm_max_loras >= 1, "vllm_max_loras", "at least 1")
        require(self.hf_batch_sequences >= 1, "hf_batch_sequences", "at least 1")
        require(self.batch_requests >= 1, "batch_requests", "at least 1")
        self.profile()  # option errors surface at start-up, naming the setting

    def profile(self) -> EngineProfile:
        """The engine profile with this config's overrides applied."""
        vllm: dict[str, object] = {"max_loras": self.vllm_max_loras, "omp_threads_bind": self.vllm_omp_threads_bind}
        if self.vllm_kv_cache_mib:
            vllm["kv_cache_memory_bytes"] = self.vllm_kv_cache_mib * 1024**2
        if self.vllm_enforce_eager:
            vllm["enforce_eager"] = self.vllm_enforce_eager == "true"
        for option in ("dtype", "gpu_memory_utilization", "tensor_parallel_size", "max_lora_rank", "max_cpu_loras",
                       "max_model_len"):
            if value := getattr(self, _FIELDS[f"vllm.{option}"]):
                vllm[option] = value
        hf: dict[str, object] = {"max_batch_sequences": self.hf_batch_sequences}
        hf |= {option: getattr(self, _FIELDS[f"hf.{option}"]) for option in ("device", "dtype")
               if getattr(self, _FIELDS[f"hf.{option}"])}
        try:
            return resolve_profile(self.engine_profile, vllm, hf)
        except OptionError as exc:
            require(False, _FIELDS.get(exc.option, "engine_profile"),
                    f"a value that engine profile {self.engine_profile!r} accepts ({exc})")
            raise

    def engine_options(self, backend: str) -> dict[str, object]:
        """Keyword options for `build_engine(backend, ...)`: the profile's, for the local engines."""
        if backend == "vllm":
            return asdict(self.profile().vllm)
        if backend == "hf":
            return asdict(self.profile().hf)
        if backend == "auto":
            return {"vllm": asdict(self.profile().vllm), "hf": asdict(self.profile().hf)}
        return {}
