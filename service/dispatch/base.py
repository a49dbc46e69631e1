"""The small interface the engine needs from whatever runs its tasks.

Two implementations: :class:`~referee.service.dispatch.pool.WorkerPool` (embedded:
worker processes of this server) and
:class:`~referee.service.dispatch.redis_streams.RedisDispatcher` (scaled out:
``referee worker`` processes anywhere, through Redis Streams).
"""

from __future__ import annotations

from typing import Protocol

from referee.service.dispatch.pool import Entry

__all__ = ["Dispatcher"]


class _Sizing(Protocol):
    @property
    def workers(self) -> int:
        """How many tasks can run at once; the engine sizes its chunks by it."""
        ...


class Dispatcher(Protocol):
    """Runs tasks; each :class:`Entry`'s ``deliver`` is called once, from any thread."""

    @property
    def config(self) -> _Sizing: ...

    @property
    def alive(self) -> int:
        """Workers able to judge now; 0 means not ready (the app answers 503)."""
        ...

    @property
    def completed(self) -> int:
        """Tasks finished so far (the admission controller's drain rate)."""
        ...

    def submit(self, chunk: list[Entry]) -> None:
        """Queue ``chunk``; thread-safe; never blocks on the judging itself."""
        ...

    def close(self) -> None: ...
