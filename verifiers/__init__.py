"""Verifiers: pure judging functions, registered by name.

Call :func:`load_builtin` once to register the built-in families.
"""

from __future__ import annotations

from referee.verifiers._types import (
    NO_CONTEXT,
    CannotJudge,
    Context,
    InvalidParams,
    InvalidReference,
    Outcome,
    Score,
    UnknownVerifier,
    VerifierError,
)
from referee.verifiers.registry import REGISTRY, Verifier, get, names, register

__all__ = [
    "NO_CONTEXT",
    "REGISTRY",
    "CannotJudge",
    "Context",
    "InvalidParams",
    "InvalidReference",
    "Outcome",
    "Score",
    "UnknownVerifier",
    "Verifier",
    "VerifierError",
    "get",
    "load_builtin",
    "names",
    "register",
]

_BUILTIN_MODULES = (
    "referee.verifiers.math",
    "referee.verifiers.format",
    "referee.verifiers.text",
    "referee.verifiers.code",
    "referee.verifiers.countdown",
    "referee.verifiers.json_schema",
    "referee.verifiers.ifeval",
    "referee.verifiers.reasoning_gym",
    "referee.verifiers.length",
    "referee.verifiers.language",
)


def load_builtin(plugins: tuple[str, ...] = ()) -> None:
    """Import the built-in verifier modules, then ``plugins`` (modules that register more).

    Each module registers its verifiers at its end; importing twice is harmless.
    """
    import importlib

    for module in (*_BUILTIN_MODULES, *plugins):
        importlib.import_module(module)
