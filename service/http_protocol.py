"""The HTTP/1.1 protocol uvicorn serves with: h11's, with a deadline on request headers.

uvicorn closes idle keep-alive connections, but a connection that opens and
sends nothing, or starts a request and never finishes its headers, is kept
forever: enough of them exhaust the server's file descriptors (slowloris).
Here every connection has ``header_timeout_s`` from its first byte (or from
being opened) to the end of a request's headers; past it, it is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["protocol_with_header_timeout"]


class _HeaderDeadlineProtocol(H11Protocol):
    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            if self._header_timer is None:  # the first bytes of the next request
                self._arm()
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Bytes of the next request that came while this response was still
        # being sent were buffered, not seen by ``data_received`` as a new
        # request: its headers get their deadline now.
        buffered, _ = self.conn.trailing_data
        if self.conn.their_state is h11.IDLE and buffered and self._header_timer is None:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def protocol_with_header_timeout(header_timeout_s: float) -> type[Any]:
    """An h11 protocol class for ``uvicorn.run(http=...)`` closing slow-header connections."""
    return type(
        "HeaderDeadlineProtocol", (_HeaderDeadlineProtocol,), {"header_timeout_s": header_timeout_s}
    )
