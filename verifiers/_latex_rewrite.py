"""LaTeX spellings that math-verify's parser (latex2sympy2_extended) misreads or
rejects, rewritten into equivalent spellings it reads: the ``latex_rewrite`` stage
of the ``math`` verifier's cascade (class: symbolic LaTeX).

Each rule is a change of notation only, applied to both the answer and the
reference; the stage accepts only when math-verify then finds both sides equal, so
a rule can make a right answer readable but cannot make a wrong one right:

- ``\\frac1234`` is ``\\frac{1}{2} \\cdot 34`` (one-token arguments, then a number
  that multiplies the fraction);
- ``x^\\frac{1}{2}``, ``x^\\binom{n}{k}``: a command as an exponent or subscript
  without braces gets them;
- ``\\int\\limits_a^b``, ``\\int^b_a``, ``x\\,dx``: limits written after ``\\limits``
  or upper bound first, thin spaces;
- ``3^{+}`` is ``3^+`` (one-sided limits);
- ``\\sin^{-1}``, ``\\operatorname{asin}``: inverse trigonometric functions;
- ``\\lg`` is the base-10 logarithm (math-verify reads ``\\log`` as base 10 too);
- ``\\right )``, ``\\left (``: sizing commands spaced from their delimiter.

Every pattern is a fixed-shape regular expression over bounded arguments (no
nested quantifiers): linear time on any input.
"""

from __future__ import annotations

import re

__all__ = ["rewrite"]

_ARG = r"(?:\{[^{}]{0,80}\}|\\[a-zA-Z]+|[^\s{}\\])"
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # \frac1234 -> \frac{1}{2}34; \frac12 -> \frac{1}{2}
    (re.compile(r"\\([dt]?frac)\s*(\d)\s*(\d)"), r"\\\1{\2}{\3}"),
    # \frac{1}{2}34: a number right after a fraction multiplies it
    (re.compile(r"(\\[dt]?frac\{\d{1,40}\}\{\d{1,40}\})(?=\d)"), r"\1 \\cdot "),
    # x^\frac{1}{2} -> x^{\frac{1}{2}}
    (
        re.compile(
            r"([\^_])\s*(\\(?:[dt]?frac|binom|sqrt)\s*\{[^{}]{0,80}\}(?:\s*\{[^{}]{0,80}\})?)"
        ),
        r"\1{\2}",
    ),
    (re.compile(r"\\limits(?![a-zA-Z])"), ""),
    # \int^b_a -> \int_a^b
    (re.compile(r"\\int\s*\^\s*(" + _ARG + r")\s*_\s*(" + _ARG + r")"), r"\\int_\2^\1"),
    (re.compile(r"\\[,;:!](?=\s*d[a-zA-Z]\b)"), " "),
    (re.compile(r"\^\{\s*([+-])\s*\}"), r"^\1"),
    (re.compile(r"\\(sin|cos|tan|cot|sec|csc)\s*\^\s*\{\s*-\s*1\s*\}"), r"\\arc\1"),
    (re.compile(r"\\(sin|cos|tan|cot|sec|csc)\s*\^\s*-\s*1\b"), r"\\arc\1"),
    (re.compile(r"\\operatorname\{a(sin|cos|tan|cot|sec|csc)\}"), r"\\arc\1"),
    (re.compile(r"\\lg(?![a-zA-Z])"), r"\\log"),
    (re.compile(r"\\(left|right)\s+(?=[()\[\].|])"), r"\\\1"),
)


def rewrite(text: str) -> str:
    """The text with each notation above rewritten (unchanged if none applies)."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
