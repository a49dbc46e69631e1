"""``reasoning_gym``: reasoning-gym's procedural tasks, scored by the library's own scorer.

Reference ``{"task": "leg_counting", "entry": {"question": ..., "answer": ...,
"metadata": {...}}}``: the task name as registered in reasoning-gym and the entry
its dataset generated (as JSON). The answer is the last ``<answer>…</answer>`` in
the answer region (reasoning-gym's ``extract_answer`` convention), or the whole
answer region with ``extract: "answer_region"``. The reward is what
``reasoning_gym.get_score_answer_fn(task)(answer, entry)`` returns (1.0 for a
correct answer, some tasks give partial credit).

Some tasks' scorers call Python's ``eval`` (or sympy's ``parse_expr``) on the
answer or on the reference; for those, ``_rg_safe`` rebinds the name in the task's
module to a safe parse that accepts what legitimate answers contain (list
literals, integer arithmetic, arithmetic expressions without attributes), so no
verdict depends on evaluating model text as code.

reasoning-gym is an optional dependency (``pip install 'referee[reasoning-gym]'``);
without it items are ``status: "error"``, kind ``verifier_unavailable``. It is
imported in the worker on first use (about 3 s of CPU), so each item may take
up to ``FIRST_USE_BUDGET_S`` before it times out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from referee.verifiers._extract import answer_region, last_answer_tag
from referee.verifiers._rg_safe import harden
from referee.verifiers._types import CannotJudge, Context, InvalidReference, Outcome, Score
from referee.verifiers.registry import Verifier, register

__all__ = ["REASONING_GYM", "ReasoningGymParams", "extract", "grade"]

FIRST_USE_BUDGET_S = 30.0


@dataclass(frozen=True)
class ReasoningGymParams:
    """Parameters of ``reasoning_gym``.

    - ``extract``: ``answer_tag`` (the last ``<answer>`` block) or ``answer_region``
      (everything after ``</think>``).
    """

    extract: Literal["answer_tag", "answer_region"] = "answer_tag"


def extract(response: str, reference: Any, params: ReasoningGymParams, context: Context) -> str:
    """The answer handed to the task's scorer, stripped; ``""`` when there is none."""
    region = answer_region(response)
    found = last_answer_tag(region) if params.extract == "answer_tag" else region
    return found.strip() if found is not None else ""


@functools.lru_cache(maxsize=256)
def _scorer(task: str) -> Callable[[str | None, dict[str, Any]], float]:
    try:
        import reasoning_gym
        from reasoning_gym.factory import DATASETS
    except ImportError:
        raise CannotJudge(
            "verifier_unavailable",
            "reasoning-gym is not installed on the workers: pip install 'referee[reasoning-gym]'",
        ) from None
    if task not in DATASETS:
        raise CannotJudge("invalid_reference", f"reference.task: unknown task {task[:80]!r}")
    harden()  # no eval/parse_expr of answers or references: see _rg_safe
    fn: Callable[[str | None, dict[str, Any]], float] = reasoning_gym.get_score_answer_fn(task)
    return fn


def grade(extracted: str, reference: Any, params: ReasoningGymParams, context: Context) -> Score:
    """The task's own score of the answer; outcome by its value."""
    score_answer = _scorer(reference["task"])
    if not extracted:
        return Score(0.0, Outcome.NO_ANSWER, {"extracted": None})
    details = {"extracted": extracted[:200], "task": reference["task"]}
    try:
        reward = float(score_answer(extracted, reference["entry"]))
    except Exception as exc:  # the library's own failure on this entry: ours to report
        raise CannotJudge(
            "verifier_error", f"score_answer failed: {type(exc).__name__}: {str(exc)[:160]}"
        ) from None
    if reward >= 1.0:
        return Score(1.0, Outcome.CORRECT, details)
    if reward > 0.0:
        return Score(reward, Outcome.PARTIAL, details)
    return Score(0.0, Outcome.INCORRECT, details)


def check_reference(reference: Any, params: ReasoningGymParams) -> None:
    if not isinstance(reference, dict):
        raise InvalidReference('reference must be {"task": str, "entry": {...}}')
    task = reference.get("task")
    if not isinstance(task, str) or not task.strip():
        raise InvalidReference("reference.task must be a reasoning-gym task name")
    entry = reference.get("entry")
    if not isinstance(entry, dict) or not isinstance(entry.get("metadata", {}), dict):
        raise InvalidReference("reference.entry must be the task's entry (an object)")


def time_budget(reference: Any, params: ReasoningGymParams) -> float:
    return FIRST_USE_BUDGET_S


REASONING_GYM = register(
    Verifier(
        name="reasoning_gym",
        version="1",
        params_type=ReasoningGymParams,
        extract=extract,
        grade=grade,
        description="reasoning-gym tasks scored by the library's own score_answer.",
        check_reference=check_reference,
        time_budget=time_budget,
    )
)
