"""Requests that cannot be decoded get a status of the contract, not grpc's UNKNOWN.

grpc decodes a request with the method's deserializer before any servicer code runs, and answers a DecodeError
with UNKNOWN ("Unexpected DecodeError"). The contract fuzzer found two ways to get there: a message nested deeper
than protobuf's decoder allows (100 levels, e.g. a spec's `params` holding a list in a list in a list...), and
bytes that are no message of the type. This interceptor moves the decoding into the handler, where the first is a
`TooLarge` (RESOURCE_EXHAUSTED: a limit, like the message size cap) and the second a `SpecError` naming
`request` (INVALID_ARGUMENT), both answered through the server's one error mapping.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from selfaware.errors import SpecError, TooLarge

Abort = Callable[[grpc.aio.ServicerContext, BaseException], Awaitable[None]]


class DecodeInHandler(grpc.aio.ServerInterceptor):
    """Decode unary requests inside the handler, so that a DecodeError is answered by `abort`."""

    def __init__(self, abort: Abort) -> None:
        self.abort = abort

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
                                handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        decode = handler.request_deserializer

        async def decoded(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            try:
                return decode(raw)
            except DecodeError as error:
                await self.abort(context, _problem(error))
                raise  # abort raises; kept for the type checker

        if handler.unary_unary is not None and inspect.iscoroutinefunction(handler.unary_unary):
            behaviour = handler.unary_unary

            async def unary(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
                return await behaviour(await decoded(raw, context), context)

            return handler._replace(request_deserializer=None, unary_unary=unary)
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            streaming = handler.unary_stream

            async def stream(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                async for reply in streaming(await decoded(raw, context), context):
                    yield reply

            return handler._replace(request_deserializer=None, unary_stream=stream)
        return handler


def _problem(error: DecodeError) -> Exception:
    if "MaxDepth" in str(error) or "recursion" in str(error).lower():
        return TooLarge("the request is nested deeper than the 100 levels protobuf decodes")
    return SpecError.single("request", "is not a valid message of the method's request type")
