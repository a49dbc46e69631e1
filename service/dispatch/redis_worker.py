"""``referee worker``: a Redis consumer feeding its local worker pool.

It reads task entries (each a chunk of tasks) from the ``{prefix}:tasks`` stream as
one consumer of the ``{prefix}:judges`` group, judges them in its own
:class:`WorkerPool` (the same process pool as the embedded server: hard deadlines,
kill and respawn, recycling), and answers each chunk in one entry of the reply stream
it names, once all its tasks are judged.

Nothing is lost:

- An entry stays pending in the group until its results are written (the cache,
  the reply and the ack are sent in one pipeline, the reply before the ack).
  While judging, the worker refreshes the
  idle time of what it holds; entries of a worker that died or stalled go idle and
  are claimed by another (``XAUTOCLAIM`` after ``reclaim_idle_s``).
- An entry that was delivered more than ``max_deliveries`` times (each delivery
  ended in its worker's death) is answered ``status: "error"``, kind
  ``worker_crashed``, and never delivered again. A chunk that comes back from a dead
  worker is split into one entry per task (each keeping the chunk's delivery count),
  and those are judged one at a time, so a poison task does not take innocent ones
  with it again.
- Tasks of an entry past its deadline are answered with kind ``deadline`` without
  judging.
- An entry that does not decode (another format version, a pickle, a wrong field)
  is never judged: it is answered ``status: "error"``, kind ``bad_entry``, when its
  reply stream and task id can be read, else acknowledged and deleted; either way it
  is logged and counted (``referee_malformed_entries{source="task"}``).
- On SIGTERM it stops reading, lets what it holds finish for ``shutdown_grace_s``,
  and hands the rest back to the stream for other workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from referee.service.cache import is_cacheable
from referee.service.dispatch._codec import WireError, encode_result, join_encoded
from referee.service.dispatch._redis_wire import (
    FINISH_WAITERS,
    RELEASE,
    BadEntry,
    Keys,
    TaskEntry,
    TaskItem,
)
from referee.service.dispatch._task import Task, TaskResult
from referee.service.dispatch.base import Entry
from referee.service.dispatch.pool import WorkerPool
from referee.service.dispatch.redis_streams import REPLY_TTL_S, connect, ensure_group
from referee.service.logs import request_id
from referee.service.metrics import Metrics
from referee.verifiers import NO_CONTEXT

__all__ = ["RedisWorker", "WorkerOptions"]

log = logging.getLogger("referee.worker")

_NO_TASK = Task("-", None, "", None, NO_CONTEXT)  # what a rejected entry is answered as

_HEARTBEAT = """
redis.call('ZADD', KEYS[1], tonumber(redis.call('TIME')[1]), ARGV[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    url: str
    prefix: str = "referee"
    concurrency: int = 1
    reclaim_idle_s: float = 30.0
    max_deliveries: int = 3
    cache_ttl_s: int = 86400
    shutdown_grace_s: float = 30.0

    @property
    def prefetch(self) -> int:
        return self.concurrency * 2


@dataclass(slots=True)
class _Held:
    """A chunk being judged: its results so far."""

    entry: TaskEntry
    results: list[TaskResult | None] = field(default_factory=list)
    left: int = 0

    def __post_init__(self) -> None:
        self.results = [None] * len(self.entry.items)
        self.left = len(self.entry.items)


class RedisWorker:
    """One consumer of the task stream; ``run`` until ``stop`` is set."""

    def __init__(self, options: WorkerOptions, pool: WorkerPool, metrics: Metrics) -> None:
        self.options = options
        self.pool = pool
        self.metrics = metrics
        self.keys = Keys(options.prefix)
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._member = f"{self.consumer}|{options.concurrency}"
        self._held: dict[str, _Held] = {}
        self._suspects: set[str] = set()
        self._finishing: set[str] = set()
        self._handed_back: set[str] = set()
        # A finished chunk: each task's encoded result and whether it may be cached.
        self._results: asyncio.Queue[tuple[TaskEntry, list[tuple[bytes, bool]]]] = asyncio.Queue()
        # Entries to put back on the stream (split: one per task, or whole), and
        # suspects to judge (None) once those before them are back.
        self._splits: asyncio.Queue[tuple[TaskEntry, bool | None]] = asyncio.Queue()
        self._room = asyncio.Event()
        self._stopping = False

    async def run(self, stop: asyncio.Event) -> None:
        r = connect(self.options.url, block_s=1.0)
        release = r.register_script(RELEASE)
        answer_waiters = r.register_script(FINISH_WAITERS)
        beat = r.register_script(_HEARTBEAT)
        loops = [
            asyncio.create_task(self._fetch(r)),
            asyncio.create_task(self._reclaim(r)),
            asyncio.create_task(self._heartbeat(r, beat)),
            asyncio.create_task(self._expire()),
            asyncio.create_task(self._split(r)),
        ]
        writer = asyncio.create_task(self._write(r, release, answer_waiters))
        log.info(
            "worker %s serving %s with %d processes",
            self.consumer,
            self.keys.tasks,
            self.options.concurrency,
        )
        await stop.wait()
        self._stopping = True
        log.info("stopping: no new entries; finishing %d held", len(self._held))
        for t in loops[:2]:
            t.cancel()
        deadline = time.monotonic() + self.options.shutdown_grace_s
        while self._held and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self._hand_back(r)
        for t in [*loops[2:], writer]:
            t.cancel()
        await asyncio.gather(*loops, writer, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await r.zrem(self.keys.alive, self._member)
        with contextlib.suppress(RedisError, OSError):
            await r.aclose()

    # -- taking entries ------------------------------------------------------------------

    def _room_for(self) -> int:
        if self._suspects:  # judge a suspect alone
            return 0
        return max(0, self.options.prefetch - len(self._held))

    async def _fetch(self, r: aioredis.Redis) -> None:
        while True:
            room = self._room_for()
            if room == 0:
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), timeout=1.0)
                continue
            try:
                streams: Any = await r.xreadgroup(
                    self.keys.group, self.consumer, {self.keys.tasks: ">"}, count=room, block=1000
                )
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self._recreate(r)
                continue
            except (RedisError, OSError) as exc:
                log.warning("redis unreachable (%s); retrying", exc)
                await asyncio.sleep(0.5)
                continue
            for _stream, entries in streams or []:
                for entry_id, fields in entries:
                    self._accept(entry_id, fields, 1)

    async def _recreate(self, r: aioredis.Redis) -> None:
        with contextlib.suppress(RedisError, OSError):
            await ensure_group(r, self.keys)
            log.info("created consumer group %s", self.keys.group)

    async def _reclaim(self, r: aioredis.Redis) -> None:
        idle_ms = int(self.options.reclaim_idle_s * 1000)
        interval = min(1.0, self.options.reclaim_idle_s / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                while self._room_for() > 0:
                    reply: Any = await r.execute_command(  # type: ignore[no-untyped-call]
                        "XAUTOCLAIM",
                        self.keys.tasks,
                        self.keys.group,
                        self.consumer,
                        idle_ms,
                        "0-0",
                        "COUNT",
                        1,
                    )
                    claimed, deleted = reply[1], reply[2] if len(reply) > 2 else []
                    if deleted:  # pending but gone from the stream: nothing to judge
                        await r.xack(self.keys.tasks, self.keys.group, *deleted)
                    if not claimed:
                        break
                    for entry_id, fields in claimed:
                        if fields is None:
                            continue
                        info = await r.xpending_range(
                            self.keys.tasks, self.keys.group, entry_id, entry_id, 1
                        )
                        deliveries = int(info[0]["times_delivered"]) if info else 2
                        self.metrics.reclaimed.inc()
                        self._accept(entry_id, fields, deliveries)
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    await self._recreate(r)
            except (RedisError, OSError):
                pass  # _fetch reports outages

    def _accept(self, entry_id: bytes, fields: dict[bytes, bytes], deliveries: int) -> None:
        try:
            entry = TaskEntry.parse(entry_id, fields, self.keys)
        except BadEntry as exc:
            self._reject(entry_id, exc)
            return
        if entry.id in self._held:
            return  # already held (claimed back while we judge it)
        token = request_id.set(entry.rid)
        try:
            self._held[entry.id] = _Held(entry)
            deliveries += entry.handbacks
            if deliveries > self.options.max_deliveries:
                log.error(
                    "entry %s was delivered %d times, each time its worker died: giving up",
                    entry.id,
                    deliveries,
                )
                self.metrics.poisoned.inc(len(entry.items))
                crashed = TaskResult.fail(
                    "worker_crashed",
                    f"the worker judging this item died {deliveries - 1} times; not retried",
                    retryable=False,
                )
                self._answer_all(entry, crashed)
                return
            if time.time() > entry.deadline:
                self._expired(entry)
                return
            suspect = deliveries > 1
            if suspect and len(entry.items) > 1:
                # One of these may kill its worker: judge each alone, keeping the count.
                log.info(
                    "splitting reclaimed entry %s of %d tasks (delivery %d)",
                    entry.id,
                    len(entry.items),
                    deliveries,
                )
                self._requeue(entry, deliveries, split=True)
                return
            others = any(e != entry.id and e not in self._finishing for e in self._held)
            if (suspect and others) or (not suspect and self._suspects):
                # A suspect is judged with nothing else here (one read may bring several
                # entries): put this one back, its delivery count kept, for later.
                self._requeue(entry, deliveries, split=False)
                return
            if suspect:
                # Started once what this read put back is on the stream: should the
                # suspect kill us, nothing else is pending under our name.
                self._suspects.add(entry.id)
                self._splits.put_nowait((entry, None))
                return
            self._judge(entry)
        finally:
            request_id.reset(token)

    def _judge(self, entry: TaskEntry) -> None:
        """Send the chunk's tasks to the local pool; ``_one_done`` collects the results."""
        token = request_id.set(entry.rid)
        try:
            log.debug("judging %d tasks", len(entry.items), extra={"entry": entry.id})
            loop = asyncio.get_running_loop()

            def cancelled(entry: TaskEntry = entry) -> bool:
                return time.time() > entry.deadline or entry.id in self._handed_back

            pool_entries = []
            for i, item in enumerate(entry.items):

                def deliver(result: TaskResult, eid: str = entry.id, i: int = i) -> None:
                    with contextlib.suppress(RuntimeError):  # the loop is gone: shutting down
                        loop.call_soon_threadsafe(self._one_done, eid, i, result)

                pool_entries.append(Entry(item.task, deliver, cancelled))
            self.metrics.inflight.set(len(self._held))
            # One entry, one message to a process: the replica sized its chunks to spread
            # a batch over the workers, and the pool coalesces small ones by itself.
            self.pool.submit(pool_entries)
        finally:
            request_id.reset(token)

    def _one_done(self, eid: str, i: int, result: TaskResult) -> None:
        held = self._held.get(eid)
        if held is None or eid in self._finishing or held.results[i] is not None:
            return  # already answered (a deadline raced the judgement)
        held.results[i] = result
        held.left -= 1
        if held.left == 0:
            self._complete(held.entry, [r for r in held.results if r is not None])

    def _reject(self, entry_id: bytes, bad: BadEntry) -> None:
        """Never judge a malformed entry: answer it as an error if we can, else drop it."""
        eid = entry_id.decode(errors="replace")
        if eid in self._held:
            return  # a second delivery of an entry already being rejected
        self.metrics.malformed.labels("task").inc()
        answered = "answering it as an error" if bad.reply else "dropping it"
        log.warning("malformed task entry: %s; %s", bad, answered, extra={"request_id": bad.rid})
        items = tuple(TaskItem(t, k, _NO_TASK) for t, k in zip(bad.tids, bad.keys, strict=True))
        entry = TaskEntry(eid, 0.0, bad.reply, bad.rid, 0, items)
        result = TaskResult.fail(
            "bad_entry", "the task entry could not be decoded; it was not judged", retryable=False
        )
        self._held[eid] = _Held(entry)
        self._finishing.add(eid)
        self._results.put_nowait((entry, [(encode_result(result), False)] * len(items)))

    def _expired(self, entry: TaskEntry) -> None:
        log.info(
            "dropping entry %s: its deadline passed", entry.id, extra={"request_id": entry.rid}
        )
        self.metrics.expired.inc()
        self._answer_all(
            entry,
            TaskResult.fail(
                "deadline",
                "the request's deadline passed before this item was judged",
                retryable=True,
            ),
        )

    def _answer_all(self, entry: TaskEntry, result: TaskResult) -> None:
        """Answer the chunk's tasks not judged yet with ``result``, and the chunk."""
        held = self._held.get(entry.id)
        done = held.results if held is not None else [None] * len(entry.items)
        self._complete(entry, [r if r is not None else result for r in done])

    async def _expire(self) -> None:
        """The pool drops entries that expire in its queue: answer them here."""
        while True:
            await asyncio.sleep(0.5)
            now = time.time()
            for held in list(self._held.values()):
                if held.entry.deadline < now and held.entry.id not in self._finishing:
                    self._expired(held.entry)

    def _requeue(self, entry: TaskEntry, deliveries: int, *, split: bool) -> None:
        """Put ``entry`` back on the stream (``split``: one entry per task), unjudged.

        The new entries carry the deliveries so far as hand-backs, so that their next
        delivery counts as this one's next.
        """
        self._finishing.add(entry.id)
        self._splits.put_nowait((replace(entry, handbacks=deliveries - 1), split))

    async def _split(self, r: aioredis.Redis) -> None:
        """Write what ``_requeue`` put back (dropping the originals), then start suspects."""
        while True:
            batch = [await self._splits.get()]
            while not self._splits.empty():
                batch.append(self._splits.get_nowait())
            for entry, split in batch:
                if split is not None:
                    await self._put_back(r, entry, split=split)
            for entry, split in batch:
                if split is None and entry.id in self._held and entry.id not in self._finishing:
                    log.info("judging reclaimed entry %s alone", entry.id)
                    self._judge(entry)

    async def _put_back(self, r: aioredis.Redis, entry: TaskEntry, *, split: bool) -> None:
        parts = [(item,) for item in entry.items] if split else [entry.items]
        while True:
            try:
                async with r.pipeline(transaction=True) as pipe:
                    for items in parts:
                        pipe.xadd(self.keys.tasks, entry.fields(items=items))
                    pipe.xack(self.keys.tasks, self.keys.group, entry.id)
                    pipe.xdel(self.keys.tasks, entry.id)
                    await pipe.execute()
                break
            except (RedisError, OSError) as exc:
                log.warning("could not split entry %s (%s); retrying", entry.id, exc)
                await asyncio.sleep(0.5)
        self._held.pop(entry.id, None)
        self._finishing.discard(entry.id)
        self._room.set()

    # -- answering -----------------------------------------------------------------------

    def _complete(self, entry: TaskEntry, results: list[TaskResult]) -> None:
        if entry.id not in self._held or entry.id in self._finishing:
            return  # already answered (a deadline raced the judgement)
        self._finishing.add(entry.id)
        encoded = []
        for item, result in zip(entry.items, results, strict=True):
            try:
                data = encode_result(result)
            except WireError as exc:  # a verifier's details or payload that JSON cannot hold
                log.error("result of %s cannot be sent: %s", item.task.verifier, exc)
                result = TaskResult.fail(
                    "verifier_error",
                    f"{item.task.verifier}: the result cannot be encoded: {exc}",
                    retryable=False,
                    elapsed_s=result.elapsed_s,
                )
                data = encode_result(result)
            encoded.append((data, is_cacheable(result)))
            self._count(item.task, result)
        self._results.put_nowait((entry, encoded))

    def _count(self, task: Task, result: TaskResult) -> None:
        if result.status == "ok" or result.error is None or result.error.kind != "deadline":
            if result.elapsed_s:
                self.metrics.verifier_seconds.labels(task.verifier).observe(result.elapsed_s)
            outcome = "error" if result.score is None else result.score.outcome.value
            self.metrics.items.labels(task.verifier, outcome).inc()
        if result.error is not None:
            self.metrics.errors.labels(result.error.kind).inc()

    async def _write(self, r: aioredis.Redis, release: Any, waiters: Any) -> None:
        while True:
            batch = [await self._results.get()]
            while not self._results.empty() and len(batch) < 64:
                batch.append(self._results.get_nowait())
            while True:
                try:
                    await self._finish(r, release, waiters, batch)
                    break
                except (RedisError, OSError) as exc:
                    log.warning("could not write %d results (%s); retrying", len(batch), exc)
                    await asyncio.sleep(0.5)
            for entry, _ in batch:
                self._held.pop(entry.id, None)
                self._finishing.discard(entry.id)
                self._suspects.discard(entry.id)
            self.metrics.inflight.set(len(self._held))
            self._room.set()

    async def _finish(
        self,
        r: aioredis.Redis,
        release: Any,
        waiters: Any,
        batch: list[tuple[TaskEntry, list[tuple[bytes, bool]]]],
    ) -> None:
        """Answer finished chunks: fill the cache, one reply entry per chunk, ack, delete.

        Payloads go to SET and XADD, never through Lua (what costs redis-server most
        per byte). Tasks that other replicas wait for (identical tasks in flight at
        once: rare) are answered in a second round; a worker that dies between the
        two leaves those waiters to their deadline.
        """
        k = self.keys
        released: list[tuple[int, TaskEntry, list[tuple[bytes, bool]], list[int]]] = []
        async with r.pipeline(transaction=False) as pipe:
            for entry, data in batch:
                if not entry.reply:  # a malformed entry with nowhere to answer
                    pipe.xack(k.tasks, k.group, entry.id)
                    pipe.xdel(k.tasks, entry.id)
                    continue
                keyed = [i for i, item in enumerate(entry.items) if item.key]
                for i in keyed:
                    encoded, cacheable = data[i]
                    if cacheable:
                        pipe.set(k.cache(entry.items[i].key), encoded, ex=self.options.cache_ttl_s)
                fields: dict[Any, Any] = {
                    "t": ",".join(item.tid for item in entry.items),
                    "r": join_encoded([encoded for encoded, _ in data]),
                }
                pipe.xadd(entry.reply, fields)
                pipe.expire(entry.reply, REPLY_TTL_S)
                if keyed:
                    at = len(pipe)
                    marks = [
                        key
                        for i in keyed
                        for key in (k.inflight(entry.items[i].key), k.waiters(entry.items[i].key))
                    ]
                    await release(keys=marks, client=pipe)
                    released.append((at, entry, data, keyed))
                pipe.xack(k.tasks, k.group, entry.id)
                pipe.xdel(k.tasks, entry.id)
                pipe.hincrby(k.stats, "done", len(entry.items))
            replies = await pipe.execute()
        waited = [(entry, data, keyed, replies[at]) for at, entry, data, keyed in released]
        waited = [w for w in waited if w[3]]
        if not waited:
            return
        async with r.pipeline(transaction=False) as pipe:
            for entry, data, keyed, indices in waited:
                chosen = [keyed[int(j) - 1] for j in indices]
                marks = [
                    key
                    for i in chosen
                    for key in (k.inflight(entry.items[i].key), k.waiters(entry.items[i].key))
                ]
                results = [data[i][0] for i in chosen]
                await waiters(keys=marks, args=[REPLY_TTL_S, *results], client=pipe)
            await pipe.execute()

    # -- staying visible -----------------------------------------------------------------

    async def _heartbeat(self, r: aioredis.Redis, beat: Any) -> None:
        interval = min(2.0, self.options.reclaim_idle_s / 3)
        while True:
            try:
                await beat(keys=[self.keys.alive], args=[self._member])
                held: list[Any] = [i for i in self._held if i not in self._finishing]
                if held:
                    # Reset the idle time of what we hold (JUSTID: not a new delivery).
                    await r.xclaim(
                        self.keys.tasks, self.keys.group, self.consumer, 0, held, justid=True
                    )
                self.metrics.workers.set(self.pool.alive)
            except (RedisError, OSError):
                pass
            await asyncio.sleep(interval)

    async def _hand_back(self, r: aioredis.Redis) -> None:
        """Put what we could not finish back on the stream for other workers."""
        left = [h.entry for h in self._held.values() if h.entry.id not in self._finishing]
        if not left:
            return
        self._handed_back.update(e.id for e in left)
        try:
            async with r.pipeline(transaction=True) as pipe:
                for e in left:
                    pipe.xadd(self.keys.tasks, e.fields(handbacks=e.handbacks + 1))
                    pipe.xack(self.keys.tasks, self.keys.group, e.id)
                    pipe.xdel(self.keys.tasks, e.id)
                await pipe.execute()
            self.metrics.handed_back.inc(len(left))
            log.info("handed %d entries back to the stream", len(left))
        except (RedisError, OSError) as exc:
            log.warning(
                "could not hand back %d entries (%s): they will be reclaimed", len(left), exc
            )
        for e in left:
            self._held.pop(e.id, None)
