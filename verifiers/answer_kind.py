"""The kind of a math answer, from its text: for reports that group verdicts.

A coarse, cheap reading of a reference (no parser): the class a change of
verdicts is counted in when a verifier is upgraded (``referee score --rescore``).
It never decides a verdict.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["KINDS", "answer_kind"]

KINDS = (
    "integer",
    "decimal",
    "fraction",
    "percent",
    "choice",
    "interval",
    "set",
    "tuple",
    "matrix",
    "equation",
    "several",
    "text",
    "expression",
)

_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("\\boxed{", "}"))
_INTEGER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:(?:,|\{,\})\d{3})+)")
_DECIMAL = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:(?:,|\{,\})\d{3})+)?\.\d+")
_FRACTION = re.compile(r"[+-]?(?:\d+/\d+|\\[dt]?frac\{[+-]?\d+\}\{\d+\}|\\[dt]?frac\d\d)")
_PERCENT = re.compile(r"[+-]?\d+(?:\.\d+)?\s*\\?%")
_CHOICE = re.compile(r"\(?[A-J]\)?")
_INTERVAL = re.compile(r"[\[(].*,.*[\])]")
_WORDS = re.compile(r"[A-Za-z]{4,}")


def _unwrap(text: str) -> str:
    text = text.strip().rstrip(".").strip()
    for _ in range(3):
        for opening, closing in _WRAPPERS:
            if text.startswith(opening) and text.endswith(closing) and len(text) > len(opening):
                text = text[len(opening) : len(text) - len(closing)].strip()
                break
        else:
            break
    return text.replace("\\left", "").replace("\\right", "").replace("\\!", "").strip()


def _one_group(text: str) -> bool:
    """``text`` is one bracketed group: its first bracket closes at its end."""
    depth = 0
    for k, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0 and k != len(text) - 1:
                return False
    return bool(text) and text[0] in "([" and depth == 0


def answer_kind(reference: Any) -> str:
    """One of :data:`KINDS` for a math reference (the first of a list)."""
    if isinstance(reference, list):
        reference = reference[0] if reference else ""
    if not isinstance(reference, str):
        return "expression"
    text = _unwrap(reference)
    if _INTEGER.fullmatch(text):
        return "integer"
    if _DECIMAL.fullmatch(text):
        return "decimal"
    if _FRACTION.fullmatch(text):
        return "fraction"
    if _PERCENT.fullmatch(text):
        return "percent"
    if _CHOICE.fullmatch(text):
        return "choice"
    if "matrix" in text:
        return "matrix"
    if text.startswith("\\{") or "\\cup" in text or "\\emptyset" in text:
        return "set"
    if "=" in text or "\\le" in text or "\\ge" in text or "<" in text or ">" in text:
        return "equation"
    grouped = _one_group(text)
    if grouped and _INTERVAL.fullmatch(text):
        if text[0] != "(" or text[-1] != ")" or "\\infty" in text:
            return "interval"
        return "tuple"
    if "," in text:
        return "several"
    if "\\text" in text or ("\\" not in text and _WORDS.search(text)):
        return "text"
    return "expression"
