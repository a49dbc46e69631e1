"""The final statement of a response that boxes nothing: what the ``math`` verifier reads
when there is no ``\\boxed{}`` and no ``<answer>`` tag.

A statement is split into math segments (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``)
and prose. The answer is what follows the last copula of its first sentence
("The largest $n$ is $34$" gives ``34``): the one math segment there, or several
joined only by "and", "or" and commas, which are then one answer with several
values (a set, compared as the reference's structure says); else the prose itself.
A ``$`` that opens prose ("he pays $5 for apples, so $20") is a currency sign, not
math. Every function is linear in its input: it runs in the API process.
"""

from __future__ import annotations

import itertools
import re

from referee.verifiers._extract import balanced_braces, normalize_space

__all__ = [
    "answer_after_phrase",
    "final_statement",
    "hedged_values",
    "is_bare_formula",
    "is_prose",
    "phrase_after",
]

_ANSWER_PHRASE = re.compile(r"(?i)\banswer\b[ \t*]*(?:is\b|:|=)[ \t*:]*")
_MAX_CHARS = 200
_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
# A word of prose: three letters or more not introduced by a backslash.
_PROSE_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_TEXT_COMMAND = re.compile(
    r"\\(?:text|textbf|mathrm|mbox|operatorname|begin|end)\{[^{}]*\}(?:\{[clr|]*\})?"
)
_COPULA = re.compile(r"(?i)(?:\b(?:is|are|equals|was|were|be|gives)\b|:)")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[^\s\d])|[.!?]$")
_LIST_JOINER = re.compile(r"(?i)\s*(?:,|;)?\s*(?:\b(?:and|or)\b)?\s*")
_MARKDOWN = " \t*_#>"

Segment = tuple[bool, str]  # (is math, text)


def _segments(line: str) -> list[Segment]:
    """Math and prose pieces of one line, in order; an unclosed opener is prose."""
    out: list[Segment] = []
    i = prose_start = 0
    while i < len(line):
        for opener, closer in _DELIMITERS:
            if line.startswith(opener, i) and line[i - 1 : i] != "\\":
                end = line.find(closer, i + len(opener))
                while end > 0 and line[end - 1] == "\\":  # an escaped \$ does not close
                    end = line.find(closer, end + 1)
                if end < 0:
                    i = len(line)  # unclosed: the rest is prose
                    break
                if prose_start < i:
                    out.append((False, line[prose_start:i]))
                out.append((True, line[i + len(opener) : end]))
                i = prose_start = end + len(closer)
                break
        else:
            i += 1
    if prose_start < len(line):
        out.append((False, line[prose_start:]))
    return out


def is_prose(text: str) -> bool:
    return _PROSE_WORD.search(_TEXT_COMMAND.sub("", text)) is not None


def _currency(line: str) -> bool:
    """``$`` before digits that pairs up around prose: dollars, not math."""
    if not re.search(r"(?<!\\)\$\d", line):
        return False
    return any(math and is_prose(text) for math, text in _segments(line))


def is_bare_formula(text: str) -> bool:
    """A statement with no prose and no delimiters that reads as math (``10\\sqrt3+2``)."""
    if not text or "$" in text or not balanced_braces(text) or is_prose(text):
        return False
    return any(ch.isdigit() or ch == "\\" for ch in text)


def _sentences(segments: list[Segment]) -> list[list[Segment]]:
    """The segments cut into sentences at the sentence ends of their prose."""
    sentences: list[list[Segment]] = [[]]
    for math, text in segments:
        if math:
            # "$$\\frac{2}{1}.$$ Therefore": a period inside display math ends a sentence.
            ends = text.rstrip().endswith(".")
            sentences[-1].append((True, text.rstrip().rstrip(".") if ends else text))
            if ends:
                sentences.append([])
            continue
        start = 0
        for end in _SENTENCE_END.finditer(text):
            sentences[-1].append((False, text[start : end.start()]))
            sentences.append([])
            start = end.end()
        sentences[-1].append((False, text[start:]))
    return [s for s in sentences if any(m or t.strip() for m, t in s)]


def _value(segments: list[Segment]) -> str | None:
    """The answer of one sentence (see the module docstring)."""
    for k in range(len(segments) - 1, -1, -1):  # after the last copula outside math
        math, text = segments[k]
        if not math:
            copulas = list(_COPULA.finditer(text))
            if copulas:
                segments = [(False, text[copulas[-1].end() :]), *segments[k + 1 :]]
                break
    maths = [k for k, (math, _) in enumerate(segments) if math]
    if not maths:
        return "".join(t for _, t in segments)
    for k in range(maths[0] + 1, maths[-1]):
        math, text = segments[k]
        if not math and _LIST_JOINER.fullmatch(text) is None:
            return None  # math joined by prose: not one statement of values
    return ", ".join(normalize_space(segments[k][1]) for k in maths)


def _clean(answer: str | None) -> str | None:
    if answer is None:
        return None
    answer = normalize_space(answer.strip(_MARKDOWN).rstrip(".").strip(_MARKDOWN))
    if not 0 < len(answer) <= _MAX_CHARS or not balanced_braces(answer):
        return None
    return answer


_FINAL_ANSWER = re.compile(r"(?i)\bfinal answer\b")


def phrase_after(text: str, position: int) -> bool:
    """Whether a "final answer" phrase follows ``position`` in the text."""
    return _FINAL_ANSWER.search(text, position) is not None


def answer_after_phrase(text: str) -> str | None:
    """The answer stated after the last "answer is" / "Answer:" of the text."""
    matches = list(_ANSWER_PHRASE.finditer(text))
    if not matches:
        return None
    line = text[matches[-1].end() :].split("\n", 1)[0].strip()
    if _currency(line):
        line = line.replace("$", "")
    sentences = _sentences(_segments(line))
    return _clean(_value(sentences[0])) if sentences else None


def _joined_displays(text: str) -> str:
    """Display math (``\\[ … \\]``, ``$$ … $$``) spread over lines, put on one line.
    Linear: the next position of each opener is searched again only once passed."""
    out: list[str] = []
    pairs = (("\\[", "\\]"), ("$$", "$$"))
    nxt = [text.find(o) for o, _ in pairs]
    i = 0
    while True:
        nxt = [n if n < 0 or n >= i else text.find(pairs[k][0], i) for k, n in enumerate(nxt)]
        live = [(n, k) for k, n in enumerate(nxt) if n >= 0]
        if not live:
            break
        start, k = min(live)
        opener, closer = pairs[k]
        end = text.find(closer, start + len(opener))
        if end < 0:
            break
        out.append(text[i:start])
        out.append(text[start : end + len(closer)].replace("\n", " "))
        i = end + len(closer)
    out.append(text[i:])
    return "".join(out)


def final_statement(text: str, lines: int = 4) -> tuple[str, str] | None:
    """``("bare", formula)`` or ``("statement", answer)`` from the last lines of the text
    that state something with a number or math; None when none does."""
    seen = 0
    for raw in reversed(_joined_displays(text).split("\n")):
        line = raw.strip().strip(_MARKDOWN).removeprefix("- ").strip()
        if not line:
            continue
        seen += 1
        if seen > lines:
            break
        if _currency(line):
            line = line.replace("$", "")
        bare = line.rstrip(".").strip()
        if not any(o in bare for o, _ in _DELIMITERS) and is_bare_formula(bare):
            return ("bare", normalize_space(bare))
        for sentence in reversed(_sentences(_segments(line))):
            answer = _clean(_value(sentence))
            if answer and (any(ch.isdigit() for ch in answer) or "\\" in answer):
                return ("bare" if is_bare_formula(answer) else "statement", answer)
    return None


_VALUE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:/\d+)?(?![\w.])")
_OR = re.compile(r"(?i)\bor\b")


def hedged_values(text: str) -> str | None:
    """The numbers of a prose answer that offers alternatives ("either 3 or 4",
    "3 apples or 4 apples"), joined as one answer with several values; None when no
    "or" stands between two of its numbers."""
    values = list(_VALUE.finditer(text[:_MAX_CHARS]))
    for a, b in itertools.pairwise(values):
        if _OR.search(text, a.end(), b.start()):
            return ", ".join(dict.fromkeys(v.group() for v in values))
    return None
