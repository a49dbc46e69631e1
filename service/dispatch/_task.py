"""What travels between the engine and a worker process: tasks and their results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from referee.verifiers import Context, Score

__all__ = ["ErrorInfo", "Task", "TaskResult"]


@dataclass(frozen=True, slots=True)
class Task:
    """One (item, verifier component) to grade. Picklable: it crosses the process boundary."""

    verifier: str
    params: Any
    extracted: str
    reference: Any
    context: Context
    timeout_s: float | None = None  # None: the pool's default item deadline


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why Referee could not judge: ``kind`` is stable, ``message`` is for people."""

    kind: str
    message: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class TaskResult:
    """A grade, or the reason there is none. ``elapsed_s`` is the worker's own time."""

    status: Literal["ok", "error"]
    score: Score | None = None
    error: ErrorInfo | None = None
    elapsed_s: float = 0.0
    killed: bool = field(default=False)
    payload: Any = None  # the answer of an internal task (not a verifier)
    cached: bool = False  # served from a shared cache (the Redis one) rather than judged

    @staticmethod
    def ok(score: Score, elapsed_s: float = 0.0, *, killed: bool = False) -> TaskResult:
        return TaskResult("ok", score=score, elapsed_s=elapsed_s, killed=killed)

    @staticmethod
    def answer(payload: Any, elapsed_s: float = 0.0) -> TaskResult:
        return TaskResult("ok", elapsed_s=elapsed_s, payload=payload)

    @staticmethod
    def fail(kind: str, message: str, *, retryable: bool, elapsed_s: float = 0.0) -> TaskResult:
        return TaskResult("error", error=ErrorInfo(kind, message, retryable), elapsed_s=elapsed_s)
