"""Referee as a reward function of TRL's ``GRPOTrainer``.

    from referee.clients.trl import reward_function
    trainer = GRPOTrainer(..., reward_funcs=[reward_function("http://127.0.0.1:8000", "math")])

TRL calls a reward function as ``f(prompts, completions, completion_ids, **columns)``
with every dataset column as a keyword list, and turns a ``None`` reward into NaN,
which it leaves out of the group's statistics. Referee's errored items become
``None``: an infrastructure fault is never trained on as reward 0. A coroutine
reward function (``asynchronous=True``) runs concurrently with TRL's other
asynchronous reward functions.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from referee.clients._client import AsyncRefereeClient, RefereeClient
from referee.clients._shared import LoopClients
from referee.clients._text import message_text
from referee.clients._types import Item, Result

__all__ = ["AsyncRefereeReward", "RefereeReward", "reward_function"]


class _Spec:
    """How a TRL batch becomes Referee items; shared by the blocking and async forms."""

    def __init__(
        self,
        url: str | None,
        verifier: Any,
        reference_column: str | None,
        verifier_column: str | None,
        name: str | None,
        send_prompts: bool,
        client_options: dict[str, Any],
    ) -> None:
        self.url = url
        self.verifier = verifier
        self.reference_column = reference_column
        self.verifier_column = verifier_column
        self.send_prompts = send_prompts
        self.client_options = client_options
        self.__name__ = name or _default_name(verifier)

    def items(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None,
        columns: dict[str, Any],
    ) -> list[Item]:
        references = self._column(self.reference_column, columns, len(completions))
        verifiers = self._column(self.verifier_column, columns, len(completions))
        return [
            Item(
                response=message_text(completion, last_only=True),
                reference=references[i] if references is not None else None,
                prompt=message_text(prompts[i], last_only=False) if self.send_prompts else None,
                verifier=verifiers[i] if verifiers is not None else None,
                completion_tokens=len(completion_ids[i]) if completion_ids is not None else None,
            )
            for i, completion in enumerate(completions)
        ]

    @staticmethod
    def _column(name: str | None, columns: dict[str, Any], n: int) -> Sequence[Any] | None:
        if name is None:
            return None
        if name not in columns:
            available = sorted(k for k in columns if k not in _TRL_KWARGS)
            raise KeyError(
                f"column {name!r} is not in the batch; dataset columns passed by the trainer: "
                f"{available}"
            )
        values: Sequence[Any] = columns[name]
        if len(values) != n:
            raise ValueError(f"column {name!r} has {len(values)} values for {n} completions")
        return values

    def rewards(self, results: Sequence[Result], columns: dict[str, Any]) -> list[float | None]:
        log_metric: Callable[[str, float], None] | None = columns.get("log_metric")
        if callable(log_metric) and results:
            n = len(results)
            outcomes = Counter(r.outcome if r.ok else "error" for r in results)
            for outcome, count in sorted(outcomes.items()):
                log_metric(f"{self.__name__}/outcome/{outcome}", float(count))
            log_metric(f"{self.__name__}/cache_hit_share", sum(r.cached for r in results) / n)
            log_metric(f"{self.__name__}/error_share", outcomes.get("error", 0) / n)
        return [r.reward if r.ok else None for r in results]


# Keyword arguments TRL adds beside the dataset columns.
_TRL_KWARGS = frozenset({"trainer_state", "log_extra", "log_metric", "environments"})


def _default_name(verifier: Any) -> str:
    if isinstance(verifier, str):
        return f"referee_{verifier}"
    if isinstance(verifier, dict) and isinstance(verifier.get("name"), str):
        return f"referee_{verifier['name']}"
    return "referee"


class RefereeReward(_Spec):
    """A blocking reward function for ``GRPOTrainer(reward_funcs=[...])``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._client: RefereeClient | None = None
        self._lock = threading.Lock()

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        items = self.items(prompts, completions, completion_ids, columns)
        with self._lock:
            if self._client is None:
                self._client = RefereeClient(self.url, **self.client_options)
        results = self._client.score(items, self.verifier)
        return self.rewards(results, columns)

    def close(self) -> None:
        """Close the connections to the server (a later call reopens them)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __getstate__(self) -> dict[str, Any]:
        # Picklable for trainers that ship reward functions to other processes.
        state = self.__dict__.copy()
        state["_client"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


class AsyncRefereeReward(_Spec):
    """A coroutine reward function; TRL awaits it beside its other async reward functions."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._clients = LoopClients()

    async def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        items = self.items(prompts, completions, completion_ids, columns)
        client = self._clients.get(
            None, lambda: AsyncRefereeClient(self.url, **self.client_options)
        )
        results = await client.score(items, self.verifier)
        return self.rewards(results, columns)

    def close(self) -> None:
        """Close the connections to the server, on the event loops they belong to."""
        clients, self._clients = list(self._clients.entries.values()), LoopClients()
        for loop, client in clients:
            if loop.is_closed():
                continue
            if loop.is_running():  # e.g. the trainer's background loop
                asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=10)
            else:
                loop.run_until_complete(client.aclose())

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_clients"] = LoopClients()
        return state


def reward_function(
    url: str | None = None,
    verifier: Any = "math",
    reference_column: str | None = "solution",
    *,
    verifier_column: str | None = None,
    name: str | None = None,
    asynchronous: bool = False,
    send_prompts: bool = False,
    **client_options: Any,
) -> RefereeReward | AsyncRefereeReward:
    """A TRL reward function scoring completions with a Referee server.

    ``url`` defaults to ``$REFEREE_URL``; ``verifier`` is the spec for every item
    (a name, a component dict or a list), unless ``verifier_column`` names a dataset
    column holding a spec per row. The reference comes from ``reference_column``
    (``None``: no reference). ``name`` is what TRL logs (default ``referee_<verifier>``).
    ``client_options`` go to the client (``api_key``, ``batch_size``, ``deadline_s``...).
    With ``asynchronous=True`` the function is a coroutine.
    """
    cls = AsyncRefereeReward if asynchronous else RefereeReward
    return cls(url, verifier, reference_column, verifier_column, name, send_prompts, client_options)
