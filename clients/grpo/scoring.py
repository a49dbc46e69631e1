"""Scoring a group of completions through the Referee server.

The trainer sees only ``Scorer``: an async callable from a prompt and its
samples to one ``Reward`` each. ``RefereeScorer`` is the real one, a thin
wrapper over ``referee.clients.AsyncRefereeClient``; tests of the trainer's
own logic pass a stand-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from referee.clients import AsyncRefereeClient, Item
from referee.clients.grpo.config import ServerConfig
from referee.clients.grpo.data import PromptRow
from referee.clients.grpo.generation import Sample

__all__ = ["RefereeScorer", "Reward", "Scorer"]


@dataclass(frozen=True)
class Reward:
    """A sample's reward; ``reward`` is None when the server could not judge it."""

    reward: float | None
    outcome: str

    @property
    def ok(self) -> bool:
        return self.reward is not None


class Scorer(Protocol):
    async def __call__(self, row: PromptRow, samples: Sequence[Sample]) -> list[Reward]: ...

    async def aclose(self) -> None: ...


class RefereeScorer:
    """Sends each group to ``POST /score`` with the run's default verifier spec."""

    def __init__(self, cfg: ServerConfig, verifier: Any) -> None:
        self._client = AsyncRefereeClient(
            url=cfg.url, api_key=cfg.api_key, timeout_s=cfg.timeout_s, retries=cfg.retries
        )
        self._verifier = verifier

    async def __call__(self, row: PromptRow, samples: Sequence[Sample]) -> list[Reward]:
        items = [
            Item(
                response=s.text,
                reference=row.reference,
                id=f"p{row.index}-s{i}",
                prompt=row.prompt,
                verifier=row.verifier,
                completion_tokens=len(s.completion_ids),
            )
            for i, s in enumerate(samples)
        ]
        results = await self._client.score(items, verifier=self._verifier)
        return [
            Reward(r.reward, r.outcome or "")
            if r.ok
            else Reward(None, f"error:{r.error.kind if r.error else 'unknown'}")
            for r in results
        ]

    async def aclose(self) -> None:
        await self._client.aclose()
