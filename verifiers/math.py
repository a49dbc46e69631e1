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
import re
from dataclasses import dataclass
from typing import Any, Literal

import sympy
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from referee.verifiers._extract import (
    answer_region,
    balanced_braces,
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
    - ``fallback``: when none is found: ``whole_response`` (the statement after the
      last "answer is" / "Answer:" in the tail of the answer region, else
      math-verify's own extraction over that tail), ``last_number``, or ``none``.
    - ``fallback_window``: characters at the end of the answer region the
      ``whole_response`` fallback reads (answers come last; bounds the cost).
    - ``float_rounding``, ``numeric_precision``: math-verify's numeric comparison.
    - ``strict``: math-verify's strict mode (variable names matter).
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
        tail = region[-params.fallback_window :]
        phrase = _answer_phrase(tail)
        if phrase:
            return f"answer_phrase{_SEP}{phrase}"
        tail = normalize_space(tail)
        if tail:
            return f"whole_response{_SEP}{tail}"
    return ""


# "The answer is 12.", "**Final Answer:** $(1, 2)$", "Answer = 3/4": the statement
# after the last such phrase, up to the end of its line.
_ANSWER_PHRASE = re.compile(r"(?i)\banswer\b[ \t*]*(?:is\b|:|=)[ \t*:]*")
_PHRASE_MAX_CHARS = 200
_MATH_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def _answer_phrase(text: str) -> str | None:
    """The statement after the last answer phrase: its math if delimited, else its sentence."""
    matches = list(_ANSWER_PHRASE.finditer(text))
    if not matches:
        return None
    line = text[matches[-1].end() :].split("\n", 1)[0].strip()
    for opener, closer in _MATH_DELIMITERS:
        if line.startswith(opener):
            end = line.find(closer, len(opener))
            line = line[len(opener) : end] if end >= 0 else line[len(opener) :]
            break
    else:
        sentence_end = line.find(". ")
        if sentence_end >= 0:
            line = line[:sentence_end]
    line = normalize_space(line.strip().rstrip(".*").strip())
    # Unbalanced braces are left to math-verify: wrapping the phrase in \boxed{}
    # for parsing must not repair a broken answer.
    if not 0 < len(line) <= _PHRASE_MAX_CHARS or not balanced_braces(line):
        return None
    return line


# 1e-10, 2.5E3: math-verify reads the "e" as Euler's number.
_SCIENTIFIC = re.compile(r"(?<![\w.\\])(\d+(?:\.\d+)?)[eE]([-+]?\d+)(?![\w.])")


def _prepare_text(text: str) -> str:
    text = text.replace("\u2212", "-")  # Unicode minus sign
    return _SCIENTIFIC.sub(r"\1\\times10^{\2}", text)


def _parse_answer(source: str, text: str) -> list[Any]:
    text = _prepare_text(text)
    if source == "boxed":
        parsed: list[Any] = parse("\\boxed{" + text + "}", _LATEX_THEN_EXPR, parsing_timeout=None)
    elif source == "answer_phrase":
        # A bare statement such as "(-3, 1, 4)" reads as LaTeX; prose falls back to
        # math-verify's own extraction.
        parsed = parse("\\boxed{" + text + "}", _LATEX_THEN_EXPR, parsing_timeout=None)
        if not parsed:
            parsed = parse(text, _LATEX_THEN_EXPR, parsing_timeout=None)
    elif source == "last_number":
        try:
            parsed = [sympy.Rational(text.replace("\\times10^{", "e").rstrip("}"))]
        except (TypeError, ValueError):
            parsed = parse(text, _EXPR_ONLY, parsing_timeout=None)
    else:
        parsed = parse(text, _LATEX_THEN_EXPR, parsing_timeout=None)
    return parsed


@functools.lru_cache(maxsize=4096)
def _parse_gold(reference: str) -> tuple[Any, ...]:
    inner = last_boxed(reference)
    text = normalize_space(inner if inner is not None else reference).strip("$ ")
    return tuple(_parse_answer("boxed", text)) if text else ()


def _relative_gap_too_large(gold: Any, pred: Any, float_rounding: int) -> bool:
    """True when two plain numbers that math-verify called equal are far apart relatively.

    math-verify rounds both sides to ``float_rounding`` decimals: an absolute
    tolerance, under which 1e-10 equals 2e-10. This guard can only take an
    acceptance back, never grant one.
    """
    numbers = [x for x in (gold, pred) if isinstance(x, sympy.Number)]
    if len(numbers) != 2 or not all(x.is_finite and x != 0 for x in numbers):
        return False
    a, b = (sympy.Float(x, 30) for x in numbers)
    return bool(abs(a - b) > abs(a) * sympy.Float(10) ** -(float_rounding - 1))


def _equivalent(gold: tuple[Any, ...], pred: list[Any], params: MathParams) -> bool:
    try:
        same = verify(
            list(gold),
            pred,
            float_rounding=params.float_rounding,
            numeric_precision=params.numeric_precision,
            strict=params.strict,
            timeout_seconds=None,
            raise_on_error=True,
        )
    except Exception as exc:
        # A crash in the comparison is ours to report, never a wrong answer.
        raise CannotJudge(
            "verifier_error", f"math comparison failed: {type(exc).__name__}: {str(exc)[:200]}"
        ) from None
    if same and gold and pred:
        return not _relative_gap_too_large(gold[0], pred[0], params.float_rounding)
    return bool(same)


def grade(extracted: str, reference: Any, params: MathParams, context: Context) -> Score:
    """Compare an extracted answer with the reference (a string or list of strings)."""
    golds = [reference] if isinstance(reference, str) else list(reference)
    parsed_golds = [_parse_gold(g) for g in golds]
    if not any(parsed_golds):
        raise CannotJudge("invalid_reference", f"reference {str(reference)[:100]!r} did not parse")
    if not extracted:
        return Score(0.0, Outcome.NO_ANSWER, {"extracted": None})
    source, _, text = extracted.partition(_SEP)
    details: dict[str, Any] = {"extracted": text[:200], "source": source}
    pred = _parse_answer(source, text)
    if not pred:
        return Score(0.0, Outcome.NO_ANSWER, details)
    if any(gold and _equivalent(gold, pred, params) for gold in parsed_golds):
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
