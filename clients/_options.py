"""What the HTTP and gRPC clients share: batching, concurrency, retries, deadline, key."""

from __future__ import annotations

import os
import time

from referee.clients._retry import RetryPolicy

__all__ = ["ClientOptions"]


class ClientOptions:
    """Validated options of one client; ``api_key`` falls back to ``$REFEREE_API_KEY``."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        batch_size: int = 1024,
        concurrency: int = 8,
        retries: int = 5,
        backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
        deadline_s: float | None = None,
        timeout_s: float = 300.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.api_key = api_key if api_key is not None else os.environ.get("REFEREE_API_KEY")
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.policy = RetryPolicy(retries, backoff_s, max_backoff_s)
        self.deadline_s = deadline_s
        self.timeout_s = timeout_s

    def _deadline(self, deadline_s: float | None) -> float | None:
        """The monotonic deadline of one call: its own budget, else the client's."""
        budget = deadline_s if deadline_s is not None else self.deadline_s
        return None if budget is None else time.monotonic() + budget
