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
or when their resident memory passes ``max_rss_mb``. Each confines itself
before its first task (``confine.py``: its own unprivileged uid, no network,
read-only filesystem, seccomp), so every slot has two uids of its own: one it
judges as, one its code jail runs as (``uids.py``).

Two lanes, each with its own slots and queue: ``code`` for verifiers that run
programs in the sandbox (seconds each, mostly waiting on the program) and
``judge`` for everything else (milliseconds each). A math item never waits
behind code items, whatever budgets their callers gave them. A code-lane
worker asks to be replaced when its jail dies (it may not start another once
confined), so the item that broke the jail is the one that fails.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing as mp
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from referee import verifiers
from referee.service.dispatch import _pipe, uids
from referee.service.dispatch._task import Task, TaskResult
from referee.service.dispatch.base import Capacity, Entry, Outstanding
from referee.service.dispatch.worker import RETIRE, RUN_CODE, WorkerConfig, main
from referee.verifiers import Outcome, Score

__all__ = ["LANES", "Entry", "PoolConfig", "PoolEvents", "WorkerPool", "lane_of"]

log = logging.getLogger("referee.pool")

# Imported by the forkserver before it forks workers; _preload also warms caches.
_PRELOAD = ["referee.service.dispatch.worker", "referee.service.dispatch._preload"]
_START_TIMEOUT_S = 60.0


LANES = ("judge", "code")


def lane_of(task: Task) -> str:
    """``code`` for tasks that run programs in the sandbox, ``judge`` for the rest."""
    if task.verifier == RUN_CODE:
        return "code"
    verifier = verifiers.REGISTRY.get(task.verifier)
    return "code" if verifier is not None and verifier.runs_code else "judge"


@dataclass(frozen=True, slots=True)
class PoolConfig:
    workers: int
    code_workers: int | None = None  # the code lane's slots; None: as many as ``workers``
    item_timeout_s: float = 10.0
    hard_grace_s: float = 2.0
    max_tasks: int = 2000
    max_rss_mb: int = 1024
    memory_limit_mb: int = 4096
    plugins: tuple[str, ...] = ()
    sandbox: str = "auto"
    sandbox_uid_base: int | None = None  # None: claim a free block (uids.py)
    second_opinion_rate: float = 0.0
    confine: bool = True
    coalesce_items: int = 32  # most tasks of queued judge-lane chunks one worker takes at once


@dataclass
class PoolEvents:
    """Hooks for metrics; each is called from a pool thread."""

    on_restart: Callable[[str], None] = lambda reason: None
    workers_alive: Callable[[int], None] = lambda n: None
    on_chunk: Callable[[int], None] = lambda tasks: None  # a worker was sent this many


class _Lane:
    """A lane's FIFO of chunks; a manager takes the head chunk and coalesces what follows.

    Coalescing: many small requests (a trainer sending one sample per request) queue
    one-task chunks; each costs a message to a worker and a manager round. ``get``
    takes the head chunk and, while they fit in ``limit`` tasks, the chunks right
    behind it that belong to other requests (chunks of one request stay apart: the
    engine sized them to spread it over the workers) and carry no time budget of
    their own. No window is waited for: when the workers are busy the queue is the
    batching window (it fills while they judge), and when one is idle waiting would
    only add latency.
    """

    def __init__(self) -> None:
        self._chunks: collections.deque[list[Entry] | None] = collections.deque()
        self._ready = threading.Condition(threading.Lock())

    def put(self, chunk: list[Entry] | None) -> None:
        with self._ready:
            self._chunks.append(chunk)
            self._ready.notify()

    def get(self, limit: int) -> list[Entry] | None:
        with self._ready:
            while not self._chunks:
                self._ready.wait()
            head = self._chunks.popleft()
            if head is None or limit <= len(head) or not _plain(head):
                return head
            merged = list(head)
            owners = {e.is_cancelled for e in head}
            while self._chunks:
                nxt = self._chunks[0]
                if (
                    nxt is None
                    or len(merged) + len(nxt) > limit
                    or not _plain(nxt)
                    or any(e.is_cancelled in owners for e in nxt)
                ):
                    break
                self._chunks.popleft()
                merged += nxt
                owners.update(e.is_cancelled for e in nxt)
            return merged


def _plain(chunk: list[Entry]) -> bool:
    """No task of ``chunk`` has a time budget of its own (those travel alone)."""
    return all(e.task.timeout_s is None for e in chunk)


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
    lane: str
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
        self._queues = {lane: _Lane() for lane in LANES}
        code = config.workers if config.code_workers is None else config.code_workers
        self._slots = [_Slot(i, "judge") for i in range(config.workers)]
        self._slots += [_Slot(config.workers + i, "code") for i in range(code)]
        self._code_lane = code > 0
        self._uids: uids.UidBlock | None = None
        self.confinement: dict[str, Any] | None = None  # as the last worker reported it
        self._alive = dict.fromkeys(LANES, 0)
        self._completed = 0
        self._lock = threading.Lock()
        self._closed = False
        self._outstanding = Outstanding()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker and its manager thread; blocks until all are ready."""
        self._uids = uids.claim(self.config.sandbox_uid_base, len(self._slots))
        for slot in self._slots:
            slot.worker = self._spawn(slot)
        for slot in self._slots:
            slot.thread = threading.Thread(
                target=self._manage, args=(slot,), name=f"referee-pool-{slot.index}", daemon=True
            )
            slot.thread.start()

    def close(self) -> None:
        """Stop accepting, let managers finish their current chunk, stop workers."""
        self._closed = True
        for slot in self._slots:
            self._queues[slot.lane].put(None)
        for slot in self._slots:
            if slot.thread is not None:
                slot.thread.join(timeout=self.config.item_timeout_s + self.config.hard_grace_s + 5)
            if slot.worker is not None:
                slot.worker.stop(kill=False)
                slot.worker = None
        for lane in LANES:
            self._set_alive(lane, 0)
        for slot in self._slots:
            self._scratch(slot)  # empties it
        if self._uids is not None:
            self._uids.release()
        self._outstanding.clear()

    @property
    def alive(self) -> int:
        """Worker processes of the judge lane currently running (0: not ready)."""
        return self._alive["judge"]

    @property
    def code_alive(self) -> int:
        """Worker processes of the code lane currently running."""
        return self._alive["code"]

    @property
    def completed(self) -> int:
        """Tasks judged (or killed) by workers since the pool started."""
        return self._completed

    def capacity(self) -> Capacity:
        """The judge lane's live workers. A slot whose worker died gets a new one by
        itself, so only a closed pool is unavailable."""
        return Capacity(self.alive, "the worker pool is closed" if self._closed else None)

    def queued(self) -> int:
        """Tasks submitted and not yet judged whose caller still waits."""
        return self._outstanding.count()

    def submit(self, chunk: list[Entry]) -> None:
        if self._closed:
            raise RuntimeError("pool is closed")
        self._outstanding.track(chunk)
        if not self._code_lane:
            self._queues["judge"].put(chunk)
            return
        lanes: dict[str, list[Entry]] = {}
        for entry in chunk:
            lanes.setdefault(lane_of(entry.task), []).append(entry)
        for lane, entries in lanes.items():
            self._queues[lane].put(entries)

    # -- internals -------------------------------------------------------------------------

    def _set_alive(self, lane: str, n: int) -> None:
        self._alive[lane] = n
        if lane == "judge":
            self.events.workers_alive(n)

    def _spawn(self, slot: _Slot) -> _Worker:
        block = self._uids
        if block is None:
            raise RuntimeError("the pool has not claimed its uids: call start() first")
        config = WorkerConfig(
            item_timeout_s=self.config.item_timeout_s,
            memory_limit_mb=self.config.memory_limit_mb,
            plugins=self.config.plugins,
            sandbox=self.config.sandbox,
            opens_jail=slot.lane == "code" or not self._code_lane,
            jail_uid=block.jail(slot.index),
            judge_uid=block.judge(slot.index),
            confine=self.config.confine,
            scratch=self._scratch(slot),
            second_opinion_rate=self.config.second_opinion_rate,
        )
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=main, args=(child, config), name="referee-worker", daemon=True
        )
        process.start()
        child.close()
        try:
            if not parent.poll(_START_TIMEOUT_S):
                raise RuntimeError("worker process did not start")
            report = _pipe.decode_hello(parent.recv_bytes(_pipe.MAX_MESSAGE_BYTES))
        except (RuntimeError, OSError, EOFError, _pipe.WireError):
            process.kill()
            raise RuntimeError("worker process did not start") from None
        self._note_confinement(report)
        with self._lock:
            self._set_alive(slot.lane, self._alive[slot.lane] + 1)
        return _Worker(process, parent)

    def _retire(self, slot: _Slot, reason: str, *, kill: bool) -> None:
        """Stop the slot's worker; the next chunk starts a fresh one."""
        if slot.worker is not None:
            slot.worker.stop(kill=kill)
            slot.worker = None
            with self._lock:
                self._set_alive(slot.lane, self._alive[slot.lane] - 1)
        self.events.on_restart(reason)

    def _ensure_worker(self, slot: _Slot) -> _Worker:
        while slot.worker is None:
            try:
                slot.worker = self._spawn(slot)
            except (OSError, RuntimeError, EOFError):
                log.exception("could not start a worker process; retrying")
                time.sleep(1.0)
        return slot.worker

    def _manage(self, slot: _Slot) -> None:
        lane = self._queues[slot.lane]
        limit = self.config.coalesce_items if slot.lane == "judge" else 1
        while True:
            chunk = lane.get(limit)
            if chunk is None:
                return
            entries = [e for e in chunk if not e.is_cancelled()]
            if entries:
                self.events.on_chunk(len(entries))
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
                    result, rss_kb = _pipe.decode_reply(
                        worker.conn.recv_bytes(_pipe.MAX_MESSAGE_BYTES)
                    )
                except _pipe.WireError as exc:
                    # Not what our worker code sends: it is not to be trusted any more.
                    log.error("worker process sent a malformed reply (%s); replacing it", exc)
                    self._retire(slot, "malformed", kill=True)
                    self._finish(
                        entry,
                        TaskResult.fail(
                            "verifier_error",
                            "the worker process sent a malformed result",
                            retryable=False,
                        ),
                    )
                    done += 1
                    break
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
                if rss_kb == RETIRE:  # its jail is gone: the next task needs a fresh worker
                    self._retire(slot, "sandbox", kill=False)
                    break
            else:
                self._maybe_recycle(slot, rss_kb)
                return
            pending = [e for e in pending[done:] if not e.is_cancelled()]
        if slot.worker is None:
            self._ensure_worker(slot)  # be ready for the next chunk

    def _scratch(self, slot: _Slot) -> str:
        """The slot's scratch dir (used where no private /tmp can be mounted), emptied."""
        path = os.path.join(tempfile.gettempdir(), f"referee-judge-{os.getpid()}-{slot.index}")
        shutil.rmtree(path, ignore_errors=True)  # what the slot's last worker left
        return path

    def _note_confinement(self, report: dict[str, Any]) -> None:
        if report.get("missing") and report != self.confinement:
            log.warning(
                "worker processes judge without: %s", "; ".join(map(str, report["missing"]))
            )
        self.confinement = report

    def _finish(self, entry: Entry, result: TaskResult) -> None:
        """Count what a worker judged (or the timeout of killing it), then deliver it:
        whoever holds the result sees it counted."""
        with self._lock:
            self._completed += 1
        entry.deliver(result)

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
