"""Checker and interactor programs of the ``code`` verifier, run the way testlib runs them.

A checker runs as ``checker <input> <output> <answer>`` after each test; an
interactor as ``interactor <input> <output>`` cross-piped with the candidate.
Their exit code is the verdict (testlib's codes): 0 ok, 1 wrong answer,
2 presentation error, 3 fail (the checker's own failure), 4 "dirt" (treated as
a presentation error), 7 points (``points <value>`` leads the verdict text),
8 unexpected end of file (wrong answer). Anything else (another code, a
signal, a timeout, a memory limit) is the checker's failure: ``CannotJudge``
with kind ``checker_error``, never a reward.

C++ sources compile against the vendored ``testlib.h`` (``sandbox/testlib``,
MIT, from github.com/MikeMirzayanov/testlib) with the language's contest flags;
the binary is kept in this worker by the hash of what built it, and written
afresh into a fresh directory before each run, so that no candidate run can
alter the checker the next check executes. Python checkers are forked by the
jail's zygote (no exec) under a small runner that gives them testlib's argv and
turns an uncaught exception into exit code 3.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from referee import sandbox
from referee.sandbox import Limits, RunResult, RunStatus
from referee.verifiers._types import CannotJudge, InvalidReference

__all__ = [
    "CHECKER_ARGS",
    "INTERACTOR_ARGS",
    "Prepared",
    "Program",
    "Verdict",
    "interpret",
    "parse_program",
    "prepare",
    "run_check",
]

CHECKER_LANGUAGES = ("cpp", "python")
CHECKER_ARGS = ("input.txt", "output.txt", "answer.txt")
INTERACTOR_ARGS = ("input.txt", "output.txt")
_CACHE_SIZE = 32
_POINTS = re.compile(r"^\s*points\s+([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")
_WRONG = {1: "wrong_answer", 2: "presentation_error", 4: "presentation_error", 8: "wrong_answer"}
_RUNNER = """\
import os, runpy, sys, traceback
sys.argv = ["checker.py", *ARGS]
try:
    runpy.run_path("checker.py", run_name="__main__")
except SystemExit:
    raise
except BaseException:
    traceback.print_exc()
    sys.stderr.flush()
    os._exit(3)
"""
_compiled: OrderedDict[str, bytes] = OrderedDict()
_compiled_lock = threading.Lock()


@dataclass(frozen=True)
class Program:
    """A checker or interactor from the reference."""

    language: str
    source: str
    time_limit_s: float = 10.0
    memory_limit_mb: int = 1024
    max_points: float = 1.0  # a ``points`` verdict is divided by this


@dataclass(frozen=True)
class Verdict:
    """What a checker (or interactor) said about one test."""

    kind: str  # ok, wrong_answer, presentation_error, points
    credit: float  # share of the test earned, in [0, 1]
    message: str

    @property
    def passed(self) -> bool:
        return self.credit >= 1.0


@dataclass(frozen=True)
class Prepared:
    """A program ready to run: the files to write and the command."""

    language: sandbox.Language
    files: dict[str, Any]
    argv: tuple[str, ...]
    limits: Limits
    max_points: float
    inline: str | None = None  # Python: the runner, forked by the zygote (no exec)


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= high:
        raise InvalidReference(f"{where} must be a number in ({low:g}, {high:g}]")
    return float(value)


def parse_program(raw: Any, where: str) -> Program:
    """Validate ``reference.checker`` or ``reference.interactor``."""
    if not isinstance(raw, dict):
        raise InvalidReference(f"{where} must be an object with 'language' and 'source'")
    language, source = raw.get("language"), raw.get("source")
    lang = sandbox.get_language(language) if isinstance(language, str) else None
    if lang is None or lang.name not in CHECKER_LANGUAGES:
        raise InvalidReference(f"{where}.language must be one of: {', '.join(CHECKER_LANGUAGES)}")
    if not isinstance(source, str) or not source.strip():
        raise InvalidReference(f"{where}.source must be a non-empty string")
    if lang.name == "python":
        try:
            compile(source, "checker.py", "exec")
        except (SyntaxError, ValueError) as exc:
            raise InvalidReference(f"{where}.source is not valid Python: {exc}") from None
    memory = raw.get("memory_limit_mb", 1024)
    if isinstance(memory, bool) or not isinstance(memory, int) or not 16 <= memory <= 8192:
        raise InvalidReference(f"{where}.memory_limit_mb must be an integer in [16, 8192]")
    return Program(
        language=lang.name,
        source=source,
        time_limit_s=_number(raw.get("time_limit_s", 10.0), f"{where}.time_limit_s", 0, 60),
        memory_limit_mb=memory,
        max_points=_number(raw.get("max_points", 1.0), f"{where}.max_points", 0, 1e9),
    )


@cache
def testlib_header() -> str:
    """The vendored testlib.h (MIT; see sandbox/testlib/LICENSE)."""
    return (Path(sandbox.__file__).parent / "testlib" / "testlib.h").read_text()


def _compile_argv(lang: sandbox.Language, name: str) -> list[str]:
    flags = lang.contest_compile or lang.compile or ()
    renamed = {lang.source_file: f"{name}.cpp", "main": name}
    return [*(renamed.get(arg, arg) for arg in flags), "-s"]


def _binary(box: sandbox.Sandbox, program: Program, name: str) -> bytes:
    """The compiled C++ program, from this worker's cache or built now."""
    lang = sandbox.get_language("cpp")
    if lang is None:  # pragma: no cover - the table always has cpp
        raise CannotJudge("checker_error", "no C++ compiler is configured")
    argv = _compile_argv(lang, name)
    key = hashlib.sha256(
        "\0".join([*argv, testlib_header(), program.source]).encode("utf-8", "surrogatepass")
    ).hexdigest()
    with _compiled_lock:
        if key in _compiled:
            _compiled.move_to_end(key)
            return _compiled[key]
    workdir = box.client.next_workdir()
    try:
        built: RunResult = box.compile(
            workdir,
            lang,
            program.source,
            Limits(time_s=max(lang.compile_time_s, 60.0)),
            files={"testlib.h": testlib_header()},
            argv=argv,
            fetch=[name],
            source_file=f"{name}.cpp",
        )
    finally:
        box.cleanup_dir(workdir)
    if built.status == RunStatus.SANDBOX_ERROR:
        raise CannotJudge("sandbox_error", built.message or "compile step failed", retryable=True)
    encoded = built.extra.get("files", {}).get(name)
    if built.status != RunStatus.OK or encoded is None:
        raise CannotJudge(
            "checker_error", f"the {name} does not compile: {built.stderr.strip()[-1500:]}"
        )
    binary = base64.b64decode(encoded)
    with _compiled_lock:
        _compiled[key] = binary
        while len(_compiled) > _CACHE_SIZE:
            _compiled.popitem(last=False)
    return binary


def prepare(box: sandbox.Sandbox, program: Program, name: str, args: tuple[str, ...]) -> Prepared:
    """Compile (or take from the cache) and describe how to run ``program``."""
    limits = Limits(
        time_s=program.time_limit_s,
        memory_mb=program.memory_limit_mb,
        output_bytes=1024 * 1024,
        file_size_mb=64,
    )
    if program.language == "python":
        lang = sandbox.get_language("python")
        assert lang is not None
        runner = _RUNNER.replace("ARGS", repr(list(args)))
        files: dict[str, Any] = {"checker.py": program.source}
        return Prepared(lang, files, (), limits, program.max_points, inline=runner)
    else:
        lang = sandbox.get_language("cpp")
        assert lang is not None
        binary = base64.b64encode(_binary(box, program, name)).decode()
        files = {name: {"b64": binary, "mode": 0o700}}
        argv = (f"./{name}", *args)
    return Prepared(lang, files, argv, limits, program.max_points)


def interpret(run: RunResult, prepared: Prepared, who: str) -> Verdict:
    """The testlib verdict of a finished checker or interactor run."""
    text = (run.stderr.strip() or run.stdout.strip())[:500]
    usable = run.status in (RunStatus.OK, RunStatus.RUNTIME_ERROR) and run.signal is None
    code = run.exit_code if usable else None
    if code == 0:
        return Verdict("ok", 1.0, text)
    if code in _WRONG:
        return Verdict(_WRONG[code], 0.0, text)
    if code == 7:
        match = _POINTS.match(text)
        if match is None:
            raise CannotJudge("checker_error", f"the {who} gave points without a value: {text!r}")
        credit = float(match.group(1)) / prepared.max_points
        if not 0.0 <= credit <= 1.0:
            raise CannotJudge(
                "checker_error", f"the {who} gave points outside [0, max_points]: {text!r}"
            )
        return Verdict("points", credit, text)
    if code == 3:
        raise CannotJudge("checker_error", f"the {who} failed: {text or 'no message'}")
    how = (
        f"exit code {run.exit_code}"
        if code is not None
        else f"signal {run.signal}"
        if run.signal is not None
        else run.status.value
    )
    raise CannotJudge("checker_error", f"the {who} ended abnormally ({how}): {text[-300:]}")


def run_check(
    box: sandbox.Sandbox, prepared: Prepared, stdin: str, output: str, answer: str
) -> Verdict:
    """Run a prepared checker on one test, in a directory made for this check alone."""
    workdir = box.client.next_workdir()
    files = {
        **prepared.files,
        "input.txt": stdin,
        "output.txt": output,
        "answer.txt": answer,
    }
    try:
        run = box.run(
            workdir,
            prepared.language,
            prepared.limits,
            files=files,
            argv=list(prepared.argv) or None,
            source=prepared.inline,
        )
    finally:
        box.cleanup_dir(workdir)
    if run.status == RunStatus.SANDBOX_ERROR:
        raise CannotJudge("sandbox_error", run.message or "checker run failed", retryable=True)
    return interpret(run, prepared, "checker")
