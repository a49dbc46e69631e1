"""API keys on HTTP: ``Authorization: Bearer <key>``, checked by the edge's key gate.

Keys are never stored, only their sha256 hex digests (``REFEREE_API_KEY_HASHES``,
comma-separated, and/or ``REFEREE_API_KEY_FILE``, one a line); ``referee hash-key``
prints the digest of a key. Each key has a request rate (token bucket) and a bound
on its concurrent requests, per API replica, shared with gRPC (``edge.KeyGate``).
``/healthz`` and ``/readyz`` stay open.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from referee.service.edge import HTTP_STATUS, KeyGate, Kind, Refusal, hash_key

__all__ = ["AuthMiddleware", "hash_key", "load_key_hashes", "send_json", "send_refusal"]

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


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


async def send_refusal(send: Send, refusal: Refusal) -> None:
    """The edge's refusal as HTTP: its status, ``{"detail": message}``, its headers."""
    headers: dict[str, str] = {}
    if refusal.kind is Kind.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = "Bearer"
    if refusal.retry_after_s is not None:
        headers["Retry-After"] = str(refusal.retry_after_s)
    await send_json(send, HTTP_STATUS[refusal.kind], refusal.message, headers)


async def send_json(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """401 without a valid key; 429 past the key's rate or concurrency (the edge's gate)."""

    def __init__(self, app: ASGIApp, gate: KeyGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.gate.open or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        token = ""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, rest = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    token = rest.strip()
                break
        digest = self.gate.identify(token, "Authorization: Bearer <key>")
        if isinstance(digest, Refusal):
            await send_refusal(send, digest)
            return
        refusal = self.gate.acquire(digest)
        if refusal is not None:
            await send_refusal(send, refusal)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.release(digest)
