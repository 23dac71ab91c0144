"""The one config loader: flags over env over defaults, and errors that name the flag and the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfaware.config import ConfigError, load_config
from services.evaluator.config import EvaluatorConfig
from services.trainer.config import TrainerConfig


def test_flags_beat_env_which_beats_defaults() -> None:
    env = {"SELFAWARE_GRPC_PORT": "6000", "SELFAWARE_TORCH_THREADS": "1", "SELFAWARE_DATA_DIR": "/srv/x"}
    config = load_config(TrainerConfig, ["--grpc-port", "7000"], env)
    assert config.grpc_port == 7000 and config.torch_threads == 1 and config.data_dir == Path("/srv/x")
    assert load_config(TrainerConfig, [], {}).grpc_port == 50053


@pytest.mark.parametrize(("env", "named"), [
    ({"SELFAWARE_GRPC_PORT": "http"}, "SELFAWARE_GRPC_PORT"),
    ({"SELFAWARE_LOG_LEVEL": "loud"}, "--log-level"),
    ({"SELFAWARE_VLLM_KV_CACHE_MIB": "-1"}, "SELFAWARE_VLLM_KV_CACHE_MIB"),  # 0 keeps the profile's
    ({"SELFAWARE_NATS_REPLICAS": "0"}, "SELFAWARE_NATS_REPLICAS"),  # JetStream keeps 1 to 5 copies
])
def test_bad_values_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(EvaluatorConfig, [], env)
    assert named in str(caught.value)


def test_engine_options_follow_the_config() -> None:
    config = load_config(EvaluatorConfig, ["--vllm-kv-cache-mib", "128"], {})
    assert config.engine_options("vllm")["kv_cache_memory_bytes"] == 128 * 1024**2
