"""Tuples, intervals and matrices split into their elements, so that the ``math``
verifier applies to each element the rule it applies to a lone number.

math-verify compares the elements of a composite answer at its fixed rounding; a
lone number goes through Referee's own rules first (a rounded decimal of a
repeating fraction, guards). ``same_elements`` compares two composites element by
element with the caller's judge of one pair, so that ``(0.6, 2.6667]`` for
``(\\frac{3}{5}, \\frac{8}{3}]`` is judged as ``2.6667`` for ``\\frac{8}{3}`` is. The
shapes must agree exactly: the same brackets (an open end is not a closed one), the
same number of rows and columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["parts", "same_elements"]

_MATRIX = re.compile(r"\\begin\{([pbvBV]?matrix)\}(.*)\\end\{\1\}", re.DOTALL)
_SIZING = re.compile(r"\\(?:left|right|big|Big|bigl|bigr|Bigl|Bigr)(?![a-zA-Z])")
_MAX_ELEMENTS = 64


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at the separators outside brackets and braces."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text.startswith(separator, i) and separator.startswith("\\"):
            if depth == 0:
                out.append(text[start:i])
                start = i + len(separator)
            i += len(separator)
            continue
        if ch == "\\":
            depth += (text[i + 1 : i + 2] == "{") - (text[i + 1 : i + 2] == "}")  # \{ \}
            i += 2
            continue
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0 and text.startswith(separator, i):
            out.append(text[start:i])
            start = i + len(separator)
        i += 1
    out.append(text[start:])
    return [part.strip() for part in out]


def _balanced(text: str) -> bool:
    depth = 0
    for ch in re.sub(r"\\.", "", text):
        depth += (ch in "{([") - (ch in "})]")
        if depth < 0:
            return False
    return depth == 0


def parts(text: str) -> tuple[str, list[list[str]]] | None:
    """``(shape, rows of element texts)`` of a tuple, an interval or a matrix; None for
    anything else. The shape names the brackets (``"(]"``) or the matrix kind."""
    text = _SIZING.sub("", text).strip().strip("$").strip()
    if text.startswith("(") and text.endswith(")") and "\\begin{" in text:
        text = text[1:-1].strip()  # (\begin{pmatrix}…\end{pmatrix})
    match = _MATRIX.fullmatch(text)
    if match is not None:
        rows = [r for r in _split(match[2], "\\\\") if r]
        cells = [_split(r, "&") for r in rows]
        shape = "matrix"
    elif len(text) >= 2 and text[0] in "([" and text[-1] in ")]":
        inner = text[1:-1]
        if not _balanced(inner) or _split(inner, ",") == [inner.strip()]:
            return None
        cells = [_split(inner, ",")]
        shape = text[0] + text[-1]
    else:
        return None
    if sum(len(r) for r in cells) > _MAX_ELEMENTS or any(not c for r in cells for c in r):
        return None
    return shape, cells


def same_elements(gold: str, answer: str, equal: Callable[[str, str], bool]) -> bool:
    """Both are composites of the same shape whose elements are pairwise ``equal``."""
    a, b = parts(gold), parts(answer)
    if a is None or b is None or a[0] != b[0]:
        return False
    rows_a, rows_b = a[1], b[1]
    if [len(r) for r in rows_a] != [len(r) for r in rows_b]:
        return False
    return all(
        equal(g, p)
        for row_a, row_b in zip(rows_a, rows_b, strict=True)
        for g, p in zip(row_a, row_b, strict=True)
    )
