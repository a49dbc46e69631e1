"""Clients kept for the life of a process by the adapters whose trainers call plain functions."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from referee.clients._client import AsyncRefereeClient, RefereeClient

__all__ = ["LoopClients", "shared_client"]

K = TypeVar("K")

_lock = threading.Lock()
_clients: dict[str | None, RefereeClient] = {}


def shared_client(url: str | None) -> RefereeClient:
    """One blocking client per server URL for the process (thread-safe)."""
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = RefereeClient(url)
        return client


class LoopClients:
    """Async clients by event loop: an httpx.AsyncClient belongs to the loop it first ran on."""

    def __init__(self) -> None:
        self.entries: dict[tuple[int, object], tuple[asyncio.AbstractEventLoop, AsyncRefereeClient]]
        self.entries = {}

    def get(self, key: object, make: Callable[[], AsyncRefereeClient]) -> AsyncRefereeClient:
        """The client for ``key`` on the running loop, made by ``make`` the first time."""
        loop = asyncio.get_running_loop()
        entry = self.entries.get((id(loop), key))
        if entry is None or entry[0] is not loop:
            entry = self.entries[(id(loop), key)] = (loop, make())
        return entry[1]
