"""Referee as OpenRLHF's reward function.

Two ways to use it:

* Remote reward model: ``--remote_rm_url http://HOST:8000/openrlhf?verifier=math``
  (the server route does the work; nothing of this module is needed).
* Local reward file: ``--remote_rm_url /path/reward.py`` where reward.py holds
  ``from referee.clients.openrlhf import reward_func``. OpenRLHF calls
  ``reward_func(queries, prompts, labels)`` in a thread; it posts them to the
  server's ``/openrlhf`` route and returns its ``{"rewards", "scores",
  "extra_logs"}``. Server, verifier and key come from ``REFEREE_URL``,
  ``REFEREE_VERIFIER`` (default ``math``) and ``REFEREE_API_KEY``.

An errored item makes the call raise (after the client's retries): OpenRLHF then
records no reward for the sample instead of a fake 0.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from referee.clients._shared import shared_client

__all__ = ["reward_func"]


def reward_func(
    queries: Sequence[str],
    prompts: Sequence[str],
    labels: Sequence[Any],
    *,
    url: str | None = None,
    verifier: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    """OpenRLHF's local reward-function signature, scored by a Referee server."""
    spec = verifier or os.environ.get("REFEREE_VERIFIER") or "math"
    body = {"query": list(queries), "prompts": list(prompts), "labels": list(labels)}
    response = shared_client(url).post("/openrlhf?" + urlencode({"verifier": spec}), body)
    result: dict[str, Any] = response.json()
    return result
