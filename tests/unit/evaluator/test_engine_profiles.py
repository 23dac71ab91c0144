"""Engine profiles: the evaluator config picks one, single settings override it, and bad values name the setting.

The device checks take the GPU count as an argument, so the CUDA cases run here without a GPU; the real engines
call them with what torch sees (tests/slow/test_vllm_engine.py shows a GPU profile refused on this machine).
"""

from __future__ import annotations

import pytest

from selfaware.config import ConfigError, load_config
from services.evaluator.config import EvaluatorConfig
from services.evaluator.engines import (
    PROFILES,
    EngineDeviceError,
    HfOptions,
    OptionError,
    VllmOptions,
    resolve_profile,
)
from services.evaluator.engines.options import hf_placement

MiB = 1024**2


def config(*flags: str, **env: str) -> EvaluatorConfig:
    return load_config(EvaluatorConfig, list(flags), {f"SELFAWARE_{k.upper()}": v for k, v in env.items()})


def test_the_default_is_the_cpu_profile_with_the_values_measured_on_the_tiny_model() -> None:
    vllm = config().profile().vllm
    assert (vllm.profile, vllm.device, vllm.dtype, vllm.enforce_eager) == ("cpu", "cpu", "float32", True)
    assert (vllm.kv_cache_memory_bytes, vllm.gpu_memory_utilization) == (256 * MiB, None)
    assert (vllm.tensor_parallel_size, vllm.max_loras, vllm.max_lora_rank, vllm.max_model_len) == (1, 4, 64, 2048)
    assert config().engine_options("hf")["device"] == "cpu"
    arguments = vllm.llm_arguments()
    assert arguments["kv_cache_memory_bytes"] == 256 * MiB and arguments["dtype"] == "float32"
    assert "gpu_memory_utilization" not in arguments and "max_cpu_loras" not in arguments  # left to vLLM


def test_the_env_chooses_a_gpu_profile_and_a_flag_beats_it() -> None:
    eight = config(engine_profile="gpu-8b").profile()
    assert (eight.vllm.device, eight.vllm.dtype, eight.vllm.enforce_eager) == ("cuda", "bfloat16", False)
    assert (eight.vllm.tensor_parallel_size, eight.vllm.gpu_memory_utilization) == (1, 0.9)
    assert eight.vllm.kv_cache_memory_bytes is None and "kv_cache_memory_bytes" not in eight.vllm.llm_arguments()
    assert (eight.hf.device, eight.hf.dtype) == ("cuda", "bfloat16")
    seventy = config("--engine-profile", "gpu-70b", engine_profile="gpu-8b").profile().vllm
    assert (seventy.profile, seventy.tensor_parallel_size) == ("gpu-70b", 4)


def test_single_settings_override_the_profile() -> None:
    vllm = config(engine_profile="gpu-70b", vllm_tensor_parallel_size="8", vllm_max_model_len="4096",
                  vllm_enforce_eager="true", vllm_max_cpu_loras="32", vllm_max_lora_rank="8").profile().vllm
    assert (vllm.tensor_parallel_size, vllm.max_model_len, vllm.enforce_eager) == (8, 4096, True)
    assert (vllm.max_cpu_loras, vllm.max_lora_rank, vllm.dtype) == (32, 8, "bfloat16")
    hf = config(hf_device="auto", hf_dtype="float16").profile().hf
    assert (hf.device, hf.dtype) == ("auto", "float16")
    assert config(vllm_dtype="bfloat16").engine_options("vllm")["dtype"] == "bfloat16"


def test_a_kv_cache_size_replaces_the_gpu_memory_share_and_back() -> None:
    sized = config(engine_profile="gpu-8b", vllm_kv_cache_mib="20480").profile().vllm
    assert (sized.kv_cache_memory_bytes, sized.gpu_memory_utilization) == (20480 * MiB, None)
    assert sized.llm_arguments()["kv_cache_memory_bytes"] == 20480 * MiB
    shared = resolve_profile("gpu-8b", {"gpu_memory_utilization": 0.5}).vllm
    assert (shared.kv_cache_memory_bytes, shared.gpu_memory_utilization) == (None, 0.5)


def test_max_loras_is_the_shard_capacity_in_every_profile() -> None:
    for name in PROFILES:
        chosen = config(engine_profile=name, vllm_max_loras="6")
        assert chosen.vllm_max_loras == chosen.profile().vllm.max_loras == 6, name


@pytest.mark.parametrize(("env", "named"), [
    ({"engine_profile": "gpu-7b"}, "SELFAWARE_ENGINE_PROFILE"),
    ({"vllm_dtype": "fp8"}, "SELFAWARE_VLLM_DTYPE"),
    ({"vllm_gpu_memory_utilization": "0.8"}, "SELFAWARE_VLLM_GPU_MEMORY_UTILIZATION"),  # the cpu profile
    ({"engine_profile": "gpu-8b", "vllm_gpu_memory_utilization": "1.5"}, "SELFAWARE_VLLM_GPU_MEMORY_UTILIZATION"),
    ({"vllm_kv_cache_mib": "64", "vllm_gpu_memory_utilization": "0.5"}, "SELFAWARE_VLLM_KV_CACHE_MIB"),
    ({"vllm_kv_cache_mib": "-1"}, "SELFAWARE_VLLM_KV_CACHE_MIB"),
    ({"vllm_max_cpu_loras": "2"}, "SELFAWARE_VLLM_MAX_CPU_LORAS"),  # fewer than the 4 slots
    ({"vllm_max_lora_rank": "4"}, "SELFAWARE_VLLM_MAX_LORA_RANK"),
    ({"vllm_enforce_eager": "maybe"}, "SELFAWARE_VLLM_ENFORCE_EAGER"),
    ({"hf_device": "tpu"}, "SELFAWARE_HF_DEVICE"),
    ({"hf_dtype": "int8"}, "SELFAWARE_HF_DTYPE"),
])
def test_bad_values_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(**env)
    assert named in str(caught.value)


def test_an_option_error_names_the_option_and_its_engine() -> None:
    with pytest.raises(OptionError) as caught:
        resolve_profile("cpu", {"tensor_parallel": 2})
    assert caught.value.option == "vllm.tensor_parallel"
    with pytest.raises(OptionError, match="^hf.dtype: ") as caught:
        resolve_profile("gpu-8b", hf={"dtype": "fp4"})
    with pytest.raises(OptionError, match="known: cpu, gpu-8b, gpu-70b"):
        resolve_profile("tpu")
    with pytest.raises(OptionError, match="^kv_cache_memory_bytes: must be set on the cpu device"):
        VllmOptions(kv_cache_memory_bytes=None)
    with pytest.raises(OptionError, match="^gpu_memory_utilization: set exactly one"):
        VllmOptions(device="cuda", gpu_memory_utilization=0.9)  # and the CPU's default KV-cache size


def test_a_gpu_profile_without_cuda_is_refused_naming_the_profile() -> None:
    for name in ("gpu-8b", "gpu-70b"):
        with pytest.raises(EngineDeviceError) as caught:
            PROFILES[name].vllm.require_devices(0)
        assert f"engine profile {name!r}" in str(caught.value)
        assert "SELFAWARE_ENGINE_PROFILE=cpu" in str(caught.value)
    PROFILES["cpu"].vllm.require_devices(0)


def test_tensor_parallelism_beyond_the_visible_gpus_is_refused_naming_the_option() -> None:
    seventy = PROFILES["gpu-70b"].vllm
    with pytest.raises(EngineDeviceError, match=r"^tensor_parallel_size: 4 GPUs .*'gpu-70b', but 2 visible"):
        seventy.require_devices(2)
    seventy.require_devices(4)
    seventy.require_devices(8)
    PROFILES["gpu-8b"].vllm.require_devices(1)


def test_the_hf_engine_takes_cuda_in_bf16_where_it_is_and_the_cpu_in_fp32_otherwise() -> None:
    assert hf_placement(HfOptions(), cuda_available=True) == ("cuda", "bfloat16")
    assert hf_placement(HfOptions(), cuda_available=False) == ("cpu", "float32")
    assert hf_placement(HfOptions(device="cpu"), cuda_available=True) == ("cpu", "float32")
    assert hf_placement(HfOptions(device="cuda:1", dtype="float16"), cuda_available=True) == ("cuda:1", "float16")
    with pytest.raises(EngineDeviceError, match="^device: the hf engine was asked for 'cuda'"):
        hf_placement(PROFILES["gpu-8b"].hf, cuda_available=False)


def test_help_lists_every_profile(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        load_config(EvaluatorConfig, ["--help"], {})
    assert caught.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert all(f"{name}: " in shown for name in PROFILES), shown
