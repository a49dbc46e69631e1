"""The API replica's side of scaled-out judging: tasks go to a Redis Stream, results come back.

A :class:`~referee.service.dispatch.base.Dispatcher`, as the embedded pool is
(``submit``, ``capacity``, ``queued``, ``close``): submitted tasks go to the
``{prefix}:tasks`` stream in chunks, one entry per chunk (small chunks submitted
together, such as those of many one-item requests, share an entry, up to
``chunk_items`` tasks), read by ``referee worker`` processes through a consumer group;
each chunk's results come back in one entry of this replica's own reply stream and go
to each task's ``deliver``. The shared cache and de-duplication stay per task. The
replica keeps no state another replica needs: a request whose replica dies is simply
sent again by its client.

Like the pool, it runs its own thread (here an asyncio loop holding the Redis
connections), so ``submit`` is thread-safe and callable from any event loop.

When Redis is unreachable, ``alive`` is 0 (the app answers 503), tasks waiting for a
result get ``status: "error"``, kind ``backend_unavailable`` (retryable), and the
dispatcher reconnects by itself.

What comes back from Redis is decoded by the checked codec, never executed. A cached
value that does not decode is a miss: it is deleted and the task is queued for
judging. A reply that does not decode answers its task ``status: "error"``, kind
``bad_entry``. Both are logged and reported to ``on_malformed`` (the app counts them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from referee.service.cache import cache_key
from referee.service.dispatch._codec import (
    WireError,
    decode_result,
    decode_results,
    encode_task,
    join_encoded,
)
from referee.service.dispatch._redis_wire import SUBMIT, Keys
from referee.service.dispatch._task import Task, TaskResult
from referee.service.dispatch.base import Capacity, Entry
from referee.service.logs import request_id
from referee.verifiers import REGISTRY

__all__ = ["RedisConfig", "RedisDispatcher", "RedisStats", "connect", "ensure_group"]

log = logging.getLogger("referee.redis")

WORKER_TTL_S = 15  # a worker whose heartbeat is older is not counted as alive
REPLY_TTL_S = 3600  # a reply stream nobody refreshes (its replica died) expires

# Drop heartbeats older than ARGV[1] seconds by Redis's own clock; the live ones.
_LIVE_WORKERS = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


def connect(url: str, *, block_s: float = 0.0) -> aioredis.Redis:
    """A client that fails fast (no retries): callers handle outages themselves."""
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=2.0,
        socket_timeout=5.0 + block_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


async def ensure_group(r: aioredis.Redis, keys: Keys) -> None:
    """Create the stream and its consumer group (reading from the start) if missing."""
    try:
        await r.xgroup_create(keys.tasks, keys.group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


@dataclass(frozen=True, slots=True)
class RedisConfig:
    url: str
    prefix: str = "referee"
    request_timeout_s: float = 300.0
    cache_ttl_s: int = 86400  # 0: no shared cache and no cross-replica de-duplication
    workers: int = 4  # the engine's chunking hint; the real number is ``alive``
    chunk_items: int = 32  # most tasks of small submitted chunks merged into one entry


@dataclass(slots=True)
class RedisStats:
    """What the replica last saw of the cluster (refreshed about once a second)."""

    connected: bool = False
    workers: int = 0  # worker processes' total concurrency
    depth: int = 0  # entries in the task stream: queued and being judged
    lag: int = 0  # entries no worker has read yet
    pending: int = 0  # entries read and not yet finished
    done: int = 0  # tasks finished by all workers since the stream existed


class RedisDispatcher:
    """Sends tasks through Redis Streams to ``referee worker`` processes."""

    def __init__(
        self,
        config: RedisConfig,
        on_stats: Callable[[RedisStats], None] | None = None,
        on_malformed: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.keys = Keys(config.prefix)
        self.replica = uuid.uuid4().hex[:12]
        self.reply_key = self.keys.reply(self.replica)
        self.stats = RedisStats()
        self._on_stats = on_stats or (lambda stats: None)
        self._on_malformed = on_malformed or (lambda source: None)
        self._pending: dict[str, Entry] = {}
        self._tids = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        # (entries, request id, deadline, fresh: skip and delete an unreadable cached value)
        self._outbox: asyncio.Queue[tuple[list[Entry], str, float, bool]] | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._closing = False

    # -- the interface the engine uses ---------------------------------------------------

    @property
    def alive(self) -> int:
        """Worker processes serving the stream (their total concurrency); 0 without Redis."""
        return self.stats.workers if self.stats.connected else 0

    @property
    def completed(self) -> int:
        return self.stats.done

    def capacity(self) -> Capacity:
        """Live workers' concurrency; unavailable without Redis or without a worker."""
        if not self.stats.connected:
            return Capacity(0, "redis is unreachable")
        if self.alive == 0:
            return Capacity(0, "no worker is serving")
        return Capacity(self.alive)

    def queued(self) -> int:
        """Entries of the shared task stream (all replicas'): queued and being judged."""
        return self.stats.depth

    def submit(self, chunk: list[Entry]) -> None:
        if self._closing or self._loop is None or self._outbox is None:
            raise RuntimeError("dispatcher is closed")
        if not self.stats.connected:
            for entry in chunk:
                entry.deliver(_unavailable())
            return
        deadline = time.time() + self.config.request_timeout_s
        item = (chunk, request_id.get(), deadline, False)
        self._loop.call_soon_threadsafe(self._outbox.put_nowait, item)

    def start(self, wait_s: float = 5.0) -> None:
        """Start the thread; wait up to ``wait_s`` for Redis (serving starts either way)."""
        self._thread = threading.Thread(target=self._run, name="referee-redis", daemon=True)
        self._thread.start()
        self._started.wait(timeout=30)
        deadline = time.monotonic() + wait_s
        while not self.stats.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.stats.connected:
            log.warning("redis at %s is not reachable yet; retrying in the background", self._url)

    def close(self) -> None:
        self._closing = True
        if self._loop is not None and self._thread is not None:
            self._thread.join(timeout=10)
        self._fail_pending(_unavailable("the server is shutting down"))

    # -- internals -----------------------------------------------------------------------

    @property
    def _url(self) -> str:
        # Never log a password.
        return self.config.url.split("@")[-1]

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue()
        self._started.set()
        r = connect(self.config.url)
        reader = connect(self.config.url, block_s=1.0)
        submit_script = r.register_script(SUBMIT)
        live_script = r.register_script(_LIVE_WORKERS)
        tasks = [
            asyncio.create_task(self._send(r, submit_script)),
            asyncio.create_task(self._read(reader)),
            asyncio.create_task(self._monitor(r, live_script)),
        ]
        try:
            while not self._closing:
                await asyncio.sleep(0.05)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for client in (r, reader):
                with contextlib.suppress(RedisError):
                    await client.aclose()

    def _disconnected(self, exc: BaseException) -> None:
        if self.stats.connected:
            log.warning("lost redis at %s: %s", self._url, exc)
        self.stats.connected = False
        self._on_stats(self.stats)
        self._fail_pending(_unavailable())

    def _fail_pending(self, result: TaskResult) -> None:
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            entry.deliver(result)

    async def _send(self, r: aioredis.Redis, script: Any) -> None:
        """Queue the outbox: claim cacheable tasks (one script per chunk), then XADD.

        Two pipelined rounds: the claim script answers cache hits and identical tasks
        already in flight, and marks the rest in flight; the chunk entries then carry
        only the tasks left. Task payloads go straight to XADD, never through Lua.
        """
        assert self._outbox is not None
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < 256:
                batch.append(self._outbox.get_nowait())
            chunks: list[_Chunk] = []
            for group, rid, deadline, fresh in self._chunks(batch):
                chunk = _Chunk(rid, deadline, fresh)
                for entry in group:
                    try:
                        encoded = encode_task(entry.task)
                    except WireError as exc:
                        entry.deliver(_unsendable(exc))
                        continue
                    tid = format(next(self._tids), "x")
                    self._pending[tid] = entry
                    chunk.items.append((tid, self._key_of(entry.task), encoded))
                if chunk.items:
                    chunks.append(chunk)
            try:
                claimed = [c for c in chunks if any(key for _, key, _ in c.items)]
                if claimed:
                    async with r.pipeline(transaction=False) as pipe:
                        for c in claimed:
                            await self._claim(script, pipe, c)
                        replies = await pipe.execute()
                    for c, reply in zip(claimed, replies, strict=True):
                        self._claimed(c, reply)
                async with r.pipeline(transaction=False) as pipe:
                    for c in chunks:
                        if c.items:
                            pipe.xadd(self.keys.tasks, self._entry_fields(c))
                    if len(pipe):
                        await pipe.execute()
            except RedisError as exc:
                for c in chunks:
                    for tid, _, _ in c.items:
                        entry_or_none = self._pending.pop(tid, None)
                        if entry_or_none is not None:
                            entry_or_none.deliver(_unavailable())
                self._disconnected(exc)

    async def _claim(self, script: Any, pipe: Any, chunk: _Chunk) -> None:
        k = self.keys
        keys: list[str] = []
        tids: list[str] = []
        for tid, key, _ in chunk.items:
            if key:
                keys += [k.cache(key), k.inflight(key), k.waiters(key)]
                tids.append(tid)
        ttl = max(1, int(chunk.deadline - time.time()) + 5)
        slack = min(30.0, self.config.request_timeout_s / 10)
        head = [repr(chunk.deadline), self.reply_key, ttl, slack, "1" if chunk.fresh else "0"]
        await script(keys=keys, args=head + tids, client=pipe)

    def _claimed(self, chunk: _Chunk, states: list[Any]) -> None:
        """Answer the cache hits, leave waiters to their owner, keep the rest to queue."""
        keyed = iter(states)
        left = []
        for tid, key, encoded in chunk.items:
            state = next(keyed) if key else 0
            if isinstance(state, bytes):  # a cache hit
                entry = self._pending.pop(tid, None)
                if entry is not None:
                    self._cache_hit(entry, state, chunk.rid, chunk.deadline)
            elif int(state) == 0:
                left.append((tid, key, encoded))
            # else 2: an identical task is queued; its result comes to us too
        chunk.items = left

    def _entry_fields(self, chunk: _Chunk) -> dict[Any, Any]:
        return {
            "d": repr(chunk.deadline),
            "rp": self.reply_key,
            "t": ",".join(tid for tid, _, _ in chunk.items),
            "p": join_encoded([encoded for _, _, encoded in chunk.items]),
            "rid": chunk.rid,
            "k": ",".join(key for _, key, _ in chunk.items),
            "h": "0",
        }

    def _chunks(
        self, batch: list[tuple[list[Entry], str, float, bool]]
    ) -> list[tuple[list[Entry], str, float, bool]]:
        """Merge small chunks of different requests into entries of up to ``chunk_items``.

        Chunks of one request stay apart (the engine sized them to spread a batch over
        the workers), and a submitted chunk is never split; a fresh re-submission
        (after an unreadable cached value) travels alone. Tasks of one request share
        its ``is_cancelled``, which tells requests apart.
        """
        out: list[tuple[list[Entry], str, float, bool]] = []
        current: list[Entry] = []
        owners: set[Any] = set()
        rid, deadline = "", 0.0
        for chunk, chunk_rid, chunk_deadline, fresh in batch:
            live = [e for e in chunk if not e.is_cancelled()]
            if not live:
                continue
            if fresh:
                out.append((live, chunk_rid, chunk_deadline, True))
                continue
            owner = live[0].is_cancelled
            if current and (owner in owners or len(current) + len(live) > self.config.chunk_items):
                out.append((current, rid, deadline, False))
                current, owners = [], set()
            if not current:
                rid, deadline = chunk_rid, chunk_deadline
            current.extend(live)
            owners.add(owner)
            deadline = max(deadline, chunk_deadline)
        if current:
            out.append((current, rid, deadline, False))
        return out

    def _cache_hit(self, entry: Entry, data: bytes, rid: str, deadline: float) -> None:
        try:
            result = decode_result(data)
        except WireError as exc:
            # Never trust it; judge the task instead (the worker overwrites the value).
            self._on_malformed("cache")
            log.warning(
                "unreadable cached result for %s (%s): judging it again",
                entry.task.verifier,
                exc,
                extra={"request_id": rid},
            )
            assert self._outbox is not None
            self._outbox.put_nowait(([entry], rid, deadline, True))
            return
        entry.deliver(replace(result, cached=True))

    def _key_of(self, task: Task) -> str:
        verifier = REGISTRY.get(task.verifier)
        if verifier is None or self.config.cache_ttl_s <= 0:
            return ""
        return cache_key(verifier, task).hex()

    async def _read(self, r: aioredis.Redis) -> None:
        last = "0-0"
        while True:
            if not self.stats.connected:
                await asyncio.sleep(0.1)
                continue
            try:
                streams: Any = await r.xread({self.reply_key: last}, count=1000, block=1000)
                for _stream, entries in streams or []:
                    for entry_id, fields in entries:
                        last = entry_id.decode()
                        self._answer(entry_id, fields)
                if streams:
                    await r.xtrim(self.reply_key, minid=last, approximate=False)
            except RedisError as exc:
                self._disconnected(exc)

    def _answer(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        """Deliver one reply entry's results; those that do not decode answer an error."""
        raw_tids = fields.get(b"t")
        text = raw_tids.decode("ascii", "replace") if isinstance(raw_tids, bytes) else ""
        tids = [t for t in text.split(",") if t]
        entries = [(tid, self._pending.pop(tid, None)) for tid in tids]
        if not tids:
            self._on_malformed("result")
            log.warning("reply entry %s has no task id: dropped", entry_id.decode())
            return
        if all(entry is None for _, entry in entries):
            return  # late answers to tasks nobody waits for any more
        try:
            data = fields.get(b"r")
            if data is None:
                raise WireError("no result field")
            results = decode_results(data)
            if len(results) != len(tids):
                raise WireError(f"{len(results)} results for {len(tids)} task ids")
        except WireError as exc:
            self._on_malformed("result")
            log.warning("unreadable results in reply entry %s: %s", entry_id.decode(), exc)
            bad = TaskResult.fail(
                "bad_entry", "the result of this item could not be decoded", retryable=True
            )
            results = [bad] * len(tids)
        for (_tid, entry), result in zip(entries, results, strict=True):
            if entry is not None:
                entry.deliver(result)

    async def _monitor(self, r: aioredis.Redis, live_script: Any) -> None:
        while True:
            try:
                if not self.stats.connected:
                    await r.ping()
                    await ensure_group(r, self.keys)
                    log.info("connected to redis at %s", self._url)
                    self.stats.connected = True
                async with r.pipeline(transaction=False) as pipe:
                    await live_script(keys=[self.keys.alive], args=[WORKER_TTL_S], client=pipe)
                    pipe.xlen(self.keys.tasks)
                    pipe.hget(self.keys.stats, "done")
                    pipe.xinfo_groups(self.keys.tasks)
                    pipe.expire(self.reply_key, REPLY_TTL_S)
                    live, depth, done, groups, _ = await pipe.execute(raise_on_error=False)
                if isinstance(groups, ResponseError):  # the stream vanished (Redis restarted)
                    await ensure_group(r, self.keys)
                    groups = []
                for value in (live, depth, done):
                    if isinstance(value, Exception):
                        raise value
                self.stats.workers = sum(int(m.rsplit(b"|", 1)[1]) for m in live)
                self.stats.depth = int(depth)
                self.stats.done = int(done or 0)
                group = next((g for g in groups if g["name"] == self.keys.group.encode()), None)
                self.stats.lag = int((group or {}).get("lag") or 0)
                self.stats.pending = int((group or {}).get("pending") or 0)
                self._on_stats(self.stats)
                self._sweep()
                await asyncio.sleep(0.5)
            except (RedisError, OSError) as exc:
                self._disconnected(exc)
                await asyncio.sleep(0.5)

    def _sweep(self) -> None:
        """Forget tasks whose caller stopped waiting (deadline passed, request gone)."""
        for tid in [t for t, e in self._pending.items() if e.is_cancelled()]:
            self._pending.pop(tid, None)


@dataclass(slots=True)
class _Chunk:
    """Tasks on their way into one entry: (tid, cache key or '', encoded task)."""

    rid: str
    deadline: float
    fresh: bool
    items: list[tuple[str, str, bytes]] = field(default_factory=list)


def _unsendable(exc: WireError) -> TaskResult:
    return TaskResult.fail(
        "bad_entry", f"the task cannot be sent to a worker: {exc}", retryable=False
    )


def _unavailable(message: str = "the task queue (redis) is unreachable") -> TaskResult:
    return TaskResult.fail("backend_unavailable", message, retryable=True)
