"""Typed items and results of the client (plain frozen dataclasses, no pydantic)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Component", "ErrorInfo", "Item", "Result", "VerifierRef", "item_to_wire"]


@dataclass(frozen=True, slots=True)
class Item:
    """One rollout to judge (PROTOCOL.md, ``items[]``)."""

    response: str
    reference: Any = None
    id: str | None = None
    prompt: str | None = None
    verifier: Any = None
    completion_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why an item could not be judged; ``retryable`` says whether sending it again may help."""

    kind: str
    message: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class VerifierRef:
    """Which verifier gave a verdict: its name, version and a digest of its params."""

    name: str
    version: str
    params_digest: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | None) -> VerifierRef | None:
        if data is None:
            return None
        return cls(data["name"], data["version"], data["params_digest"])


@dataclass(frozen=True, slots=True)
class Component:
    """The verdict of one verifier of a composite spec."""

    name: str
    weight: float
    reward: float | None
    outcome: str | None
    details: dict[str, Any] = field(default_factory=dict)
    verifier: VerifierRef | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """The verdict on one item. ``reward`` is None exactly when ``status`` is ``"error"``."""

    id: str | None
    status: str
    reward: float | None
    outcome: str | None
    details: dict[str, Any] = field(default_factory=dict)
    cached: bool = False
    error: ErrorInfo | None = None
    components: tuple[Component, ...] | None = None
    verifier: VerifierRef | None = None  # of a single-verifier spec; else per component

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Result:
        error = data.get("error")
        components = data.get("components")
        return cls(
            id=data.get("id"),
            status=data["status"],
            reward=data.get("reward"),
            outcome=data.get("outcome"),
            details=dict(data.get("details") or {}),
            cached=bool(data.get("cached", False)),
            error=None
            if error is None
            else ErrorInfo(error["kind"], error["message"], bool(error["retryable"])),
            components=None
            if components is None
            else tuple(
                Component(
                    c["name"],
                    c["weight"],
                    c.get("reward"),
                    c.get("outcome"),
                    c.get("details", {}),
                    VerifierRef.from_wire(c.get("verifier")),
                )
                for c in components
            ),
            verifier=VerifierRef.from_wire(data.get("verifier")),
        )


_ITEM_KEYS = ("id", "response", "reference", "prompt", "verifier", "completion_tokens")


def item_to_wire(item: Item | Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object of one item; unset optional fields are left out."""
    if isinstance(item, Item):
        source: Mapping[str, Any] = {k: getattr(item, k) for k in _ITEM_KEYS}
    elif isinstance(item, Mapping):
        unknown = set(item) - set(_ITEM_KEYS)
        if unknown:
            raise TypeError(f"item has unknown keys {sorted(unknown)}; valid: {list(_ITEM_KEYS)}")
        if "response" not in item:
            raise TypeError("item has no 'response'")
        source = item
    else:
        raise TypeError(f"an item is an Item or a mapping, not {type(item).__name__}")
    out = {k: v for k, v in source.items() if v is not None and k != "reference"}
    out["reference"] = source.get("reference")
    return out
