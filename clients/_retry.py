"""When to retry a request and how long to wait: shared by the async and blocking clients."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from referee.clients._exceptions import (
    DeadlineExceeded,
    RequestRejected,
    ServerError,
    ServerUnavailable,
)

__all__ = ["Attempts", "RetryPolicy"]

# 429: admission control or a key's rate limit; 502/504: a proxy in front lost the
# server; 503: the server cannot score now (starting, Redis down). All temporary.
RETRY_STATUS = frozenset({408, 429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a server's Retry-After is honoured."""

    retries: int = 5
    backoff_s: float = 0.2
    max_backoff_s: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # At least what the server asked for, plus a little spread so that
            # clients turned away together do not come back together.
            return retry_after + random.uniform(0, self.backoff_s)
        return random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2**attempt))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Attempts:
    """The retry state of one request: call ``check`` on each answer, ``failed`` on each error.

    Both return the seconds to wait before the next attempt, or raise when there is none.
    """

    def __init__(self, policy: RetryPolicy, deadline: float | None, timeout_s: float) -> None:
        self.policy = policy
        self.deadline = deadline
        self.timeout_s = timeout_s
        self.attempt = 0
        self.last: str = ""

    def timeout(self) -> float:
        """Per-attempt timeout: the client's, shortened to what is left of the deadline."""
        if self.deadline is None:
            return self.timeout_s
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"deadline passed ({self.last or 'before the first attempt'})")
        return min(self.timeout_s, left)

    def check(self, response: httpx.Response) -> float | None:
        """None when ``response`` is the answer; else the wait before retrying."""
        status = response.status_code
        if status < 400:
            return None
        detail = _detail(response)
        if status in RETRY_STATUS:
            self.last = f"HTTP {status}: {detail}"
            return self._next(parse_retry_after(response.headers.get("retry-after")))
        if status < 500:
            raise RequestRejected(status, detail)
        raise ServerError(status, detail)

    def failed(self, exc: httpx.TransportError) -> float:
        """The wait before retrying after a connection-level error."""
        self.last = f"{type(exc).__name__}: {exc}"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceeded(f"deadline passed ({self.last})") from exc
        return self._next(None)

    def _next(self, retry_after: float | None) -> float:
        if self.attempt >= self.policy.retries:
            raise ServerUnavailable(f"gave up after {self.attempt + 1} attempts; last: {self.last}")
        wait = self.policy.delay(self.attempt, retry_after)
        self.attempt += 1
        if self.deadline is not None and time.monotonic() + wait >= self.deadline:
            raise DeadlineExceeded(f"deadline would pass while waiting to retry ({self.last})")
        return wait


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    return body
