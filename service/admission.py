"""Admission control: refuse work the server cannot start soon, instead of queueing it.

A scoring request (any POST) is admitted while the queued work is under
``max_queued_items``: tasks dispatched and not yet judged by this server's pool,
or, scaled out, the entries of the shared Redis task stream. Over it the answer is
429 with a ``Retry-After`` from the observed drain rate. Scaled out, a replica
that cannot reach Redis, or sees no worker, answers 503 (retryable) at once.
"""

from __future__ import annotations

import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from referee.service.auth import send_json
from referee.service.dispatch.redis_streams import RedisDispatcher
from referee.service.metrics import Metrics

__all__ = ["AdmissionMiddleware"]

_SAMPLE_S = 0.25
_ALPHA = 0.3  # weight of the newest drain-rate sample


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, max_queued_items: int, metrics: Metrics) -> None:
        self.app = app
        self.max_queued = max_queued_items
        self.metrics = metrics
        self._sampled = 0.0
        self._completed = 0
        self._queued = 0
        self._rate = 0.0  # items/s, smoothed

    def _sample(self, pool: object) -> None:
        now = time.monotonic()
        if now - self._sampled < _SAMPLE_S:
            return
        if isinstance(pool, RedisDispatcher):
            queued, completed = pool.stats.depth, pool.completed
        else:
            queued = int(self.metrics.registry.get_sample_value("referee_items_in_flight") or 0)
            completed = int(getattr(pool, "completed", 0))
        if self._sampled:
            rate = max(0, completed - self._completed) / (now - self._sampled)
            self._rate = rate if not self._rate else _ALPHA * rate + (1 - _ALPHA) * self._rate
        self._sampled, self._completed, self._queued = now, completed, queued

    def retry_after(self) -> int:
        """Seconds until the queue should be back under its bound at the observed rate."""
        if self._rate < 1e-3:
            return 5
        excess = self._queued - 0.9 * self.max_queued
        return max(1, min(60, math.ceil(excess / self._rate)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        engine = getattr(scope["app"].state, "engine", None)
        if engine is None:
            await self.app(scope, receive, send)
            return
        pool = engine.pool
        if isinstance(pool, RedisDispatcher) and pool.alive == 0:
            reason = "no worker is serving" if pool.stats.connected else "redis is unreachable"
            self.metrics.rejected.labels("503", "unavailable").inc()
            await send_json(
                send, 503, f"backend unavailable: {reason}; retry", {"Retry-After": "1"}
            )
            return
        self._sample(pool)
        if self._queued >= self.max_queued:
            self.metrics.rejected.labels("429", "queue_full").inc()
            await send_json(
                send,
                429,
                f"over capacity: {self._queued} items queued, the limit is max_queued_items="
                f"{self.max_queued} (setting REFEREE_MAX_QUEUED_ITEMS); retry later",
                {"Retry-After": str(self.retry_after())},
            )
            return
        await self.app(scope, receive, send)
