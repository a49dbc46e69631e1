"""Running untrusted programs: backends behind one interface, and the per-process sandbox.

Each verifier worker process holds one sandbox (one jail), opened on first use
with the backend and uid given by :func:`configure`.
"""

from __future__ import annotations

import threading

from referee.sandbox._types import (
    Limits,
    RunResult,
    RunStatus,
    SandboxError,
    SandboxUnavailable,
)
from referee.sandbox.backend import CallResult, Sandbox, open_sandbox
from referee.sandbox.languages import LANGUAGES, Language, get_language

__all__ = [
    "LANGUAGES",
    "CallResult",
    "Language",
    "Limits",
    "RunResult",
    "RunStatus",
    "Sandbox",
    "SandboxError",
    "SandboxUnavailable",
    "configure",
    "current",
    "get_language",
    "opened",
]

_BASE_UID = 60000
_state: dict[str, object] = {"backend": "auto", "uid": _BASE_UID}
_lock = threading.Lock()
_sandbox: list[Sandbox] = []


def configure(backend: str, slot: int = 0, uid_base: int = _BASE_UID) -> None:
    """Set this process's backend and jail uid (one uid per worker: RLIMIT_NPROC is per uid)."""
    _state["backend"] = backend
    _state["uid"] = uid_base + slot


def current() -> Sandbox:
    """This process's sandbox, started on first use; SandboxUnavailable if none can run."""
    with _lock:
        if not _sandbox:
            _sandbox.append(open_sandbox(str(_state["backend"]), uid=int(str(_state["uid"]))))
        return _sandbox[0]


def opened() -> Sandbox | None:
    """This process's sandbox if one was started, without starting one."""
    with _lock:
        return _sandbox[0] if _sandbox else None
