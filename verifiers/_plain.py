"""Plain numbers judged without sympy: the fast path of the ``math`` verifier.

Most GRPO math items have an integer, decimal or simple fraction as reference
and as answer. Parsing both with math-verify (LaTeX grammar, sympy) costs far
more than moving the item to a worker; this decides such pairs with exact
rational arithmetic in the API process, and leaves every other pair to the
full cascade.

It decides only where the cascade's verdict is known:

- both sides are plain numbers with the same exact value: correct (the cascade
  accepts ``0.5`` for ``\\frac{1}{2}`` and ``3.0`` for ``3``);
- different values that no rule of the cascade takes for one another: two
  integers or fractions with small denominators, or a decimal against a
  reference that terminates, far enough apart (``_surely_different``):
  incorrect. A decimal that may round a repeating fraction (``0.33`` for
  ``\\frac{1}{3}``) is left to the cascade.

Anything else returns None and goes through the cascade: a decimal that only
rounds to the reference, percentages, thousands separators or a decimal comma,
leading zeros, units, several values, unicode signs, long numbers.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from referee.verifiers._types import Outcome, Score

__all__ = ["PlainNumber", "parse_plain", "same_value", "shortcut"]

_MAX_CHARS = 64
_INT = r"(?:0|[1-9]\d*)"
# ``70{,}350``: LaTeX's braced comma groups thousands (a bare comma is ambiguous).
_NUMBER = re.compile(rf"([+-]?)({_INT}|[1-9]\d{{0,2}}(?:\{{,\}}\d{{3}})+)(?:\.(\d+))?")
_SLASH = re.compile(rf"([+-]?)({_INT})/([1-9]\d*)")
_FRAC = re.compile(rf"([+-]?)\\[dt]?frac\{{([+-]?)({_INT})\}}\{{([1-9]\d*)\}}")
_FRAC_DIGITS = re.compile(r"([+-]?)\\[dt]?frac(\d)([1-9])")  # \frac47: one digit each
_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("\\boxed{", "}"))
_MAX_MAGNITUDE = 10**9  # with 6 decimals: within the cascade's 15 significant digits
_MAX_DENOMINATORS = 10**5  # two such fractions differ by at least 1e-5
_MIN_GAP = Fraction(1, 10**5)  # beyond the cascade's rounding to 6 decimals


class PlainNumber:
    """An exact value, and whether it was written with a decimal point."""

    __slots__ = ("decimal", "value")

    def __init__(self, value: Fraction, *, decimal: bool) -> None:
        self.value = value
        self.decimal = decimal


def _unwrap(text: str) -> str:
    text = text.strip()
    for _ in range(3):  # $\boxed{3}$ is two wrappers; more is not plain
        for opening, closing in _WRAPPERS:
            if text.startswith(opening) and text.endswith(closing) and len(text) > len(opening):
                text = text[len(opening) : len(text) - len(closing)].strip()
                break
        else:
            return text
    return text


def parse_plain(text: str) -> PlainNumber | None:
    """The value of ``text`` when it is a plain number, else None."""
    if len(text) > _MAX_CHARS:
        return None
    body = _unwrap(text)
    match = _NUMBER.fullmatch(body)
    if match is not None:
        sign, whole, decimals = match.groups()
        whole = whole.replace("{,}", "")
        value = Fraction(int(whole + (decimals or "")), 10 ** len(decimals or ""))
        return PlainNumber(-value if sign == "-" else value, decimal=decimals is not None)
    match = _SLASH.fullmatch(body)
    if match is not None:
        sign, num, den = match.groups()
        value = Fraction(int(num), int(den))
        return PlainNumber(-value if sign == "-" else value, decimal=False)
    match = _FRAC_DIGITS.fullmatch(body)
    if match is not None:
        sign, num, den = match.groups()
        value = Fraction(int(num), int(den))
        return PlainNumber(-value if sign == "-" else value, decimal=False)
    match = _FRAC.fullmatch(body)
    if match is not None:
        outer, inner, num, den = match.groups()
        value = Fraction(int(num), int(den))
        negative = (outer == "-") != (inner == "-")
        return PlainNumber(-value if negative else value, decimal=False)
    return None


def same_value(answer: str, references: list[str]) -> bool | None:
    """True or False where the cascade's verdict is known (see the module's doc), else None."""
    got = parse_plain(answer)
    if got is None:
        return None
    wanted = [parse_plain(r) for r in references]
    if not all(wanted):
        return None
    golds = [w for w in wanted if w is not None]
    if any(w.value == got.value for w in golds):
        return True
    return False if all(_surely_different(got, w) for w in golds) else None


def _surely_different(got: PlainNumber, gold: PlainNumber) -> bool:
    """Different values that no rule of the cascade takes for one another.

    Two exact numbers (integers and fractions, no decimal point) with small
    denominators differ by more than the cascade's numeric rounding. A decimal
    is compared only with a reference whose value terminates (a decimal that
    rounds a repeating fraction is the cascade's call), and only when they differ
    well beyond that rounding, at magnitudes its float comparison reads exactly.
    """
    a, b = got.value, gold.value
    if max(abs(a), abs(b)) > _MAX_MAGNITUDE:
        return False
    if not got.decimal and not gold.decimal:
        return a.denominator * b.denominator <= _MAX_DENOMINATORS
    return _terminates(b) and abs(a - b) >= _MIN_GAP


def _terminates(value: Fraction) -> bool:
    den = value.denominator
    for prime in (2, 5):
        while den % prime == 0:
            den //= prime
    return den == 1


def shortcut(extracted: str, reference: Any, params: Any, sep: str) -> Score | None:
    """The ``math`` verifier's verdict on plain numbers, as its cascade would give it.

    ``extracted`` is the verifier's extraction (source, ``sep``, text); only the
    cascade mode takes the fast path (``math_verify`` mode stays math-verify alone).
    """
    if getattr(params, "mode", None) != "cascade":
        return None
    golds = [reference] if isinstance(reference, str) else reference
    if not isinstance(golds, list) or not golds or not all(isinstance(g, str) for g in golds):
        return None
    if not extracted:  # nothing to compare; a plain reference is a valid one
        if all(parse_plain(g) for g in golds):
            return Score(0.0, Outcome.NO_ANSWER, {"extracted": None})
        return None
    source, _, text = extracted.partition(sep)
    verdict = same_value(text, golds)
    if verdict is None:
        return None
    details: dict[str, Any] = {"extracted": text[:200], "source": source}
    if verdict:
        details["stage"] = "plain"
        return Score(1.0, Outcome.CORRECT, details)
    return Score(0.0, Outcome.INCORRECT, details)
