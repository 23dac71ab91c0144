"""Every Prometheus metric of the platform, and the small API the bus, `JobRun` and the services record through.

One module defines them all, so the names operators alert on (docs/architecture.md, "Metrics") and the names
the Kubernetes docs quote cannot drift apart. Metrics live in prometheus_client's process-wide registry, beside
its process and Python collectors; `exporting` serves them over HTTP when `metrics_port` is set.

Why `service` is a label set from a context variable: in production it is constant per process, but the service
tests run the four services in one process. `run_service` sets the variable once; the bus's workers and the
handlers' tasks start inside it and inherit it, so each service's samples carry its own name there too.

GPU gauges come from a collector that reads the devices through NVML at scrape time, registered only by the
services that use GPUs (`watch_gpus`: the trainer and the evaluator). Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import structlog
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger(__name__)

SERVICE: contextvars.ContextVar[str] = contextvars.ContextVar("selfaware_metrics_service", default="")

#: How the bus settled an event: acked (also an event of an experiment that had ended), nakked for a retry,
#: dead-lettered, or handed back to another replica on shutdown.
OUTCOMES = ("ok", "retried", "dead_lettered", "handed_back")
#: How one attempt at a job ended (`selfaware.jobs.JobRun`): `retried` is a failure the bus will retry, `fenced`
#: a worker that lost its lease to another, `stopped` an attempt that ended without an outcome of its own (the
#: evaluator's shard stops when another of its jobs is cancelled).
JOB_STATUSES = ("succeeded", "failed", "cancelled", "retried", "handed_back", "fenced", "stopped")
#: Job durations run from seconds (a dataset) to hours (a 70B training).
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 57600)

EVENTS_HANDLED = Counter("selfaware_events_handled", "Events the bus settled, by consumer and outcome",
                         ["service", "consumer", "outcome"])
HANDLERS_IN_FLIGHT = Gauge("selfaware_handlers_in_flight", "Handlers running now, by consumer",
                           ["service", "consumer"])
CONSUMER_PENDING = Gauge("selfaware_consumer_pending",
                         "JetStream num_pending of a durable consumer: events not yet delivered (the queue lag)",
                         ["service", "consumer"])
CONSUMER_ACK_PENDING = Gauge("selfaware_consumer_ack_pending",
                             "JetStream num_ack_pending of a durable consumer: events delivered, not yet settled",
                             ["service", "consumer"])
JOBS_FINISHED = Counter("selfaware_jobs_finished", "Job attempts that ended, by stage and how",
                        ["service", "stage", "status"])
JOB_DURATION = Histogram("selfaware_job_duration_seconds",
                         "Seconds from taking a job's lease to its success, by stage (successful attempts only)",
                         ["service", "stage"], buckets=DURATION_BUCKETS)


def declare_consumer(consumer: str) -> None:
    """Create a consumer's series at zero, so rates and alerts see it before its first event."""
    service = SERVICE.get()
    for outcome in OUTCOMES:
        EVENTS_HANDLED.labels(service, consumer, outcome)
    HANDLERS_IN_FLIGHT.labels(service, consumer)


def event_handled(consumer: str, outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown event outcome {outcome!r}; expected one of {OUTCOMES}")
    EVENTS_HANDLED.labels(SERVICE.get(), consumer, outcome).inc()


@contextlib.contextmanager
def handling(consumer: str) -> Iterator[None]:
    """Count a handler as in flight while the block runs."""
    with HANDLERS_IN_FLIGHT.labels(SERVICE.get(), consumer).track_inprogress():
        yield


def consumer_lag(consumer: str, pending: int, ack_pending: int) -> None:
    """Record what JetStream last said about a durable consumer."""
    service = SERVICE.get()
    CONSUMER_PENDING.labels(service, consumer).set(pending)
    CONSUMER_ACK_PENDING.labels(service, consumer).set(ack_pending)


def job_finished(stage: str, status: str, seconds: float | None = None) -> None:
    """Count one job attempt's end; `seconds` (a success's duration) goes to the histogram."""
    if status not in JOB_STATUSES:
        raise ValueError(f"unknown job status {status!r}; expected one of {JOB_STATUSES}")
    service = SERVICE.get()
    JOBS_FINISHED.labels(service, stage, status).inc()
    if seconds is not None:
        JOB_DURATION.labels(service, stage).observe(seconds)


@dataclass(frozen=True)
class GpuReading:
    device: str
    memory_used_bytes: float
    #: Fraction of the last sample period in which a kernel ran, 0 to 1 (None where the device does not say).
    utilization: float | None


class GpuCollector(Collector):
    """Reads the GPUs at scrape time, once per process, for every service in it that asked."""

    def __init__(self, read: Callable[[], Iterable[GpuReading]]) -> None:
        self.read = read
        self.services: list[str] = []

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self._families([])

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            readings = list(self.read())
        except Exception:  # noqa: BLE001 - a failed read must not fail the whole scrape
            log.warning("gpu_read_failed", exc_info=True)
            readings = []
        return self._families(readings)

    def _families(self, readings: Iterable[GpuReading]) -> list[GaugeMetricFamily]:
        memory = GaugeMetricFamily("selfaware_gpu_memory_used_bytes",
                                   "Memory in use on a GPU, by every process on it (as nvidia-smi shows it)",
                                   labels=["service", "device"])
        utilization = GaugeMetricFamily("selfaware_gpu_utilization_ratio",
                                        "Fraction of the last sample period in which a GPU ran a kernel",
                                        labels=["service", "device"])
        for reading in readings:
            for service in self.services:
                memory.add_metric([service, reading.device], reading.memory_used_bytes)
                if reading.utilization is not None:
                    utilization.add_metric([service, reading.device], reading.utilization)
        return [memory, utilization]


_gpus: GpuCollector | None = None


def watch_gpus() -> bool:
    """Export the GPU gauges for the current service (the trainer and the evaluator call this in their wiring);
    False, logged, where there is no GPU to watch.

    The devices are read through NVML (nvidia-ml-py), never torch.cuda: torch's memory calls create a CUDA
    context in the service process (hundreds of MB on the GPU, and vLLM must then spawn its workers instead of
    forking them), and importing torch only to ask would slow every start. NVML reads the devices from outside
    and sees the memory of every process on them (vLLM's engine runs in a child). In a pod NVML lists the GPUs
    the pod was given; `device` is NVML's index.
    """
    try:
        import pynvml
    except ImportError:
        if Path("/dev/nvidiactl").exists():
            log.warning("gpu_metrics_off", why="an NVIDIA driver is here but nvidia-ml-py is not installed")
        return False
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        log.info("gpu_metrics_off", why=f"no NVIDIA driver: {exc}")
        return False
    global _gpus
    if _gpus is None:
        _gpus = GpuCollector(lambda: _read_nvml(pynvml))
        REGISTRY.register(_gpus)
    if (service := SERVICE.get()) not in _gpus.services:
        _gpus.services.append(service)
    return True


def _read_nvml(nvml: ModuleType) -> list[GpuReading]:
    """Every device NVML lists: memory in use and kernel utilization (None where unsupported, as on MIG)."""
    readings = []
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        try:
            utilization: float | None = nvml.nvmlDeviceGetUtilizationRates(handle).gpu / 100
        except nvml.NVMLError:
            utilization = None
        readings.append(GpuReading(str(index), float(nvml.nvmlDeviceGetMemoryInfo(handle).used), utilization))
    return readings


@contextlib.contextmanager
def exporting(service: str, host: str, port: int) -> Iterator[None]:
    """Label this context's samples with `service`, and serve /metrics on `host:port` while it lasts (0: off)."""
    token = SERVICE.set(service)
    try:
        if not port:
            yield
            return
        try:
            server, thread = start_http_server(port, host)
        except OSError as exc:
            raise OSError(f"cannot serve metrics on {host}:{port} (metrics_port): {exc}") from exc
        log.info("metrics_serving", address=f"{host}:{port}")
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
    finally:
        SERVICE.reset(token)
