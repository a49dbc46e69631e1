"""An independent equivalence check of math answers, for sampling the primary verdict.

It shares nothing with math-verify or latex2sympy2: a small LaTeX-to-Python
rewriter (fractions, roots, powers, ``\\pi``, units in ``\\text{}``, ``x = …``,
percent), a whitelist of the characters and names that may reach sympy's
``parse_expr``, and a comparison that is exact for rationals, at the written
precision for a decimal reference, and symbolic (``simplify(a - b) == 0``)
otherwise. Tuples compare in order, other lists as sets.

It answers ``True``, ``False`` or ``None`` (cannot tell: not parsed, too
complex). The engine samples a share of ``math`` items
(``REFEREE_SECOND_OPINION_RATE``) and counts where the two graders disagree;
the reward is always the primary verdict.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import sympy
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

__all__ = ["answer_of_extraction", "equivalent", "to_values"]

_MAX_CHARS = 300
_TRANSFORMS = (*standard_transformations, implicit_multiplication_application, convert_xor)
_ALLOWED = re.compile(r"[0-9A-Za-z+\-*/().,\s]*")
_NAMES = {"sqrt", "pi", "oo", "E", "log", "sin", "cos", "tan", "exp", "I"}
_IDENTIFIER = re.compile(r"[A-Za-z_]+")
_COMMANDS = {
    "\\pi": " pi ",
    "\\infty": " oo ",
    "\\cdot": "*",
    "\\times": "*",
    "\\div": "/",
    "\\ln": " log",
    "\\log": " log",
    "\\sin": " sin",
    "\\cos": " cos",
    "\\tan": " tan",
    "\\exp": " exp",
}


def answer_of_extraction(extracted: str) -> str:
    """The answer text in a ``math`` extraction (``source<US>answer[<US>alternative]``)."""
    parts = extracted.split("\x1f")
    return parts[1] if len(parts) > 1 else extracted


def _group(text: str, start: int) -> tuple[str, int] | None:
    """The brace group (or single character) at ``start``: its content and the end index."""
    while start < len(text) and text[start] == " ":
        start += 1
    if start >= len(text):
        return None
    if text[start] != "{":
        return text[start], start + 1
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i], i + 1
    return None


def _rewrite(text: str) -> str | None:
    """LaTeX to Python syntax, or None when something is left that is not understood."""
    text = re.sub(r"(?<=\d)(?:\\,|\\ |~)(?=\d{3}(?!\d))", "", text)  # 1\,000
    text = text.replace("\\left", "").replace("\\right", "").replace("\\dfrac", "\\frac")
    text = text.replace("\\tfrac", "\\frac").replace("\\%", "%").replace("$", "")
    for spacing in ("\\!", "\\,", "\\;", "\\ ", "~"):
        text = text.replace(spacing, " ")
    text = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|\u00b0", "", text)
    text = re.sub(r"\\(?:text|mathrm|textbf|mbox)\{\s*(?:or|and)\s*\}", ",", text)
    text = re.sub(r"\\(?:text|mathrm|textbf|mbox)\{[^{}]*\}", " ", text)
    text = re.sub(r"(?<![\w.^])(\d+)\s*(?=\\frac)", r"(\1)+", text)  # 2\frac14: a mixed number
    for _ in range(50):
        pos = max(text.rfind("\\frac"), text.rfind("\\sqrt"))
        if pos < 0:
            break
        if text.startswith("\\frac", pos):
            num = _group(text, pos + 5)
            den = _group(text, num[1]) if num else None
            if num is None or den is None:
                return None
            text = text[:pos] + f"(({num[0]})/({den[0]}))" + text[den[1] :]
        else:
            index = "2"
            end = pos + 5
            if text.startswith("[", end):
                close = text.find("]", end)
                if close < 0:
                    return None
                index, end = text[end + 1 : close], close + 1
            arg = _group(text, end)
            if arg is None:
                return None
            text = text[:pos] + f"(({arg[0]})**(1/({index})))" + text[arg[1] :]
    for command, python in _COMMANDS.items():
        text = text.replace(command, python)
    if "\\" in text:
        return None
    text = text.replace("{", "(").replace("}", ")").replace("^", "**")
    text = re.sub(r"(?<![\d.])0+(?=\d)", "", text)  # 0204: leading zeros
    return re.sub(r"(\d+(?:\.\d+)?)\s*%", r"(\1/100)", text)


def _parse(text: str) -> Any:
    if not _ALLOWED.fullmatch(text) or "__" in text:
        return None
    for name in _IDENTIFIER.findall(text):
        if len(name) > 1 and name not in _NAMES:
            return None
    try:
        return parse_expr(text, transformations=_TRANSFORMS, local_dict={"E": sympy.E})
    except Exception:  # not an expression: no opinion
        return None


def to_values(latex: str) -> tuple[str, list[Any]] | None:
    """``("tuple" | "set", [sympy values])`` for an answer, or None when not understood."""
    text = latex.strip().strip("$").strip()
    if len(text) > _MAX_CHARS:
        return None
    boxed = re.fullmatch(r"\\boxed\{(.*)\}", text)
    text = boxed.group(1) if boxed else text
    text = re.sub(r"^\s*[A-Za-z]\s*=\s*", "", text)  # "x = 5"
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        text = text.replace(",", "")
    kind = "set"
    if re.fullmatch(r"\(.*,.*\)", text):
        kind, text = "tuple", text[1:-1]
    elif text.startswith("\\{") and text.endswith("\\}"):
        text = text[2:-2]
    python = _rewrite(text)
    if python is None:
        return None
    values = []
    for part in _split_top_level(python):
        part = re.sub(r"^\s*[A-Za-z]\s*=\s*", "", part)
        value = _parse(part)
        if value is None or not isinstance(value, sympy.Basic):
            return None
        values.append(value)
    return (kind, values) if values else None


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def _decimal_places(text: str) -> int | None:
    """Decimals written in a decimal reference of at least 3 significant digits."""
    match = re.fullmatch(r"\s*-?(\d+)\.(\d+)\s*", text)
    if match is None or len((match.group(1) + match.group(2)).lstrip("0")) < 3:
        return None
    return len(match.group(2))


def _same(gold: Any, pred: Any, places: int | None) -> bool:
    if gold == pred:
        return True
    if gold.free_symbols or pred.free_symbols:
        return bool(sympy.simplify(gold - pred) == 0)
    if gold.is_Rational and pred.is_Rational and places is None:
        return bool(gold == pred)
    a, b = sympy.N(gold, 30), sympy.N(pred, 30)
    if not (a.is_real and b.is_real):
        return bool(sympy.simplify(gold - pred) == 0)
    if places is not None:
        rounded = Decimal(str(sympy.N(b, 40))).quantize(Decimal(1).scaleb(-places))
        return rounded == Decimal(str(sympy.N(a, 40))).quantize(Decimal(1).scaleb(-places))
    return bool(abs(a - b) <= abs(a) * sympy.Float("1e-12") or (a == 0 and b == 0))


def equivalent(answer: str, reference: str | list[str]) -> bool | None:
    """Whether ``answer`` equals one of the references; None when it cannot tell."""
    golds = [reference] if isinstance(reference, str) else reference
    if "%" in answer or any("%" in g for g in golds):  # "what percent": 25% is 25 too
        bare = [g.replace("\\%", "").replace("%", "") for g in golds]
        if equivalent(answer.replace("\\%", "").replace("%", ""), bare) is True:
            return True
    pred = to_values(answer)
    if pred is None:
        return None
    undecided = False
    for gold_text in golds:
        gold = to_values(gold_text)
        if gold is None:
            undecided = True
            continue
        (gkind, gvals), (pkind, pvals) = gold, pred
        places = _decimal_places(gold_text) if len(gvals) == 1 else None
        try:
            if len(gvals) == 1 and len(pvals) == 1:
                same = _same(gvals[0], pvals[0], places)
            elif "tuple" in (gkind, pkind):
                same = (gkind, len(gvals)) == (pkind, len(pvals)) and all(
                    _same(g, p, None) for g, p in zip(gvals, pvals, strict=True)
                )
            else:
                same = all(any(_same(g, p, None) for p in pvals) for g in gvals) and all(
                    any(_same(g, p, None) for g in gvals) for p in pvals
                )
        except Exception:  # sympy could not decide this one
            undecided = True
            continue
        if same:
            return True
    return None if undecided else False
