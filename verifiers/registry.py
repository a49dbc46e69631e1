"""The verifier registry: a plain dict by name that refuses duplicates.

A verifier is two pure functions split so that the service can cache by content:

- ``extract(response, reference, params, context) -> str`` runs in the API process
  before dispatch. It must be cheap and linear in the response length (no
  user-supplied regex, no sympy). Its result is both the cache key material and
  the only view of the response that ``grade`` gets, so two responses with the
  same extraction are judged identically by construction.
- ``grade(extracted, reference, params, context) -> Score`` runs in a worker
  process under a deadline. It may be slow, may hang, may eat memory.

``verify`` composes the two for callers that want one function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from referee.verifiers._types import (
    NO_CONTEXT,
    Context,
    InvalidParams,
    InvalidReference,
    Score,
    UnknownVerifier,
)

__all__ = ["REGISTRY", "Verifier", "get", "names", "register", "require_str_reference"]

P = TypeVar("P")

Extract = Callable[[str, Any, P, Context], str]
Grade = Callable[[str, Any, P, Context], Score]
CheckReference = Callable[[Any, P], None]
TimeBudget = Callable[[Any, P], float | None]
Shortcut = Callable[[str, Any, P], Score | None]


def _no_reference_check(reference: Any, params: Any) -> None:
    return None


@dataclass(frozen=True)
class Verifier(Generic[P]):
    """A named verifier with its version, params type and the two halves of judging."""

    name: str
    version: str
    params_type: type[P]
    extract: Extract[P]
    grade: Grade[P]
    description: str
    check_reference: CheckReference[P] = _no_reference_check
    # False: grade sees NO_CONTEXT and the cache key ignores the context, so the
    # samples of a group that share an answer share one judgement.
    grade_uses_context: bool = False
    # Seconds grading may take for this reference (code with many tests); None, or a
    # budget that answers None: the engine's default item deadline.
    time_budget: TimeBudget[P] | None = None
    # Grading runs programs in the sandbox: judged in the pool's code lane.
    runs_code: bool = False
    # Params fields holding regular expressions: capped in length and compiled off
    # the event loop before the engine sees them (``referee.verifiers.validation``).
    pattern_params: tuple[str, ...] = ()
    # For a verifier whose reference check is costly (a JSON Schema): the size in
    # bytes of what it checks. Set: the check runs off the event loop, size-capped.
    costly_reference_size: Callable[[Any], int] | None = None
    # Decides some items from the extraction alone, in the API process, before any
    # dispatch: a Score, or None to leave the item to ``grade``. It runs on model
    # text outside the workers' confinement, so it must be cheap, linear in its
    # input and call no third-party parser (``math``: plain numbers).
    shortcut: Shortcut[P] | None = None

    def __post_init__(self) -> None:
        if not is_dataclass(self.params_type):
            raise TypeError(f"{self.name}: params_type must be a frozen dataclass")
        adapter: TypeAdapter[P] = TypeAdapter(self.params_type)
        object.__setattr__(self, "_adapter", adapter)

    def parse_params(self, raw: Mapping[str, Any] | None) -> P:
        """Validate raw JSON params into the params dataclass; raise InvalidParams."""
        raw = {} if raw is None else raw
        if not isinstance(raw, Mapping):
            raise InvalidParams(f"params of {self.name!r} must be an object")
        valid = [f.name for f in fields(self.params_type) if f.init]  # type: ignore[arg-type]
        unknown = sorted(set(raw) - set(valid))
        if unknown:
            raise InvalidParams(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for verifier "
                f"{self.name!r}; valid: {', '.join(valid) or '(none)'}"
            )
        adapter: TypeAdapter[P] = self._adapter  # type: ignore[attr-defined]
        try:
            return adapter.validate_python(dict(raw))
        except ValidationError as exc:
            parts = []
            for err in exc.errors(include_url=False, include_input=False):
                loc = ".".join(str(p) for p in err["loc"])
                parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
            raise InvalidParams(f"invalid params for {self.name!r}: {'; '.join(parts)}") from None

    @property
    def params_adapter(self) -> TypeAdapter[P]:
        """The pydantic adapter of the params type (validation, JSON forms)."""
        adapter: TypeAdapter[P] = self._adapter  # type: ignore[attr-defined]
        return adapter

    def params_schema(self) -> dict[str, Any]:
        """JSON schema of the params, for ``GET /verifiers``."""
        return self.params_adapter.json_schema()

    def validate_reference(self, reference: Any, params: P) -> None:
        """Raise InvalidReference when the reference cannot be used by this verifier."""
        self.check_reference(reference, params)

    def verify(
        self, response: str, reference: Any, params: P, context: Context = NO_CONTEXT
    ) -> Score:
        """Extract and grade in the calling process (no deadline: use the engine for that)."""
        self.validate_reference(reference, params)
        extracted = self.extract(response, reference, params, context)
        if self.shortcut is not None:
            decided = self.shortcut(extracted, reference, params)
            if decided is not None:
                return decided
        return self.grade(
            extracted, reference, params, context if self.grade_uses_context else NO_CONTEXT
        )


REGISTRY: dict[str, Verifier[Any]] = {}


def register(verifier: Verifier[Any]) -> Verifier[Any]:
    """Add a verifier; a second one under the same name is a programming error."""
    if verifier.name in REGISTRY:
        raise ValueError(f"verifier {verifier.name!r} is already registered")
    REGISTRY[verifier.name] = verifier
    return verifier


def get(name: str) -> Verifier[Any]:
    """The verifier registered as ``name``; UnknownVerifier lists the valid names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownVerifier(name, list(REGISTRY)) from None


def names() -> list[str]:
    return sorted(REGISTRY)


def require_str_reference(reference: Any, params: Any) -> None:
    """Reference check for verifiers whose gold is a string or a list of strings."""
    if isinstance(reference, str):
        return
    if isinstance(reference, list) and reference and all(isinstance(r, str) for r in reference):
        return
    raise InvalidReference("reference must be a string or a non-empty list of strings")
