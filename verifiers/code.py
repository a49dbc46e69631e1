"""``code``: does the program in the response pass the reference's tests?

The program is the last fenced code block in the reference's language in the
answer region (after ``</think>``), else the last untagged block, else the whole
answer region. It runs in the worker's sandbox (``referee.sandbox``). Three test
forms (PROTOCOL.md): stdin/stdout tests, HumanEval-style ``test_code`` with an
``entry_point``, and call-based ``fn_name`` with ``inputs``/``outputs``. The last
two run the checks in a separate harness process (see ``sandbox/jail/harness.py``)
so that the program cannot forge a pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from referee import sandbox
from referee.sandbox import Limits, RunResult, RunStatus, SandboxError, SandboxUnavailable
from referee.verifiers import _contest, _contest_io
from referee.verifiers._extract import answer_region
from referee.verifiers._types import CannotJudge, Context, InvalidReference, Outcome, Score
from referee.verifiers.registry import Verifier, register

__all__ = ["CODE", "CodeParams", "CodeSpec", "extract", "grade", "parse_reference"]

Checker = Literal["tokens", "lines", "exact"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n]*$", re.MULTILINE)
_INTEGER = re.compile(r"[-+]?\d+")
_STATUS_OUTCOME = {
    RunStatus.COMPILE_ERROR: Outcome.COMPILE_ERROR,
    RunStatus.RUNTIME_ERROR: Outcome.RUNTIME_ERROR,
    RunStatus.TIMEOUT: Outcome.TIMEOUT,
    RunStatus.MEMORY_LIMIT: Outcome.MEMORY_LIMIT,
    RunStatus.OUTPUT_LIMIT: Outcome.OUTPUT_LIMIT,
}
_MAX_TESTS = 1000
_SHORT = 200


@dataclass(frozen=True)
class CodeParams:
    """Parameters of the ``code`` verifier.

    - ``checker``: how stdout is compared with the expected output: ``tokens``
      (whitespace-separated tokens; two integers exactly, numbers of which one is
      written with a decimal point or exponent within ``float_tolerance``),
      ``lines`` (line by line,
      trailing spaces and blank lines ignored), or ``exact``.
    - ``float_tolerance``: relative and absolute tolerance of the tokens checker.
    """

    checker: Checker = "tokens"
    float_tolerance: float = 1e-6

    def __post_init__(self) -> None:
        if not 0 <= self.float_tolerance < 1:
            raise ValueError("float_tolerance must be in [0, 1)")


@dataclass(frozen=True)
class CodeSpec:
    """A validated ``code`` reference."""

    language: str
    tests: tuple[tuple[str, str], ...] = ()
    test_code: str | None = None
    entry_point: str | None = None
    fn_name: str | None = None
    inputs: tuple[Any, ...] = ()
    outputs: tuple[Any, ...] = ()
    time_limit_s: float = 5.0
    memory_limit_mb: int = 512
    scoring: Literal["all", "fraction"] = "all"
    checker: _contest.Program | None = None
    interactor: _contest.Program | None = None
    stop_early: bool = False  # end at the first failing test even when scoring by fraction
    time_limit_mode: Literal["wall", "cpu"] = "wall"
    compile_flags: Literal["default", "contest"] = "default"
    # Per-test (time_limit_s, memory_limit_mb) where the dataset gives them; None: the problem's.
    test_limits: tuple[tuple[float | None, int | None], ...] = ()

    def limits(self, index: int) -> Limits:
        """The limits of test ``index``: CPU time (wall twice that + 1 s) in ``cpu`` mode."""
        time_s, memory = self.time_limit_s, self.memory_limit_mb
        if index < len(self.test_limits):
            own_time, own_memory = self.test_limits[index]
            time_s = own_time if own_time is not None else time_s
            memory = own_memory if own_memory is not None else memory
        if self.time_limit_mode == "cpu":
            return Limits(time_s=2 * time_s + 1.0, memory_mb=memory, cpu_s=time_s)
        return Limits(time_s=time_s, memory_mb=memory)

    @property
    def test_count(self) -> int:
        return len(self.tests) or len(self.inputs) or 1


def _text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)  # some datasets store lines
    raise InvalidReference(f"{where} must be a string")


def _language(name: str) -> sandbox.Language:
    lang = sandbox.get_language(name)
    if lang is None:
        raise InvalidReference(f"reference.language must be one of: {', '.join(sandbox.LANGUAGES)}")
    return lang


def parse_reference(reference: Any) -> CodeSpec:
    """Validate a ``code`` reference; InvalidReference says what is wrong."""
    if not isinstance(reference, dict):
        raise InvalidReference("reference must be an object with 'language' and tests")
    language = reference.get("language")
    if not isinstance(language, str) or sandbox.get_language(language) is None:
        valid = ", ".join(sorted(sandbox.LANGUAGES))
        raise InvalidReference(f"reference.language must be one of: {valid}")
    lang = _language(language)
    time_limit = reference.get("time_limit_s", 5.0)
    memory = reference.get("memory_limit_mb", 512)
    scoring = reference.get("scoring", "all")
    if (
        isinstance(time_limit, bool)
        or not isinstance(time_limit, int | float)
        or not (0 < time_limit <= 60)
    ):
        raise InvalidReference("reference.time_limit_s must be a number in (0, 60]")
    if isinstance(memory, bool) or not isinstance(memory, int) or not 16 <= memory <= 8192:
        raise InvalidReference("reference.memory_limit_mb must be an integer in [16, 8192]")
    if scoring not in ("all", "fraction"):
        raise InvalidReference("reference.scoring must be 'all' or 'fraction'")
    common: dict[str, Any] = {
        "language": lang.name,
        "time_limit_s": float(time_limit),
        "memory_limit_mb": memory,
        "scoring": scoring,
    }
    common.update(_contest_fields(reference))
    forms = [k for k in ("tests", "test_code", "fn_name") if reference.get(k) is not None]
    if len(forms) != 1:
        raise InvalidReference(
            "reference needs exactly one test form: 'tests', 'test_code' (+ 'entry_point'), "
            "or 'fn_name' (+ 'inputs', 'outputs')"
        )
    if forms[0] == "tests":
        raw = reference["tests"]
        if not isinstance(raw, list) or not 0 < len(raw) <= _MAX_TESTS:
            raise InvalidReference(f"reference.tests must be a list of 1..{_MAX_TESTS} tests")
        tests = []
        test_limits: list[tuple[float | None, int | None]] = []
        for i, t in enumerate(raw):
            if not isinstance(t, dict):
                raise InvalidReference(f"reference.tests[{i}] must be an object")
            stdin = t.get("stdin", t.get("input", ""))
            stdout = t.get("stdout", t.get("output"))
            if stdout is None and common["interactor"] is not None:
                stdout = ""  # an interactor may judge from the input alone
            if stdout is None:
                raise InvalidReference(f"reference.tests[{i}] needs 'stdout'")
            tests.append((_text(stdin, f"tests[{i}].stdin"), _text(stdout, f"tests[{i}].stdout")))
            test_limits.append(_test_limits(t, i))
        if all(limit == (None, None) for limit in test_limits):
            test_limits = []
        return CodeSpec(tests=tuple(tests), test_limits=tuple(test_limits), **common)
    if common["checker"] is not None or common["interactor"] is not None:
        raise InvalidReference("reference.checker and reference.interactor need 'tests'")
    if lang.name != "python":
        raise InvalidReference(f"'{forms[0]}' tests are supported for python only")
    if forms[0] == "test_code":
        entry = reference.get("entry_point")
        if not isinstance(reference["test_code"], str) or not isinstance(entry, str):
            raise InvalidReference("reference.test_code and reference.entry_point must be strings")
        return CodeSpec(test_code=reference["test_code"], entry_point=entry, **common)
    fn_name, inputs, outputs = (
        reference["fn_name"],
        reference.get("inputs"),
        reference.get("outputs"),
    )
    if not isinstance(fn_name, str):
        raise InvalidReference("reference.fn_name must be a string")
    if (
        not isinstance(inputs, list)
        or not isinstance(outputs, list)
        or len(inputs) != len(outputs)
        or not 0 < len(inputs) <= _MAX_TESTS
    ):
        raise InvalidReference(
            f"reference.inputs and reference.outputs must be lists of the same length "
            f"(1..{_MAX_TESTS})"
        )
    return CodeSpec(fn_name=fn_name, inputs=tuple(inputs), outputs=tuple(outputs), **common)


def _contest_fields(reference: dict[str, Any]) -> dict[str, Any]:
    checker = reference.get("checker")
    interactor = reference.get("interactor")
    stop_early = reference.get("stop_early", False)
    mode = reference.get("time_limit_mode", "wall")
    flags = reference.get("compile_flags", "default")
    if not isinstance(stop_early, bool):
        raise InvalidReference("reference.stop_early must be true or false")
    if mode not in ("wall", "cpu"):
        raise InvalidReference("reference.time_limit_mode must be 'wall' or 'cpu'")
    if flags not in ("default", "contest"):
        raise InvalidReference("reference.compile_flags must be 'default' or 'contest'")
    return {
        "checker": None
        if checker is None
        else _contest.parse_program(checker, "reference.checker"),
        "interactor": (
            None
            if interactor is None
            else _contest.parse_program(interactor, "reference.interactor")
        ),
        "stop_early": stop_early,
        "time_limit_mode": mode,
        "compile_flags": flags,
    }


def _test_limits(test: dict[str, Any], i: int) -> tuple[float | None, int | None]:
    time_limit, memory = test.get("time_limit_s"), test.get("memory_limit_mb")
    if time_limit is not None and (
        isinstance(time_limit, bool)
        or not isinstance(time_limit, int | float)
        or not 0 < time_limit <= 60
    ):
        raise InvalidReference(f"reference.tests[{i}].time_limit_s must be a number in (0, 60]")
    if memory is not None and (
        isinstance(memory, bool) or not isinstance(memory, int) or not 16 <= memory <= 8192
    ):
        raise InvalidReference(
            f"reference.tests[{i}].memory_limit_mb must be an integer in [16, 8192]"
        )
    return (None if time_limit is None else float(time_limit), memory)


def check_reference(reference: Any, params: CodeParams) -> None:
    parse_reference(reference)


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info tag, body) of each complete fenced block, in order."""
    blocks: list[tuple[str, str]] = []
    opening: re.Match[str] | None = None
    for match in _FENCE.finditer(text):
        if opening is None:
            opening = match
        elif (
            match.group(1)[0] == opening.group(1)[0]
            and len(match.group(1)) >= len(opening.group(1))
            and not match.group(2)
        ):
            blocks.append((opening.group(2).lower(), text[opening.end() + 1 : match.start()]))
            opening = None
    return blocks


def extract(response: str, reference: Any, params: CodeParams, context: Context) -> str:
    """The program: the last fenced block in the language, else the last untagged one."""
    region = answer_region(response)
    spec_language = reference.get("language", "") if isinstance(reference, dict) else ""
    lang = sandbox.get_language(spec_language) if isinstance(spec_language, str) else None
    aliases = lang.aliases if lang else ()
    blocks = _fenced_blocks(region)
    for wanted in (lambda tag: tag in aliases, lambda tag: tag == ""):
        for tag, body in reversed(blocks):
            if wanted(tag):
                return body
    return region.strip()


# -- grading ---------------------------------------------------------------------------------


def _number(token: str) -> int | float | None:
    """A token's numeric value: int for integers, float for decimals, None otherwise."""
    if _INTEGER.fullmatch(token):
        return int(token)
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def outputs_match(got: str, expected: str, params: CodeParams) -> bool:
    """Compare a program's stdout with the expected output under ``params.checker``."""
    if params.checker == "exact":
        return got == expected
    if params.checker == "lines":

        def lines(s: str) -> list[str]:
            return [line.rstrip() for line in s.rstrip().splitlines()]

        return lines(got) == lines(expected)
    a, b = got.split(), expected.split()
    if len(a) != len(b):
        return False
    tol = params.float_tolerance
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        nx, ny = _number(x), _number(y)
        if nx is None or ny is None:
            return False
        if isinstance(nx, int) and isinstance(ny, int):
            if nx != ny:  # integers compare exactly ("-0" is 0): no tolerance
                return False
        elif not math.isclose(nx, ny, rel_tol=tol, abs_tol=tol):
            return False
    return True


def _short(text: str) -> str:
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


def _final(
    spec: CodeSpec,
    passed: int,
    total: int,
    failure: dict[str, Any] | None,
    failure_outcome: Outcome,
    earned: float | None = None,
) -> Score:
    details: dict[str, Any] = {"language": spec.language, "passed": passed, "total": total}
    if failure is not None:
        details["first_failure"] = failure
    if passed == total:
        return Score(1.0, Outcome.CORRECT, details)
    if spec.scoring == "fraction":
        credit = passed if earned is None else earned
        if earned is not None:
            details["earned"] = round(earned, 6)
        outcome = Outcome.PARTIAL if credit > 0 else failure_outcome
        return Score(credit / total, outcome, details)
    return Score(0.0, failure_outcome, details)


def _run_io_tests(
    box: sandbox.Sandbox, workdir: str, program: str, spec: CodeSpec, params: CodeParams
) -> Score:
    lang = _language(spec.language)
    inline = program if lang.inline_python else None
    if not lang.inline_python:
        contest = lang.contest_compile if spec.compile_flags == "contest" else None
        compiled = box.compile(
            workdir,
            lang,
            program,
            Limits(time_s=lang.compile_time_s),
            argv=list(contest) if contest else None,
        )
        if compiled.status == RunStatus.SANDBOX_ERROR:
            raise CannotJudge(
                "sandbox_error", compiled.message or "compile step failed", retryable=True
            )
        if compiled.status != RunStatus.OK:
            details = {"status": "compile_error", "stderr": _short(compiled.stderr[-2000:])}
            return _final(spec, 0, len(spec.tests), details, Outcome.COMPILE_ERROR)
    if spec.interactor is not None:
        return _contest_io.run_interactive(box, workdir, lang, inline, spec)
    checker = (
        _contest.prepare(box, spec.checker, "checker", _contest.CHECKER_ARGS)
        if spec.checker is not None
        else None
    )
    passed = 0
    earned = 0.0
    failure: dict[str, Any] | None = None
    failure_outcome = Outcome.INCORRECT
    for i, (stdin, expected) in enumerate(spec.tests):
        result: RunResult = box.run(workdir, lang, spec.limits(i), stdin=stdin, source=inline)
        if result.status == RunStatus.SANDBOX_ERROR:
            raise CannotJudge("sandbox_error", result.message or "run failed", retryable=True)
        verdict: _contest.Verdict | None = None
        if result.status == RunStatus.OK and checker is not None:
            verdict = _contest.run_check(box, checker, stdin, result.stdout, expected)
            earned += verdict.credit
            if verdict.passed:
                passed += 1
                continue
        elif result.status == RunStatus.OK and outputs_match(result.stdout, expected, params):
            passed += 1
            earned += 1.0
            continue
        if failure is None:
            failure_outcome = _STATUS_OUTCOME.get(result.status, Outcome.INCORRECT)
            failure = {
                "index": i,
                "status": result.status.value,
                "input": _short(stdin),
                "expected": _short(expected),
                "got": _short(result.stdout),
            }
            if verdict is not None:
                failure["checker"] = {"verdict": verdict.kind, "message": _short(verdict.message)}
            if result.stderr.strip():
                failure["stderr"] = _short(result.stderr.strip()[-1000:])
        if spec.scoring == "all" or spec.stop_early or failure_outcome == Outcome.COMPILE_ERROR:
            break
    return _final(spec, passed, len(spec.tests), failure, failure_outcome, earned)


def _run_call_tests(box: sandbox.Sandbox, workdir: str, program: str, spec: CodeSpec) -> Score:
    # One time limit per call-based test, one for a whole test_code check.
    limits = Limits(
        time_s=min(spec.time_limit_s * spec.test_count, 120.0), memory_mb=spec.memory_limit_mb
    )
    if spec.test_code is not None:
        call = box.call(workdir, program, spec.entry_point or "", limits, test_code=spec.test_code)
    else:
        call = box.call(
            workdir,
            program,
            spec.fn_name or "",
            limits,
            inputs=list(spec.inputs),
            outputs=list(spec.outputs),
            stop_at_first=spec.scoring == "all",
        )
    total = spec.test_count
    if call.status == RunStatus.SANDBOX_ERROR:
        raise CannotJudge("sandbox_error", call.message or "call failed", retryable=True)
    if call.status == RunStatus.COMPILE_ERROR:
        return _final(
            spec,
            0,
            total,
            {"status": "compile_error", "stderr": _short(call.stderr)},
            Outcome.COMPILE_ERROR,
        )
    verdict = call.verdict
    if call.status != RunStatus.OK or verdict is None:
        outcome = _STATUS_OUTCOME.get(call.status, Outcome.RUNTIME_ERROR)
        return _final(spec, 0, total, {"status": call.status.value}, outcome)
    if "harness_error" in verdict:
        raise CannotJudge("unsupported_test", f"the test cannot run: {verdict['harness_error']}")
    passed = verdict.get("passed")
    if not isinstance(passed, int) or not 0 <= passed <= total:
        raise CannotJudge("sandbox_error", "the harness sent an impossible verdict", retryable=True)
    failure = verdict.get("first_failure")
    outcome = Outcome.INCORRECT
    if failure is not None:
        error = str(failure.get("error", ""))
        if error.startswith("MemoryError"):
            outcome = Outcome.MEMORY_LIMIT
        elif verdict.get("candidate_failed") or (error and not error.startswith("AssertionError")):
            outcome = Outcome.RUNTIME_ERROR
        if call.stderr.strip():
            failure["stderr"] = _short(call.stderr.strip()[-1000:])
    return _final(spec, passed, total, failure, outcome)


def grade(extracted: str, reference: Any, params: CodeParams, context: Context) -> Score:
    """Run the program against the tests in this worker's sandbox."""
    spec = parse_reference(reference)
    if not extracted.strip():
        return Score(0.0, Outcome.NO_ANSWER, {"language": spec.language})
    try:
        box = sandbox.current()
    except SandboxUnavailable as exc:
        raise CannotJudge("sandbox_unavailable", str(exc)) from None
    workdir = box.client.next_workdir()
    try:
        if spec.tests:
            return _run_io_tests(box, workdir, extracted, spec, params)
        return _run_call_tests(box, workdir, extracted, spec)
    except SandboxUnavailable as exc:  # this server cannot run the language: say so
        raise CannotJudge("sandbox_unavailable", f"{spec.language}: {exc}") from None
    except SandboxError as exc:
        raise CannotJudge("sandbox_error", str(exc), retryable=True) from None
    finally:
        box.cleanup(workdir)


def time_budget(reference: Any, params: CodeParams) -> float:
    """Seconds the tests may take at most: the item's deadline in the engine."""
    spec = parse_reference(reference)
    lang = sandbox.get_language(spec.language)
    compile_s = lang.compile_time_s if lang is not None and lang.compile is not None else 0.0
    per_test = max(spec.limits(i).time_s for i in range(spec.test_count)) + 0.5
    for program in (spec.checker, spec.interactor):
        if program is not None:
            compile_s += 60.0 if program.language == "cpp" else 0.0
            per_test += program.time_limit_s + 0.5
    return compile_s + spec.test_count * per_test + 5.0


CODE = register(
    Verifier(
        name="code",
        version="1",
        params_type=CodeParams,
        extract=extract,
        grade=grade,
        description="Program passes the reference's tests in the sandbox; 1 or 0 (or the "
        "share passed with scoring 'fraction').",
        check_reference=check_reference,
        time_budget=time_budget,
        runs_code=True,
    )
)
