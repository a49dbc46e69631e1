"""Which verifier produced a verdict: name, version and a digest of its params.

Verdicts change when a verifier is upgraded or configured differently; a trainer
comparing runs needs to know which judge gave each reward. The digest covers
every parameter the caller can set (defaults included, so a default that changes
shows), in canonical JSON: equal digests mean the same configuration.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any

from referee.verifiers.registry import Verifier

__all__ = ["Provenance", "params_digest", "provenance"]

DIGEST_CHARS = 16  # hex digits of sha256 kept: 64 bits, to tell configurations apart


@dataclass(frozen=True, slots=True)
class Provenance:
    """The verifier behind a verdict (``verifier`` of a result or component)."""

    name: str
    version: str
    params_digest: str

    def to_wire(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "params_digest": self.params_digest}


def canonical_params(verifier: Verifier[Any], params: Any) -> str:
    """The params as canonical JSON: the fields a caller sets, sorted, compact."""
    dumped = verifier.params_adapter.dump_python(params, mode="json")
    settable = {f.name for f in fields(params) if f.init}
    chosen = {k: v for k, v in dumped.items() if k in settable}
    return json.dumps(chosen, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def params_digest(verifier: Verifier[Any], params: Any) -> str:
    """First hex digits of the sha256 of :func:`canonical_params`."""
    text = canonical_params(verifier, params)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_CHARS]


@functools.lru_cache(maxsize=1024)
def _cached(verifier: Verifier[Any], params: Any) -> Provenance:
    return Provenance(verifier.name, verifier.version, params_digest(verifier, params))


def provenance(verifier: Verifier[Any], params: Any) -> Provenance:
    """The provenance of verdicts of ``verifier`` with ``params``."""
    try:
        return _cached(verifier, params)
    except TypeError:  # params that do not hash: computed each time
        return Provenance(verifier.name, verifier.version, params_digest(verifier, params))
