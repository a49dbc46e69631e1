"""``countdown``: TinyZero's arithmetic puzzle, reach the target with the given numbers.

Reference ``{"target": int, "numbers": [int, ...]}``. The answer is the last
``<answer>…</answer>`` in the answer region (after ``</think>``): an arithmetic
expression such as ``(93 - 43) + 1``. Scoring follows TinyZero's
``compute_score``: no answer 0; an answer that is not a valid expression of the
given numbers (each used exactly once, or at most once with
``use_all_numbers: false``) or that misses the target gets ``format_score``
(0.1); reaching the target gets ``score`` (1.0).

The expression is never ``eval``'d: it is parsed with :mod:`ast` and only integer
literals, ``+ - * /``, unary minus and parentheses are evaluated, exactly, with
fractions. Its length is bounded, and every literal must be one of the given
numbers, so neither the size of the numbers nor the depth can blow up.
"""

from __future__ import annotations

import ast
import operator
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from referee.verifiers._extract import answer_region, last_answer_tag, normalize_space
from referee.verifiers._types import Context, InvalidReference, Outcome, Score
from referee.verifiers.registry import Verifier, register

__all__ = ["COUNTDOWN", "CountdownParams", "evaluate", "extract", "grade"]

MAX_EXPRESSION_CHARS = 300
MAX_NUMBERS = 32
_MAX_ABS = 10**12


@dataclass(frozen=True)
class CountdownParams:
    """Parameters of ``countdown`` (TinyZero's defaults).

    - ``format_score``: reward of an answer in tags that is not a correct expression.
    - ``score``: reward of a correct expression.
    - ``use_all_numbers``: every given number exactly once (TinyZero); false: at most once.
    """

    format_score: float = 0.1
    score: float = 1.0
    use_all_numbers: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.format_score <= self.score:
            raise ValueError("format_score must be between 0 and score")


class BadExpression(ValueError):
    """The answer is not an arithmetic expression of numbers and + - * / ( )."""


_BINARY: dict[type[ast.operator], Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def evaluate(expression: str) -> tuple[Fraction, list[int]]:
    """The exact value of an arithmetic expression and the numbers it uses, in order.

    Raises BadExpression for anything but integer literals, ``+ - * /``, unary
    ``-``/``+`` and parentheses, for a division by zero, and past the size bounds.
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise BadExpression("expression too long")
    try:
        tree = ast.parse(expression.replace("\u00d7", "*").replace("\u00f7", "/"), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise BadExpression(f"not an expression: {type(exc).__name__}") from None
    used: list[int] = []

    def value(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            if node.value > _MAX_ABS:
                raise BadExpression("number too large")
            used.append(node.value)
            return Fraction(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise BadExpression("division by zero")
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = value(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        raise BadExpression(f"not allowed: {type(node).__name__}")

    try:
        result = value(tree.body)
    except RecursionError:
        raise BadExpression("expression nested too deeply") from None
    return result, used


def extract(response: str, reference: Any, params: CountdownParams, context: Context) -> str:
    """The content of the last ``<answer>`` block of the answer region, or ``""``."""
    found = last_answer_tag(answer_region(response))
    return normalize_space(found) if found is not None else ""


def grade(extracted: str, reference: Any, params: CountdownParams, context: Context) -> Score:
    """TinyZero's reward: 0 without an answer, format_score when wrong, score when right."""
    if not extracted:
        return Score(0.0, Outcome.NO_ANSWER, {"extracted": None})
    details: dict[str, Any] = {"extracted": extracted[:200]}
    try:
        result, used = evaluate(extracted)
    except BadExpression as exc:
        details["reason"] = str(exc)
        return Score(params.format_score, Outcome.BAD_FORMAT, details)
    details["numbers_used"] = used[:MAX_NUMBERS]
    available, counted = Counter(reference["numbers"]), Counter(used)
    if params.use_all_numbers and counted != available:
        details["reason"] = "must use each given number exactly once"
        return Score(params.format_score, Outcome.INCORRECT, details)
    if not params.use_all_numbers and counted - available:
        details["reason"] = "uses a number not given, or one more often than given"
        return Score(params.format_score, Outcome.INCORRECT, details)
    details["value"] = str(result) if len(str(result)) <= 60 else "(long)"
    if result == reference["target"]:
        return Score(params.score, Outcome.CORRECT, details)
    return Score(params.format_score, Outcome.INCORRECT, details)


def check_reference(reference: Any, params: CountdownParams) -> None:
    if not isinstance(reference, dict):
        raise InvalidReference('reference must be an object {"target": int, "numbers": [int]}')
    target, numbers = reference.get("target"), reference.get("numbers")
    if type(target) is not int or abs(target) > _MAX_ABS:
        raise InvalidReference("reference.target must be an integer (at most 1e12 in size)")
    if (
        not isinstance(numbers, list)
        or not 0 < len(numbers) <= MAX_NUMBERS
        or not all(type(n) is int and 0 <= n <= _MAX_ABS for n in numbers)
    ):
        raise InvalidReference(
            f"reference.numbers must be a list of 1 to {MAX_NUMBERS} non-negative integers"
        )


COUNTDOWN = register(
    Verifier(
        name="countdown",
        version="1",
        params_type=CountdownParams,
        extract=extract,
        grade=grade,
        description="TinyZero countdown: an expression of the numbers in <answer> hits the target.",
        check_reference=check_reference,
    )
)
