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
- Test code may also call helpers that only the program defines (HumanEval/32
  checks roots with the prompt's ``poly``; /38 and /50 decode what the prompt's
  ``encode_cyclic`` and ``encode_shift`` encoded), as a single-process run of
  prompt, completion and test would. Each global name the test code reads but
  neither defines nor finds in builtins is asked of the candidate; those it
  holds as functions get a stand-in that forwards calls the same way, so the
  helper runs in the candidate process and only plain values cross.
"""

from __future__ import annotations

import builtins
import contextlib
import dis
import importlib
import json
import math
import os
import sys
import traceback
import types
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
        if "resolve" in request:  # which helpers the test code asks for this program holds
            wire.send(wfd, _helpers(namespace, request["resolve"]))
            continue
        try:
            target = fn if "fn" not in request else _helper(namespace, request["fn"])
            args = wire.decode(request["args"])
            kwargs = wire.decode(request["kwargs"])
            value = target(*args, **kwargs)
            reply: dict[str, Any] = {"value": wire.encode(value)}
        except BaseException as exc:  # the candidate's own error, passed on by name
            reply = {"error": type(exc).__name__, "message": str(exc)[:500]}
        wire.send(wfd, reply)


def _helper(namespace: dict[str, Any], name: Any) -> Any:
    value = namespace.get(name) if isinstance(name, str) else None
    if isinstance(value, type) or not callable(value):
        raise NameError(f"name {name!r} is not defined")
    return value


def _helpers(namespace: dict[str, Any], names: Any) -> dict[str, Any]:
    held: list[str] = []
    modules: dict[str, str] = {}
    for name in names if isinstance(names, list) else []:
        value = namespace.get(name) if isinstance(name, str) else None
        if isinstance(value, types.ModuleType):
            modules[name] = str(value.__name__)
            continue
        with contextlib.suppress(NameError):
            _helper(namespace, name)
            held.append(name)
    return {"resolved": held, "modules": modules}


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
        return self.call(None, args, kwargs)

    def helpers(self, names: list[str]) -> tuple[list[str], dict[str, Any]]:
        """Which of ``names`` the program holds as functions, and which as standard
        modules (imported here by their own name). It may lie: its functions still
        only run in its own process, and a module is one of the standard library's."""
        reply = self._ask({"resolve": names})
        held, modules = reply.get("resolved"), reply.get("modules")
        if not isinstance(held, list) or not isinstance(modules, dict):
            raise CandidateFailed("the program sent a malformed reply")
        imported: dict[str, Any] = {}
        for name, module in modules.items():
            top = module.partition(".")[0] if isinstance(module, str) else ""
            if name in names and top in sys.stdlib_module_names:
                with contextlib.suppress(ImportError):
                    imported[name] = importlib.import_module(module)
        return [name for name in held if name in names], imported

    def call(self, name: str | None, args: Any, kwargs: dict[str, Any]) -> Any:
        """Call the entry point (``name`` None) or a helper of the program."""
        try:
            request = {"args": wire.encode(list(args)), "kwargs": wire.encode(kwargs)}
        except TypeError as exc:
            raise HarnessLimit(str(exc)) from None
        if name is not None:
            request["fn"] = name
        reply = self._ask(request)
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

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            wire.send(self.wfd, request)
        except OSError:
            raise CandidateFailed("the program exited during a call") from None
        reply = wire.recv(self.rfd)
        if not isinstance(reply, dict):
            raise CandidateFailed("the program exited during a call")
        return reply


class _Helper:
    """Stands in for a helper function the program defines (see the module's doc)."""

    def __init__(self, candidate: _Candidate, name: str) -> None:
        self.candidate, self.__name__ = candidate, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.candidate.call(self.__name__, args, kwargs)


def _global_names(code: Any) -> tuple[set[str], set[str]]:
    """Global names the code (and every function it defines) reads, and those it binds."""
    reads: set[str] = set()
    stores: set[str] = set()
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            reads.add(str(ins.argval))
        elif ins.opname in ("STORE_GLOBAL", "STORE_NAME"):
            stores.add(str(ins.argval))
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            inner_reads, inner_stores = _global_names(const)
            reads |= inner_reads
            stores |= inner_stores
    return reads, stores


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
        code = compile(spec["test_code"], "test.py", "exec")
        reads, stores = _global_names(code)
        wanted = sorted(reads - stores - namespace.keys() - vars(builtins).keys())
        if wanted:
            helpers, modules = candidate.helpers(wanted)
            namespace.update({name: _Helper(candidate, name) for name in helpers})
            namespace.update(modules)
        exec(code, namespace)
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
