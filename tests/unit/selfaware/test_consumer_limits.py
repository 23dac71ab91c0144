"""`consumer_limits` and the lease-friendly `ack_wait_s`: parsed once, bad values named as the setting."""

from __future__ import annotations

import pytest

from selfaware.config import ConfigError, ConsumerLimits, ServiceConfig, as_env, load_config
from services.trainer.config import TrainerConfig


def test_limits_come_from_the_flag_or_the_env_var() -> None:
    flag = "trainer-training-requested=concurrency:2,max_ack_pending:64; trainer-dataset-ready=max_ack_pending:8"
    config = load_config(TrainerConfig, ["--consumer-limits", flag], {})
    assert config.limits() == {"trainer-training-requested": ConsumerLimits(concurrency=2, max_ack_pending=64),
                               "trainer-dataset-ready": ConsumerLimits(max_ack_pending=8)}
    assert load_config(TrainerConfig, [], as_env(config)).limits() == config.limits()
    assert load_config(TrainerConfig, [], {}).limits() == {}


@pytest.mark.parametrize(("raw", "why"), [
    ("trainer-training-requested", "needs a consumer name"),
    ("=concurrency:2", "needs a consumer name"),
    ("a.b=concurrency:2", "needs a consumer name"),
    ("x=parallelism:2", "unknown limit 'parallelism'"),
    ("x=concurrency:0", "concurrency must be a whole number from 1"),
    ("x=max_ack_pending:-3", "max_ack_pending must be a whole number from 1"),
    ("x=concurrency:two", "concurrency must be a whole number"),
    ("x=concurrency:1,concurrency:2", "concurrency given twice"),
    ("x=concurrency:1;x=max_ack_pending:9", "consumer 'x' given twice"),
])
def test_bad_limits_name_the_setting_and_the_part(raw: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ServiceConfig, [], {"SELFAWARE_CONSUMER_LIMITS": raw})
    message = str(caught.value)
    assert "--consumer-limits" in message and "SELFAWARE_CONSUMER_LIMITS" in message and why in message


def test_ack_wait_lets_another_worker_take_over_within_seconds() -> None:
    assert ServiceConfig().ack_wait_s == 15.0
