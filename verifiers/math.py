"""``math``: is the response's final answer mathematically equivalent to the reference?

Extraction (API process, linear time) looks, in the answer region (after
``</think>``), for the last ``\\boxed{}``, then the last ``<answer>…</answer>``, in
the order given by ``params.extract``, then the configured fallback. Grading
(worker process) parses both sides with math-verify (latex2sympy2_extended) and
compares them with its numeric, symbolic, set, interval and matrix rules.

``mode``: ``cascade`` (default) runs math-verify, guards that can only take its
acceptance back, then targeted fallbacks for the false negatives found in the
judging corpus (``_math_cascade``); ``math_verify`` is math-verify with the two
original guards only (the verdicts of version 1).

math-verify's own ``signal.alarm`` timeouts are switched off: the worker that
runs ``grade`` is under a deadline enforced by the engine, from outside.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import sympy
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from referee.verifiers import _composite as composite
from referee.verifiers import _latex_rewrite as latex_rewrite
from referee.verifiers import _math_cascade as cascade
from referee.verifiers import _plain
from referee.verifiers._extract import (
    all_boxes,
    answer_region,
    balanced_braces,
    last_answer_tag,
    last_boxed,
    last_number,
    normalize_space,
    trailing_boxes,
)
from referee.verifiers._statement import (
    answer_after_phrase,
    final_statement,
    hedged_values,
    is_prose,
    phrase_after,
)
from referee.verifiers._types import CannotJudge, Context, Outcome, Score
from referee.verifiers.registry import Verifier, register, require_str_reference

__all__ = ["MATH", "MathParams", "extract", "grade"]

# math-verify logs a warning when its timeouts are off; they are off on purpose.
logging.getLogger("math_verify").setLevel(logging.ERROR)

Source = Literal["boxed", "answer_tag"]
Fallback = Literal["whole_response", "last_number", "none"]
Mode = Literal["cascade", "math_verify"]

_LATEX_THEN_EXPR = (LatexExtractionConfig(), ExprExtractionConfig())
_EXPR_ONLY = (ExprExtractionConfig(),)
_SEP = "\x1f"  # between the source name and the extracted text
_DEFAULT_ROUNDING = 6


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
    - ``mode``: ``cascade`` (math-verify, guards, targeted fallbacks) or
      ``math_verify`` (math-verify with the scientific-notation and relative guards).
    - ``numeric_approximations``: accept a written decimal for an irrational value
      (``1.41421356`` for ``\\sqrt{2}``) when math-verify's rounding equates them;
      off by default: an approximation is not the exact answer (cascade mode).
    """

    extract: tuple[Source, ...] = ("boxed", "answer_tag")
    fallback: Fallback = "whole_response"
    fallback_window: int = 4000
    float_rounding: int = _DEFAULT_ROUNDING
    numeric_precision: int = 15
    strict: bool = True
    mode: Mode = "cascade"
    numeric_approximations: bool = False

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
    if params.mode == "cascade":
        # "\boxed{200} … \boxed{255} … Final Answer: The final answer is $10,455$":
        # a statement of the answer after the last box is the final one.
        tail = region[-params.fallback_window :]
        last_box = max(tail.rfind("\\boxed"), tail.rfind("\\fbox"))
        if last_box >= 0 and phrase_after(tail, last_box):
            phrase = answer_after_phrase(tail)
            if phrase and any(ch.isdigit() or ch == "\\" for ch in phrase):
                return f"answer_phrase{_SEP}{phrase}"
    for source in params.extract:
        found = last_boxed(region) if source == "boxed" else last_answer_tag(region)
        if found is not None and found.strip():
            answer = normalize_space(found)
            if source == "boxed" and params.mode == "cascade":
                # All boxes of the final statement are one answer: a list of values
                # (see _statement's docstring); repeated boxes count once.
                run = list(dict.fromkeys(normalize_space(b) for b in trailing_boxes(region)))
                if len(run) > 1 and run[-1] in (answer, f"{run[-1].split(' = ', 1)[0]} = {answer}"):
                    answer = ", ".join(run)
            return f"{source}{_SEP}{answer}"
    if params.fallback == "last_number":
        number = last_number(region)
        if number is not None:
            return f"last_number{_SEP}{number}"
    elif params.fallback == "whole_response":
        tail = region[-params.fallback_window :]
        cascading = params.mode == "cascade"
        phrase = answer_after_phrase(tail) if cascading else _answer_phrase(tail)
        if phrase:
            return f"answer_phrase{_SEP}{phrase}"
        statement = final_statement(tail) if cascading else None
        if statement is not None:
            return f"{statement[0]}{_SEP}{statement[1]}"
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
    if source in ("boxed", "bare"):
        parsed: list[Any] = parse("\\boxed{" + text + "}", _LATEX_THEN_EXPR, parsing_timeout=None)
    elif source == "statement" and is_prose(text):
        # A sentence ("then he gets 3 back, total 17"): math-verify's own extraction;
        # wrapped in a box, its words would read as products of symbols.
        parsed = parse(text, _LATEX_THEN_EXPR, parsing_timeout=None)
    elif source in ("answer_phrase", "statement"):
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
def _gold_text(reference: str) -> str:
    inner = last_boxed(reference)
    return normalize_space(inner if inner is not None else reference).strip("$ ")


@functools.lru_cache(maxsize=4096)
def _cascade_gold_text(reference: str) -> str:
    """The reference as the cascade reads it: all boxes of its final statement (one
    answer with several values), written loosely or not (``_math_cascade.loose_reference``)."""
    if "####" in reference:  # a GSM8K solution: the answer follows its last "####"
        reference = reference.rsplit("####", 1)[1]
    boxes = list(dict.fromkeys(normalize_space(b) for b in all_boxes(reference)))
    inner = ", ".join(boxes) if len(boxes) > 1 else last_boxed(reference)
    text = cascade.loose_reference(normalize_space(inner if inner is not None else reference))
    # Notation math-verify misreads (``\\int\\limits`` reads as its integrand).
    text = latex_rewrite.rewrite(text)
    return text.strip("$ ")


@functools.lru_cache(maxsize=4096)
def _parse_gold(text: str) -> tuple[Any, ...]:
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


# One try of the comparison: (stage, answer text, parsed answer, [(gold text, parsed gold)]).
_Attempt = tuple[str, str, list[Any], list[tuple[str, tuple[Any, ...]]]]


def _accepts(
    gold_text: str, gold: tuple[Any, ...], text: str, pred: list[Any], params: MathParams
) -> bool:
    if not gold or not pred or not _equivalent(gold, pred, params):
        return False
    if params.mode != "cascade":
        return True
    # Guards: they can only take an acceptance back.
    if cascade.numbers_far_apart(gold[0], pred[0], params.float_rounding):
        return False
    if cascade.equation_sides_differ(gold[0], pred[0]):
        return False
    if cascade.approximates_irrational(gold_text, gold[0], text, pred[0]):
        return params.numeric_approximations and cascade.approximation_matches(gold[0], text)
    # A float_rounding coarser than math-verify's default is a request for tolerance.
    coarsest = params.float_rounding if params.float_rounding < _DEFAULT_ROUNDING else None
    if coarsest is None and cascade.inexact_decimal(gold_text, text):
        return False
    return not cascade.decimals_disagree(gold_text, text, coarsest)


def _fallbacks(source: str, text: str, gold_texts: list[str]) -> Iterator[_Attempt]:
    """The cascade's fallbacks after math-verify rejected, each on its own shape."""
    golds = [(t, _parse_gold(t)) for t in map(cascade.normalize, gold_texts)]
    norm = cascade.normalize(text)
    if norm != text or [g for g, _ in golds] != gold_texts:
        yield "normalized", norm, _parse_answer(source, norm), golds
    # A decimal comma ("1,22") is read as such only against a single plain number;
    # against a list it stays a list.
    comma = cascade.decimal_comma(norm)
    singles = [(t, g) for t, g in golds if cascade.exact_number(t) is not None]
    if comma is not None and singles:
        yield "decimal_comma", comma, _parse_answer("boxed", comma), singles
    if cascade.exact_number(norm) is not None:
        commas = [(c, _parse_gold(c)) for c in map(cascade.decimal_comma, gold_texts) if c]
        if commas:
            yield "decimal_comma", norm, _parse_answer("boxed", norm), commas


def _same_element(gold_text: str, text: str, params: MathParams) -> bool:
    """One element of a composite answer, judged as a lone number would be."""
    if cascade.rounded_decimal(gold_text, text):
        return True
    try:
        return _accepts(
            gold_text, _parse_gold(gold_text), text, _parse_answer("boxed", text), params
        )
    except CannotJudge:
        return False  # the whole answer was judged already; this fallback does not apply


def _not_a_value(gold: tuple[Any, ...]) -> bool:
    return bool(gold) and any(gold[0] is v for v in (sympy.zoo, sympy.nan))


def _exact_number(text: str, gold_texts: list[str]) -> bool:
    answer = cascade.exact_number(text, allow_unit=True)
    if answer is None:
        return False
    return any(cascade.exact_number(gold, allow_unit=True) == answer for gold in gold_texts)


def grade(extracted: str, reference: Any, params: MathParams, context: Context) -> Score:
    """Compare an extracted answer with the reference (a string or list of strings)."""
    golds = [reference] if isinstance(reference, str) else list(reference)
    cascading = params.mode == "cascade"
    gold_texts = [(_cascade_gold_text if cascading else _gold_text)(g) for g in golds]
    parsed_golds = [_parse_gold(t) for t in gold_texts]
    if cascading:  # "12:00" parses to zoo: such a reference is compared as text only
        parsed_golds = [() if _not_a_value(g) else g for g in parsed_golds]
    if (
        not any(parsed_golds)
        and not any(map(_not_a_value, map(_parse_gold, gold_texts)))
        and not (cascading and any(_parse_gold(cascade.normalize(t)) for t in gold_texts))
    ):
        raise CannotJudge("invalid_reference", f"reference {str(reference)[:100]!r} did not parse")
    if not extracted:
        return Score(0.0, Outcome.NO_ANSWER, {"extracted": None})
    source, _, text = extracted.partition(_SEP)
    details: dict[str, Any] = {"extracted": text[:200], "source": source}
    if cascading and cascade.same_text(text, gold_texts):
        details["stage"] = "same_text"  # before parsing: "12:00" parses to zoo
        return Score(1.0, Outcome.CORRECT, details)
    # Notation math-verify misreads is rewritten before it reads the answer: a misread
    # can accept (``\\int\\limits_0^7 1\\,dx`` reads as 1) as well as reject.
    readable = latex_rewrite.rewrite(text) if cascading else text
    first_stage = "math_verify" if readable == text else "latex_rewrite"
    if cascading and source in ("answer_tag", "answer_phrase", "statement"):
        # A formula in tags is read as a box would be; alternatives offered in prose
        # ("either 3 or 4") are one answer with several values, never a pick.
        several = hedged_values(text)
        if several is not None:
            source, readable, first_stage = "bare", several, "several_values"
        elif source == "answer_tag" and balanced_braces(text) and cascade.looks_like_formula(text):
            source, first_stage = "bare", "answer_tag_latex"
        elif source == "answer_phrase":
            source = "statement"  # read as a final statement: prose by math-verify's extraction
    pred = _parse_answer(source, readable)
    if any(
        _accepts(t, g, readable, pred, params)
        for t, g in zip(gold_texts, parsed_golds, strict=True)
    ):
        if cascading:
            details["stage"] = first_stage
        return Score(1.0, Outcome.CORRECT, details)
    if cascading:
        for stage, answer, parsed, candidates in _fallbacks(source, text, gold_texts):
            if any(_accepts(t, g, answer, parsed, params) for t, g in candidates):
                details["stage"] = stage
                return Score(1.0, Outcome.CORRECT, details)
        if _exact_number(cascade.normalize(text), gold_texts):
            details["stage"] = "exact_number"
            return Score(1.0, Outcome.CORRECT, details)
        norm = cascade.normalize(text)
        if any(cascade.rounded_decimal(t, norm) for t in gold_texts):
            details["stage"] = "rounded_decimal"
            return Score(1.0, Outcome.CORRECT, details)
        if any(
            composite.same_elements(t, norm, lambda g, p: _same_element(g, p, params))
            for t in gold_texts
        ):
            details["stage"] = "composite"
            return Score(1.0, Outcome.CORRECT, details)
    if not pred:
        return Score(0.0, Outcome.NO_ANSWER, details)
    return Score(0.0, Outcome.INCORRECT, details)


MATH = register(
    Verifier(
        name="math",
        version="3",
        params_type=MathParams,
        extract=extract,
        grade=grade,
        description="Final answer equivalent to the reference (math-verify); 1 or 0.",
        check_reference=require_str_reference,
        shortcut=functools.partial(_plain.shortcut, sep=_SEP),
    )
)
