"""A small async client over the generated stubs, used by the CLI and the tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from selfaware.v1 import aggregator_pb2 as pb
from selfaware.v1 import aggregator_pb2_grpc, spec_pb2
from selfaware.v1 import records_pb2 as rec


class Client:
    """The aggregator's experiment API at `endpoint` (host:port)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.channel = grpc.aio.insecure_channel(endpoint)
        self.stub = aggregator_pb2_grpc.AggregatorServiceStub(self.channel)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    async def submit(self, spec: spec_pb2.ExperimentSpec) -> rec.Experiment:
        return await self.stub.SubmitExperiment(pb.SubmitExperimentRequest(spec=spec))

    async def validate(self, spec: spec_pb2.ExperimentSpec) -> pb.ValidateExperimentResponse:
        return await self.stub.ValidateExperiment(pb.ValidateExperimentRequest(spec=spec))

    async def catalogues(self) -> pb.GetCatalogueResponse:
        return await self.stub.GetCatalogue(pb.GetCatalogueRequest())

    async def get(self, experiment_id: str) -> pb.GetExperimentResponse:
        return await self.stub.GetExperiment(pb.GetExperimentRequest(experiment_id=experiment_id))

    async def watch(self, experiment_id: str) -> AsyncIterator[pb.WatchExperimentResponse]:
        async for update in self.stub.WatchExperiment(pb.WatchExperimentRequest(experiment_id=experiment_id)):
            yield update

    async def list(self) -> list[rec.Experiment]:
        return list((await self.stub.ListExperiments(pb.ListExperimentsRequest())).experiments)

    async def cancel(self, experiment_id: str, reason: str = "") -> rec.Experiment:
        return await self.stub.CancelExperiment(pb.CancelExperimentRequest(experiment_id=experiment_id, reason=reason))

    async def report(self, experiment_id: str) -> pb.GetReportResponse:
        return await self.stub.GetReport(pb.GetReportRequest(experiment_id=experiment_id))


async def wait_serving(endpoint: str, timeout_s: float, service: str = "") -> None:
    """Poll the standard health service until it says SERVING (raises TimeoutError)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with grpc.aio.insecure_channel(endpoint) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{endpoint} is not serving after {timeout_s:.0f} s")
            await asyncio.sleep(0.2)
