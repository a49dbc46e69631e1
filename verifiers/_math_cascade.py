"""The targeted stages of the ``math`` verifier's cascade (``mode: "cascade"``).

math-verify decides first. Its acceptance then passes guards that can only take
it back (numbers that differ relatively, decimals that differ where the
reference wrote them). Its rejection is followed by fallbacks, each for one
false-negative class found in the judging corpus and each limited to its shape,
so that none of them can turn a wrong answer into a right one:

- ``normalized``: Unicode and LaTeX spellings math-verify does not read (½, √2,
  π, 30°, ``1\\,000``, ``\\varnothing``, ``\\sqrt(2)``), rewritten, then math-verify
  again;
- ``answer_tag_latex``: an ``<answer>`` block that holds a bare formula (no ``$``,
  no prose) is read as LaTeX, as a box would be;
- ``exact_number``: both sides are plain numbers (thousands separators,
  ``a\\times10^{n}``, a trailing unit or percent sign on the answer): compared
  exactly as rationals, never with a tolerance;
- ``decimal_comma``: ``1,22`` read as 1.22, only against a reference that is one
  plain number (against a list it stays a list), and a reference so written
  against an answer that is one plain number;
- ``rounded_decimal``: a decimal of two places or more that is a repeating
  fraction rounded or cut there (``0.33``, ``2.6667`` for ``\\frac{8}{3}``);
- ``composite``: tuples, intervals and matrices of the same shape compared element
  by element with the rules of a lone number (``_composite``).

Before all of them, ``same_text``: an answer written as the reference is correct
(``12:00`` parses to ``zoo``, which math-verify cannot compare). A reference is
first tidied (``loose_reference``) and its boxes are all read. The guard
``equation_sides_differ`` takes back two different equations math-verify matched by
their right sides; ``approximates_irrational`` takes back a decimal accepted for an irrational
reference unless ``numeric_approximations`` is set (then ``approximation_matches``
applies the rounded-or-cut rule).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import sympy

__all__ = [
    "approximates_irrational",
    "approximation_matches",
    "decimal_comma",
    "decimals_disagree",
    "equation_sides_differ",
    "exact_number",
    "looks_like_formula",
    "loose_reference",
    "normalize",
    "numbers_far_apart",
    "rounded_decimal",
    "same_text",
]

_VULGAR = {
    "\u00bd": "\\frac{1}{2}",
    "\u2153": "\\frac{1}{3}",
    "\u2154": "\\frac{2}{3}",
    "\u00bc": "\\frac{1}{4}",
    "\u00be": "\\frac{3}{4}",
    "\u2155": "\\frac{1}{5}",
    "\u2159": "\\frac{1}{6}",
    "\u215b": "\\frac{1}{8}",
}
_SYMBOLS = {"\u03c0": "\\pi ", "\u221e": "\\infty ", "\u00d7": "\\times ", "\u00f7": "\\div "}
_TRANSLATION = str.maketrans({**_VULGAR, **_SYMBOLS})
# √2, √{x}, √(2) -> \sqrt{2}; \sqrt(2) -> \sqrt{2} (a bracket math-verify drops).
_RADICAL = re.compile(r"(?:\u221a|\\sqrt)\s*(?:\(([^()]{1,40})\)|\{([^{}]{1,40})\}|(\d+|[a-zA-Z]))")
_DEGREE = re.compile(r"\s*\u00b0")
_THIN_SPACE_THOUSANDS = re.compile(r"(?<=\d)(?:\\,|\\;|\\ |\\!|~)(?=\d{3}(?!\d))")


def _radical(match: re.Match[str]) -> str:
    inner = next(g for g in match.groups() if g is not None)
    return "\\sqrt{" + inner + "}"


def normalize(text: str) -> str:
    """Spellings math-verify misreads, rewritten into LaTeX it reads."""
    text = text.translate(_TRANSLATION)
    text = _RADICAL.sub(_radical, text)
    text = _DEGREE.sub("^{\\\\circ}", text)
    text = _THIN_SPACE_THOUSANDS.sub("", text)
    return text.replace("\\varnothing", "\\emptyset")


# ---------------------------------------------------------------- plain numbers

_UNITS = (
    "mm|cm|m|km|in|inch|inches|ft|feet|foot|yd|yards?|miles?|meters?|metres?|"
    "s|sec|seconds?|min|minutes?|h|hr|hours?|days?|weeks?|months?|years?|"
    "dollars?|cents?|units?|square units|sq units|cubic units|degrees?|"
    "g|kg|grams?|kilograms?|lb|lbs|pounds?|oz|ounces?|L|mL|liters?|litres?|gallons?|"
    "mph|km/h|m/s|people|students|percent|\\%"
)
_UNIT = re.compile(
    rf"\s*(?:\\(?:text|mbox|mathrm)\{{\s*(?:{_UNITS})\s*\}}|(?:{_UNITS})(?![a-zA-Z])|\\%|%|[\u20ac\u00a3\u00a5]|\\?\$)"
    r"(?:\^\{?[23]\}?|[\u00b2\u00b3])?\s*$"
)
_LITERAL = re.compile(
    r"(?P<sign>[-+])?(?P<int>\d+)(?:\.(?P<frac>\d+))?"
    r"(?:\s*(?:\\times|\\cdot|\*)\s*10\s*\^\s*\{?\s*(?P<exp>[-+]?\d+)\s*\}?|[eE](?P<exp2>[-+]?\d+))?"
)
_SEPARATOR = re.compile(r"(?<=\d)(?:,|\{,\})(?=\d{3}(?!\d))")


def _strip_number(text: str, allow_unit: bool) -> tuple[str, bool] | None:
    text = text.strip().strip("$").strip()
    if text.startswith("\\$"):
        text = text[2:].lstrip()
    unit = False
    if allow_unit:
        stripped = _UNIT.sub("", text)
        unit = stripped != text
        text = stripped
    text = _SEPARATOR.sub("", normalize(text)).replace(" ", "")
    return text, unit


def exact_number(text: str, *, allow_unit: bool = False) -> Fraction | None:
    """The exact value of a plain number as written, or None when it is anything else.

    Thousands separators, ``a\\times10^{n}``, ``aEn`` are read exactly (no binary
    float); with ``allow_unit`` one trailing unit or percent sign is dropped.
    """
    stripped = _strip_number(text, allow_unit)
    if stripped is None:
        return None
    body, _ = stripped
    match = _LITERAL.fullmatch(body)
    if match is None:
        return None
    digits = match["int"] + (match["frac"] or "")
    value = Fraction(int(digits), 10 ** len(match["frac"] or ""))
    exponent = match["exp"] or match["exp2"]
    if exponent is not None:
        if abs(int(exponent)) > 400:
            return None
        value *= Fraction(10) ** int(exponent)
    return -value if match["sign"] == "-" else value


def _decimal(text: str) -> Decimal | None:
    stripped = _strip_number(text, False)
    if stripped is None or not re.fullmatch(r"[-+]?\d+\.\d+|[-+]?\d+", stripped[0]):
        return None
    try:
        return Decimal(stripped[0])
    except InvalidOperation:
        return None


def decimals_disagree(gold_text: str, pred_text: str, coarsest: int | None = None) -> bool:
    """True when both are plain decimals and the answer, rounded to the reference's
    written decimals, is not the reference: ``1.0000004`` is not ``1.0000001``, while
    ``0.30000000000000004`` is ``0.3``. An exact reference is compared at the
    precision it was written with, never at a fixed rounding; ``coarsest`` (a rounding
    the caller asked for explicitly) caps the decimals compared."""
    gold, pred = _decimal(gold_text), _decimal(pred_text)
    if gold is None or pred is None:
        return False
    places = max(0, -int(gold.as_tuple().exponent))
    if coarsest is not None and coarsest < places:
        places = coarsest
        gold = gold.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    rounded = pred.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return rounded != gold


_FRACTION = re.compile(
    r"(?P<sign>-?)(?:\\[dt]?frac\{(?P<num>\d+)\}\{(?P<den>\d+)\}|(?P<num2>\d+)/(?P<den2>\d+)"
    r"|\\[dt]?frac(?P<num3>\d)(?P<den3>\d))"
)


def exact_rational(text: str) -> Fraction | None:
    """The value of an integer, a decimal or a simple fraction (``\\frac{a}{b}``, ``a/b``)."""
    number = exact_number(text)
    if number is not None:
        return number
    stripped = _strip_number(text, False)
    match = _FRACTION.fullmatch(stripped[0]) if stripped else None
    if match is None:
        return None
    num = int(match["num"] or match["num2"] or match["num3"])
    den = int(match["den"] or match["den2"] or match["den3"])
    if den == 0:
        return None
    return Fraction(-num if match["sign"] else num, den)


def _terminates(value: Fraction) -> bool:
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    return den == 1


def inexact_decimal(gold_text: str, pred_text: str) -> bool:
    """True when the reference is an integer or a fraction and the answer a decimal that is
    not it.

    A reference with a finite decimal expansion (``\\frac{1}{2}``, ``3``) must be
    matched exactly: ``0.5000001`` is not ``1/2``, though math-verify's 6-decimal
    rounding says so. One without (``\\frac{1}{3}``) accepts only a decimal that is
    the reference rounded or cut to the answer's own decimals (``0.333333``).
    """
    if _decimal(gold_text) is not None and "." in gold_text:
        return False  # a written decimal: decimals_disagree compares at its precision
    gold = exact_rational(gold_text)
    stripped = _strip_number(pred_text, False)
    if gold is None or stripped is None:
        return False
    match = re.fullmatch(r"[-+]?\d+(?:\.(\d+))?", stripped[0])
    pred = exact_number(pred_text)
    if match is None or pred is None:
        return False
    if _terminates(gold):
        return pred != gold
    places = len(match[1] or "")
    scale = 10**places
    cut = Fraction(int(gold * scale), scale)  # toward zero
    nearest = Fraction(round(gold * scale), scale)
    return pred not in (cut, nearest)


def numbers_far_apart(gold: Any, pred: Any, float_rounding: int) -> bool:
    """True when two numeric expressions (``1.6\\times10^{-19}``, ``1/2^{99}``) that
    math-verify called equal differ relatively by more than its rounding allows."""
    values = []
    for x in (gold, pred):
        if not isinstance(x, sympy.Basic) or not x.is_number:
            return False
        try:
            value = sympy.N(x, 30)
        except (TypeError, ValueError, ArithmeticError):
            return False
        if not value.is_real or not value.is_finite or value == 0:
            return False
        values.append(value)
    a, b = values
    return bool(abs(a - b) > abs(a) * sympy.Float(10, 30) ** -(float_rounding - 1))


# ---------------------------------------------------------------- answer tags

# A word of prose: three letters or more not introduced by a backslash.
_PROSE_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|mathrm|mbox|operatorname)\{[^{}]*\}")


def looks_like_formula(text: str) -> bool:
    """Whether an ``<answer>`` block is a bare formula: no ``$``, no prose outside ``\\text{}``."""
    if "$" in text or "\\(" in text or "\\[" in text:
        return False
    return _PROSE_WORD.search(_TEXT_COMMAND.sub("", text)) is None


# ---------------------------------------------------------------- loose references

# "5." / "-1./3": a Python-style decimal point with no digits after it.
_BARE_POINT = re.compile(r"(?<=\d)\.(?=[/*)\],\s]|$)")


def loose_reference(text: str) -> str:
    """A reference as datasets write it loosely, tidied: ``$5$.`` (a period after the
    closing ``$``), ``-1./3`` (a Python decimal point), ``2**10`` (a Python power)."""
    text = text.strip()
    if text.endswith(".") and text[:-1].rstrip().endswith("$"):
        text = text[:-1].rstrip()
    text = text.strip("$ ").rstrip(".") if text.startswith("$") else text
    text = _BARE_POINT.sub("", text)
    return text.replace("**", "^")


def same_text(answer: str, golds: list[str]) -> bool:
    """The answer is one of the references as written, spacing and ``$`` aside."""
    squeezed = re.sub(r"\s+|\\[,;! ]", "", answer).strip("$")
    return any(squeezed == re.sub(r"\s+|\\[,;! ]", "", g).strip("$") for g in golds)


# ---------------------------------------------------------------- decimal comma

# "1,22", "0,5", "1000,99": one comma and not three digits after it (that would be
# a thousands separator).
_DECIMAL_COMMA = re.compile(r"([-+]?\d+)(?:,|\{,\})(\d{1,2}|\d{4,})|([-+]?0)(?:,|\{,\})(\d+)")


def decimal_comma(text: str) -> str | None:
    """The number written with a decimal comma, with a decimal point; None when the
    text is not such a number. The caller decides when that reading is unambiguous
    (a single-number counterpart)."""
    match = _DECIMAL_COMMA.fullmatch(text.strip().strip("$").strip())
    if match is None:
        return None
    if match[1] is None:  # "0,111": no thousands group starts with a lone 0
        return f"{match[3]}.{match[4]}"
    return f"{match[1]}.{match[2]}"


# ---------------------------------------------------------------- rounded decimals


def rounded_decimal(gold_text: str, pred_text: str) -> bool:
    """True when the reference is a fraction without a finite decimal expansion and the
    answer a decimal of at least two places that is the reference rounded or cut there
    (``0.33`` and ``0.333`` for ``\\frac{1}{3}``, ``2.6667`` for ``\\frac{8}{3}``).

    The same rule holds for a lone number and inside tuples, intervals and matrices.
    """
    gold = exact_rational(gold_text)
    if gold is None or _terminates(gold):
        return False
    stripped = _strip_number(pred_text, False)
    match = re.fullmatch(r"[-+]?\d+\.(\d{2,})", stripped[0]) if stripped else None
    pred = exact_number(pred_text)
    if match is None or pred is None:
        return False
    scale = 10 ** len(match[1])
    return pred in (Fraction(int(gold * scale), scale), Fraction(round(gold * scale), scale))


def approximates_irrational(gold_text: str, gold: Any, pred_text: str, pred: Any) -> bool:
    """True when the answer is a written decimal and the reference an irrational number
    (``1.41421356`` for ``\\sqrt{2}``): an approximation, not the exact answer. (An exact
    answer to a reference written as a decimal is left to the other rules.)"""
    if _decimal(pred_text) is None or "." not in pred_text:
        return False
    return bool(isinstance(gold, sympy.Basic) and gold.is_number and gold.is_rational is False)


def approximation_matches(gold: Any, pred_text: str) -> bool:
    """The written decimal is the irrational value rounded or cut at the decimals the
    answer wrote (two at least), the rule for repeating fractions."""
    stripped = _strip_number(pred_text, False)
    match = re.fullmatch(r"[-+]?\d+\.(\d{2,})", stripped[0]) if stripped else None
    pred = _decimal(pred_text)
    if match is None or pred is None:
        return False
    places = len(match[1])
    try:
        value = Decimal(str(sympy.N(gold, places + 30)))
    except (TypeError, ValueError, ArithmeticError, InvalidOperation):
        return False
    quantum = Decimal(1).scaleb(-places)
    nearest = value.quantize(quantum, rounding=ROUND_HALF_UP)
    cut = value.quantize(quantum, rounding="ROUND_DOWN")
    return pred in (nearest, cut)


def equation_sides_differ(gold: Any, pred: Any) -> bool:
    """True when both are equations and not the same equation: ``\\frac{dz}{dx}=2x``
    is not ``\\frac{dy}{dx}=2x``, though math-verify compares their right sides. The
    same equation may be rearranged or scaled (``-34x-45y+20z-100=0``)."""
    if not (isinstance(gold, sympy.Equality) and isinstance(pred, sympy.Equality)):
        return False
    a, b = gold.lhs - gold.rhs, pred.lhs - pred.rhs
    if a == b or a == -b:
        return False
    try:  # algebra only: simplify would evaluate d y/d x to 0 for a symbol y
        if sympy.expand(a - b) == 0:
            return False
        ratio = sympy.cancel(sympy.together(a / b))
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return False  # the guard does not apply; math-verify's verdict stands
    return not (ratio.is_number and ratio != 0 and ratio.is_finite)
