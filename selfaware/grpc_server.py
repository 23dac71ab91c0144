"""What every gRPC servicer shares: one error-to-status mapping, per-RPC log context, and the server itself.

Servicer methods stay thin: convert the request, call one domain function, convert the reply. The `@rpc`
decorator binds the log context, writes one canonical line per call, and maps typed domain errors to status
codes in one place: SpecError -> INVALID_ARGUMENT with a BadRequest field violation per bad field,
NotFound -> NOT_FOUND, FailedPrecondition -> FAILED_PRECONDITION, anything else -> INTERNAL (logged with its
traceback).
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from selfaware.errors import FailedPrecondition, NotFound, SpecError
from selfaware.logs import bind_context

log = structlog.get_logger(__name__)


def _status_for(exc: BaseException) -> tuple[grpc.StatusCode, str, status_pb2.Status | None]:
    if isinstance(exc, SpecError):
        details = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in exc.violations
        ])
        packed = any_pb2.Any()
        packed.Pack(details)
        status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=str(exc), details=[packed])
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc), status
    if isinstance(exc, NotFound):
        return grpc.StatusCode.NOT_FOUND, str(exc), None
    if isinstance(exc, FailedPrecondition):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc), None
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}", None


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
        bind_context(rpc=method.__name__, experiment_id=getattr(request, "experiment_id", None))
        return time.monotonic()

    def finish(started: float, outcome: str) -> None:
        log.info("rpc_finished", outcome=outcome, duration_s=round(time.monotonic() - started, 4))

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = start(request)
            try:
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
    server = grpc.aio.server()
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
