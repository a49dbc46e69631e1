"""A pool of worker processes with a hard wall-clock deadline per task.

Why not pebble or concurrent.futures: both put the deadline on a whole future.
Chunking many tasks into one future (to amortise IPC) would then turn one hung
task into a timeout for its whole chunk. Here a chunk goes to a worker in one
message, results come back one per task, and the slot's manager thread knows
which task is running: when it passes ``item_timeout_s + hard_grace_s`` the
worker is killed (SIGKILL, since it may be stuck in C), that task gets outcome
``timeout``, and the rest of the chunk goes to the replacement process.

Workers are forked from a forkserver that has already imported the verifiers,
so a replacement starts in milliseconds; they recycle after ``max_tasks`` tasks
or when their resident memory passes ``max_rss_mb``.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from referee.service.dispatch._task import Task, TaskResult
from referee.service.dispatch.worker import WorkerConfig, main
from referee.verifiers import Outcome, Score

__all__ = ["Entry", "PoolConfig", "PoolEvents", "WorkerPool"]

log = logging.getLogger("referee.pool")

# Imported by the forkserver before it forks workers; _preload also warms caches.
_PRELOAD = ["referee.service.dispatch.worker", "referee.service.dispatch._preload"]
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class PoolConfig:
    workers: int
    item_timeout_s: float = 10.0
    hard_grace_s: float = 2.0
    max_tasks: int = 2000
    max_rss_mb: int = 1024
    memory_limit_mb: int = 4096
    plugins: tuple[str, ...] = ()
    sandbox: str = "auto"
    sandbox_uid_base: int = 60000
    second_opinion_rate: float = 0.0


@dataclass(slots=True)
class Entry:
    """A task with where its result goes. ``deliver`` is called from a pool thread."""

    task: Task
    deliver: Callable[[TaskResult], None]
    is_cancelled: Callable[[], bool] = lambda: False
    crashes: int = 0


@dataclass
class PoolEvents:
    """Hooks for metrics; each is called from a pool thread."""

    on_restart: Callable[[str], None] = lambda reason: None
    workers_alive: Callable[[int], None] = lambda n: None


@dataclass
class _Worker:
    process: Any  # multiprocessing.context.ForkServerProcess
    conn: Connection
    served: int = 0

    def stop(self, *, kill: bool) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.process.kill()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


@dataclass
class _Slot:
    index: int
    worker: _Worker | None = None
    thread: threading.Thread | None = field(default=None, repr=False)


class WorkerPool:
    """Worker processes fed from one FIFO of chunks; ``submit`` is thread-safe."""

    def __init__(self, config: PoolConfig, events: PoolEvents | None = None) -> None:
        if config.workers < 1:
            raise ValueError("workers must be at least 1")
        self.config = config
        self.events = events or PoolEvents()
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(_PRELOAD)
        self._queue: queue.SimpleQueue[list[Entry] | None] = queue.SimpleQueue()
        self._slots = [_Slot(i) for i in range(config.workers)]
        self._alive = 0
        self._completed = 0
        self._lock = threading.Lock()
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker and its manager thread; blocks until all are ready."""
        for slot in self._slots:
            slot.worker = self._spawn(slot.index)
        for slot in self._slots:
            slot.thread = threading.Thread(
                target=self._manage, args=(slot,), name=f"referee-pool-{slot.index}", daemon=True
            )
            slot.thread.start()

    def close(self) -> None:
        """Stop accepting, let managers finish their current chunk, stop workers."""
        self._closed = True
        for _ in self._slots:
            self._queue.put(None)
        for slot in self._slots:
            if slot.thread is not None:
                slot.thread.join(timeout=self.config.item_timeout_s + self.config.hard_grace_s + 5)
            if slot.worker is not None:
                slot.worker.stop(kill=False)
                slot.worker = None
        self._set_alive(0)

    @property
    def alive(self) -> int:
        """Worker processes currently running."""
        return self._alive

    @property
    def completed(self) -> int:
        """Tasks judged (or killed) by workers since the pool started."""
        return self._completed

    def submit(self, chunk: list[Entry]) -> None:
        if self._closed:
            raise RuntimeError("pool is closed")
        self._queue.put(chunk)

    # -- internals -------------------------------------------------------------------------

    def _set_alive(self, n: int) -> None:
        self._alive = n
        self.events.workers_alive(n)

    def _spawn(self, slot: int) -> _Worker:
        config = WorkerConfig(
            self.config.item_timeout_s,
            self.config.memory_limit_mb,
            self.config.plugins,
            self.config.sandbox,
            slot,
            self.config.sandbox_uid_base,
            self.config.second_opinion_rate,
        )
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=main, args=(child, config), name="referee-worker", daemon=True
        )
        process.start()
        child.close()
        if not parent.poll(_START_TIMEOUT_S) or parent.recv() != "ready":
            process.kill()
            raise RuntimeError("worker process did not start")
        with self._lock:
            self._set_alive(self._alive + 1)
        return _Worker(process, parent)

    def _retire(self, slot: _Slot, reason: str, *, kill: bool) -> None:
        """Stop the slot's worker; the next chunk starts a fresh one."""
        if slot.worker is not None:
            slot.worker.stop(kill=kill)
            slot.worker = None
            with self._lock:
                self._set_alive(self._alive - 1)
        self.events.on_restart(reason)

    def _ensure_worker(self, slot: _Slot) -> _Worker:
        while slot.worker is None:
            try:
                slot.worker = self._spawn(slot.index)
            except (OSError, RuntimeError, EOFError):
                log.exception("could not start a worker process; retrying")
                time.sleep(1.0)
        return slot.worker

    def _manage(self, slot: _Slot) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            entries = [e for e in chunk if not e.is_cancelled()]
            if entries:
                self._run_chunk(slot, entries)

    def _run_chunk(self, slot: _Slot, entries: list[Entry]) -> None:
        pending = entries
        while pending:
            worker = self._ensure_worker(slot)
            try:
                worker.conn.send([e.task for e in pending])
            except OSError:
                self._retire(slot, "crash", kill=True)
                continue
            done = 0
            rss_kb = 0
            for entry in pending:
                soft_s = entry.task.timeout_s or self.config.item_timeout_s
                hard_s = soft_s + self.config.hard_grace_s
                if not worker.conn.poll(hard_s):
                    # Stuck past the soft deadline, most likely in C: kill from outside.
                    self._retire(slot, "timeout", kill=True)
                    score = Score(0.0, Outcome.TIMEOUT, {"limit_s": soft_s})
                    self._finish(entry, TaskResult.ok(score, hard_s, killed=True))
                    done += 1
                    break
                try:
                    result, rss_kb = worker.conn.recv()
                except (EOFError, OSError):
                    self._retire(slot, "crash", kill=True)
                    entry.crashes += 1
                    if entry.crashes > 1:
                        entry.deliver(
                            TaskResult.fail(
                                "worker_crashed",
                                "the worker process died twice while judging this item",
                                retryable=False,
                            )
                        )
                        done += 1
                    break
                self._finish(entry, result)
                done += 1
                worker.served += 1
            else:
                self._maybe_recycle(slot, rss_kb)
                return
            pending = [e for e in pending[done:] if not e.is_cancelled()]
        if slot.worker is None:
            self._ensure_worker(slot)  # be ready for the next chunk

    def _finish(self, entry: Entry, result: TaskResult) -> None:
        """Deliver what a worker judged (or the timeout of killing it), and count it."""
        entry.deliver(result)
        with self._lock:
            self._completed += 1

    def _maybe_recycle(self, slot: _Slot, rss_kb: int) -> None:
        worker = slot.worker
        if worker is None:
            return
        if worker.served >= self.config.max_tasks:
            self._retire(slot, "max_tasks", kill=False)
        elif rss_kb > self.config.max_rss_mb * 1024:
            self._retire(slot, "max_rss", kill=False)
        else:
            return
        self._ensure_worker(slot)
