"""Interactive problems of the ``code`` verifier: the candidate talks to an interactor.

Per test, the interactor (``interactor <input> <output>``, testlib's layout) and
the candidate run cross-piped by the fork server, each with its own limits. The
interactor's verdict decides, by testlib's exit codes (``_contest.interpret``),
with these rules where the two sides disagree:

- both sides waiting on each other with nothing in flight (deadlock): ``timeout``
  with ``verdict: "idleness"``;
- the candidate over its time, memory or output limit: that outcome;
- the interactor's own failure (exit 3, a crash, its time limit while the
  candidate had ended): ``checker_error``, never a reward;
- the interactor says wrong answer: ``incorrect``, even when the candidate then
  crashed (writing to an interactor that had quit, reading past its end);
- the interactor accepts but the candidate crashed: ``runtime_error``.

With a ``checker`` too, the checker then judges the interactor's ``<output>`` file.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from referee import sandbox
from referee.sandbox import Limits, RunResult, RunStatus
from referee.verifiers import _contest
from referee.verifiers._types import CannotJudge, Outcome, Score

if TYPE_CHECKING:
    from referee.verifiers.code import CodeSpec

__all__ = ["run_interactive"]

_CANDIDATE_FAULT = {
    RunStatus.TIMEOUT: Outcome.TIMEOUT,
    RunStatus.MEMORY_LIMIT: Outcome.MEMORY_LIMIT,
    RunStatus.OUTPUT_LIMIT: Outcome.OUTPUT_LIMIT,
}
_SHORT = 200
_INTERACTOR_OUTPUT_BYTES = 16 * 1024 * 1024  # what it may send the program in one test


def _short(text: str) -> str:
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


def _one_test(
    box: sandbox.Sandbox,
    workdir: str,
    lang: sandbox.Language,
    inline: str | None,
    spec: CodeSpec,
    prepared: _contest.Prepared,
    checker: _contest.Prepared | None,
    index: int,
) -> tuple[float, Outcome | None, dict[str, Any]]:
    """(credit, failure outcome or None, details) of test ``index``."""
    stdin, answer = spec.tests[index]
    limits = spec.limits(index)
    own = prepared.limits
    inter_limits = Limits(
        time_s=limits.time_s + own.time_s,
        memory_mb=own.memory_mb,
        output_bytes=_INTERACTOR_OUTPUT_BYTES,
        file_size_mb=own.file_size_mb,
        cpu_s=own.time_s,
    )
    inter_dir = box.client.next_workdir()
    interactor = {
        "workdir": inter_dir,
        "files": {**prepared.files, "input.txt": stdin},
        "argv": list(prepared.argv),
        "inline": prepared.inline,
        "limits": inter_limits.to_wire(),
        "fetch": ["output.txt"] if checker is not None else [],
    }
    try:
        reply = box.interact(workdir, lang, limits, interactor, source=inline)
    finally:
        box.cleanup_dir(inter_dir)
    if reply.get("status") == "compile_error":
        return 0.0, Outcome.COMPILE_ERROR, {"status": "compile_error", "stderr": reply["stderr"]}
    cand = RunResult.from_wire(reply["candidate"])
    inter = RunResult.from_wire(reply["interactor"])
    details: dict[str, Any] = {"index": index, "status": cand.status.value, "input": _short(stdin)}
    if cand.stderr.strip():
        details["stderr"] = _short(cand.stderr.strip()[-1000:])
    if reply.get("deadlock"):
        details["interactor"] = {
            "verdict": "idleness",
            "message": "deadlock: the program and the interactor each waited for the other",
        }
        return 0.0, Outcome.TIMEOUT, details
    if cand.status in _CANDIDATE_FAULT:
        return 0.0, _CANDIDATE_FAULT[cand.status], details
    if cand.status == RunStatus.SANDBOX_ERROR:
        raise CannotJudge("sandbox_error", cand.message or "interactive run failed", retryable=True)
    verdict = _contest.interpret(inter, prepared, "interactor")
    details["interactor"] = {"verdict": verdict.kind, "message": _short(verdict.message)}
    if verdict.credit <= 0.0 and verdict.kind != "points":
        return 0.0, Outcome.INCORRECT, details
    if cand.status != RunStatus.OK:
        return 0.0, Outcome.RUNTIME_ERROR, details
    if checker is not None:
        output = base64.b64decode(reply.get("files", {}).get("output.txt", "")).decode(
            "utf-8", "replace"
        )
        checked = _contest.run_check(box, checker, stdin, output, answer)
        details["checker"] = {"verdict": checked.kind, "message": _short(checked.message)}
        verdict = _contest.Verdict(checked.kind, min(verdict.credit, checked.credit), "")
    if verdict.passed:
        return 1.0, None, details
    return verdict.credit, Outcome.INCORRECT, details


def run_interactive(
    box: sandbox.Sandbox, workdir: str, lang: sandbox.Language, inline: str | None, spec: CodeSpec
) -> Score:
    """Judge every test (or up to the first failure) with the reference's interactor."""
    from referee.verifiers.code import _final

    assert spec.interactor is not None
    prepared = _contest.prepare(box, spec.interactor, "interactor", _contest.INTERACTOR_ARGS)
    checker = (
        _contest.prepare(box, spec.checker, "checker", _contest.CHECKER_ARGS)
        if spec.checker is not None
        else None
    )
    passed, earned = 0, 0.0
    failure: dict[str, Any] | None = None
    failure_outcome = Outcome.INCORRECT
    for i in range(len(spec.tests)):
        credit, outcome, details = _one_test(box, workdir, lang, inline, spec, prepared, checker, i)
        earned += credit
        if outcome is None:
            passed += 1
            continue
        if failure is None:
            failure, failure_outcome = details, outcome
        if spec.scoring == "all" or spec.stop_early or outcome == Outcome.COMPILE_ERROR:
            break
    return _final(spec, passed, len(spec.tests), failure, failure_outcome, earned)
