"""What API replicas and ``referee worker`` processes share in Redis: keys, entries, scripts.

Every key lives under one prefix (``REFEREE_REDIS_PREFIX``, default ``referee``):

=============================  ==============================================================
``{p}:tasks``                  stream of tasks, read by the consumer group ``{p}:judges``
``{p}:reply:{replica}``        stream of results for one API replica (expires when idle)
``{p}:alive``                  sorted set of worker heartbeats: ``consumer|concurrency``
``{p}:cache:{key}``            a cached judgement (``SET ... EX``), an encoded ``TaskResult``
``{p}:inflight:{key}``         an identical task is queued; value: its latest deadline
``{p}:waiters:{key}``          replicas waiting for that task's result: ``stream\\ntid``
``{p}:stats``                  hash of counters (``done``: tasks finished, all workers)
=============================  ==============================================================

A task entry is a chunk of tasks, judged by one worker. Its fields: ``d`` deadline
(Unix time), ``rp`` reply stream, ``t`` the replica's task ids (comma-separated, one per
task), ``p`` the encoded tasks (a JSON array of :class:`Task` objects, in the order of
``t``), ``rid`` a request id (logs), ``k`` the tasks' cache keys in hex (comma-separated;
an empty one: not cacheable), ``h`` how many times a stopping worker handed it back
(added to the delivery count for the poison bound). A reply entry answers one chunk
(or one waiter): ``t`` the task ids, ``r`` a JSON array of encoded :class:`TaskResult`
in the same order. One entry per chunk, not per task, is what keeps Redis's work per
item small.

Tasks and results are versioned, strictly checked JSON (:mod:`._codec`), never
pickle: what is read from Redis is parsed and checked, never executed. An entry or
value that does not decode is answered as an error, or dropped, and counted. Redis
still decides verdicts (anyone who can write to it can forge rewards): give it a
password and a private network.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from referee.service.dispatch._codec import WireError, decode_tasks, encode_task, join_encoded
from referee.service.dispatch._task import Task

__all__ = ["FINISH_WAITERS", "RELEASE", "SUBMIT", "BadEntry", "Keys", "TaskEntry", "TaskItem"]

_TIDS = re.compile(r"[0-9a-f]{1,16}(?:,[0-9a-f]{1,16}){0,9999}")
_REPLICA = re.compile(r"[0-9a-f]{1,64}")
_KEYS = re.compile(r"(?:[0-9a-f]{40})?(?:,(?:[0-9a-f]{40})?){0,9999}")
_FIELDS = frozenset({b"d", b"rp", b"t", b"p", b"rid", b"k", b"h"})
_REQUIRED = frozenset({b"d", b"rp", b"t", b"p"})


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "referee"

    @property
    def tasks(self) -> str:
        return f"{self.prefix}:tasks"

    @property
    def group(self) -> str:
        return f"{self.prefix}:judges"

    @property
    def alive(self) -> str:
        return f"{self.prefix}:alive"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"

    def reply(self, replica: str) -> str:
        return f"{self.prefix}:reply:{replica}"

    def cache(self, key: str) -> str:
        return f"{self.prefix}:cache:{key}"

    def inflight(self, key: str) -> str:
        return f"{self.prefix}:inflight:{key}"

    def waiters(self, key: str) -> str:
        return f"{self.prefix}:waiters:{key}"


class BadEntry(WireError):
    """A task entry that does not decode, with what could still be read of it.

    ``reply`` and ``tids`` (both or neither) say where error answers can go; ``keys``
    are the entry's cache keys when they are well formed (their waiters get the
    answer too), one per task id, else empty.
    """

    def __init__(
        self,
        message: str,
        reply: str = "",
        tids: tuple[str, ...] = (),
        keys: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.reply = reply if tids else ""
        self.tids = tids if reply else ()
        self.keys = keys if len(keys) == len(self.tids) else ("",) * len(self.tids)
        self.rid = ""


@dataclass(frozen=True, slots=True)
class TaskItem:
    """One task of a chunk: the replica's id for it, its cache key ('' = none)."""

    tid: str
    key: str
    task: Task


@dataclass(frozen=True, slots=True)
class TaskEntry:
    """A chunk of tasks as read from the stream by a worker."""

    id: str
    deadline: float
    reply: str
    rid: str
    handbacks: int
    items: tuple[TaskItem, ...]

    @staticmethod
    def parse(entry_id: bytes | str, fields: dict[bytes, bytes], keys: Keys) -> TaskEntry:
        """Check and decode an entry; BadEntry (never anything else) if it is malformed."""
        eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        reply = _text(fields.get(b"rp"))
        prefix = keys.reply("")
        if not (reply.startswith(prefix) and _REPLICA.fullmatch(reply[len(prefix) :])):
            reply = ""
        raw_tids = _text(fields.get(b"t"))
        tids = tuple(raw_tids.split(",")) if _TIDS.fullmatch(raw_tids) else ()
        raw_keys = _text(fields.get(b"k"))
        cache_keys = tuple(raw_keys.split(",")) if _KEYS.fullmatch(raw_keys) else ()
        try:
            if not reply or not tids:
                raise WireError("no valid reply stream and task ids")
            if not _REQUIRED <= fields.keys() <= _FIELDS:
                raise WireError(f"fields {sorted(fields)!r:.200}")
            if len(cache_keys) != len(tids):
                raise WireError("k is not one cache key per task")
            deadline = float(fields[b"d"])
            if not math.isfinite(deadline):
                raise WireError("d is not a finite time")
            handbacks = int(fields.get(b"h", b"0"))
            if handbacks < 0:
                raise WireError("h is negative")
            rid = fields.get(b"rid", b"").decode()
            tasks = decode_tasks(fields[b"p"])
            if len(tasks) != len(tids):
                raise WireError(f"{len(tasks)} tasks for {len(tids)} task ids")
        except (WireError, ValueError, TypeError, AttributeError) as exc:
            bad = BadEntry(f"entry {eid}: {exc}", reply, tids, cache_keys)
            bad.rid = _text(fields.get(b"rid"))
            raise bad from None
        items = tuple(
            TaskItem(t, k, task) for t, k, task in zip(tids, cache_keys, tasks, strict=True)
        )
        return TaskEntry(eid, deadline, reply, rid, handbacks, items)

    def fields(
        self, *, handbacks: int | None = None, items: tuple[TaskItem, ...] | None = None
    ) -> dict[Any, Any]:
        chosen = self.items if items is None else items
        return {
            "d": repr(self.deadline),
            "rp": self.reply,
            "t": ",".join(i.tid for i in chosen),
            "p": join_encoded([encode_task(i.task) for i in chosen]),
            "rid": self.rid,
            "k": ",".join(i.key for i in chosen),
            "h": str(self.handbacks if handbacks is None else handbacks),
        }


def _text(value: Any) -> str:
    if not isinstance(value, bytes):
        return ""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return ""


# Claim a chunk's cacheable tasks before the chunk's entry is added (by the replica,
# with XADD, right after this script in the same connection; payloads never pass
# through Lua, which would cost redis-server far more per byte than XADD does).
# KEYS: per task: cache, inflight, waiters. ARGV: deadline, reply stream, inflight ttl
# s, slack s, fresh ('1': a cached value was unreadable: delete it rather than read
# it), then per task its tid. Returns one reply per task: the cached value on a cache
# hit, 2 when an identical task is queued with a deadline no more than `slack` earlier
# than ours (we wait for its result: should it expire unjudged, we get its deadline
# error that much early), 0 when it is ours to queue (marked in flight).
SUBMIT = """
local out = {}
for i = 1, #KEYS / 3 do
  local cache, inflight, waiters = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local hit = false
  if ARGV[5] == '1' then
    redis.call('DEL', cache)
  else
    hit = redis.call('GET', cache)
  end
  if hit then
    out[i] = hit
  else
    local owner = redis.call('GET', inflight)
    if owner and tonumber(owner) >= tonumber(ARGV[1]) - tonumber(ARGV[4]) then
      redis.call('RPUSH', waiters, ARGV[2] .. '\\n' .. ARGV[5 + i])
      redis.call('EXPIRE', waiters, ARGV[3])
      out[i] = 2
    else
      redis.call('SET', inflight, ARGV[1], 'EX', ARGV[3])
      out[i] = 0
    end
  end
end
return out
"""

# Release a judged chunk's cacheable tasks (the worker has already filled the cache
# and answered its replica with XADD, in the same pipeline, before this). KEYS: per
# task: inflight, waiters. Returns the 1-based indices of tasks that have waiters:
# those keep their marks until FINISH_WAITERS answers them; the others are released.
RELEASE = """
local waited = {}
for i = 1, #KEYS / 2 do
  if redis.call('LLEN', KEYS[2 * i]) > 0 then
    waited[#waited + 1] = i
  else
    redis.call('DEL', KEYS[2 * i - 1])
  end
end
return waited
"""

# Answer the replicas waiting for some tasks of a chunk, and release those tasks.
# KEYS: per task: inflight, waiters. ARGV: reply ttl s, then per task its encoded
# result. Only tasks with waiters come here (rare: identical tasks in flight at once).
FINISH_WAITERS = """
for i = 1, #KEYS / 2 do
  local ws = redis.call('LRANGE', KEYS[2 * i], 0, -1)
  redis.call('DEL', KEYS[2 * i - 1], KEYS[2 * i])
  for _, w in ipairs(ws) do
    local nl = string.find(w, '\\n', 1, true)
    local stream = string.sub(w, 1, nl - 1)
    redis.call('XADD', stream, '*', 't', string.sub(w, nl + 1), 'r', '[' .. ARGV[1 + i] .. ']')
    redis.call('EXPIRE', stream, ARGV[1])
  end
end
return 1
"""
