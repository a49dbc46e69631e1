"""The request edge: what every transport checks and converts, written once.

HTTP (``routes.py``, ``openrlhf.py``, the ASGI middleware), gRPC
(``grpc/servicer.py``, ``grpc/auth.py``) and the CLI call these functions and
objects; each transport only renders a :class:`Refusal` in its own wire:

===============  ======================  ==============================================
kind             HTTP                    gRPC
===============  ======================  ==============================================
invalid          422 naming the field    INVALID_ARGUMENT, ``field: message``
too_large        413                     RESOURCE_EXHAUSTED, no retry metadata
overloaded       429 + ``Retry-After``   RESOURCE_EXHAUSTED + ``retry-after-ms``,
                                         ``retry-after`` (seconds) trailing metadata
unavailable      503 + ``Retry-After``   UNAVAILABLE + the same trailing metadata
unauthenticated  401                     UNAUTHENTICATED
===============  ======================  ==============================================

Admission (``max_queued_items``) and per-key limits (rate and in-flight) are one
object each per server, shared by both transports: a key's budget is the same
whichever way its requests come.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from referee.service.dispatch.base import Dispatcher
from referee.service.engine import BadRequest, ItemInput
from referee.service.metrics import Metrics
from referee.service.schemas import ScoreRequest, spec_to_json
from referee.verifiers import REGISTRY
from referee.verifiers.validation import Limits, RequestCheckFailed, precheck_off_loop

__all__ = [
    "Admission",
    "BadRequest",
    "EdgeLimits",
    "KeyGate",
    "KeyLimits",
    "Kind",
    "Refusal",
    "Refused",
    "SpecError",
    "check_costly",
    "check_sizes",
    "check_spec",
    "hash_key",
    "items_of",
    "parse_spec",
    "verifier_infos",
]


class Kind(enum.Enum):
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    OVERLOADED = "overloaded"
    UNAVAILABLE = "unavailable"
    UNAUTHENTICATED = "unauthenticated"


# The HTTP status of each kind; also the ``status`` label of ``referee_rejected_requests``
# for refusals on either transport.
HTTP_STATUS = {
    Kind.INVALID: 422,
    Kind.TOO_LARGE: 413,
    Kind.OVERLOADED: 429,
    Kind.UNAVAILABLE: 503,
    Kind.UNAUTHENTICATED: 401,
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is not served: its kind, a message naming the limit or field,
    and, for refusals that pass, how many seconds to wait before retrying."""

    kind: Kind
    message: str
    retry_after_s: int | None = None
    reason: str = ""  # the metrics label: api_key, key_rate, key_inflight, queue_full, ...


class Refused(Exception):
    """A :class:`Refusal` raised through a call stack (size checks)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """What the edge accepts (from ``Settings`` through ``config.edge_limits``)."""

    max_batch_items: int
    max_response_chars: int
    max_pattern_chars: int
    max_schema_bytes: int
    validation_timeout_s: float
    max_queued_items: int
    default_verifier: str | None


# -- specs -----------------------------------------------------------------------------------


class SpecError(ValueError):
    """Spec text that is neither a name nor valid JSON."""


def parse_spec(raw: str | None) -> Any:
    """A spec given as text (a setting, a query parameter, a CLI option): a name, or
    JSON for a component or a list. ``None`` for absent or blank text."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if text[0] not in "[{":
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"not valid JSON: {exc.msg}") from None


def check_spec(obj: Any, loc: str) -> Any:
    """A spec already parsed from JSON (gRPC's ``Value``), checked as ``POST /score``'s
    schema checks it and normalised to the engine's form: a name, a component
    ``{"name", "weight", "params"}``, or a list of those. Raises Refused (invalid)."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        return _check_component(obj, loc)
    if isinstance(obj, list):
        out: list[Any] = []
        for i, part in enumerate(obj):
            where = f"{loc}[{i}]"
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                out.append(_check_component(part, where))
            else:
                raise _invalid(where, "a spec in a list is a name or a component")
        return out
    raise _invalid(loc, "a spec is a name, a component object or a list of them")


def _check_component(obj: dict[str, Any], loc: str) -> dict[str, Any]:
    extra = sorted(set(obj) - {"name", "weight", "params"})
    if extra:
        raise _invalid(f"{loc}.{extra[0]}", "extra inputs are not permitted")
    name = obj.get("name")
    if not isinstance(name, str):
        raise _invalid(f"{loc}.name", "a component needs a name (a string)")
    weight = obj.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise _invalid(f"{loc}.weight", "a weight is a number")
    if not math.isfinite(weight):
        raise _invalid(f"{loc}.weight", "a weight is a finite number")
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise _invalid(f"{loc}.params", "params are an object")
    return {"name": name, "weight": float(weight), "params": params}


def _invalid(loc: str, message: str) -> Refused:
    return Refused(Refusal(Kind.INVALID, f"{loc}: {message}"))


# -- requests --------------------------------------------------------------------------------


def check_sizes(texts: Sequence[str], limits: EdgeLimits, field: str, text_loc: str) -> None:
    """Raise Refused (too_large) for a batch over ``max_batch_items`` or a text over
    ``max_response_chars``. ``field`` names the list, ``text_loc`` (``{}``: the index)
    each text."""
    if len(texts) > limits.max_batch_items:
        raise Refused(
            Refusal(
                Kind.TOO_LARGE,
                f"{field}: {len(texts)} items exceed max_batch_items={limits.max_batch_items} "
                "(setting REFEREE_MAX_BATCH_ITEMS); split the batch",
            )
        )
    for i, text in enumerate(texts):
        if len(text) > limits.max_response_chars:
            raise Refused(
                Refusal(
                    Kind.TOO_LARGE,
                    f"{text_loc.format(i)}: {len(text)} characters exceed "
                    f"max_response_chars={limits.max_response_chars} "
                    "(setting REFEREE_MAX_RESPONSE_CHARS)",
                )
            )


def items_of(body: ScoreRequest, limits: EdgeLimits) -> tuple[list[ItemInput], Any]:
    """The engine's inputs for a validated ``POST /score`` body, after its size checks."""
    check_sizes([item.response for item in body.items], limits, "items", "items[{}].response")
    items = [
        ItemInput(
            response=it.response,
            reference=it.reference,
            id=it.id,
            prompt=it.prompt,
            completion_tokens=it.completion_tokens,
            verifier=spec_to_json(it.verifier),
        )
        for it in body.items
    ]
    return items, spec_to_json(body.verifier)


async def check_costly(items: Sequence[ItemInput], default: Any, limits: EdgeLimits) -> None:
    """Compile the request's patterns and check its schemas off the event loop.

    Raises BadRequest (a 422 naming the field) for an invalid or oversized pattern or
    schema, or one that takes longer than ``validation_timeout_s`` to check.
    """
    check = Limits(
        max_pattern_chars=limits.max_pattern_chars,
        max_schema_bytes=limits.max_schema_bytes,
        timeout_s=limits.validation_timeout_s,
    )
    pairs = [(item.verifier, item.reference) for item in items]
    if default is None:
        default = parse_spec(limits.default_verifier)
    try:
        await precheck_off_loop(pairs, default, check)
    except RequestCheckFailed as exc:
        raise BadRequest(exc.loc, exc.message) from None


def verifier_infos() -> list[dict[str, Any]]:
    """Every registered verifier: name, version, description, params JSON Schema."""
    return [
        {
            "name": v.name,
            "version": v.version,
            "description": v.description,
            "params_schema": v.params_schema(),
        }
        for _, v in sorted(REGISTRY.items())
    ]


# -- API keys and their limits ---------------------------------------------------------------


def hash_key(key: str) -> str:
    """The digest to configure for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyLimits:
    requests_per_s: float  # 0: no rate limit
    burst: int
    max_inflight: int  # 0: no limit


@dataclass(slots=True)
class _KeyState:
    tokens: float
    updated: float = field(default_factory=time.monotonic)
    inflight: int = 0


class KeyGate:
    """API keys (sha256 digests) and each key's request rate and concurrency.

    ``identify`` a bearer token, then ``acquire`` before serving and ``release``
    after (only when ``acquire`` refused nothing). With no digests configured the
    gate is open: no key is asked for and nothing is limited.
    """

    def __init__(self, hashes: frozenset[str], limits: KeyLimits, metrics: Metrics) -> None:
        self.hashes = hashes
        self.limits = limits
        self.metrics = metrics
        self._keys: dict[str, _KeyState] = {}

    @property
    def open(self) -> bool:
        return not self.hashes

    def identify(self, token: str, how: str) -> str | Refusal:
        """The digest of a valid ``token``; else a refusal (``how``: how to send one)."""
        digest = hash_key(token) if token else ""
        if digest in self.hashes:
            return digest
        message = "invalid API key" if token else f"missing API key: send {how}"
        return _count(self.metrics, Refusal(Kind.UNAUTHENTICATED, message, reason="api_key"))

    def acquire(self, digest: str) -> Refusal | None:
        """Take one request of the key's rate and one of its in-flight slots."""
        state = self._keys.get(digest)
        if state is None:
            state = self._keys[digest] = _KeyState(float(self.limits.burst))
        limits = self.limits
        if limits.requests_per_s > 0:
            now = time.monotonic()
            state.tokens = min(
                float(limits.burst), state.tokens + (now - state.updated) * limits.requests_per_s
            )
            state.updated = now
            if state.tokens < 1.0:
                wait = math.ceil((1.0 - state.tokens) / limits.requests_per_s)
                return _count(
                    self.metrics,
                    Refusal(
                        Kind.OVERLOADED,
                        f"this API key is over its rate of {limits.requests_per_s:g} requests/s "
                        f"(burst {limits.burst}; settings REFEREE_KEY_REQUESTS_PER_S, "
                        "REFEREE_KEY_BURST)",
                        max(1, wait),
                        "key_rate",
                    ),
                )
            state.tokens -= 1.0
        if 0 < limits.max_inflight <= state.inflight:
            return _count(
                self.metrics,
                Refusal(
                    Kind.OVERLOADED,
                    f"this API key has {state.inflight} requests in flight, its limit "
                    "(setting REFEREE_KEY_MAX_INFLIGHT)",
                    1,
                    "key_inflight",
                ),
            )
        state.inflight += 1
        return None

    def release(self, digest: str) -> None:
        self._keys[digest].inflight -= 1


# -- admission -------------------------------------------------------------------------------

_SAMPLE_S = 0.25
_ALPHA = 0.3  # weight of the newest drain-rate sample


class Admission:
    """Refuse scoring work the server cannot start soon, instead of queueing it.

    A request is admitted while the dispatcher's queued work is under
    ``max_queued_items``; over it the refusal is ``overloaded`` with a wait from the
    observed drain rate. While the dispatcher cannot judge at all (scaled out: Redis
    unreachable, or no worker), the refusal is ``unavailable``.
    """

    def __init__(self, max_queued_items: int, metrics: Metrics) -> None:
        self.max_queued = max_queued_items
        self.metrics = metrics
        self._sampled = 0.0
        self._completed = 0
        self._queued = 0
        self._rate = 0.0  # items/s, smoothed

    def _sample(self, dispatcher: Dispatcher) -> None:
        now = time.monotonic()
        if now - self._sampled < _SAMPLE_S:
            return
        queued, completed = dispatcher.queued(), dispatcher.completed
        if self._sampled:
            rate = max(0, completed - self._completed) / (now - self._sampled)
            self._rate = rate if not self._rate else _ALPHA * rate + (1 - _ALPHA) * self._rate
        self._sampled, self._completed, self._queued = now, completed, queued

    def retry_after(self) -> int:
        """Seconds until the queue should be back under its bound at the observed rate."""
        if self._rate < 1e-3:
            return 5
        excess = self._queued - 0.9 * self.max_queued
        return max(1, min(60, math.ceil(excess / self._rate)))

    def check(self, dispatcher: Dispatcher) -> Refusal | None:
        """``None`` to admit a request now, else why not."""
        down = dispatcher.capacity().unavailable
        if down is not None:
            return _count(
                self.metrics,
                Refusal(Kind.UNAVAILABLE, f"backend unavailable: {down}; retry", 1, "unavailable"),
            )
        self._sample(dispatcher)
        if self._queued >= self.max_queued:
            return _count(
                self.metrics,
                Refusal(
                    Kind.OVERLOADED,
                    f"over capacity: {self._queued} items queued, the limit is max_queued_items="
                    f"{self.max_queued} (setting REFEREE_MAX_QUEUED_ITEMS); retry later",
                    self.retry_after(),
                    "queue_full",
                ),
            )
        return None


def _count(metrics: Metrics, refusal: Refusal) -> Refusal:
    metrics.rejected.labels(str(HTTP_STATUS[refusal.kind]), refusal.reason).inc()
    return refusal
