"""The metrics API: the names the operations docs quote, their labels, and the service label per context."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from selfaware import metrics
from selfaware.config import ConfigError, ServiceConfig, load_config
from selfaware.metrics import GpuCollector, GpuReading

#: The contract's names (docs/architecture.md "Metrics"; deploy/README.md quotes them): renaming one breaks alerts.
CONTRACT = ("selfaware_events_handled_total", "selfaware_handlers_in_flight", "selfaware_consumer_pending",
            "selfaware_consumer_ack_pending", "selfaware_jobs_finished_total", "selfaware_job_duration_seconds")


def value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_the_api_moves_the_named_series_with_the_service_of_its_context() -> None:
    consumer = "test-" + uuid.uuid4().hex[:8]
    with metrics.exporting("trainer", "127.0.0.1", 0):  # port 0: labels only, nothing served
        metrics.declare_consumer(consumer)
        zero = {o: value("selfaware_events_handled_total", service="trainer", consumer=consumer, outcome=o)
                for o in metrics.OUTCOMES}
        metrics.event_handled(consumer, "ok")
        metrics.event_handled(consumer, "dead_lettered")
        metrics.event_handled(consumer, "dead_lettered")
        with metrics.handling(consumer):
            in_flight = value("selfaware_handlers_in_flight", service="trainer", consumer=consumer)
        metrics.consumer_lag(consumer, pending=7, ack_pending=2)
        metrics.job_finished("train", "succeeded", 42.0)
        metrics.job_finished("train", "retried")
    assert metrics.SERVICE.get() == ""  # the context's label is reset on the way out
    assert zero == {o: 0.0 for o in metrics.OUTCOMES}
    handled = {o: value("selfaware_events_handled_total", service="trainer", consumer=consumer, outcome=o)
               for o in metrics.OUTCOMES}
    assert handled == {"ok": 1.0, "retried": 0.0, "dead_lettered": 2.0, "handed_back": 0.0}
    assert in_flight == 1.0 and value("selfaware_handlers_in_flight", service="trainer", consumer=consumer) == 0.0
    assert value("selfaware_consumer_pending", service="trainer", consumer=consumer) == 7.0
    assert value("selfaware_consumer_ack_pending", service="trainer", consumer=consumer) == 2.0
    exposition = generate_latest(REGISTRY).decode()
    assert all(f"\n{name}" in exposition for name in CONTRACT), "a contract name is missing from /metrics"
    assert value("selfaware_job_duration_seconds_bucket", service="trainer", stage="train", le="60.0") >= 1.0


def test_concurrent_services_in_one_process_keep_their_own_label() -> None:
    consumer = "test-" + uuid.uuid4().hex[:8]

    async def service(name: str, events: int) -> None:
        with metrics.exporting(name, "127.0.0.1", 0):
            for _ in range(events):
                metrics.event_handled(consumer, "ok")
                await asyncio.sleep(0)  # the two services interleave

    async def both() -> None:
        await asyncio.gather(service("generator", 3), service("evaluator", 5))

    asyncio.run(both())
    assert value("selfaware_events_handled_total", service="generator", consumer=consumer, outcome="ok") == 3.0
    assert value("selfaware_events_handled_total", service="evaluator", consumer=consumer, outcome="ok") == 5.0


def test_unknown_outcomes_and_statuses_are_errors() -> None:
    with pytest.raises(ValueError, match="retried"):
        metrics.event_handled("test-x", "retry")
    with pytest.raises(ValueError, match="succeeded"):
        metrics.job_finished("train", "done")


def test_gpu_gauges_read_at_scrape_time_per_service() -> None:
    registry = CollectorRegistry()
    readings = [GpuReading("0", 3e9, 0.25), GpuReading("1", 1e9, None)]
    collector = GpuCollector(lambda: readings)
    collector.services += ["trainer", "evaluator"]
    registry.register(collector)
    assert registry.get_sample_value("selfaware_gpu_memory_used_bytes", {"service": "trainer", "device": "0"}) == 3e9
    assert registry.get_sample_value("selfaware_gpu_utilization_ratio", {"service": "evaluator", "device": "0"}) == 0.25
    assert registry.get_sample_value("selfaware_gpu_utilization_ratio", {"service": "trainer", "device": "1"}) is None
    readings[0] = GpuReading("0", 5e9, 1.0)  # read again at the next scrape
    assert registry.get_sample_value("selfaware_gpu_memory_used_bytes", {"service": "trainer", "device": "0"}) == 5e9


def test_a_failing_gpu_read_leaves_the_scrape_working() -> None:
    def broken() -> list[GpuReading]:
        raise RuntimeError("NVML went away")

    registry = CollectorRegistry()
    collector = GpuCollector(broken)
    collector.services.append("trainer")
    registry.register(collector)
    exposition = generate_latest(registry).decode()
    assert "# TYPE selfaware_gpu_memory_used_bytes gauge" in exposition
    assert registry.get_sample_value("selfaware_gpu_memory_used_bytes", {"service": "trainer", "device": "0"}) is None


def test_metrics_port_is_a_setting_off_by_default() -> None:
    assert load_config(ServiceConfig, [], {}).metrics_port == 0
    assert load_config(ServiceConfig, [], {"SELFAWARE_METRICS_PORT": "9090"}).metrics_port == 9090
    with pytest.raises(ConfigError, match="SELFAWARE_METRICS_PORT"):
        load_config(ServiceConfig, [], {"SELFAWARE_METRICS_PORT": "70000"})
