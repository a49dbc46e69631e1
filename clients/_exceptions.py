"""Exceptions raised by the Referee client.

    RefereeError                  base: catch this to handle every client failure
    ├── RequestRejected           a 4xx the caller caused (bad field, too big, bad key)
    ├── ServerError               the server answered 5xx without asking for a retry
    ├── ServerUnavailable         retries exhausted: connection errors, 429, 502/503/504
    └── DeadlineExceeded          the call's overall deadline passed

Item-level failures are not exceptions: they come back as results with
``status == "error"`` (see ``Result.error``).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DeadlineExceeded",
    "RefereeError",
    "RequestRejected",
    "ServerError",
    "ServerUnavailable",
]


class RefereeError(Exception):
    """Base of every exception the client raises."""


class RequestRejected(RefereeError):
    """The server refused the request as sent (a 4xx other than 429); retrying cannot help."""

    def __init__(self, status_code: int, detail: Any) -> None:
        self.status_code = status_code
        self.detail = detail
        super().__init__(f"HTTP {status_code}: {_describe(detail)}")


class ServerError(RefereeError):
    """The server failed in a way it did not mark as temporary (HTTP 500)."""

    def __init__(self, status_code: int, detail: Any) -> None:
        self.status_code = status_code
        self.detail = detail
        super().__init__(f"HTTP {status_code}: {_describe(detail)}")


class ServerUnavailable(RefereeError):
    """The server could not be reached, or kept answering 429/503, through every retry."""


class DeadlineExceeded(RefereeError):
    """The overall deadline of the call passed before every result arrived."""


def _describe(detail: Any) -> str:
    """FastAPI's ``detail`` (a string or a list of ``{loc, msg}``) as one line."""
    if isinstance(detail, list):
        parts = []
        for entry in detail:
            if isinstance(entry, dict):
                loc = ".".join(str(p) for p in entry.get("loc", ()) if p != "body")
                parts.append(f"{loc}: {entry.get('msg', '')}" if loc else str(entry.get("msg")))
            else:
                parts.append(str(entry))
        return "; ".join(parts)
    return str(detail)
