"""Referee as veRL's custom reward function.

In the veRL config::

    custom_reward_function:
      path: /path/reward.py        # holds: from referee.clients.verl import compute_score
      name: compute_score
      reward_kwargs:               # optional; each also has an environment variable
        url: http://127.0.0.1:8000 # REFEREE_URL
        verifier: math             # REFEREE_VERIFIER: spec for every data_source ...
        verifiers:                 # ... unless its data_source is mapped here
          openai/gsm8k: math
          codecontests: code

``compute_score`` returns ``{"score", "acc", "cached", "error"}``; veRL uses
``score`` as the reward and logs the rest. ``compute_score_batch`` is the
``BatchRewardManager`` form and ``compute_score_async`` the coroutine form (veRL
awaits it without a thread). An item Referee could not judge raises
``RefereeError``: veRL has no way to leave one sample out, and a fake reward
would train on an infrastructure fault. Pass ``error_score`` to opt in to a
fixed score instead (the extra ``error`` field is then 1.0 for those items).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from referee.clients._client import AsyncRefereeClient
from referee.clients._exceptions import RefereeError
from referee.clients._shared import LoopClients, shared_client
from referee.clients._types import Item, Result

__all__ = ["compute_score", "compute_score_async", "compute_score_batch"]

_async_clients = LoopClients()


def _spec_for(data_source: str, verifier: Any, verifiers: Mapping[str, Any] | str | None) -> Any:
    mapping = verifiers if verifiers is not None else os.environ.get("REFEREE_VERIFIERS")
    if isinstance(mapping, str):
        mapping = json.loads(mapping)
    if mapping and data_source in mapping:
        return mapping[data_source]
    return verifier or os.environ.get("REFEREE_VERIFIER") or "math"


def _items(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    verifier: Any,
    verifiers: Mapping[str, Any] | str | None,
) -> list[Item]:
    return [
        Item(response=s, reference=g, verifier=_spec_for(d, verifier, verifiers))
        for d, s, g in zip(data_sources, solution_strs, ground_truths, strict=True)
    ]


def _score(result: Result, error_score: float | None) -> dict[str, Any]:
    if result.ok and result.reward is not None:
        reward = result.reward
    elif error_score is not None:
        reward = error_score
    else:
        kind = result.error.kind if result.error else "unknown"
        message = result.error.message if result.error else ""
        raise RefereeError(f"Referee could not judge an item ({kind}): {message}")
    # Numbers only: veRL averages every extra field into its validation metrics.
    return {
        "score": reward,
        "acc": float(result.outcome == "correct"),
        "cached": float(result.cached),
        "error": float(not result.ok),
    }


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    verifier: Any = None,
    verifiers: Mapping[str, Any] | str | None = None,
    error_score: float | None = None,
    **_: Any,
) -> dict[str, Any]:
    """veRL's per-sample reward signature, scored by a Referee server."""
    items = _items([data_source], [solution_str], [ground_truth], verifier, verifiers)
    (result,) = shared_client(url).score(items)
    return _score(result, error_score)


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    url: str | None = None,
    verifier: Any = None,
    verifiers: Mapping[str, Any] | str | None = None,
    error_score: float | None = None,
    **_: Any,
) -> list[dict[str, Any]]:
    """veRL's ``BatchRewardManager`` signature: one request (split as needed) for the batch."""
    items = _items(data_sources, solution_strs, ground_truths, verifier, verifiers)
    return [_score(r, error_score) for r in shared_client(url).score(items)]


async def compute_score_async(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    verifier: Any = None,
    verifiers: Mapping[str, Any] | str | None = None,
    error_score: float | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The coroutine form of ``compute_score``."""
    items = _items([data_source], [solution_str], [ground_truth], verifier, verifiers)
    (result,) = await _async_clients.get(url, lambda: AsyncRefereeClient(url)).score(items)
    return _score(result, error_score)
