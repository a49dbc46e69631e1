"""What API replicas and ``referee worker`` processes share in Redis: keys, entries, scripts.

Every key lives under one prefix (``REFEREE_REDIS_PREFIX``, default ``referee``):

=============================  ==============================================================
``{p}:tasks``                  stream of tasks, read by the consumer group ``{p}:judges``
``{p}:reply:{replica}``        stream of results for one API replica (expires when idle)
``{p}:alive``                  sorted set of worker heartbeats: ``consumer|concurrency``
``{p}:cache:{key}``            a cached judgement (``SET ... EX``), pickled ``TaskResult``
``{p}:inflight:{key}``         an identical task is queued; value: its latest deadline
``{p}:waiters:{key}``          replicas waiting for that task's result: ``stream\\ntid``
``{p}:stats``                  hash of counters (``done``: tasks finished, all workers)
=============================  ==============================================================

A task entry's fields: ``d`` deadline (Unix time), ``rp`` reply stream, ``t`` the
replica's task id, ``p`` the pickled :class:`Task`, ``rid`` the request id (logs),
``k`` the cache key in hex (empty: not cacheable), ``h`` how many times a stopping
worker handed it back (added to the delivery count for the poison bound).

Pickle crosses Redis in both directions: Redis is inside the trust boundary (anyone
who can write to it can run code on workers). Give it a password and a private network.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

from referee.service.dispatch._task import Task, TaskResult

__all__ = ["FINISH", "SUBMIT", "Keys", "TaskEntry", "dumps_result", "loads_result"]


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
    def parse(entry_id: bytes | str, fields: dict[bytes, bytes]) -> TaskEntry:
        eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        return TaskEntry(
            eid,
            float(fields[b"d"]),
            fields[b"rp"].decode(),
            fields[b"t"].decode(),
            pickle.loads(fields[b"p"]),
            fields.get(b"rid", b"").decode(),
            fields.get(b"k", b"").decode(),
            int(fields.get(b"h", b"0")),
        )

    def fields(self, *, handbacks: int | None = None) -> dict[Any, Any]:
        return {
            "d": repr(self.deadline),
            "rp": self.reply,
            "t": self.tid,
            "p": pickle.dumps(self.task, protocol=pickle.HIGHEST_PROTOCOL),
            "rid": self.rid,
            "k": self.key,
            "h": str(self.handbacks if handbacks is None else handbacks),
        }


def dumps_result(result: TaskResult) -> bytes:
    return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)


def loads_result(data: bytes) -> TaskResult:
    result = pickle.loads(data)
    if not isinstance(result, TaskResult):
        raise TypeError(f"not a TaskResult: {type(result).__name__}")
    return result


# Submit one task. KEYS: tasks, cache, inflight, waiters.
# ARGV: deadline, reply stream, tid, pickled task, request id, key hex ('' = no cache
# and no de-duplication), inflight ttl s, handbacks, slack s.
# Returns {1, cached} on a cache hit, {2} when an identical task is queued with a
# deadline no more than `slack` earlier than ours (we wait for its result: should it
# expire unjudged, we get its deadline error that much early), {0} when queued.
SUBMIT = """
if ARGV[6] ~= '' then
  local hit = redis.call('GET', KEYS[2])
  if hit then return {1, hit} end
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
# ARGV: group, entry id, tid, pickled result, cacheable '1'/'0', cache ttl s,
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
