"""What every gRPC servicer shares: one error-to-status mapping, per-RPC log context, and the server itself.

Servicer methods stay thin: convert the request, call one domain function, convert the reply. The `@rpc`
decorator checks the request's ids, binds the log context, writes one canonical line per call, and maps typed
domain errors to status codes in one place:
- SpecError -> INVALID_ARGUMENT with a BadRequest field violation per bad field (the first `MAX_VIOLATIONS`);
  a malformed `*_id` field is one (checked before the servicer runs: `selfaware.ids`), a well-formed unknown id
  is the servicer's NotFound -> NOT_FOUND;
- TooLarge (a source over its cap) and NATS's MaxPayloadError -> RESOURCE_EXHAUSTED; any other DataError (the
  request's data cannot be read or parsed) -> INVALID_ARGUMENT;
- PermissionDenied -> PERMISSION_DENIED; QuotaExceeded (an owner's
  quota) -> RESOURCE_EXHAUSTED;
- Unavailable, and NATS being down or not answering in time -> UNAVAILABLE (clients may retry);
- anything else -> INTERNAL, logged with its traceback.
Status messages are cut to `MAX_MESSAGE_CHARS`, so no request makes a reply too large for gRPC's trailers.

Security (issue 13): `start_server` serves TLS (or mTLS) from the configured files, and the `Authenticator`
interceptor answers UNAUTHENTICATED to a call without a valid bearer token (health and reflection excepted) and
runs the servicer method `acting_as` the verified principal; the `@rpc` log context names its subject.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import nats.errors
import nats.js.errors
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from selfaware.auth import Principal, acting_as, current_principal
from selfaware.config import ConfigError, ServiceConfig, config_error, require
from selfaware.errors import (
    DataError,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    SpecError,
    TooLarge,
    Unavailable,
)
from selfaware.grpc_decode import DecodeInHandler
from selfaware.ids import id_problem, shown
from selfaware.logs import bind_context
from selfaware.tokens import InvalidToken, JwtVerifier, StaticTokens, Verifier, file_stamp

log = structlog.get_logger(__name__)

#: Field violations sent with one INVALID_ARGUMENT, and characters of a status message or a description: gRPC
#: sends both in trailers, which clients cap at 8 KiB by default (these keep a reply under 4 KiB).
MAX_VIOLATIONS = 10
MAX_MESSAGE_CHARS = 1000
MAX_DESCRIPTION_CHARS = 200
#: Characters of a request's top-level string field (a cancel reason, a key): it may end up in a stored record.
MAX_REQUEST_STRING = 4096
#: NATS errors that mean the server is down, restarting or not answering in time: the request may succeed later.
NATS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError, nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError, nats.errors.StaleConnectionError, nats.errors.OutboundBufferLimitError,
    nats.errors.NoRespondersError, nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError,
    nats.js.errors.ServerError, nats.js.errors.NoStreamResponseError,
)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


def _bad_request(exc: SpecError) -> tuple[grpc.StatusCode, str, status_pb2.Status]:
    shown_violations = exc.violations[:MAX_VIOLATIONS]
    message = "; ".join(f"{v.field}: {v.description}" for v in shown_violations)
    if len(exc.violations) > MAX_VIOLATIONS:
        message += f"; and {len(exc.violations) - MAX_VIOLATIONS} more"
    message = _cut(message, MAX_MESSAGE_CHARS)
    details = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field=_cut(v.field, MAX_DESCRIPTION_CHARS),
                                                    description=_cut(v.description, MAX_DESCRIPTION_CHARS))
        for v in shown_violations
    ])
    packed = any_pb2.Any()
    packed.Pack(details)
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=[packed])
    return grpc.StatusCode.INVALID_ARGUMENT, message, status


#: The typed domain errors with a status of their own, first match wins (TooLarge is a DataError).
_CODES: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (TooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (QuotaExceeded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (DataError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
)


def _status_for(exc: BaseException) -> tuple[grpc.StatusCode, str, status_pb2.Status | None]:
    if isinstance(exc, SpecError):
        return _bad_request(exc)
    if isinstance(exc, NATS_UNAVAILABLE):
        return grpc.StatusCode.UNAVAILABLE, f"NATS is unavailable ({type(exc).__name__}); retry later", None
    if isinstance(exc, nats.errors.MaxPayloadError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, "the request is too large to store", None
    if isinstance(exc, nats.js.errors.NotFoundError):  # e.g. a stream message deleted meanwhile (err 10037)
        return grpc.StatusCode.NOT_FOUND, f"not found: {_cut(exc.description or '', 200)}", None
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code, _cut(str(exc), MAX_MESSAGE_CHARS), None
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}", None


def check_request(request: Any) -> None:
    """Raise SpecError naming the first malformed `*_id` or overlong string field of `request`, before it
    reaches a KV key, a subject or a stored record (the servicer turns a well-formed unknown id into
    NOT_FOUND)."""
    for field in request.DESCRIPTOR.fields:
        if field.type != field.TYPE_STRING or field.is_repeated:
            continue
        value = getattr(request, field.name)
        if field.name.endswith("_id") and (problem := id_problem(value)):
            raise SpecError.single(field.name, problem)
        if len(value) > MAX_REQUEST_STRING:
            raise SpecError.single(field.name, f"is {len(value)} characters; at most {MAX_REQUEST_STRING}")


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    code, message, status = _status_for(exc)
    if code is grpc.StatusCode.INTERNAL:
        log.error("rpc_internal_error", exc_info=exc)
    if status is not None:
        await context.abort_with_status(rpc_status.to_status(status))
    await context.abort(code, message)


def rpc(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a servicer method (unary or server-streaming) with log context and error mapping."""

    def start(request: Any) -> float:
        experiment_id = getattr(request, "experiment_id", None)
        bind_context(rpc=method.__name__, subject=current_principal().subject,
                     experiment_id=None if experiment_id is None else
                     experiment_id if id_problem(experiment_id) is None else shown(experiment_id))
        return time.monotonic()

    def finish(started: float, outcome: str) -> None:
        log.info("rpc_finished", outcome=outcome, duration_s=round(time.monotonic() - started, 4))

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = start(request)
            try:
                check_request(request)
                async for item in method(self, request, context):
                    yield item
            except Exception as exc:  # noqa: BLE001 - mapped to a status code
                finish(started, _status_for(exc)[0].name)
                await _abort(context, exc)
            else:
                finish(started, "OK")

        return stream

    @functools.wraps(method)
    async def unary(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = start(request)
        try:
            check_request(request)
            reply = await method(self, request, context)
        except Exception as exc:  # noqa: BLE001 - mapped to a status code
            finish(started, _status_for(exc)[0].name)
            await _abort(context, exc)
        finish(started, "OK")
        return reply

    return unary


def field_violations(error: grpc.aio.AioRpcError | grpc.RpcError) -> list[tuple[str, str]]:
    """The (field, description) pairs of an INVALID_ARGUMENT reply, for clients."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    found: list[tuple[str, str]] = []
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found += [(v.field, v.description) for v in bad.field_violations]
    return found


@dataclass
class Servers:
    """The main gRPC server and, with `health_port` set, the plaintext health-only one beside it."""

    main: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    health_only: grpc.aio.Server | None = None
    health_port: int = 0

    async def stop(self, grace: float | None) -> None:
        if self.health_only is not None:
            await self.health_only.stop(grace)
        await self.main.stop(grace)


async def start_server(config: ServiceConfig, adders: Sequence[tuple[Callable[..., None], Any]],
                       service_names: Sequence[str]) -> Servers:
    """Start a grpc.aio server with the given servicers plus health and (unless off) reflection, with TLS and
    bearer-token authentication as `config` says, and the plaintext health port if one is set."""
    verifier = verifier_for(config)
    # authentication first: a call without a valid token is refused before its request is even decoded
    authenticating = [Authenticator(verifier)] if verifier is not None else []
    server = grpc.aio.server(interceptors=[*authenticating, DecodeInHandler(_abort)])
    for add, servicer in adders:
        add(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if config.grpc_reflection:
        reflection.enable_server_reflection([*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    address = f"{config.grpc_host}:{config.grpc_port}"
    credentials = server_credentials(config)
    bound = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    servers = Servers(server, bound, health_servicer)
    if config.health_port:
        # The same HealthServicer, so both ports always say the same; nothing else is served there.
        servers.health_only = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, servers.health_only)
        servers.health_port = servers.health_only.add_insecure_port(f"{config.grpc_host}:{config.health_port}")
        await servers.health_only.start()
    await server.start()
    for name in [*service_names, ""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return servers


def server_credentials(config: ServiceConfig) -> grpc.ServerCredentials | None:
    """TLS from the configured files (client certificates required when `tls_client_ca_file` is set), re-read
    when they change, so a renewed certificate (cert-manager rewrites its Secret) serves without a restart."""
    if not config.tls_cert_file:
        return None
    files = CertificateFiles(config)
    initial = files.load()
    files.seen = files.stamp()
    return grpc.dynamic_ssl_server_credentials(initial, files.changed,
                                               require_client_authentication=bool(config.tls_client_ca_file))


class CertificateFiles:
    """The server's TLS files, and whether they changed since last read (gRPC asks at every new connection)."""

    SETTINGS = ("tls_cert_file", "tls_key_file", "tls_client_ca_file")

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.paths = [Path(getattr(config, name)) for name in self.SETTINGS if getattr(config, name)]
        self.seen: tuple[tuple[int, int, int], ...] = ()

    def stamp(self) -> tuple[tuple[int, int, int], ...]:
        return tuple(file_stamp(path) for path in self.paths)

    def load(self) -> grpc.ServerCertificateConfiguration:
        """The files as they are now; a ConfigError when one is unreadable or the key is not the certificate's
        (e.g. read halfway through a rotation that replaces them one at a time)."""
        pair = (read_setting_file(self.config, "tls_key_file"), read_setting_file(self.config, "tls_cert_file"))
        require(_key_matches(*pair), "tls_key_file", "the private key of tls_cert_file's certificate")
        client_ca = (read_setting_file(self.config, "tls_client_ca_file") if self.config.tls_client_ca_file
                     else None)
        return grpc.ssl_server_certificate_configuration([pair], root_certificates=client_ca)

    def changed(self) -> grpc.ServerCertificateConfiguration | None:
        """A new configuration when a file changed, else None (keep serving the one loaded)."""
        try:
            stamp = self.stamp()
            if stamp == self.seen:
                return None
            loaded = self.load()
        except (OSError, ConfigError) as exc:  # mid-rotation, or removed: keep the certificate in use
            log.warning("tls_reload_failed", error=str(exc))
            return None
        self.seen = stamp
        log.info("tls_reloaded")
        return loaded


def read_setting_file(config: ServiceConfig, name: str) -> bytes:
    """The file a setting names; a ConfigError naming the setting when it cannot be read."""
    try:
        return Path(getattr(config, name)).read_bytes()
    except OSError as exc:
        raise config_error(name, f"a readable file; {getattr(config, name)!r}: {exc.strerror or exc}") from None


def check_files(config: ServiceConfig) -> None:
    """Read every file the security settings name (a ConfigError naming the first that fails), so that a
    service started with a wrong path exits at once with one line instead of after connecting to NATS."""
    server_credentials(config)
    verifier_for(config)


def _key_matches(key_pem: bytes, cert_pem: bytes) -> bool:
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return False
    der, info = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(der, info) == cert.public_key().public_bytes(der, info)


def verifier_for(config: ServiceConfig) -> Verifier | None:
    """The token verifier of `config.auth_mode` (None: authentication off, every call acts as LOCAL)."""
    if config.auth_mode == "tokens":
        try:
            return StaticTokens.load(Path(config.auth_tokens_file))
        except DataError as exc:
            raise config_error("auth_tokens_file", f"a valid tokens file; {exc}") from None
    if config.auth_mode == "jwt":
        return JwtVerifier(config.auth_jwt_issuer, config.auth_jwt_audience, config.auth_jwks_url,
                           config.auth_roles_claim)
    return None


#: Services any caller may use without a token: health (probes, load balancers) and reflection (grpcurl).
OPEN_SERVICES = (f"/{health.SERVICE_NAME}/", f"/{reflection.SERVICE_NAME}/", "/grpc.reflection.v1.ServerReflection/")


class Authenticator(grpc.aio.ServerInterceptor):
    """Verify the caller's bearer token and run the servicer method acting as its principal.

    Why wrap the handler rather than set the principal here: `intercept_service` returns before the method
    runs, so the principal is bound around the method's own call (and a stream's whole iteration), in the task
    that runs it. A call without a valid token is answered UNAUTHENTICATED and never reaches the servicer."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_SERVICES):
            return handler
        try:
            principal = await self._verify(details.invocation_metadata or ())
        except InvalidToken as exc:
            log.info("rpc_unauthenticated", method=details.method, reason=str(exc))
            return _refusing(handler, str(exc))
        except Exception:  # noqa: BLE001 - a verifier bug must not let the call through nor answer UNKNOWN
            log.error("token_verification_failed", method=details.method, exc_info=True)
            return _refusing(handler, "the token could not be verified")
        return _acting(handler, principal)

    async def _verify(self, metadata: Sequence[tuple[str, str | bytes]]) -> Principal:
        values = [v for k, v in metadata if k == "authorization"]
        if not values:
            raise InvalidToken("no bearer token (metadata 'authorization: Bearer <token>')")
        scheme, _, token = str(values[0]).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("the authorization metadata is not 'Bearer <token>'")
        if self.verifier.blocking:
            return await asyncio.to_thread(self.verifier.verify, token.strip())
        return self.verifier.verify(token.strip())


def _acting(handler: Any, principal: Principal) -> Any:
    if handler.unary_unary is not None:
        inner = handler.unary_unary

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with acting_as(principal):
                return await inner(request, context)

        return handler._replace(unary_unary=unary)
    if handler.unary_stream is not None:
        inner_stream = handler.unary_stream

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            with acting_as(principal):
                async for item in inner_stream(request, context):
                    yield item

        return handler._replace(unary_stream=stream)
    raise TypeError("only unary and server-streaming RPCs are served")  # the API has no client streams


def _refusing(handler: Any, reason: str) -> Any:
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)
        yield  # an async generator, as the handler it replaces

    if handler.unary_stream is not None:
        return handler._replace(unary_stream=refuse_stream)
    return handler._replace(unary_unary=refuse)
