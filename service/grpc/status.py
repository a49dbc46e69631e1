"""The edge's refusals as gRPC statuses (docs/grpc.md has the table).

A refusal that passes (``overloaded``, ``unavailable``) carries how long to wait in
the trailing metadata, twice: ``retry-after-ms`` (milliseconds, what the bundled
clients read) and ``retry-after`` (whole seconds, as HTTP's header).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

import grpc

from referee.service.edge import Kind, Refusal

__all__ = ["Status", "abort", "status_of"]

_CODES = {
    Kind.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    Kind.TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Kind.OVERLOADED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Kind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Kind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
}


@dataclass(frozen=True, slots=True)
class Status:
    """A call's error status: code, message, and a retry delay when one helps."""

    code: grpc.StatusCode
    message: str
    retry_after_ms: int | None = None

    def trailing(self) -> tuple[tuple[str, str], ...]:
        if self.retry_after_ms is None:
            return ()
        seconds = max(1, -(-self.retry_after_ms // 1000))
        return (("retry-after-ms", str(self.retry_after_ms)), ("retry-after", str(seconds)))


def status_of(refusal: Refusal) -> Status:
    retry_ms = None if refusal.retry_after_s is None else refusal.retry_after_s * 1000
    return Status(_CODES[refusal.kind], refusal.message, retry_ms)


async def abort(context: grpc.aio.ServicerContext[Any, Any], status: Status) -> NoReturn:
    await context.abort(status.code, status.message, trailing_metadata=status.trailing())
    raise AssertionError("unreachable")  # pragma: no cover - abort raises
