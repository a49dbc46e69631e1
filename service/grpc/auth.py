"""API keys on gRPC: the ``authorization: Bearer …`` metadata, checked by one function.

``Authorizer`` is the seam to the HTTP side's key check: the server calls it with
the metadata value (``None`` when absent) before every call except health checks,
and answers ``UNAUTHENTICATED`` when it raises :class:`Unauthenticated`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

__all__ = ["AuthInterceptor", "Authorizer", "Unauthenticated", "allow_all", "key_authorizer"]

Authorizer = Callable[[str | None], None]

_OPEN_PREFIXES = ("/grpc.health.v1.Health/",)  # probes carry no key, as GET /readyz


class Unauthenticated(Exception):
    """The call's key is missing or wrong; the message says which (never the key)."""


def allow_all(authorization: str | None) -> None:
    """The authorizer while no API keys are configured."""


if TYPE_CHECKING:  # generic in the type stubs only
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor


class AuthInterceptor(_Interceptor):
    """Refuses calls whose ``authorization`` metadata the authorizer rejects."""

    def __init__(self, authorize: Authorizer) -> None:
        self.authorize = authorize

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(_OPEN_PREFIXES):
            return handler
        value = None
        for key, v in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                value = v if isinstance(v, str) else v.decode("latin-1")
        try:
            self.authorize(value)
        except Unauthenticated as exc:
            return _refusal(handler, str(exc))
        return handler


def _refusal(
    handler: grpc.RpcMethodHandler[Any, Any], message: str
) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same shape as ``handler`` that answers UNAUTHENTICATED."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(handler.request_streaming, handler.response_streaming)]
    return make(
        refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def key_authorizer(hashes: frozenset[str]) -> Authorizer:
    """The HTTP side's key check (sha256 digests of the accepted keys) for gRPC calls."""
    from referee.service.auth import hash_key

    def authorize(authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if not token:
            raise Unauthenticated("missing API key: send metadata authorization: Bearer <key>")
        if hash_key(token) not in hashes:
            raise Unauthenticated("invalid API key")

    return authorize
