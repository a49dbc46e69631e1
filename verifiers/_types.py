"""Values shared by every verifier: outcomes, scores, per-item context, errors.

Exception tree (catch at the level you need)::

    VerifierError                 a verifier could not be set up or judge
    ├── InvalidParams             params rejected (the request is a 422)
    ├── InvalidReference          reference of the wrong shape (the request is a 422)
    ├── UnknownVerifier           no verifier of that name (the request is a 422)
    └── CannotJudge               judging failed for this item (status "error")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "NO_CONTEXT",
    "CannotJudge",
    "Context",
    "InvalidParams",
    "InvalidReference",
    "Outcome",
    "Score",
    "UnknownVerifier",
    "VerifierError",
]


class Outcome(StrEnum):
    """What happened to one response. The reward is real in every case."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    NO_ANSWER = "no_answer"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    RUNTIME_ERROR = "runtime_error"
    COMPILE_ERROR = "compile_error"
    BAD_FORMAT = "bad_format"
    PARTIAL = "partial"


@dataclass(frozen=True, slots=True)
class Score:
    """A judgement: the reward, why, and small verifier-specific details."""

    reward: float
    outcome: Outcome
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Context:
    """Per-item inputs besides the response and reference, for verifiers that need them."""

    prompt: str | None = None
    completion_tokens: int | None = None


NO_CONTEXT = Context()


class VerifierError(Exception):
    """Base class of every error raised by the verifier layer."""


class InvalidParams(VerifierError):
    """The params given for a verifier are not valid."""


class InvalidReference(VerifierError):
    """The reference does not have the shape the verifier needs."""


class UnknownVerifier(VerifierError):
    """No verifier is registered under the name asked for."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown verifier {name!r}; valid: {', '.join(sorted(known))}")
        self.name = name
        self.known = sorted(known)


class CannotJudge(VerifierError):
    """Judging this item failed for a reason that is not the model's fault.

    Becomes ``status: "error"`` with this ``kind`` and ``retryable``; never a reward.
    """

    def __init__(self, kind: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
