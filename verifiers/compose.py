"""Verifier specs and their composition.

A spec is a name (``"math"``), a component (``{"name", "weight", "params"}``) or a
list of components whose rewards are summed with their weights. Resolution turns
the JSON form into registry entries with validated, hashable params.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from referee.verifiers._types import InvalidParams, Score
from referee.verifiers.provenance import Provenance, provenance
from referee.verifiers.registry import Verifier, get

__all__ = ["MAX_WEIGHT", "Component", "Spec", "combine", "resolve"]

MAX_WEIGHT = 1e6  # keeps every weighted sum of rewards finite


@dataclass(frozen=True, slots=True)
class Component:
    """One verifier of a spec, with its weight and validated params.

    ``provenance`` (name, version, params digest) is what its verdicts state.
    """

    verifier: Verifier[Any]
    weight: float
    params: Any
    provenance: Provenance = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "provenance", provenance(self.verifier, self.params))

    @property
    def name(self) -> str:
        return self.verifier.name


@dataclass(frozen=True, slots=True)
class Spec:
    """A resolved spec. ``composite`` is true for the list form (results list components)."""

    components: tuple[Component, ...]
    composite: bool


def _component(raw: Any) -> Component:
    if isinstance(raw, str):
        verifier = get(raw)
        return Component(verifier, 1.0, verifier.parse_params(None))
    if isinstance(raw, Mapping):
        name = raw.get("name")
        if not isinstance(name, str):
            raise InvalidParams("a verifier component needs a string 'name'")
        verifier = get(name)
        weight = raw.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InvalidParams(f"weight of {name!r} must be a number")
        if not math.isfinite(weight) or abs(weight) > MAX_WEIGHT:
            raise InvalidParams(
                f"weight of {name!r} must be a number in [-{MAX_WEIGHT:g}, {MAX_WEIGHT:g}]"
            )
        return Component(verifier, float(weight), verifier.parse_params(raw.get("params")))
    raise InvalidParams("a verifier spec is a name, a component object or a list of them")


def resolve(raw: Any) -> Spec:
    """Resolve the JSON form of a spec; raises UnknownVerifier or InvalidParams."""
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        if not raw:
            raise InvalidParams("a verifier list must not be empty")
        return Spec(tuple(_component(c) for c in raw), composite=True)
    return Spec((_component(raw),), composite=False)


def combine(spec: Spec, scores: Sequence[Score]) -> float:
    """Weighted sum of component rewards."""
    return math.fsum(c.weight * s.reward for c, s in zip(spec.components, scores, strict=True))
