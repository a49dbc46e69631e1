"""A verifier with the worst hole a library can have: it evaluates the model's answer.

Loaded as a plugin by the confinement tests (REFEREE_PLUGINS). It stands for
every library that turns text into code (reasoning-gym scorers' ``eval``,
sympy's ``sympify``, a pickle): whatever the answer does runs in the worker
process that judges it, so the worker's confinement is all that stands
between a model's answer and the machine. The details report what the
expression returned or raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from referee.verifiers import Context, Outcome, Score, Verifier, register


@dataclass(frozen=True)
class EvalParams:
    pass


def extract(response: str, reference: Any, params: EvalParams, context: Context) -> str:
    return response.strip()


def grade(extracted: str, reference: Any, params: EvalParams, context: Context) -> Score:
    try:
        value = eval(extracted, {})  # the hole, on purpose
    except BaseException as exc:  # report what stopped it, keep judging
        return Score(0.0, Outcome.INCORRECT, {"raised": f"{type(exc).__name__}: {exc}"[:500]})
    return Score(1.0, Outcome.CORRECT, {"returned": repr(value)[:2000]})


register(
    Verifier(
        name="unsafe_eval",
        version="1",
        params_type=EvalParams,
        extract=extract,
        grade=grade,
        description="Test-only verifier that evaluates the answer as Python (a library's hole).",
    )
)
