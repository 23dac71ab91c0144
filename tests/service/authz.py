"""A lone aggregator whose callers are told apart by a bearer token, for the authorisation, quota and dead-letter
tests: real gRPC over TLS on loopback with the real token layer (`auth_mode=tokens`, `selfaware/grpc_server.py`),
a NATS of its own, the other services' catalogues published (no generator, so experiments stay where submit leaves
them).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from selfaware.auth import ADMIN
from selfaware.bus import EventBus
from selfaware.cli.local_tls import generate, token_entry, write_tokens_file
from selfaware.client import Credentials
from selfaware.service import run_service
from selfaware.state import StateStore
from selfaware.v1 import aggregator_pb2_grpc
from services.aggregator.config import AggregatorConfig
from services.aggregator.main import wire as wire_aggregator
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.catalogue import catalogue as trainer_catalogue
from tests.conftest import REPO, SHARED, NatsProcess

#: The table's roles: the owner (alice), another user (bob), an admin (root), and a call without a token.
USERS = {"owner": ("alice", []), "other": ("bob", []), "admin": ("root", [ADMIN])}
ROLES = (*USERS, "anonymous")


@dataclass
class LoneAggregator:
    endpoint: str
    nats_url: str
    bus: EventBus
    state: StateStore
    channel: grpc.aio.Channel
    tokens: dict[str, str]

    @property
    def stub(self) -> aggregator_pb2_grpc.AggregatorServiceStub:
        return aggregator_pb2_grpc.AggregatorServiceStub(self.channel)

    async def call(self, method: str, request: Any, role: str, first_only: bool = False) -> Any:
        """`method`'s reply as `role` of ROLES (a stream's replies as a list, only its first with `first_only`:
        a watch runs until its target ends); an error raises AioRpcError."""
        token = self.tokens.get(role)
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
    tls = generate(folder / "tls")
    tokens, entries = {}, []
    for role, (subject, roles) in USERS.items():
        tokens[role], entry = token_entry(subject, roles)
        entries.append(entry)
    write_tokens_file(tls.tokens_file, entries)
    config = AggregatorConfig(nats_url=nats_server.url, grpc_port=0, data_dir=folder / "data",
                              shutdown_grace_s=1.0, source_roots=f"{REPO}:{SHARED}:{folder}", auth_mode="tokens",
                              auth_tokens_file=str(tls.tokens_file), tls_cert_file=str(tls.cert_file),
                              tls_key_file=str(tls.key_file), **settings)
    stop, bound = asyncio.Event(), asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service("aggregator", config, wire_aggregator, stop=stop, bound=bound))
    port = await asyncio.wait_for(bound, 60)
    # the same retention as the aggregator's: every client that declares the streams sets it
    bus = await EventBus.connect(nats_server.url, name="tests", dead_letter_max_age_s=config.dead_letter_max_age_s)
    state = await StateStore.open(bus.js)
    for published in (generator_catalogue(), trainer_catalogue(), evaluator_catalogue()):
        await state.put_catalogue(published)
    channel = Credentials(ca_file=tls.ca_file).channel(f"127.0.0.1:{port}")
    try:
        yield LoneAggregator(f"127.0.0.1:{port}", nats_server.url, bus, state, channel, tokens)
    finally:
        await channel.close()
        stop.set()
        await asyncio.wait_for(service, 30)
        await bus.close()
        nats_server.kill()
