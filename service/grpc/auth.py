"""API keys and their limits on gRPC: the edge's key gate as a server interceptor.

The key comes in the ``authorization: Bearer …`` metadata and is checked by the
same :class:`~referee.service.edge.KeyGate` as HTTP's ``Authorization`` header, so
a key's request rate and in-flight bound are shared by both transports. Every call
except health checks takes one request of the key's rate when it starts and holds
one in-flight slot until it ends (a ``ScoreStream`` holds its slot for its whole
life). Refusals: UNAUTHENTICATED, or RESOURCE_EXHAUSTED with ``retry-after-ms`` and
``retry-after`` trailing metadata where HTTP answers 429.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc

from referee.service.edge import KeyGate, Refusal
from referee.service.grpc.status import Status, abort, status_of

__all__ = ["KeyInterceptor"]

_OPEN_PREFIXES = ("/grpc.health.v1.Health/",)  # probes carry no key, as GET /readyz
_HOW = "metadata authorization: Bearer <key>"

if TYPE_CHECKING:  # generic in the type stubs only
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
    Context = grpc.aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor
    Context = grpc.aio.ServicerContext
    Handler = grpc.RpcMethodHandler


class KeyInterceptor(_Interceptor):
    """Refuses calls without a valid key, or past the key's rate or concurrency."""

    def __init__(self, gate: KeyGate) -> None:
        self.gate = gate

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or self.gate.open or method.startswith(_OPEN_PREFIXES):
            return handler
        token = ""
        for key, v in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                value = v if isinstance(v, str) else v.decode("latin-1")
                scheme, _, rest = value.partition(" ")
                token = rest.strip() if scheme.lower() == "bearer" else ""
        who = self.gate.identify(token, _HOW)
        if isinstance(who, Refusal):
            return _wrap(handler, _refuse(status_of(who)))
        return _wrap(handler, _limited(self.gate, who))


Behavior = Callable[[Any, Context], Any]


def _refuse(status: Status) -> Callable[[Behavior], Behavior]:
    def wrap(inner: Behavior) -> Behavior:
        async def refuse(request: Any, context: Context) -> None:
            await abort(context, status)

        return refuse

    return wrap


def _limited(gate: KeyGate, who: str) -> Callable[[Behavior], Behavior]:
    """Behaviors that take the key's rate and an in-flight slot for the call's life."""

    def wrap(inner: Behavior) -> Behavior:
        if inspect.isasyncgenfunction(inner):

            async def streaming(request: Any, context: Context) -> AsyncIterator[Any]:
                refusal = gate.acquire(who)
                if refusal is not None:
                    await abort(context, status_of(refusal))
                try:
                    async for message in inner(request, context):
                        yield message
                finally:
                    gate.release(who)

            return streaming

        async def unary(request: Any, context: Context) -> Any:
            refusal = gate.acquire(who)
            if refusal is not None:
                await abort(context, status_of(refusal))
            try:
                return await inner(request, context)
            finally:
                gate.release(who)

        return unary

    return wrap


def _wrap(handler: Handler, wrap: Callable[[Behavior], Behavior]) -> Handler:
    """A handler of the same shape as ``handler`` whose behavior is wrapped."""
    shapes = {
        (False, False): (grpc.unary_unary_rpc_method_handler, handler.unary_unary),
        (False, True): (grpc.unary_stream_rpc_method_handler, handler.unary_stream),
        (True, False): (grpc.stream_unary_rpc_method_handler, handler.stream_unary),
        (True, True): (grpc.stream_stream_rpc_method_handler, handler.stream_stream),
    }
    make, inner = shapes[(handler.request_streaming, handler.response_streaming)]
    if inner is None:  # pragma: no cover - a handler always has its shape's behavior
        return handler
    return make(
        wrap(cast(Behavior, inner)),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
