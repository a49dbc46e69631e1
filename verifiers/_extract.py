"""Answer extraction shared by the answer-checking verifiers.

Every function here is linear in the length of its input and uses no
backtracking-prone pattern: they run in the API process to build cache keys.
"""

from __future__ import annotations

import re

__all__ = [
    "all_boxes",
    "answer_region",
    "balanced_braces",
    "last_answer_tag",
    "last_boxed",
    "last_number",
    "normalize_space",
    "trailing_boxes",
]

_BOXED_COMMANDS = ("\\boxed", "\\fbox")
_SPACE = re.compile(r"\s+")
# Numbers as models write them: -1,234.5  3.14  1/2  .5  1e-3, also with a Unicode minus
# sign (U+2212); the last one wins.
# The lookahead makes every position that cannot start a number fail at once.
_NUMBER = re.compile(
    r"(?<![\w.])[-\u2212]?(?=\.?\d)(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?"
    r"(?:/\d+)?(?!\w)"
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


_BRACE_OR_ESCAPE = re.compile(r"\\.|[{}]", re.DOTALL)


def _matching_brace(text: str, start: int, stop: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``start``, or -1 if none before ``stop``."""
    depth = 0
    for match in _BRACE_OR_ESCAPE.finditer(text, start, stop):
        c = match.group()
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return match.start()
        # an escaped character (\{, \}, \\) does not count
    return -1


def balanced_braces(text: str) -> bool:
    """Whether every ``{`` in the text is closed in order (escaped braces aside)."""
    depth = 0
    for match in _BRACE_OR_ESCAPE.finditer(text):
        c = match.group()
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


_SPACE_ARGUMENT = re.compile(r"[ \t]+([^\s$]+)")


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` (or ``\\fbox``, or ``\\boxed 5``).

    Linear time: when a box is unbalanced, every earlier box still open where it
    starts is unbalanced too, so the scan of an earlier box stops there.
    """
    stop = len(text)
    # The last occurrence of each command before the current position; only the
    # one just consumed is searched again, so each is scanned once overall.
    found = {cmd: text.rfind(cmd) for cmd in _BOXED_COMMANDS}
    while True:
        cmd = max(found, key=found.__getitem__)
        pos = found[cmd]
        if pos < 0:
            return None
        found[cmd] = text.rfind(cmd, 0, pos)
        i = pos + len(cmd)
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            close = _matching_brace(text, i, stop)
            if close >= 0:
                return text[i + 1 : close]
            stop = pos
        else:
            match = _SPACE_ARGUMENT.match(text, pos + len(cmd))
            if match is not None:
                token = match.group(1).rstrip(".,;")
                if token:
                    return token


def last_answer_tag(
    text: str, open_tag: str = "<answer>", close_tag: str = "</answer>"
) -> str | None:
    """Content of the last ``<answer>...</answer>`` block.

    A last block left open counts too: trainers often stop generation at the
    close tag, and the inference engine drops the stop string.
    """
    start = text.rfind(open_tag)
    if start < 0:
        return None
    close = text.find(close_tag, start)
    return text[start + len(open_tag) : close if close >= 0 else len(text)]


def last_number(text: str) -> str | None:
    """The last number written in the text, thousands separators removed."""
    found = None
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        if any(ch.isdigit() for ch in token):
            found = token
    if found is None:
        return None
    return found.replace(",", "").replace("\u2212", "-")


# Between two boxes of one final statement: "$ and $x = ", ", ", "$, $", " or ",
# "\\quad\\text{and}\\quad", "\\text{ for part (b) and }", "\\) and \\(", a line
# break. A run of fixed tokens: linear time.
_BOX_JOINER = re.compile(
    r"(?:[\s$,;~]|\\[,;:! ()]|\\q?quad\b|\\\\|\\\[|\\\]"
    r"|\\text\{[^{}]{0,30}?(?:\band|\bor|,)?\s*\}|\band\b|\bor\b)*"
    r"(?:\\?\(?[a-zA-Z](?:_\{?\d\}?)?\s*=\s*)?[\s$]*(?:\\\(\s*)?"
)
# The variable a box is the value of: "y_1 = \boxed{…}".
_BOX_VARIABLE = re.compile(r"([a-zA-Z](?:_\{?\d\}?)?)\s*=\s*[\s$]*(?:\\\(\s*)?$")


def trailing_boxes(text: str, limit: int = 8) -> list[str]:
    """Contents of the boxes that end the text as one statement, in order.

    "the roots are $x=\\boxed{2}$ and $x=\\boxed{3}$." gives ``["2", "3"]``; boxes
    separated by prose ("first \\boxed{2}; checking again, \\boxed{3}") give only
    the last one. Boxes that name different variables keep their names
    ("$a=\\boxed{1}$ and $b=\\boxed{2}$" gives ``["a = 1", "b = 2"]``): the answer
    is then a set of equations, compared as the reference's structure says. Each box
    is scanned once; at most ``limit`` are returned.
    """
    boxes: list[tuple[str, str | None]] = []
    end = len(text)
    while len(boxes) < limit:
        start = text.rfind("\\boxed{", 0, end)
        if start < 0:
            break
        close = _matching_brace(text, start + len("\\boxed"), end)
        if close < 0:
            break
        if boxes:
            joiner = text[close + 1 : end]
            if len(joiner) > 60 or _BOX_JOINER.fullmatch(joiner) is None:
                break
        before = _BOX_VARIABLE.search(text, max(0, start - 16), start)
        boxes.append((text[start + len("\\boxed{") : close], before[1] if before else None))
        end = start
    boxes.reverse()
    variables = {v for _, v in boxes if v is not None}
    if len(variables) > 1:
        return [f"{v} = {b}" if v else b for b, v in boxes]
    return [b for b, _ in boxes]


# Between two boxes of a reference: also one word before the conjunction
# ("\\boxed{1} papers and \\boxed{2} bins"), or symbols without words.
_REFERENCE_JOINER = re.compile(r"[\s$]*[A-Za-z]{1,20}\s*(?:,|\band\b|\bor\b)[\s$]*|[^A-Za-z]*")


def all_boxes(text: str, limit: int = 16) -> list[str]:
    """Contents of the last run of top-level ``\\boxed{}`` / ``\\fbox{}`` of a reference,
    in order: boxes joined as in ``trailing_boxes`` or by one word and a conjunction
    ("\\boxed{1} papers and \\boxed{2} bins"); prose between them starts a new run.
    Linear: the scan resumes after each box."""
    run: list[str] = []
    i, previous_end = 0, -1
    nxt = {cmd: text.find(cmd) for cmd in _BOXED_COMMANDS}
    while True:
        # Each command's next position is searched again only once it is passed.
        nxt = {c: p if p < 0 or p >= i else text.find(c, i) for c, p in nxt.items()}
        starts = [p for p in nxt.values() if p >= 0]
        if not starts:
            break
        pos = min(starts)
        brace = pos + (len("\\boxed") if text.startswith("\\boxed", pos) else len("\\fbox"))
        while brace < len(text) and text[brace] in " \t":
            brace += 1
        if brace >= len(text) or text[brace] != "{":
            i = brace
            continue
        close = _matching_brace(text, brace, len(text))
        if close < 0:
            break
        if previous_end >= 0:
            joiner = text[previous_end:pos]
            if len(joiner) > 60 or not (
                _BOX_JOINER.fullmatch(joiner) or _REFERENCE_JOINER.fullmatch(joiner)
            ):
                run = []
        run.append(text[brace + 1 : close])
        previous_end = i = close + 1
    return run[-limit:]
