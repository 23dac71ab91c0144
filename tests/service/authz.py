"""A lone aggregator whose callers are told apart by a bearer token, for the authorisation, quota and dead-letter
tests: real gRPC on loopback, a NATS of its own, the other services' catalogues published (no generator, so
experiments stay where submit leaves them).

The principal of each call is bound by `TokenBinding`, a stand-in for the token layer of `selfaware/grpc_server.py`
(issue 13, AUTH): it wraps the real servicer, maps `authorization: Bearer <token>` to a `Principal` through
`acting_as`, and answers UNAUTHENTICATED without a known token. Once the real layer is in, `start_aggregator` should
run the aggregator with `auth_mode=tokens` and these tokens instead; the tests do not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from selfaware.auth import ADMIN, Principal, acting_as
from selfaware.bus import EventBus
from selfaware.service import Runtime, Wiring, run_service
from selfaware.state import StateStore
from selfaware.v1 import aggregator_pb2_grpc
from services.aggregator.config import AggregatorConfig
from services.aggregator.main import wire as wire_aggregator
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.catalogue import catalogue as trainer_catalogue
from tests.conftest import REPO, SHARED, NatsProcess

#: Who each test token is.
PRINCIPALS = {
    "alice-token": Principal("alice"),
    "bob-token": Principal("bob"),
    "root-token": Principal("root", frozenset({ADMIN})),
}
#: The table's roles: the owner (alice), another user (bob), an admin, and a call without a token.
ROLES = {"owner": "alice-token", "other": "bob-token", "admin": "root-token", "anonymous": None}


class TokenBinding:
    """The servicer, each method run as the principal of the call's bearer token."""

    def __init__(self, servicer: Any) -> None:
        self._servicer = servicer

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._servicer, name)
        if not name[:1].isupper():
            return method
        if inspect.isasyncgenfunction(method):
            async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                with acting_as(await _principal(context)):
                    async for item in method(request, context):
                        yield item
            return stream

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with acting_as(await _principal(context)):
                return await method(request, context)
        return unary


async def _principal(context: grpc.aio.ServicerContext) -> Principal:
    metadata = dict(context.invocation_metadata() or ())
    principal = PRINCIPALS.get(str(metadata.get("authorization", "")).removeprefix("Bearer "))
    if principal is None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a bearer token is required")
    assert principal is not None
    return principal


async def _wire_with_tokens(config: AggregatorConfig, runtime: Runtime) -> Wiring:
    wiring = await wire_aggregator(config, runtime)
    wiring.servicers = [(add, TokenBinding(servicer)) for add, servicer in wiring.servicers]
    return wiring


@dataclass
class LoneAggregator:
    endpoint: str
    nats_url: str
    bus: EventBus
    state: StateStore
    channel: grpc.aio.Channel

    @property
    def stub(self) -> aggregator_pb2_grpc.AggregatorServiceStub:
        return aggregator_pb2_grpc.AggregatorServiceStub(self.channel)

    async def call(self, method: str, request: Any, role: str, first_only: bool = False) -> Any:
        """`method`'s reply as `role` of ROLES (a stream's replies as a list, only its first with `first_only`:
        a watch runs until its target ends); an error raises AioRpcError."""
        token = ROLES[role]
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        rpc: Callable[..., Any] = getattr(self.stub, method)
        reply = rpc(request, metadata=metadata, timeout=30)
        if not hasattr(reply, "__aiter__"):
            return await reply
        items = []
        async for item in reply:
            items.append(item)
            if first_only:
                reply.cancel()
                break
        return items


@contextlib.asynccontextmanager
async def start_aggregator(folder: Path, **settings: Any) -> AsyncIterator[LoneAggregator]:
    """The aggregator alone on a NATS of its own, with `settings` on its config."""
    nats_server = NatsProcess(folder / "nats")
    nats_server.start()
    config = AggregatorConfig(nats_url=nats_server.url, grpc_port=0, data_dir=folder / "data",
                              shutdown_grace_s=1.0, source_roots=f"{REPO}:{SHARED}:{folder}", **settings)
    stop, bound = asyncio.Event(), asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service("aggregator", config, _wire_with_tokens, stop=stop, bound=bound))
    port = await asyncio.wait_for(bound, 60)
    # the same retention as the aggregator's: every client that declares the streams sets it
    bus = await EventBus.connect(nats_server.url, name="tests", dead_letter_max_age_s=config.dead_letter_max_age_s)
    state = await StateStore.open(bus.js)
    for published in (generator_catalogue(), trainer_catalogue(), evaluator_catalogue()):
        await state.put_catalogue(published)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield LoneAggregator(f"127.0.0.1:{port}", nats_server.url, bus, state, channel)
    finally:
        await channel.close()
        stop.set()
        await asyncio.wait_for(service, 30)
        await bus.close()
        nats_server.kill()
