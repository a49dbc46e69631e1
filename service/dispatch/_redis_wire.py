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

A task entry's fields: ``d`` deadline (Unix time), ``rp`` reply stream, ``t`` the
replica's task id, ``p`` the encoded :class:`Task`, ``rid`` the request id (logs),
``k`` the cache key in hex (empty: not cacheable), ``h`` how many times a stopping
worker handed it back (added to the delivery count for the poison bound). A reply
entry's fields: ``t`` the task id, ``r`` the encoded :class:`TaskResult`.

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

from referee.service.dispatch._codec import WireError, decode_task, encode_task
from referee.service.dispatch._task import Task

__all__ = ["FINISH", "SUBMIT", "BadEntry", "Keys", "TaskEntry"]

_TID = re.compile(r"[0-9a-f]{1,16}")
_REPLICA = re.compile(r"[0-9a-f]{1,64}")
_KEY = re.compile(r"(?:[0-9a-f]{40})?")
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

    ``reply`` and ``tid`` (both or neither) say where an error answer can go; ``key``
    is the entry's cache key when it is well formed (its waiters get the answer too).
    """

    def __init__(self, message: str, reply: str = "", tid: str = "", key: str = "") -> None:
        super().__init__(message)
        self.reply = reply if tid else ""
        self.tid = tid if reply else ""
        self.key = key
        self.rid = ""


@dataclass(frozen=True, slots=True)
class TaskEntry:
    """A task as read from the stream by a worker."""

    id: str
    deadline: float
    reply: str
    tid: str
    task: Task
    rid: str
    key: str
    handbacks: int

    @staticmethod
    def parse(entry_id: bytes | str, fields: dict[bytes, bytes], keys: Keys) -> TaskEntry:
        """Check and decode an entry; BadEntry (never anything else) if it is malformed."""
        eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        reply = _text(fields.get(b"rp"))
        prefix = keys.reply("")
        if not (reply.startswith(prefix) and _REPLICA.fullmatch(reply[len(prefix) :])):
            reply = ""
        tid = _text(fields.get(b"t"))
        tid = tid if _TID.fullmatch(tid) else ""
        key = _text(fields.get(b"k"))
        key = key if _KEY.fullmatch(key) else ""
        try:
            if not reply or not tid:
                raise WireError("no valid reply stream and task id")
            if not _REQUIRED <= fields.keys() <= _FIELDS:
                raise WireError(f"fields {sorted(fields)!r:.200}")
            if _text(fields.get(b"k")) != key:
                raise WireError("k is not a cache key")
            deadline = float(fields[b"d"])
            if not math.isfinite(deadline):
                raise WireError("d is not a finite time")
            handbacks = int(fields.get(b"h", b"0"))
            if handbacks < 0:
                raise WireError("h is negative")
            rid = fields.get(b"rid", b"").decode()
            task = decode_task(fields[b"p"])
        except (WireError, ValueError, TypeError, AttributeError) as exc:
            bad = BadEntry(f"entry {eid}: {exc}", reply, tid, key)
            bad.rid = _text(fields.get(b"rid"))
            raise bad from None
        return TaskEntry(eid, deadline, reply, tid, task, rid, key, handbacks)

    def fields(self, *, handbacks: int | None = None) -> dict[Any, Any]:
        return {
            "d": repr(self.deadline),
            "rp": self.reply,
            "t": self.tid,
            "p": encode_task(self.task),
            "rid": self.rid,
            "k": self.key,
            "h": str(self.handbacks if handbacks is None else handbacks),
        }


def _text(value: Any) -> str:
    if not isinstance(value, bytes):
        return ""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return ""


# Submit one task. KEYS: tasks, cache, inflight, waiters.
# ARGV: deadline, reply stream, tid, encoded task, request id, key hex ('' = no cache
# and no de-duplication), inflight ttl s, handbacks, slack s, fresh ('1': the cached
# value was unreadable: delete it rather than read it).
# Returns {1, cached} on a cache hit, {2} when an identical task is queued with a
# deadline no more than `slack` earlier than ours (we wait for its result: should it
# expire unjudged, we get its deadline error that much early), {0} when queued.
SUBMIT = """
if ARGV[6] ~= '' then
  if ARGV[10] == '1' then
    redis.call('DEL', KEYS[2])
  else
    local hit = redis.call('GET', KEYS[2])
    if hit then return {1, hit} end
  end
  local owner = redis.call('GET', KEYS[3])
  if owner and tonumber(owner) >= tonumber(ARGV[1]) - tonumber(ARGV[9]) then
    redis.call('RPUSH', KEYS[4], ARGV[2] .. '\\n' .. ARGV[3])
    redis.call('EXPIRE', KEYS[4], ARGV[7])
    return {2}
  end
  redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[7])
end
redis.call('XADD', KEYS[1], '*', 'd', ARGV[1], 'rp', ARGV[2], 't', ARGV[3], 'p', ARGV[4],
           'rid', ARGV[5], 'k', ARGV[6], 'h', ARGV[8])
return {0}
"""

# Finish one task: answer its replica and every waiter, fill the cache, ack and delete
# the entry. Idempotent: a late duplicate re-sends an equal result nobody waits for.
# KEYS: tasks, reply stream, cache, inflight, waiters, stats.
# ARGV: group, entry id, tid, encoded result, cacheable '1'/'0', cache ttl s,
# reply ttl s, key hex ('' = none).
FINISH = """
redis.call('XADD', KEYS[2], '*', 't', ARGV[3], 'r', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[7])
if ARGV[8] ~= '' then
  if ARGV[5] == '1' then redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[6]) end
  local waiters = redis.call('LRANGE', KEYS[5], 0, -1)
  redis.call('DEL', KEYS[4], KEYS[5])
  for _, w in ipairs(waiters) do
    local nl = string.find(w, '\\n', 1, true)
    local stream = string.sub(w, 1, nl - 1)
    redis.call('XADD', stream, '*', 't', string.sub(w, nl + 1), 'r', ARGV[4])
    redis.call('EXPIRE', stream, ARGV[7])
  end
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[6], 'done', 1)
return 1
"""
