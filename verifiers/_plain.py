"""Plain numbers judged without sympy: the fast path of the ``math`` verifier.

Most GRPO math items have an integer, decimal or simple fraction as reference
and as answer. Parsing both with math-verify (LaTeX grammar, sympy) costs far
more than moving the item to a worker; this decides such pairs with exact
rational arithmetic in the API process, and leaves every other pair to the
full cascade.

It decides only where the cascade's verdict is known:

- both sides are plain numbers with the same exact value: correct (the cascade
  accepts ``0.5`` for ``\\frac{1}{2}`` and ``3.0`` for ``3``);
- both sides are integers of at most 15 digits (the cascade's numeric
  precision) with different values: incorrect.

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
_NUMBER = re.compile(rf"([+-]?)({_INT})(?:\.(\d+))?")
_SLASH = re.compile(rf"([+-]?)({_INT})/([1-9]\d*)")
_FRAC = re.compile(rf"([+-]?)\\[dt]?frac\{{([+-]?)({_INT})\}}\{{([1-9]\d*)\}}")
_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("\\boxed{", "}"))
_MAX_EXACT_DIGITS = 15


class PlainNumber:
    """An exact value, and whether it was written as an integer."""

    __slots__ = ("integer", "value")

    def __init__(self, value: Fraction, *, integer: bool) -> None:
        self.value = value
        self.integer = integer


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
        value = Fraction(int(whole + (decimals or "")), 10 ** len(decimals or ""))
        return PlainNumber(-value if sign == "-" else value, integer=decimals is None)
    match = _SLASH.fullmatch(body)
    if match is not None:
        sign, num, den = match.groups()
        value = Fraction(int(num), int(den))
        return PlainNumber(-value if sign == "-" else value, integer=False)
    match = _FRAC.fullmatch(body)
    if match is not None:
        outer, inner, num, den = match.groups()
        value = Fraction(int(num), int(den))
        negative = (outer == "-") != (inner == "-")
        return PlainNumber(-value if negative else value, integer=False)
    return None


def same_value(answer: str, references: list[str]) -> bool | None:
    """True or False where the cascade's verdict is known (see the module's doc), else None."""
    got = parse_plain(answer)
    if got is None:
        return None
    wanted = [parse_plain(r) for r in references]
    if any(w is None for w in wanted):
        return None
    if any(w is not None and w.value == got.value for w in wanted):
        return True
    exact = [got, *wanted]
    if all(
        n is not None and n.integer and len(str(abs(n.value.numerator))) <= _MAX_EXACT_DIGITS
        for n in exact
    ):
        return False
    return None


def shortcut(extracted: str, reference: Any, params: Any, sep: str) -> Score | None:
    """The ``math`` verifier's verdict on plain numbers, as its cascade would give it.

    ``extracted`` is the verifier's extraction (source, ``sep``, text); only the
    cascade mode takes the fast path (``math_verify`` mode stays math-verify alone).
    """
    if getattr(params, "mode", None) != "cascade" or not extracted:
        return None
    source, _, text = extracted.partition(sep)
    golds = [reference] if isinstance(reference, str) else reference
    if not isinstance(golds, list) or not golds or not all(isinstance(g, str) for g in golds):
        return None
    verdict = same_value(text, golds)
    if verdict is None:
        return None
    details: dict[str, Any] = {"extracted": text[:200], "source": source}
    if verdict:
        details["stage"] = "plain"
        return Score(1.0, Outcome.CORRECT, details)
    return Score(0.0, Outcome.INCORRECT, details)
