"""Generated requests to every RPC of every service (tests/fuzz_requests.py), sent to the real servers: each
answer is OK, INVALID_ARGUMENT naming a field, NOT_FOUND, FAILED_PRECONDITION where the proto documents it,
PERMISSION_DENIED, UNAUTHENTICATED or RESOURCE_EXHAUSTED; never INTERNAL, UNKNOWN or a hang, and every server
still answers afterwards. `bench/fuzz_contract.py` runs the 10,000-request version and writes the counts.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from selfaware.specs import spec_from_dict
from tests.fuzz_requests import fuzz, rpcs

#: Bounded for CI: a few hundred requests take seconds.
EXAMPLES = 300


async def test_every_rpc_answers_generated_requests_within_the_contract(platform, make_spec) -> None:  # type: ignore[no-untyped-def]
    seeds = {"selfaware.v1.ExperimentSpec": [spec_from_dict(make_spec())]}
    addresses = {service: f"127.0.0.1:{port}" for service, port in platform.ports.items()}
    tally = await fuzz(addresses, EXAMPLES, seed=13, seeds=seeds)
    assert set(tally.counts) == {rpc.name for rpc in rpcs()}
    assert sum(sum(c.values()) for c in tally.counts.values()) == EXAMPLES
    assert not tally.bad, "\n".join(f"{rpc} {problem}\n{message}"[:2000] for rpc, _, problem, message in tally.bad)
    for service, port in platform.ports.items():
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
