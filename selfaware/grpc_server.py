"""What every gRPC servicer shares: one error-to-status mapping, per-RPC log context, and the server itself.

Servicer methods stay thin: convert the request, call one domain function, convert the reply. The `@rpc`
decorator checks the request's ids, binds the log context, writes one canonical line per call, and maps typed
domain errors to status codes in one place:
- SpecError -> INVALID_ARGUMENT with a BadRequest field violation per bad field (the first `MAX_VIOLATIONS`);
  a malformed `*_id` field is one (checked before the servicer runs: `selfaware.ids`), a well-formed unknown id
  is the servicer's NotFound -> NOT_FOUND;
- TooLarge (a source over its cap) and NATS's MaxPayloadError -> RESOURCE_EXHAUSTED; any other DataError (the
  request's data cannot be read or parsed) -> INVALID_ARGUMENT;
- Unavailable, and NATS being down or not answering in time -> UNAVAILABLE (clients may retry);
- anything else -> INTERNAL, logged with its traceback.
Status messages are cut to `MAX_MESSAGE_CHARS`, so no request makes a reply too large for gRPC's trailers.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import nats.errors
import nats.js.errors
import structlog
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from selfaware.errors import DataError, NotFound, SpecError, TooLarge, Unavailable
from selfaware.grpc_decode import DecodeInHandler
from selfaware.ids import id_problem, shown
from selfaware.logs import bind_context

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
        bind_context(rpc=method.__name__, experiment_id=None if experiment_id is None else
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


async def start_server(host: str, port: int, adders: Sequence[tuple[Callable[..., None], Any]],
                       service_names: Sequence[str]) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """Start a grpc.aio server with the given servicers plus health and reflection; returns the bound port."""
    server = grpc.aio.server(interceptors=[DecodeInHandler(_abort)])
    for add, servicer in adders:
        add(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    for name in [*service_names, ""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound, health_servicer
