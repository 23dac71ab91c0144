"""The outside probe's bad input, replayed against the real gRPC servers: every answer is INVALID_ARGUMENT,
NOT_FOUND, UNAVAILABLE or RESOURCE_EXHAUSTED (never INTERNAL), names the field, repeats no file content, and
comes back within a time bound; nothing is written for a refused submission.

Before these checks the probe measured: 88 of 119 malformed ids gave INTERNAL, a FIFO hung the generator for
good, `/dev/zero` grew it to 3 GB, `/etc/passwd`, `file://` URLs, `/proc/self/environ` and loopback URLs were
read, 10^6 seeds wrote 562,936 job keys, and GetExperiment answered INTERNAL while NATS was down.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from selfaware.grpc_server import field_violations
from selfaware.service import run_service
from selfaware.specs import spec_from_dict
from selfaware.v1 import (
    aggregator_pb2,
    aggregator_pb2_grpc,
    evaluator_pb2,
    evaluator_pb2_grpc,
    generator_pb2,
    generator_pb2_grpc,
    trainer_pb2,
    trainer_pb2_grpc,
)
from services.aggregator.config import AggregatorConfig
from services.aggregator.main import wire as wire_aggregator
from tests.conftest import NatsProcess
from tests.unit.selfaware.test_ids import BAD_IDS

ANSWERS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE,
           grpc.StatusCode.RESOURCE_EXHAUSTED}
#: No bad request may take longer than this to be answered (a FIFO once hung the generator for good).
BOUND_S = 10.0
IMPORT = "arms.risk-seeking.data.import"


async def refused(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert time.monotonic() - started < BOUND_S
    assert caught.value.code() in ANSWERS, (caught.value.code(), caught.value.details())
    assert len(caught.value.details() or "") < 1200
    return caught.value


def id_calls() -> list[tuple[str, str, Callable[[grpc.aio.Channel, str], Awaitable[Any]]]]:
    """Every RPC that takes an experiment or sweep id, as (service, id field, call)."""

    async def watch(channel: grpc.aio.Channel, experiment_id: str) -> None:
        stub = aggregator_pb2_grpc.AggregatorServiceStub(channel)
        async for _ in stub.WatchExperiment(aggregator_pb2.WatchExperimentRequest(experiment_id=experiment_id)):
            pass

    async def watch_sweep(channel: grpc.aio.Channel, sweep_id: str) -> None:
        stub = aggregator_pb2_grpc.AggregatorServiceStub(channel)
        async for _ in stub.WatchSweep(aggregator_pb2.WatchSweepRequest(sweep_id=sweep_id)):
            pass

    aggregator = aggregator_pb2_grpc.AggregatorServiceStub
    calls: list[tuple[str, Callable[[grpc.aio.Channel, str], Awaitable[Any]]]] = [
        ("aggregator", lambda c, i: aggregator(c).GetExperiment(aggregator_pb2.GetExperimentRequest(experiment_id=i))),
        ("aggregator", watch),
        ("aggregator", lambda c, i: aggregator(c).CancelExperiment(
            aggregator_pb2.CancelExperimentRequest(experiment_id=i))),
        ("aggregator", lambda c, i: aggregator(c).GetReport(aggregator_pb2.GetReportRequest(experiment_id=i))),
        ("generator", lambda c, i: generator_pb2_grpc.GeneratorServiceStub(c).GetDatasetManifest(
            generator_pb2.GetDatasetManifestRequest(experiment_id=i))),
        ("trainer", lambda c, i: trainer_pb2_grpc.TrainerServiceStub(c).ListTrainingJobs(
            trainer_pb2.ListTrainingJobsRequest(experiment_id=i))),
        ("evaluator", lambda c, i: evaluator_pb2_grpc.EvaluatorServiceStub(c).ListEvaluations(
            evaluator_pb2.ListEvaluationsRequest(experiment_id=i))),
    ]
    sweeps: list[tuple[str, Callable[[grpc.aio.Channel, str], Awaitable[Any]]]] = [
        ("aggregator", lambda c, i: aggregator(c).GetSweep(aggregator_pb2.GetSweepRequest(sweep_id=i))),
        ("aggregator", watch_sweep),
    ]
    return [(service, "experiment_id", call) for service, call in calls] + \
        [(service, "sweep_id", call) for service, call in sweeps]


async def test_malformed_ids_are_invalid_and_unknown_ids_not_found_on_every_rpc(platform) -> None:  # type: ignore[no-untyped-def]
    for service, id_field, call in id_calls():
        async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports[service]}") as channel:
            for bad in BAD_IDS:
                error = await refused(call(channel, bad))
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (service, bad[:20], error.details())
                assert [field for field, _ in field_violations(error)] == [id_field]
            error = await refused(call(channel, "no-such-id"))
            assert error.code() == grpc.StatusCode.NOT_FOUND, (service, error.details())


class _Quiet(http.server.SimpleHTTPRequestHandler):
    hits = 0

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        type(self).hits += 1
        super().do_GET()


@pytest.fixture
def loopback_data(risky_dataset: Path) -> Iterator[str]:
    """A real server on 127.0.0.1 serving the real dataset: it would be read if loopback were allowed."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(risky_dataset.parent)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    _Quiet.hits = 0
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def bad_sources(tmp_path: Path, loopback: str, name: str) -> dict[str, str]:
    os.mkfifo(tmp_path / "fifo.jsonl")
    port = loopback.split(":")[1]
    return {"fifo": str(tmp_path / "fifo.jsonl"), "dev zero": "/dev/zero", "passwd": "/etc/passwd",
            "file url": "file:///etc/passwd", "environ": "/proc/self/environ", "self fd": "/proc/self/fd/0",
            "loopback url": f"http://{loopback}/{name}", "localhost url": f"http://localhost:{port}/{name}",
            "shorthand loopback": f"http://127.1:{port}/{name}", "metadata url": "http://169.254.169.254/latest",
            "nul": "/tmp/a\0b.jsonl", "file url nul": "file:///tmp/a%00b.jsonl", "long": "/" + "p" * 10_000,
            "gopher": "gopher://example.com/x"}


async def test_bad_sources_are_refused_at_submit_with_the_field_named(platform, make_spec, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                      loopback_data: str, risky_dataset: Path
                                                                      ) -> None:
    async with platform.client() as client:
        before = len(await client.list())
        for case, uri in bad_sources(tmp_path, loopback_data, risky_dataset.name).items():
            spec = make_spec()
            spec["arms"]["risk-seeking"]["data"]["import"] = uri
            error = await refused(client.submit(spec_from_dict(spec)))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (case, error.details())
            fields = dict(field_violations(error))
            assert list(fields) == [IMPORT], (case, fields)
            assert "root:" not in fields[IMPORT] and "PATH=" not in fields[IMPORT], case
        assert len(await client.list()) == before
    assert _Quiet.hits == 0


async def test_bad_sources_are_refused_by_the_generator_preview(platform, make_spec, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                loopback_data: str, risky_dataset: Path) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['generator']}") as channel:
        stub = generator_pb2_grpc.GeneratorServiceStub(channel)
        for case, uri in bad_sources(tmp_path, loopback_data, risky_dataset.name).items():
            spec = make_spec()
            spec["arms"]["risk-seeking"]["data"]["import"] = uri
            request = generator_pb2.PreviewDatasetRequest(spec=spec_from_dict(spec))
            error = await refused(stub.PreviewDataset(request, timeout=BOUND_S))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (case, error.details())
            assert [field for field, _ in field_violations(error)] == [IMPORT], (case, error.details())
            assert "root:" not in error.details() and "PATH=" not in error.details(), case
        spec = make_spec()
        preview = await stub.PreviewDataset(generator_pb2.PreviewDatasetRequest(spec=spec_from_dict(spec)))
        assert preview.arms[0].train_rows == 32  # the same spec with its real source still builds
    assert _Quiet.hits == 0


async def test_oversized_specs_and_fields_are_refused_before_anything_is_written(platform, make_spec  # type: ignore[no-untyped-def]
                                                                                 ) -> None:
    async with platform.client() as client:
        before = len(await client.list())
        many = make_spec(training__seeds=list(range(100_000)))
        error = await refused(client.submit(spec_from_dict(many)))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and dict(field_violations(error)).keys() == {"<spec>"}
        over = make_spec(training__seeds=list(range(40)))
        error = await refused(client.submit(spec_from_dict(over)))
        assert dict(field_violations(error)).keys() == {"training.seeds"}
        assert len(await client.list()) == before
        stub = aggregator_pb2_grpc.AggregatorServiceStub(client.channel)
        error = await refused(stub.CancelExperiment(
            aggregator_pb2.CancelExperimentRequest(experiment_id="no-such-experiment", reason="r" * 1_000_000)))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [field for field, _ in field_violations(error)] == ["reason"]


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsProcess]:
    """A nats-server of this test's own: the session's must stay up."""
    server = NatsProcess(tmp_path / "nats")
    server.start()
    yield server
    server.kill()


async def test_nats_down_is_unavailable_and_the_aggregator_recovers(own_nats, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = AggregatorConfig(nats_url=own_nats.url, grpc_port=0, data_dir=tmp_path / "data",
                              shutdown_grace_s=1.0)
    stop, bound = asyncio.Event(), asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service("aggregator", config, wire_aggregator, stop=stop, bound=bound))
    endpoint = f"127.0.0.1:{await asyncio.wait_for(bound, 60)}"
    request = aggregator_pb2.GetExperimentRequest(experiment_id="no-such-experiment")
    try:
        async with grpc.aio.insecure_channel(endpoint) as channel:
            stub = aggregator_pb2_grpc.AggregatorServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetExperiment(request)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            own_nats.kill()
            for call in (stub.GetExperiment(request), stub.ListExperiments(aggregator_pb2.ListExperimentsRequest())):
                started = time.monotonic()
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()
                assert time.monotonic() - started < BOUND_S
            own_nats.start()
            deadline = time.monotonic() + 20
            while True:  # back within seconds of NATS coming back
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.GetExperiment(request)
                if caught.value.code() == grpc.StatusCode.NOT_FOUND:
                    break
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline
                await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)
