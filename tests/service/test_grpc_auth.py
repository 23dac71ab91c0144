"""gRPC TLS and identity (issue 13): real servers on loopback, with the real `start_server`, interceptor and `@rpc`.

A recording servicer (the aggregator's generated service, two methods implemented) notes the principal and the
log context each call sees, so the tests show the verified caller reaches the servicer method, unary and
streaming alike, and that no call without a valid token ever does.
"""

from __future__ import annotations

import datetime
import http.server
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
import structlog
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from selfaware.auth import ADMIN, LOCAL, Principal, current_principal
from selfaware.cli.local_tls import LocalTls, generate, issue_cert, load_ca, token_entry, write_tokens_file
from selfaware.cli.stack import free_port
from selfaware.client import Client, Credentials, wait_serving
from selfaware.config import ConfigError, ServiceConfig
from selfaware.grpc_server import Servers, rpc, start_server
from selfaware.v1 import aggregator_pb2 as pb
from selfaware.v1 import aggregator_pb2_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["AggregatorService"].full_name


class Recording(aggregator_pb2_grpc.AggregatorServiceServicer):
    """GetCatalogue (unary) and WatchExperiment (server-streaming), noting who each call acts as."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Principal, Any]] = []

    @rpc
    async def GetCatalogue(self, request: pb.GetCatalogueRequest, context: Any) -> pb.GetCatalogueResponse:
        self.seen.append(("unary", current_principal(), structlog.contextvars.get_contextvars().get("subject")))
        return pb.GetCatalogueResponse()

    @rpc
    async def WatchExperiment(self, request: pb.WatchExperimentRequest, context: Any
                              ) -> AsyncIterator[pb.WatchExperimentResponse]:
        self.seen.append(("stream-start", current_principal(), None))
        for _ in range(2):
            yield pb.WatchExperimentResponse()
        self.seen.append(("stream-end", current_principal(), None))  # still bound after the yields


@dataclass
class Keys:
    """One stack's TLS files plus tokens for several users."""

    tls: LocalTls
    tokens: dict[str, str]
    client_cert: Path
    client_key: Path

    def creds(self, who: str | None = "alice", **more: Any) -> Credentials:
        return Credentials(self.tokens[who] if who else None, self.tls.ca_file, **more)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    tls = generate(tmp_path_factory.mktemp("tls"), subject="alice")
    alice = tls.token_file.read_text().strip()
    bob, bob_entry = token_entry("bob", [])
    old, old_entry = token_entry("carol", [ADMIN], expires=datetime.datetime.now(datetime.UTC)
                                 - datetime.timedelta(minutes=1))
    written = yaml.safe_load(tls.tokens_file.read_text())["tokens"]  # alice's, the admin
    write_tokens_file(tls.tokens_file, [*written, bob_entry, old_entry])
    ca, ca_key = load_ca(tls)
    cert, key = tls.folder / "client.pem", tls.folder / "client-key.pem"
    issue_cert(ca, ca_key, "a client", cert, key, server=False)
    return Keys(tls, {"alice": alice, "bob": bob, "expired": old}, cert, key)


def config_of(keys: Keys, **overrides: Any) -> ServiceConfig:
    settings: dict[str, Any] = {"grpc_port": 0, "auth_mode": "tokens", "auth_tokens_file": str(keys.tls.tokens_file),
                                "tls_cert_file": str(keys.tls.cert_file), "tls_key_file": str(keys.tls.key_file)}
    return ServiceConfig(**{**settings, **overrides})


@asynccontextmanager
async def serving(config: ServiceConfig) -> AsyncIterator[tuple[Servers, Recording]]:
    servicer = Recording()
    servers = await start_server(config, [(aggregator_pb2_grpc.add_AggregatorServiceServicer_to_server, servicer)],
                                 [SERVICE])
    try:
        yield servers, servicer
    finally:
        await servers.stop(None)


def endpoint(servers: Servers) -> str:
    return f"127.0.0.1:{servers.port}"


async def watch_all(client: Client) -> int:
    return len([u async for u in client.stub.WatchExperiment(pb.WatchExperimentRequest(experiment_id="exp-1"))])


async def test_a_valid_token_reaches_the_servicer_as_its_principal_unary_and_streaming(keys: Keys) -> None:
    async with serving(config_of(keys)) as (servers, servicer):
        for who, roles in [("alice", {ADMIN}), ("bob", set())]:
            servicer.seen.clear()
            async with Client(endpoint(servers), credentials=keys.creds(who)) as client:
                await client.catalogues()
                assert await watch_all(client) == 2
            expected = Principal(who, frozenset(roles))
            assert servicer.seen == [("unary", expected, who), ("stream-start", expected, None),
                                     ("stream-end", expected, None)]


@pytest.mark.parametrize("who", [None, "wrong", "expired"])
async def test_a_missing_wrong_or_expired_token_is_unauthenticated_and_never_reaches_the_servicer(
        keys: Keys, who: str | None) -> None:
    token = {None: None, "wrong": "not-a-token", "expired": keys.tokens["expired"]}[who]
    async with serving(config_of(keys)) as (servers, servicer):
        async with Client(endpoint(servers), credentials=Credentials(token, keys.tls.ca_file)) as client:
            for call in (client.catalogues(), watch_all(client)):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call
                assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
                assert (keys.tokens["expired"] not in (caught.value.details() or ""))
            if who == "expired":
                assert "expired" in (caught.value.details() or "")
        assert servicer.seen == []


async def test_tls_is_required_a_plaintext_client_gets_nothing(keys: Keys) -> None:
    async with serving(config_of(keys)) as (servers, servicer):
        async with grpc.aio.insecure_channel(endpoint(servers)) as channel:
            stub = aggregator_pb2_grpc.AggregatorServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetCatalogue(pb.GetCatalogueRequest(), timeout=3)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        # a client that does not trust the stack's CA is refused too
        async with Client(endpoint(servers), token=keys.tokens["alice"]) as client:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await client.stub.GetCatalogue(pb.GetCatalogueRequest(), timeout=3)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert servicer.seen == []


async def test_mtls_requires_a_client_certificate_signed_by_the_ca(keys: Keys) -> None:
    async with serving(config_of(keys, tls_client_ca_file=str(keys.tls.ca_file))) as (servers, servicer):
        async with Client(endpoint(servers), credentials=keys.creds()) as client:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await client.stub.GetCatalogue(pb.GetCatalogueRequest(), timeout=3)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert servicer.seen == []
        with_cert = keys.creds(cert_file=keys.client_cert, key_file=keys.client_key)
        async with Client(endpoint(servers), credentials=with_cert) as client:
            await client.catalogues()
        assert [p.subject for _, p, _ in servicer.seen] == ["alice"]


async def test_health_needs_no_token_on_the_tls_port_and_the_plaintext_health_port(keys: Keys) -> None:
    async with serving(config_of(keys, health_port=free_port())) as (servers, _):
        await wait_serving(endpoint(servers), 5, credentials=Credentials(ca_file=keys.tls.ca_file))
        health_only = f"127.0.0.1:{servers.health_port}"
        await wait_serving(health_only, 5)  # plaintext, no token: what a kubelet probe does
        await wait_serving(health_only, 5, service=SERVICE)
        await servers.health.set(SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)  # one state, both ports
        async with grpc.aio.insecure_channel(health_only) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE))
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
            stub = aggregator_pb2_grpc.AggregatorServiceStub(channel)  # nothing else is served there
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetCatalogue(pb.GetCatalogueRequest(), timeout=3)
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize("on", [True, False])
async def test_reflection_needs_no_token_and_can_be_turned_off(keys: Keys, on: bool) -> None:
    async with serving(config_of(keys, grpc_reflection=on)) as (servers, _):
        async with Credentials(ca_file=keys.tls.ca_file).channel(endpoint(servers)) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            if on:
                names = {s.name for reply in [r async for r in replies] for s in reply.list_services_response.service}
                assert SERVICE in names
            else:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    _ = [r async for r in replies]
                assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_auth_off_only_on_loopback_and_tokens_only_over_tls(keys: Keys) -> None:
    ServiceConfig(grpc_host="127.0.0.1")  # auth none on loopback: the in-process fixtures
    ServiceConfig(grpc_host="::1")
    with pytest.raises(ConfigError, match="auth_mode"):
        ServiceConfig(grpc_host="0.0.0.0")
    with pytest.raises(ConfigError, match="auth_mode"):
        ServiceConfig(auth_mode="basic")
    with pytest.raises(ConfigError, match="tls_cert_file"):
        ServiceConfig(auth_mode="tokens", auth_tokens_file=str(keys.tls.tokens_file))
    with pytest.raises(ConfigError, match="auth_tokens_file"):
        config_of(keys, auth_tokens_file="")
    with pytest.raises(ConfigError, match="tls_key_file"):
        config_of(keys, tls_key_file="")
    with pytest.raises(ConfigError, match="auth_jwks_url"):
        config_of(keys, auth_mode="jwt", auth_jwt_issuer="i", auth_jwt_audience="a")
    with pytest.raises(ConfigError, match="health_port"):
        config_of(keys, grpc_port=5000, health_port=5000)
    assert config_of(keys, grpc_host="0.0.0.0").auth_mode == "tokens"


@pytest.mark.parametrize("name", ["auth_tokens_file", "tls_cert_file", "tls_key_file", "tls_client_ca_file"])
async def test_a_missing_file_fails_the_start_naming_its_setting(keys: Keys, name: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid config {name} .*missing.pem"):
        async with serving(config_of(keys, **{name: str(keys.tls.folder / "missing.pem")})):
            pass


async def test_a_renewed_certificate_is_served_without_a_restart(keys: Keys, tmp_path: Path) -> None:
    """cert-manager rewrites the Secret's files in place; the next connection gets the new certificate."""
    first = generate(tmp_path / "tls", subject="alice")
    config = config_of(keys, tls_cert_file=str(first.cert_file), tls_key_file=str(first.key_file))
    old_ca = tmp_path / "old-ca.pem"
    old_ca.write_bytes(first.ca_file.read_bytes())
    async with serving(config) as (servers, _):
        await wait_serving(endpoint(servers), 5, credentials=Credentials(ca_file=old_ca))
        second = generate(tmp_path / "tls", subject="alice")  # a new CA and certificate, same paths
        await wait_serving(endpoint(servers), 5, credentials=Credentials(ca_file=second.ca_file))
        with pytest.raises(TimeoutError):
            await wait_serving(endpoint(servers), 2, credentials=Credentials(ca_file=old_ca))


async def test_a_key_that_is_not_the_certificates_fails_the_start(keys: Keys, tmp_path: Path) -> None:
    other = generate(tmp_path / "other")
    with pytest.raises(ConfigError, match="tls_key_file"):
        async with serving(config_of(keys, tls_key_file=str(other.key_file))):
            pass


# --- JWT against a JWKS served by a local HTTP server -------------------------------------------------------------

ISSUER, AUDIENCE = "https://issuer.test", "selfaware"


@dataclass
class Issuer:
    url: str
    key: rsa.RSAPrivateKey

    def token(self, *, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "dana", "exp": int(time.time()) + 300,
                "groups": {"roles": [ADMIN]}, **claims}
        return jwt.encode({k: v for k, v in body.items() if v is not None}, key or self.key, algorithm="RS256",
                          headers={"kid": "k1"})


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class JWKS(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200 if self.path == "/jwks.json" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), JWKS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Issuer(f"http://127.0.0.1:{server.server_address[1]}/jwks.json", key)
    server.shutdown()


async def test_jwt_valid_and_invalid_against_the_issuers_jwks(keys: Keys, issuer: Issuer) -> None:
    config = config_of(keys, auth_mode="jwt", auth_tokens_file="", auth_jwt_issuer=ISSUER,
                       auth_jwt_audience=AUDIENCE, auth_jwks_url=issuer.url, auth_roles_claim="groups.roles")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {"wrong issuer": issuer.token(iss="https://elsewhere.test"),
               "wrong audience": issuer.token(aud="another-api"),
               "expired": issuer.token(exp=int(time.time()) - 60),
               "bad signature": issuer.token(key=other_key),
               "no subject": issuer.token(sub=None),
               "unknown key id": jwt.encode({"sub": "x"}, issuer.key, algorithm="RS256", headers={"kid": "k2"}),
               "symmetric": jwt.encode({"sub": "x"}, "a-secret-of-32-bytes-or-more-....", algorithm="HS256",
                                       headers={"kid": "k1"}),
               "not a JWT": "a.b.c"}
    async with serving(config) as (servers, servicer):
        async with Client(endpoint(servers), token=issuer.token(), ca_file=keys.tls.ca_file) as client:
            await client.catalogues()
            assert await watch_all(client) == 2
        dana = Principal("dana", frozenset({ADMIN}))
        assert [(kind, p) for kind, p, _ in servicer.seen] == [("unary", dana), ("stream-start", dana),
                                                               ("stream-end", dana)]
        servicer.seen.clear()
        for why, token in refused.items():
            async with Client(endpoint(servers), token=token, ca_file=keys.tls.ca_file) as client:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await client.catalogues()
                assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, why
        assert servicer.seen == []


async def test_auth_off_acts_as_the_local_admin(keys: Keys) -> None:
    async with serving(ServiceConfig(grpc_port=0)) as (servers, servicer):
        async with Client(endpoint(servers)) as client:
            await client.catalogues()
        assert servicer.seen == [("unary", LOCAL, "local")]
