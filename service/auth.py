"""API keys: ``Authorization: Bearer <key>``, checked against configured sha256 digests.

Keys are never stored, only their sha256 hex digests (``REFEREE_API_KEY_HASHES``,
comma-separated, and/or ``REFEREE_API_KEY_FILE``, one a line); ``referee hash-key``
prints the digest of a key. Each key has a request rate (token bucket) and a bound
on its concurrent requests, per API replica. ``/healthz`` and ``/readyz`` stay open.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from referee.service.metrics import Metrics

__all__ = ["AuthMiddleware", "KeyLimits", "hash_key", "load_key_hashes"]

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


def hash_key(key: str) -> str:
    """The digest to configure for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def load_key_hashes(inline: str, path: str | None) -> frozenset[str]:
    """Digests from the setting and the file; a malformed one is a startup error."""
    found: list[str] = [h.strip().lower() for h in inline.split(",") if h.strip()]
    if path:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            text = line.split("#", 1)[0].strip().lower()
            if text:
                found.append(text.split()[0])
    for digest in found:
        if not _HEX64.fullmatch(digest):
            raise ValueError(
                f"API key digest {digest[:12]}... is not 64 hex digits; "
                "make one with `referee hash-key`"
            )
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class KeyLimits:
    requests_per_s: float = 50.0  # 0: no rate limit
    burst: int = 100
    max_inflight: int = 32  # 0: no limit


@dataclass(slots=True)
class _KeyState:
    tokens: float
    updated: float = field(default_factory=time.monotonic)
    inflight: int = 0


async def send_json(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """401 without a valid key; 429 past the key's rate or concurrency."""

    def __init__(
        self, app: ASGIApp, hashes: frozenset[str], limits: KeyLimits, metrics: Metrics
    ) -> None:
        self.app = app
        self.hashes = hashes
        self.limits = limits
        self.metrics = metrics
        self._keys: dict[str, _KeyState] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.hashes or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        token = ""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, rest = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    token = rest.strip()
                break
        digest = hash_key(token) if token else ""
        if digest not in self.hashes:
            self.metrics.rejected.labels("401", "api_key").inc()
            detail = (
                "invalid API key" if token else "missing API key: send Authorization: Bearer <key>"
            )
            await send_json(send, 401, detail, {"WWW-Authenticate": "Bearer"})
            return
        state = self._keys.get(digest)
        if state is None:
            state = self._keys[digest] = _KeyState(float(self.limits.burst))
        limits = self.limits
        if limits.requests_per_s > 0:
            now = time.monotonic()
            state.tokens = min(
                float(limits.burst), state.tokens + (now - state.updated) * limits.requests_per_s
            )
            state.updated = now
            if state.tokens < 1.0:
                wait = math.ceil((1.0 - state.tokens) / limits.requests_per_s)
                self.metrics.rejected.labels("429", "key_rate").inc()
                await send_json(
                    send,
                    429,
                    f"this API key is over its rate of {limits.requests_per_s:g} requests/s "
                    f"(burst {limits.burst}; settings REFEREE_KEY_REQUESTS_PER_S, "
                    "REFEREE_KEY_BURST)",
                    {"Retry-After": str(max(1, wait))},
                )
                return
            state.tokens -= 1.0
        if 0 < limits.max_inflight <= state.inflight:
            self.metrics.rejected.labels("429", "key_inflight").inc()
            await send_json(
                send,
                429,
                f"this API key has {state.inflight} requests in flight, its limit "
                "(setting REFEREE_KEY_MAX_INFLIGHT)",
                {"Retry-After": "1"},
            )
            return
        state.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            state.inflight -= 1
