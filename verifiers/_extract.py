"""Answer extraction shared by the answer-checking verifiers.

Every function here is linear in the length of its input and uses no
backtracking-prone pattern: they run in the API process to build cache keys.
"""

from __future__ import annotations

import re

__all__ = [
    "answer_region",
    "last_answer_tag",
    "last_boxed",
    "last_number",
    "normalize_space",
]

_BOXED_COMMANDS = ("\\boxed", "\\fbox")
_SPACE = re.compile(r"\s+")
# Numbers as models write them: -1,234.5  3.14  1/2  .5  1e-3 ; the last one wins.
_NUMBER = re.compile(
    r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?(?:/\d+)?(?![\w])"
)


def normalize_space(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return _SPACE.sub(" ", text).strip()


def answer_region(response: str, open_tag: str = "<think>", close_tag: str = "</think>") -> str:
    """The part of a response that holds the answer: what follows the reasoning block.

    A response that opened a reasoning block and never closed it (truncated while
    thinking) has no answer region; a response without reasoning tags is all answer.
    """
    end = response.rfind(close_tag)
    if end >= 0:
        return response[end + len(close_tag) :]
    if open_tag in response:
        return ""
    return response


def _matching_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``start``, or -1 when unbalanced."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2  # an escaped brace \{ does not count
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` (or ``\\fbox``, or ``\\boxed 5``)."""
    end = len(text)
    while True:
        pos = max(text.rfind(cmd, 0, end) for cmd in _BOXED_COMMANDS)
        if pos < 0:
            return None
        cmd_len = len("\\boxed") if text.startswith("\\boxed", pos) else len("\\fbox")
        i = pos + cmd_len
        if i < len(text) and text[i] == "{":
            close = _matching_brace(text, i)
            if close >= 0:
                return text[i + 1 : close]
        elif i < len(text) and text[i] == " ":
            # "\boxed 5" form: the argument is the next token.
            rest = text[i + 1 :].lstrip()
            token = rest.split(maxsplit=1)[0] if rest.strip() else ""
            token = token.rstrip("$.,;")
            if token:
                return token
        end = pos


def last_answer_tag(
    text: str, open_tag: str = "<answer>", close_tag: str = "</answer>"
) -> str | None:
    """Content of the last complete ``<answer>...</answer>`` block."""
    close = text.rfind(close_tag)
    if close < 0:
        return None
    start = text.rfind(open_tag, 0, close)
    if start < 0:
        return None
    return text[start + len(open_tag) : close]


def last_number(text: str) -> str | None:
    """The last number written in the text, thousands separators removed."""
    found = None
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        if any(ch.isdigit() for ch in token):
            found = token
    if found is None:
        return None
    return found.replace(",", "")
