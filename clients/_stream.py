"""``POST /score`` as NDJSON: results in completion order, each with its ``index``.

A request whose answer breaks off mid-stream (connection lost, or a final
``{"error": ...}`` line marked retryable) is sent again with only the items
whose results did not arrive; the server's result cache makes that cheap.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from referee.clients._exceptions import RefereeError, ServerError
from referee.clients._retry import Attempts
from referee.clients._types import Result

__all__ = ["NDJSON", "stream_body"]

NDJSON = "application/x-ndjson"


async def stream_body(
    http: httpx.AsyncClient, body: dict[str, Any], offset: int, attempts: Attempts
) -> AsyncIterator[tuple[int, Result]]:
    """``(offset + index, result)`` for every item of ``body``, as each is judged."""
    remaining = list(range(len(body["items"])))  # positions in body not yet answered
    while remaining:
        sent = remaining
        request = {**body, "items": [body["items"][p] for p in sent]}
        answered: set[int] = set()
        wait: float | None = None
        try:
            async with http.stream(
                "POST",
                "/score",
                json=request,
                headers={"accept": NDJSON},
                timeout=attempts.timeout(),
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    wait = attempts.check(response)
                else:
                    async for line in response.aiter_lines():
                        if not line.strip():
                            continue
                        data = json.loads(line)
                        if "index" not in data:
                            wait = _broken_off(data, attempts)
                            break
                        position = sent[data["index"]]
                        answered.add(position)
                        yield offset + position, Result.from_wire(data)
        except httpx.TransportError as exc:
            wait = attempts.failed(exc)
        remaining = [p for p in sent if p not in answered]
        if remaining:
            if wait is None:
                raise RefereeError(f"the stream ended with {len(remaining)} results missing")
            await asyncio.sleep(wait)


def _broken_off(data: dict[str, Any], attempts: Attempts) -> float:
    error = data.get("error") or {}
    if not isinstance(error, dict) or not error.get("retryable"):
        raise ServerError(500, error)
    return attempts.failed(httpx.RemoteProtocolError(str(error.get("message", "stream failed"))))
