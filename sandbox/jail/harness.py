"""The two sides of a function-call test, each in its own forked process.

- The candidate process runs the model's program, then answers calls of its
  entry point: arguments come in and return values go out encoded by exact type
  (``wire.encode``), so what crosses is plain data, never an object of the
  program's making.
- The harness process runs the trusted test code (a HumanEval ``check``, or
  call-based inputs and outputs) with a stand-in for the candidate function
  that forwards each call. It alone writes the verdict, on its own stdout, after
  the checks ran: the program cannot exit early for it, print it, patch its
  builtins or rig a comparison.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import math
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.jail import wire
else:  # inside the jail the three scripts are plain top-level modules
    import wire

VERDICT_MARK = "REFEREE-VERDICT:"
# Exceptions a candidate may raise are re-raised in the harness by name, except
# those that steer control flow (a StopIteration would end a checking loop early).
_EXCEPTIONS = {
    name: obj
    for name, obj in vars(builtins).items()
    if isinstance(obj, type)
    and issubclass(obj, Exception)
    and not issubclass(obj, StopIteration | StopAsyncIteration)
}


class CandidateFailed(Exception):
    """The candidate process died, hung up, or sent something that is not a value."""


class HarnessLimit(Exception):
    """The test passes a value the harness cannot send (not the candidate's fault)."""


# -- candidate side ---------------------------------------------------------------------------


def _resolve(namespace: dict[str, Any], entry_point: str) -> Any:
    if entry_point in namespace and callable(namespace[entry_point]):
        return namespace[entry_point]
    solution = namespace.get("Solution")
    if isinstance(solution, type):  # LeetCode style: class Solution with the method
        return getattr(solution(), entry_point)
    raise NameError(f"the program defines no function {entry_point!r}")


def serve_candidate(code: Any, entry_point: str, rfd: int, wfd: int) -> None:
    """Run the program, then answer calls until the harness hangs up."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(code, namespace)
        fn = _resolve(namespace, entry_point)
    except BaseException as exc:
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        traceback.print_exception(type(exc), exc, tb)
        _flush()
        with contextlib.suppress(BaseException):
            wire.send(wfd, {"load_error": f"{type(exc).__name__}: {exc}"[:1000]})
        os._exit(1)
    wire.send(wfd, {"ready": True})
    while True:
        request = wire.recv(rfd)
        if request is None:
            _flush()
            os._exit(0)
        try:
            args = wire.decode(request["args"])
            kwargs = wire.decode(request["kwargs"])
            value = fn(*args, **kwargs)
            reply: dict[str, Any] = {"value": wire.encode(value)}
        except BaseException as exc:  # the candidate's own error, passed on by name
            reply = {"error": type(exc).__name__, "message": str(exc)[:500]}
        wire.send(wfd, reply)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()


# -- harness side -----------------------------------------------------------------------------


class _Candidate:
    """Stands in for the candidate function in the harness process."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        hello = wire.recv(rfd)
        if not isinstance(hello, dict) or not hello.get("ready"):
            detail = hello.get("load_error") if isinstance(hello, dict) else None
            raise CandidateFailed(
                detail or "the program exited before its function could be called"
            )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            request = {"args": wire.encode(list(args)), "kwargs": wire.encode(kwargs)}
        except TypeError as exc:
            raise HarnessLimit(str(exc)) from None
        try:
            wire.send(self.wfd, request)
        except OSError:
            raise CandidateFailed("the program exited during a call") from None
        reply = wire.recv(self.rfd)
        if not isinstance(reply, dict):
            raise CandidateFailed("the program exited during a call")
        if "value" in reply:
            try:
                return wire.decode(reply["value"])
            except (ValueError, TypeError, KeyError) as exc:
                raise CandidateFailed("the program returned a malformed value") from exc
        if "error" in reply:
            exc_type = _EXCEPTIONS.get(str(reply["error"]), RuntimeError)
            raise exc_type(reply.get("message", ""))
        raise CandidateFailed("the program sent a malformed reply")


def _same(got: Any, expected: Any) -> bool:
    """Equality for call-based tests: exact, floats within 1e-6, tuples equal lists."""
    if isinstance(got, float) or isinstance(expected, float):
        if isinstance(got, bool) or isinstance(expected, bool):
            return bool(got == expected)
        if isinstance(got, int | float) and isinstance(expected, int | float):
            return math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-6)
        return False
    if isinstance(got, list | tuple) and isinstance(expected, list | tuple):
        return len(got) == len(expected) and all(map(_same, got, expected))
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(_same(got[k], expected[k]) for k in got)
    return type(got) is type(expected) and bool(got == expected)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _run_calls(spec: dict[str, Any], candidate: _Candidate) -> dict[str, Any]:
    inputs, outputs = spec["inputs"], spec["outputs"]
    stop = spec.get("stop_at_first", True)
    results: list[bool] = []
    first_failure: dict[str, Any] | None = None
    for i, (args, expected) in enumerate(zip(inputs, outputs, strict=True)):
        args = args if isinstance(args, list) else [args]
        try:
            got = candidate(*args)
            # APPS-style outputs are often wrapped in a one-element list.
            ok = _same(got, expected) or (
                isinstance(expected, list) and len(expected) == 1 and _same(got, expected[0])
            )
            failure = (
                None
                if ok
                else {
                    "index": i,
                    "input": _short(args),
                    "expected": _short(expected),
                    "got": _short(got),
                }
            )
        except (CandidateFailed, HarnessLimit):
            raise
        except Exception as exc:
            ok = False
            failure = {
                "index": i,
                "input": _short(args),
                "expected": _short(expected),
                "error": f"{type(exc).__name__}: {exc}"[:300],
            }
        results.append(ok)
        if failure is not None and first_failure is None:
            first_failure = failure
        if not ok and stop:
            break
    return {"passed": sum(results), "total": len(inputs), "first_failure": first_failure}


def _run_test_code(spec: dict[str, Any], candidate: _Candidate) -> dict[str, Any]:
    entry_point = spec["entry_point"]
    namespace: dict[str, Any] = {"__name__": "__referee_test__", entry_point: candidate}
    try:
        exec(compile(spec["test_code"], "test.py", "exec"), namespace)
        check = namespace.get("check")
        if callable(check):
            check(candidate)
    except (CandidateFailed, HarnessLimit):
        raise
    except AssertionError as exc:
        return {"passed": 0, "total": 1, "first_failure": {"error": f"AssertionError: {exc}"[:300]}}
    except Exception as exc:
        return {
            "passed": 0,
            "total": 1,
            "first_failure": {"error": f"{type(exc).__name__}: {exc}"[:300]},
        }
    return {"passed": 1, "total": 1, "first_failure": None}


def run_harness(spec: dict[str, Any], rfd: int, wfd: int) -> None:
    """Run the checks and write the verdict line; exit 0 whatever the verdict."""
    try:
        candidate = _Candidate(rfd, wfd)
        verdict = (
            _run_test_code(spec, candidate) if "test_code" in spec else _run_calls(spec, candidate)
        )
    except CandidateFailed as exc:
        total = 1 if "test_code" in spec else len(spec.get("inputs", []))
        verdict = {
            "passed": 0,
            "total": total,
            "first_failure": {"error": str(exc)[:300]},
            "candidate_failed": True,
        }
    except HarnessLimit as exc:
        verdict = {"harness_error": str(exc)[:300]}
    sys.stdout.write(VERDICT_MARK + json.dumps(verdict) + "\n")
    sys.stdout.flush()
    os._exit(0)


def parse_verdict(stdout: str) -> dict[str, Any]:
    """The verdict the harness wrote (its last marked line)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(VERDICT_MARK):
            verdict: dict[str, Any] = json.loads(line[len(VERDICT_MARK) :])
            return verdict
    raise ValueError("no verdict")
