"""In-process LRU cache of judgements, keyed by a content hash.

The key covers everything the grade depends on (verifier name and version,
params, the extracted answer or program, the reference, and the context when the
verifier reads it), so a hit is the judgement a worker would have made.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cachetools import LRUCache

from referee.service.dispatch._task import Task, TaskResult
from referee.verifiers import Outcome, Verifier

__all__ = ["ResultCache", "cache_key", "is_cacheable"]

_NOT_CACHED = frozenset({Outcome.TIMEOUT, Outcome.MEMORY_LIMIT})


def cache_key(verifier: Verifier[Any], task: Task) -> bytes:
    """Content hash of a task: equal keys are judged identically."""
    h = hashlib.blake2b(digest_size=20)
    for part in (
        verifier.name,
        verifier.version,
        repr(task.params),
        json.dumps(task.reference, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        repr(task.context) if verifier.grade_uses_context else "",
        task.extracted,
    ):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


def is_cacheable(result: TaskResult) -> bool:
    """Only real, reproducible judgements are kept: not errors, not resource limits."""
    return (
        result.status == "ok"
        and result.score is not None
        and result.score.outcome not in _NOT_CACHED
    )


class ResultCache:
    """An LRU of ``TaskResult`` by key; ``maxsize`` 0 disables it."""

    def __init__(self, maxsize: int) -> None:
        self._lru: LRUCache[bytes, TaskResult] | None = LRUCache(maxsize) if maxsize > 0 else None

    def get(self, key: bytes) -> TaskResult | None:
        return None if self._lru is None else self._lru.get(key)

    def put(self, key: bytes, result: TaskResult) -> None:
        if self._lru is not None and is_cacheable(result):
            self._lru[key] = result

    def __len__(self) -> int:
        return 0 if self._lru is None else len(self._lru)
