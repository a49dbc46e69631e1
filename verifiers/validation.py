"""The costly part of checking a request: compiling its patterns, checking its schemas.

Resolving a spec compiles the regular expressions in its params, and checking a
``json_schema`` reference validates the schema against its meta-schema (which
compiles every ``pattern`` in it) and resolves its references. Either can take
seconds on a few kB of hostile input, so the service runs ``precheck`` on a
small thread pool, bounded in size (``Limits``) and in time, before the engine
plans the request. What it checked is cached (compiled patterns by text, valid
schemas by digest), so the engine's own checks on the event loop are then cheap.

Every complaint is a ``RequestCheckFailed`` naming the field, as the engine names
it: ``("items", 3, "reference")``, ``("verifier",)`` or ``("items", 0, "verifier")``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from referee.verifiers._types import InvalidParams, InvalidReference, UnknownVerifier
from referee.verifiers.compose import resolve
from referee.verifiers.registry import REGISTRY

__all__ = ["Limits", "RequestCheckFailed", "needs_precheck", "precheck", "precheck_off_loop"]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Limits:
    """Size and time bounds of the costly checks (from the server's settings)."""

    max_pattern_chars: int
    max_schema_bytes: int
    timeout_s: float


class RequestCheckFailed(Exception):
    """The request is invalid (or too costly to check); ``loc`` names the field."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _components(raw: Any) -> list[Any]:
    return list(raw) if isinstance(raw, list) else [raw]


# Distinct patterns in one request; far below the compiled-pattern cache, so that
# the engine's own resolution finds every one of them compiled.
MAX_DISTINCT_PATTERNS = 512


def _check_pattern_sizes(raw: Any, loc: Loc, limits: Limits, seen: set[str]) -> None:
    for component in _components(raw):
        if not isinstance(component, dict):
            continue
        verifier = REGISTRY.get(str(component.get("name")))
        params = component.get("params")
        if verifier is None or not isinstance(params, dict):
            continue
        for name in verifier.pattern_params:
            value = params.get(name)
            if isinstance(value, str) and len(value) > limits.max_pattern_chars:
                raise RequestCheckFailed(
                    loc,
                    f"{verifier.name}: params.{name}: {len(value)} characters exceed "
                    f"max_pattern_chars={limits.max_pattern_chars} "
                    "(setting REFEREE_MAX_PATTERN_CHARS)",
                )
            if isinstance(value, str):
                seen.add(value)
                if len(seen) > MAX_DISTINCT_PATTERNS:
                    raise RequestCheckFailed(
                        loc,
                        f"more than {MAX_DISTINCT_PATTERNS} distinct patterns in one "
                        "request: split the batch",
                    )


def precheck(
    items: Sequence[tuple[Any, Any]],
    default: Any,
    limits: Limits,
    progress: list[Loc] | None = None,
) -> None:
    """Check each item's ``(verifier spec or None, reference)``; raise RequestCheckFailed.

    ``progress[0]`` is kept at the field being checked (named when time runs out).
    Errors that cost nothing to find (an unknown verifier name) are left to the engine.
    """
    where: list[Loc] = progress if progress is not None else [("verifier",)]
    resolved: dict[str, Any] = {}
    patterns: set[str] = set()
    for i, (spec, reference) in enumerate(items):
        raw = spec if spec is not None else default
        if raw is None:
            continue
        loc: Loc = ("items", i, "verifier") if spec is not None else ("verifier",)
        key = json.dumps(raw, sort_keys=True)
        if key not in resolved:
            where[0] = loc
            _check_pattern_sizes(raw, loc, limits, patterns)
            try:
                resolved[key] = resolve(raw)
            except UnknownVerifier:
                resolved[key] = None
            except InvalidParams as exc:
                raise RequestCheckFailed(loc, str(exc)) from None
        resolved_spec = resolved[key]
        if resolved_spec is None:
            continue
        for component in resolved_spec.components:
            verifier = component.verifier
            if verifier.costly_reference_size is None:
                continue
            where[0] = ("items", i, "reference")
            try:
                size = verifier.costly_reference_size(reference)
                if size > limits.max_schema_bytes:
                    raise RequestCheckFailed(
                        where[0],
                        f"{verifier.name}: {size} bytes of schema exceed "
                        f"max_schema_bytes={limits.max_schema_bytes} "
                        "(setting REFEREE_MAX_SCHEMA_BYTES)",
                    )
                verifier.validate_reference(reference, component.params)
            except InvalidReference as exc:
                raise RequestCheckFailed(where[0], f"{verifier.name}: {exc}") from None


def _names(raw: Any) -> set[str]:
    names: set[str] = set()
    for component in _components(raw):
        if isinstance(component, str):
            names.add(component)
        elif isinstance(component, dict) and isinstance(component.get("name"), str):
            names.add(component["name"])
    return names


def needs_precheck(items: Sequence[tuple[Any, Any]], default: Any) -> bool:
    """Whether any verifier of the request has a costly check (a cheap scan)."""
    costly = {
        name
        for name, v in REGISTRY.items()
        if v.pattern_params or v.costly_reference_size is not None
    }
    seen: set[str] = set()
    for raw in {json.dumps(spec, sort_keys=True) for spec, _ in items} | {json.dumps(default)}:
        seen |= _names(json.loads(raw))
    return not seen.isdisjoint(costly)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
POOL_THREADS = 2


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="referee-precheck")
        return _pool


async def precheck_off_loop(items: Sequence[tuple[Any, Any]], default: Any, limits: Limits) -> None:
    """``precheck`` on a two-thread pool, given up after ``limits.timeout_s``.

    Checks wait their turn (two threads: hostile requests cannot take every core);
    time spent waiting counts against the timeout. A check that runs out of time
    is a RequestCheckFailed naming the field it was on; its thread finishes the
    (size-bounded) work in the background.
    """
    if not needs_precheck(items, default):
        return
    progress: list[Loc] = [("verifier",)]
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_executor(), precheck, items, default, limits, progress)
    try:
        await asyncio.wait_for(future, limits.timeout_s)
    except RequestCheckFailed:
        raise
    except (RecursionError, MemoryError, OverflowError, ValueError, TypeError) as exc:
        raise RequestCheckFailed(
            progress[0], f"cannot be checked: {type(exc).__name__}: {str(exc)[:100]}"
        ) from None
    except TimeoutError:
        raise RequestCheckFailed(
            progress[0],
            f"checking this field took longer than {limits.timeout_s:g} s "
            "(setting REFEREE_VALIDATION_TIMEOUT_S): simplify the pattern or schema",
        ) from None
