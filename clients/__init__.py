"""Python clients of a Referee server, and adapters for trainers.

Importing this package needs only httpx and the standard library, so a trainer's
environment can use it without the server's dependencies.
"""

from referee.clients._client import DEFAULT_URL, AsyncRefereeClient, RefereeClient
from referee.clients._exceptions import (
    DeadlineExceeded,
    RefereeError,
    RequestRejected,
    ServerError,
    ServerUnavailable,
)
from referee.clients._types import Component, ErrorInfo, Item, Result, VerifierRef

__all__ = [
    "DEFAULT_URL",
    "AsyncRefereeClient",
    "Component",
    "DeadlineExceeded",
    "ErrorInfo",
    "Item",
    "RefereeClient",
    "RefereeError",
    "RequestRejected",
    "Result",
    "ServerError",
    "ServerUnavailable",
    "VerifierRef",
]
