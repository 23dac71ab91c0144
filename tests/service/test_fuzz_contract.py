"""Generated requests to every RPC of every service (tests/fuzz_requests.py), sent to the real servers under
hypothesis: each answer is OK, INVALID_ARGUMENT naming a field, NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED or
RESOURCE_EXHAUSTED; never INTERNAL, UNKNOWN, FAILED_PRECONDITION or a hang, and every server still answers health
afterwards. `SELFAWARE_FUZZ_EXAMPLES` sets the count (CI: 300); `bench/fuzz_contract.py` runs 10,000.
"""

from __future__ import annotations

import os

from grpc_health.v1 import health_pb2, health_pb2_grpc

from selfaware.specs import spec_from_dict
from tests.fuzz_requests import Auth, fuzz, rpcs

#: Bounded for CI: a few hundred requests take seconds.
EXAMPLES = int(os.environ.get("SELFAWARE_FUZZ_EXAMPLES", "300"))


async def test_every_rpc_answers_generated_requests_within_the_contract(platform, make_spec) -> None:  # type: ignore[no-untyped-def]
    addresses = {service: f"127.0.0.1:{port}" for service, port in platform.ports.items()}
    auth = Auth.from_env(os.environ)
    tally = await fuzz(addresses, EXAMPLES, specs=[spec_from_dict(make_spec())], auth=auth)
    assert set(tally.counts) == {rpc.name for rpc in rpcs()}
    assert tally.total == EXAMPLES
    assert not tally.bad, "\n".join(f"{rpc} {problem}\n{message}"[:2000] for rpc, _, problem, message in tally.bad)
    if EXAMPLES >= 300 and len(auth.tokens) == 1 and not auth.anonymous:  # ~20 submissions: some seeds pass
        assert tally.counts["aggregator.SubmitExperiment"]["OK"] > 0, tally.as_json()
    for service, address in addresses.items():
        async with auth.channel(address) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
