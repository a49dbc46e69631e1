"""``math``: is the response's final answer mathematically equivalent to the reference?

Extraction (API process, linear time) looks, in the answer region (after
``</think>``), for the last ``\\boxed{}``, then the last ``<answer>…</answer>``, in
the order given by ``params.extract``, then the configured fallback. Grading
(worker process) parses both sides with math-verify (latex2sympy2_extended) and
compares them with its numeric, symbolic, set, interval and matrix rules.

math-verify's own ``signal.alarm`` timeouts are switched off: the worker that
runs ``grade`` is under a deadline enforced by the engine, from outside.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Literal

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from referee.verifiers._extract import (
    answer_region,
    last_answer_tag,
    last_boxed,
    last_number,
    normalize_space,
)
from referee.verifiers._types import CannotJudge, Context, Outcome, Score
from referee.verifiers.registry import Verifier, register, require_str_reference

__all__ = ["MATH", "MathParams", "extract", "grade"]

# math-verify logs a warning when its timeouts are off; they are off on purpose.
logging.getLogger("math_verify").setLevel(logging.ERROR)

Source = Literal["boxed", "answer_tag"]
Fallback = Literal["whole_response", "last_number", "none"]

_LATEX_THEN_EXPR = (LatexExtractionConfig(), ExprExtractionConfig())
_EXPR_ONLY = (ExprExtractionConfig(),)
_SEP = "\x1f"  # between the source name and the extracted text


@dataclass(frozen=True)
class MathParams:
    """Parameters of the ``math`` verifier.

    - ``extract``: where to look for the answer, in order (``boxed``, ``answer_tag``).
    - ``fallback``: when none is found: ``whole_response`` (math-verify's own
      extraction over the tail of the answer region), ``last_number``, or ``none``.
    - ``fallback_window``: characters at the end of the answer region the
      ``whole_response`` fallback reads (answers come last; bounds the cost).
    - ``float_rounding``, ``numeric_precision``: math-verify's numeric comparison.
    - ``strict``: math-verify's strict mode (variables matter; sets ≠ tuples).
    """

    extract: tuple[Source, ...] = ("boxed", "answer_tag")
    fallback: Fallback = "whole_response"
    fallback_window: int = 4000
    float_rounding: int = 6
    numeric_precision: int = 15
    strict: bool = True

    def __post_init__(self) -> None:
        if len(set(self.extract)) != len(self.extract):
            raise ValueError("extract must not repeat a source")
        if not 0 <= self.float_rounding <= 30:
            raise ValueError("float_rounding must be between 0 and 30")
        if not 1 <= self.numeric_precision <= 100:
            raise ValueError("numeric_precision must be between 1 and 100")
        if self.fallback_window < 1:
            raise ValueError("fallback_window must be positive")


def extract(response: str, reference: Any, params: MathParams, context: Context) -> str:
    """``source<US>answer`` for the response's final answer, or ``""`` when there is none."""
    region = answer_region(response)
    for source in params.extract:
        found = last_boxed(region) if source == "boxed" else last_answer_tag(region)
        if found is not None and found.strip():
            return f"{source}{_SEP}{normalize_space(found)}"
    if params.fallback == "last_number":
        number = last_number(region)
        if number is not None:
            return f"last_number{_SEP}{number}"
    elif params.fallback == "whole_response":
        tail = normalize_space(region[-params.fallback_window :])
        if tail:
            return f"whole_response{_SEP}{tail}"
    return ""


def _parse_answer(source: str, text: str) -> list[Any]:
    if source == "boxed":
        parsed: list[Any] = parse("\\boxed{" + text + "}", _LATEX_THEN_EXPR, parsing_timeout=None)
    elif source == "last_number":
        parsed = parse(text, _EXPR_ONLY, parsing_timeout=None)
    else:
        parsed = parse(text, _LATEX_THEN_EXPR, parsing_timeout=None)
    return parsed


@functools.lru_cache(maxsize=4096)
def _parse_gold(reference: str) -> tuple[Any, ...]:
    inner = last_boxed(reference)
    text = normalize_space(inner if inner is not None else reference).strip("$ ")
    return tuple(_parse_answer("boxed", text)) if text else ()


def grade(extracted: str, reference: Any, params: MathParams, context: Context) -> Score:
    """Compare an extracted answer with the reference (a string or list of strings)."""
    if not extracted:
        return Score(0.0, Outcome.NO_ANSWER, {"extracted": None})
    source, _, text = extracted.partition(_SEP)
    details: dict[str, Any] = {"extracted": text[:200], "source": source}
    golds = [reference] if isinstance(reference, str) else list(reference)
    parsed_golds = [_parse_gold(g) for g in golds]
    if not any(parsed_golds):
        raise CannotJudge("invalid_reference", f"reference {str(reference)[:100]!r} did not parse")
    pred = _parse_answer(source, text)
    if not pred:
        return Score(0.0, Outcome.NO_ANSWER, details)
    for gold in parsed_golds:
        if gold and verify(
            list(gold),
            pred,
            float_rounding=params.float_rounding,
            numeric_precision=params.numeric_precision,
            strict=params.strict,
            timeout_seconds=None,
        ):
            return Score(1.0, Outcome.CORRECT, details)
    return Score(0.0, Outcome.INCORRECT, details)


MATH = register(
    Verifier(
        name="math",
        version="1",
        params_type=MathParams,
        extract=extract,
        grade=grade,
        description="Final answer equivalent to the reference (math-verify); 1 or 0.",
        check_reference=require_str_reference,
    )
)
