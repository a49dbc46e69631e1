"""The small interface the engine and the request edge need from whatever runs tasks.

Two implementations: :class:`~referee.service.dispatch.pool.WorkerPool` (embedded:
worker processes of this server) and
:class:`~referee.service.dispatch.redis_streams.RedisDispatcher` (scaled out:
``referee worker`` processes anywhere, through Redis Streams). The edge's admission
control asks only ``capacity()`` and ``queued()``; it never asks which one it has.

This module holds the types both share (:class:`Entry`, :class:`Capacity`) and
imports neither implementation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from referee.service.dispatch._task import Task, TaskResult

__all__ = ["Capacity", "Dispatcher", "Entry", "Outstanding"]


@dataclass(slots=True)
class Entry:
    """A task with where its result goes. ``deliver`` is called from a dispatcher thread."""

    task: Task
    deliver: Callable[[TaskResult], None]
    is_cancelled: Callable[[], bool] = lambda: False
    crashes: int = 0


@dataclass(frozen=True, slots=True)
class Capacity:
    """What a dispatcher can judge now.

    ``workers``: tasks that can run at once now (the sum of the live workers'
    concurrency). ``unavailable``: why nothing submitted now would be judged (no
    worker serves a shared queue, its broker is unreachable, the dispatcher is
    closed), or ``None``. The edge refuses requests with 503 while it is set.
    """

    workers: int
    unavailable: str | None = None


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
        """Workers able to judge now; 0 means not ready (``/readyz`` answers 503)."""
        ...

    @property
    def completed(self) -> int:
        """Tasks finished so far (the admission controller's drain rate)."""
        ...

    def capacity(self) -> Capacity:
        """Workers now, and whether submitted work can be judged at all."""
        ...

    def queued(self) -> int:
        """Tasks submitted and not yet judged: waiting or being judged.

        Embedded: this server's own. Scaled out: the whole shared queue, since every
        replica's requests wait in it.
        """
        ...

    def submit(self, chunk: list[Entry]) -> None:
        """Queue ``chunk``; thread-safe; never blocks on the judging itself."""
        ...

    def close(self) -> None:
        """Stop judging; tasks still waiting get an error result or are dropped."""
        ...


class Outstanding:
    """Counts a dispatcher's submitted tasks until each is delivered or given up.

    ``track`` wraps each entry's ``deliver`` so that its first delivery ends it; the
    entries of a caller that stopped waiting (``is_cancelled``) no longer count,
    whether or not the dispatcher ever runs them. Entries are counted per
    ``is_cancelled`` (one per request), so ``count`` costs one call per request
    waiting, not one per task. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[Callable[[], bool], int] = {}

    def track(self, chunk: list[Entry]) -> None:
        with self._lock:
            for entry in chunk:
                key = entry.is_cancelled
                self._groups[key] = self._groups.get(key, 0) + 1
                entry.deliver = self._counted(key, entry.deliver)

    def _counted(
        self, key: Callable[[], bool], deliver: Callable[[TaskResult], None]
    ) -> Callable[[TaskResult], None]:
        done = False

        def counted(result: TaskResult) -> None:
            nonlocal done
            with self._lock:
                if not done:
                    done = True
                    left = self._groups.get(key, 0) - 1
                    if left > 0:
                        self._groups[key] = left
                    else:
                        self._groups.pop(key, None)
            deliver(result)

        return counted

    def count(self) -> int:
        """Tasks delivered to nobody yet whose caller still waits (forgets the others)."""
        with self._lock:
            for key in [k for k in self._groups if k()]:
                del self._groups[key]
            return sum(self._groups.values())

    def clear(self) -> None:
        with self._lock:
            self._groups.clear()
