"""A request grpc cannot decode is answered within the contract (selfaware/grpc_decode.py): nested past
protobuf's 100 levels -> RESOURCE_EXHAUSTED, bytes that are no message -> INVALID_ARGUMENT naming `request`; the
contract fuzzer found both answered UNKNOWN. Unary and streaming methods alike, and the server still answers."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from selfaware.grpc_server import field_violations
from selfaware.v1 import aggregator_pb2
from tests.fuzz_requests import nested_json

DEEP = 150  # protobuf's decoder stops at 100


def _deep_submit() -> bytes:
    request = aggregator_pb2.SubmitExperimentRequest()
    arm = request.spec.arms.add(name="a")
    params = struct_pb2.Struct()
    json_format.ParseDict({"deep": nested_json(DEEP)}, params, max_recursion_depth=400)
    arm.data.generate.params.CopyFrom(params)
    return request.SerializeToString()


async def _raw(address: str, method: str, payload: bytes, streaming: bool = False) -> grpc.aio.AioRpcError:
    async with grpc.aio.insecure_channel(address) as channel:
        kind = channel.unary_stream if streaming else channel.unary_unary
        call = kind(f"/selfaware.v1.AggregatorService/{method}")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            if streaming:
                async for _ in call(payload, timeout=10):
                    pass
            else:
                await call(payload, timeout=10)
        return caught.value


async def test_undecodable_requests_get_contract_statuses(platform) -> None:  # type: ignore[no-untyped-def]
    address = f"127.0.0.1:{platform.ports['aggregator']}"
    deep = await _raw(address, "SubmitExperiment", _deep_submit())
    assert deep.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, deep.details()
    garbage = b"\x0a\xff\xff\xff\xff\x0f"  # field 1, length-delimited, with a length past the end
    for method, streaming in (("GetExperiment", False), ("WatchExperiment", True)):
        bad = await _raw(address, method, garbage, streaming)
        assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT, bad.details()
        assert [f for f, _ in field_violations(bad)] == ["request"]
    async with grpc.aio.insecure_channel(address) as channel:
        listed = channel.unary_unary("/selfaware.v1.AggregatorService/ListExperiments",
                                     response_deserializer=aggregator_pb2.ListExperimentsResponse.FromString)
        assert isinstance(await listed(b"", timeout=10), aggregator_pb2.ListExperimentsResponse)
