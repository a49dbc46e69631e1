"""The wire format of tasks and results between processes: versioned JSON, checked strictly.

Tasks and results cross process boundaries that must not grant code execution
(Redis entries, reply streams and cache values; the pipe to local worker
processes). Decoding never executes anything: it parses JSON, checks every field's
type, rebuilds a task's params through the verifier registry's own validation (the
same as at the HTTP edge), and raises :class:`WireError` on anything else: another
version, pickle bytes, a missing or unknown field, a wrong type, an unknown verifier.

Format version 1, one JSON object (ASCII, so lone surrogates survive)::

    task    {"v": 1, "verifier": str, "params": str | null, "extracted": str,
             "reference": <json>, "context": {"prompt": str | null,
             "completion_tokens": int | null}, "timeout_s": float | null}
    result  {"v": 1, "status": "ok" | "error",
             "score": {"reward": float, "outcome": str, "details": {...}} | null,
             "error": {"kind": str, "message": str, "retryable": bool} | null,
             "elapsed_s": float, "killed": bool, "payload": <json>,
             "second_opinion": str | null, "cached": bool}

``params`` is the params dataclass as a JSON object, itself as a string (``null``
for internal tasks), so that equal params decode once per process: a group of
samples shares its params. What JSON cannot tell apart comes back as JSON sees it:
tuples in ``details``, ``payload`` or the reference come back as lists (the HTTP
and gRPC answers are JSON anyway; params come back as their dataclass with its
tuples). A value JSON cannot hold (a set, bytes, an object) cannot be encoded:
:class:`WireError` at the sender, which answers an error instead.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from typing import Any

from referee.service.dispatch._task import ErrorInfo, Task, TaskResult
from referee.verifiers import NO_CONTEXT, REGISTRY, Context, InvalidParams, Outcome, Score

__all__ = [
    "INTERNAL_TASKS",
    "VERSION",
    "WireError",
    "decode_result",
    "decode_results",
    "decode_task",
    "decode_tasks",
    "encode_result",
    "encode_task",
    "join_encoded",
]

VERSION = 1
# Tasks the worker answers itself rather than through a verifier (``/run_code``).
INTERNAL_TASKS = frozenset({"sandbox.run_code"})

_TASK_KEYS = frozenset(
    {"v", "verifier", "params", "extracted", "reference", "context", "timeout_s"}
)
_RESULT_KEYS = frozenset(
    {
        "v",
        "status",
        "score",
        "error",
        "elapsed_s",
        "killed",
        "payload",
        "second_opinion",
        "cached",
    }
)
_SCORE_KEYS = frozenset({"reward", "outcome", "details"})
_ERROR_KEYS = frozenset({"kind", "message", "retryable"})
_CONTEXT_KEYS = frozenset({"prompt", "completion_tokens"})
_MAX_BYTES = 256 * 1024 * 1024


class WireError(ValueError):
    """Bytes that are not a valid task or result of this format version, or a value
    that this format cannot carry."""


# -- encoding ----------------------------------------------------------------------------


def encode_task(task: Task) -> bytes:
    """The task as format-version-1 JSON; WireError if a field is not JSON-safe."""
    c = task.context
    obj = {
        "v": VERSION,
        "verifier": task.verifier,
        "params": _params_text(task.params),
        "extracted": task.extracted,
        "reference": task.reference,
        "context": {"prompt": c.prompt, "completion_tokens": c.completion_tokens},
        "timeout_s": task.timeout_s,
    }
    return _dumps(obj, "task")


def encode_result(result: TaskResult) -> bytes:
    """The result as format-version-1 JSON; WireError if details or payload are not JSON."""
    s, e = result.score, result.error
    obj = {
        "v": VERSION,
        "status": result.status,
        "score": None
        if s is None
        else {"reward": s.reward, "outcome": s.outcome.value, "details": s.details},
        "error": None
        if e is None
        else {"kind": e.kind, "message": e.message, "retryable": e.retryable},
        "elapsed_s": result.elapsed_s,
        "killed": result.killed,
        "payload": result.payload,
        "second_opinion": result.second_opinion,
        "cached": result.cached,
    }
    return _dumps(obj, "result")


def _dumps(obj: dict[str, Any], what: str) -> bytes:
    try:
        return json.dumps(obj, separators=(",", ":")).encode("ascii")
    except (TypeError, ValueError, RecursionError) as exc:
        raise WireError(f"{what} cannot be encoded: {exc}") from None


def _params_text(params: Any) -> str | None:
    if params is None:
        return None
    try:
        return _cached_params_text(params)
    except TypeError:  # unhashable params: not cacheable, encode anyway
        return _encode_params(params)


@functools.lru_cache(maxsize=256)
def _cached_params_text(params: Any) -> str:
    return _encode_params(params)


def _encode_params(params: Any) -> str:
    if not dataclasses.is_dataclass(params) or isinstance(params, type):
        raise WireError(f"params must be a dataclass, not {type(params).__name__}")
    # Fields outside __init__ are derived from the others (cosine_length's parsed inner
    # params): the receiving side derives them again.
    derived = {f.name for f in dataclasses.fields(params) if not f.init}
    try:
        raw = {k: v for k, v in dataclasses.asdict(params).items() if k not in derived}
        return json.dumps(raw, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError, RecursionError) as exc:
        raise WireError(f"params cannot be encoded: {exc}") from None


# -- decoding ----------------------------------------------------------------------------


def decode_task(data: bytes) -> Task:
    """A task from format-version-1 JSON; WireError on anything else."""
    return _task(_load(data, _TASK_KEYS, "task"))


def decode_tasks(data: bytes) -> list[Task]:
    """Tasks from a JSON array of format-version-1 task objects (a chunk's ``p``)."""
    return [_task(_check(obj, _TASK_KEYS, "task")) for obj in _array(data, "tasks")]


def decode_results(data: bytes) -> list[TaskResult]:
    """Results from a JSON array of format-version-1 result objects (a reply's ``r``)."""
    return [_result(_check(obj, _RESULT_KEYS, "result")) for obj in _array(data, "results")]


def join_encoded(parts: list[bytes]) -> bytes:
    """A JSON array of already encoded objects (tasks or results), without re-encoding."""
    return b"[" + b",".join(parts) + b"]"


def _task(obj: dict[str, Any]) -> Task:
    verifier = _str(obj["verifier"], "verifier")
    raw_params = obj["params"]
    if verifier in INTERNAL_TASKS:
        if raw_params is not None:
            raise WireError(f"task {verifier!r} takes no params")
        if not isinstance(obj["reference"], dict):
            raise WireError(f"task {verifier!r}: reference must be an object")
        params = None
    else:
        params = _params(verifier, _str(raw_params, "params"))
    return Task(
        verifier,
        params,
        _str(obj["extracted"], "extracted"),
        obj["reference"],
        _context(obj["context"]),
        _opt_number(obj["timeout_s"], "timeout_s"),
    )


def decode_result(data: bytes) -> TaskResult:
    """A result from format-version-1 JSON; WireError on anything else."""
    return _result(_load(data, _RESULT_KEYS, "result"))


def _result(obj: dict[str, Any]) -> TaskResult:
    status = obj["status"]
    score = None if obj["score"] is None else _score(obj["score"])
    error = None if obj["error"] is None else _error(obj["error"])
    if status == "ok":
        if error is not None:
            raise WireError("result: status 'ok' with an error")
    elif status == "error":
        if error is None:
            raise WireError("result: status 'error' without an error")
    else:
        raise WireError(f"result: unknown status {status!r:.40}")
    second = obj["second_opinion"]
    if second is not None:
        second = _str(second, "second_opinion")
    return TaskResult(
        status,
        score,
        error,
        _number(obj["elapsed_s"], "elapsed_s"),
        _bool(obj["killed"], "killed"),
        obj["payload"],
        second,
        _bool(obj["cached"], "cached"),
    )


def _parse(data: bytes, what: str) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError(f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) > _MAX_BYTES:
        raise WireError(f"{what}: {len(data)} bytes is more than the format allows")
    try:
        return json.loads(bytes(data))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise WireError(f"{what}: not JSON ({type(exc).__name__})") from None


def _array(data: bytes, what: str) -> list[Any]:
    obj = _parse(data, what)
    if type(obj) is not list:
        raise WireError(f"{what}: expected an array, got {type(obj).__name__}")
    return obj


def _load(data: bytes, keys: frozenset[str], what: str) -> dict[str, Any]:
    return _check(_parse(data, what), keys, what)


def _check(obj: Any, keys: frozenset[str], what: str) -> dict[str, Any]:
    if type(obj) is not dict:
        raise WireError(f"{what}: expected an object, got {type(obj).__name__}")
    if obj.get("v") != VERSION or type(obj.get("v")) is not int:
        raise WireError(f"{what}: format version {obj.get('v')!r:.20}, expected {VERSION}")
    if obj.keys() != keys:
        raise WireError(f"{what}: fields {sorted(obj)!r:.200}, expected {sorted(keys)}")
    return obj


@functools.lru_cache(maxsize=256)
def _params(verifier: str, text: str) -> Any:
    # Cached by (name, text): equal params decode once. Errors are not cached.
    v = REGISTRY.get(verifier)
    if v is None:
        raise WireError(f"unknown verifier {verifier!r:.80}")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise WireError(f"params of {verifier!r}: not JSON") from None
    if type(raw) is not dict:
        raise WireError(f"params of {verifier!r}: expected an object")
    try:
        return v.parse_params(raw)
    except InvalidParams as exc:
        raise WireError(str(exc)) from None


def _context(obj: Any) -> Context:
    if type(obj) is not dict or obj.keys() != _CONTEXT_KEYS:
        raise WireError("context: expected {prompt, completion_tokens}")
    prompt, tokens = obj["prompt"], obj["completion_tokens"]
    if prompt is None and tokens is None:
        return NO_CONTEXT
    if prompt is not None:
        _str(prompt, "context.prompt")
    if tokens is not None and type(tokens) is not int:
        raise WireError("context.completion_tokens: expected an integer")
    return Context(prompt, tokens)


def _score(obj: Any) -> Score:
    if type(obj) is not dict or obj.keys() != _SCORE_KEYS:
        raise WireError("score: expected {reward, outcome, details}")
    try:
        outcome = Outcome(obj["outcome"])
    except ValueError:
        raise WireError(f"score.outcome: unknown {obj['outcome']!r:.40}") from None
    details = obj["details"]
    if type(details) is not dict:
        raise WireError("score.details: expected an object")
    return Score(_number(obj["reward"], "score.reward"), outcome, details)


def _error(obj: Any) -> ErrorInfo:
    if type(obj) is not dict or obj.keys() != _ERROR_KEYS:
        raise WireError("error: expected {kind, message, retryable}")
    return ErrorInfo(
        _str(obj["kind"], "error.kind"),
        _str(obj["message"], "error.message"),
        _bool(obj["retryable"], "error.retryable"),
    )


def _str(value: Any, name: str) -> str:
    if type(value) is not str:
        raise WireError(f"{name}: expected a string, got {type(value).__name__}")
    return value


def _bool(value: Any, name: str) -> bool:
    if type(value) is not bool:
        raise WireError(f"{name}: expected true or false, got {type(value).__name__}")
    return value


def _number(value: Any, name: str) -> float:
    # NaN is carried (a verifier's NaN reward is its own bug, surfaced at the edge).
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise WireError(f"{name}: expected a number, got {type(value).__name__}")


def _opt_number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    number = _number(value, name)
    if not number > 0 or math.isinf(number):
        raise WireError(f"{name}: expected a positive finite number")
    return number
