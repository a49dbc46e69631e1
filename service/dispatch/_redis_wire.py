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

__all__ = ["FINISH", "SUBMIT", "BadEntry", "Keys", "TaskEntry", "TaskItem"]

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


# Submit a chunk of tasks as one entry. KEYS: tasks, then per task: cache, inflight,
# waiters. ARGV: deadline, reply stream, request id, inflight ttl s, handbacks, slack s,
# fresh ('1': a cached value was unreadable: delete it rather than read it), then per
# task: tid, key hex ('' = no cache and no de-duplication), encoded task.
# Returns one reply per task: the cached value on a cache hit, 2 when an identical task
# is queued with a deadline no more than `slack` earlier than ours (we wait for its
# result: should it expire unjudged, we get its deadline error that much early), 0 when
# it goes into this chunk's entry (added only if some task does).
SUBMIT = """
local out, tids, ks, ps = {}, {}, {}, {}
local n = (#ARGV - 7) / 3
for i = 1, n do
  local tid, key, task = ARGV[5 + 3 * i], ARGV[6 + 3 * i], ARGV[7 + 3 * i]
  local cache, inflight, waiters = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local state = 0
  if key ~= '' then
    local hit = false
    if ARGV[7] == '1' then
      redis.call('DEL', cache)
    else
      hit = redis.call('GET', cache)
    end
    if hit then
      state = hit
    else
      local owner = redis.call('GET', inflight)
      if owner and tonumber(owner) >= tonumber(ARGV[1]) - tonumber(ARGV[6]) then
        redis.call('RPUSH', waiters, ARGV[2] .. '\\n' .. tid)
        redis.call('EXPIRE', waiters, ARGV[4])
        state = 2
      else
        redis.call('SET', inflight, ARGV[1], 'EX', ARGV[4])
      end
    end
  end
  out[i] = state
  if state == 0 then
    tids[#tids + 1] = tid
    ks[#ks + 1] = key
    ps[#ps + 1] = task
  end
end
if #tids > 0 then
  redis.call('XADD', KEYS[1], '*', 'd', ARGV[1], 'rp', ARGV[2], 't', table.concat(tids, ','),
             'p', '[' .. table.concat(ps, ',') .. ']', 'rid', ARGV[3],
             'k', table.concat(ks, ','), 'h', ARGV[5])
end
return out
"""

# Finish a chunk: answer its replica in one entry and every waiter, fill the cache, ack
# and delete the entry. Idempotent: a late duplicate re-sends equal results nobody waits
# for. KEYS: tasks, reply stream, stats, then per task: cache, inflight, waiters.
# ARGV: group, entry id, cache ttl s, reply ttl s, then per task: tid, key hex
# ('' = none), cacheable '1'/'0', encoded result.
FINISH = """
local tids, rs = {}, {}
local n = (#ARGV - 4) / 4
for i = 1, n do
  local key, cacheable, result = ARGV[2 + 4 * i], ARGV[3 + 4 * i], ARGV[4 + 4 * i]
  tids[i] = ARGV[1 + 4 * i]
  rs[i] = result
  if key ~= '' then
    local cache, inflight, waiters = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
    if cacheable == '1' then redis.call('SET', cache, result, 'EX', ARGV[3]) end
    local ws = redis.call('LRANGE', waiters, 0, -1)
    if #ws > 0 then
      redis.call('DEL', inflight, waiters)
      for _, w in ipairs(ws) do
        local nl = string.find(w, '\\n', 1, true)
        local stream = string.sub(w, 1, nl - 1)
        redis.call('XADD', stream, '*', 't', string.sub(w, nl + 1), 'r', '[' .. result .. ']')
        redis.call('EXPIRE', stream, ARGV[4])
      end
    else
      redis.call('DEL', inflight)
    end
  end
end
if n > 0 then
  redis.call('XADD', KEYS[2], '*', 't', table.concat(tids, ','),
             'r', '[' .. table.concat(rs, ',') .. ']')
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'done', n)
return 1
"""
