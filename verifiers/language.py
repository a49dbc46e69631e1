"""``language_consistency``: the share of the chain of thought written in the target language.

DeepSeek-R1 (arXiv:2501.12948, §2.3.4) adds this reward to stop the reasoning
from mixing languages: the proportion of target-language words in the chain of
thought. What is judged is the reasoning block (the text before ``</think>``, or
after ``<think>`` when the response was cut off inside it); a response without
reasoning tags is judged whole. ``scope: "response"`` judges the whole response.

How words are counted, and why by script: each word is attributed to the
Unicode script of its letters (Latin, Han, kana, Hangul, Cyrillic, Greek,
Arabic, Hebrew, Devanagari, Thai). A run of letters of one script is one word
(Korean separates its words with spaces too), except in Han and kana, where
every character is one word (those scripts do not separate words with spaces;
a Chinese word is 1.5 characters on average, so this weighs Chinese a little
more than a segmenter would, in the direction of the penalty). The target
language names the scripts that count for it (``en``: Latin; ``zh``: Han; ``ja``:
Han and kana; ``ko``: Hangul and Han ...). Left out, because they belong to no
language: math (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``), code
(fenced and inline), LaTeX commands (``\\frac``), markup tags (``<answer>``)
and one-letter Latin or Greek words (variables: ``x``, ``n``; English loses "a"
and "I", which changes shares by little).

The alternative, langdetect on each sentence, was measured on mixed
Chinese/English chains of thought (``bench/language_consistency.py``, corpus in
``tests/language_corpus.py``): it labels a whole sentence with one
language, so a sentence that switches language midway counts wholly for one
side; it misreads short and formula-heavy sentences of a pure chain of thought
as other languages (penalising a consistent model); and it is two orders of
magnitude slower, too slow for the API process where extraction runs. Counting by
script is exact for what R1 fixes (Chinese mixed into English or the reverse)
and linear time. Its limit: languages that share a script are not told apart
(French words in an English chain of thought count as English).

Reward: target words / all counted words, in [0, 1]; a reasoning with no counted
word earns 0 (``no_answer``): an empty chain of thought is not rewarded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from referee.verifiers._types import CannotJudge, Context, Outcome, Score
from referee.verifiers.registry import Verifier, register

__all__ = ["LANGUAGE_CONSISTENCY", "SCRIPTS_OF", "LanguageConsistencyParams", "count_scripts"]

NAME = "language_consistency"

# Each script: (character class, whether every character is a word).
_SCRIPTS: dict[str, tuple[str, bool]] = {
    "latin": ("A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff", False),
    "han": ("\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f", True),
    "kana": ("\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f", True),
    "hangul": ("\uac00-\ud7af\u1100-\u11ff\u3130-\u318f", False),
    "cyrillic": ("\u0400-\u052f", False),
    "greek": ("\u0370-\u03ff\u1f00-\u1fff", False),
    "arabic": ("\u0600-\u06ff\u0750-\u077f", False),
    "hebrew": ("\u0590-\u05ff", False),
    "devanagari": ("\u0900-\u097f", False),
    "thai": ("\u0e00-\u0e7f", False),
}
_WORD = re.compile(
    "|".join(f"(?P<{name}>[{chars}]+)" for name, (chars, _) in _SCRIPTS.items())
    + r"|(?P<other>[^\W\d_]+)"
)
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_MARKUP_TAG = re.compile(r"</?[A-Za-z][\w-]{0,30}>")
# One letter of these scripts is a variable (x, n, \u03b1), not a word.
_VARIABLE_SCRIPTS = frozenset({"latin", "greek"})

_LATIN = ("latin",)
SCRIPTS_OF: dict[str, tuple[str, ...]] = {
    **{
        code: _LATIN
        for code in (
            *("en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "is", "pl"),
            *("cs", "sk", "sl", "hr", "ro", "hu", "tr", "vi", "id", "ms", "tl", "sw", "ca"),
            *("eu", "gl", "et", "lv", "lt", "sq", "af"),
        )
    },
    "zh": ("han",),
    "ja": ("han", "kana"),
    "ko": ("hangul", "han"),
    **{code: ("cyrillic",) for code in ("ru", "uk", "bg", "sr", "mk", "be", "kk")},
    "el": ("greek",),
    **{code: ("arabic",) for code in ("ar", "fa", "ur")},
    "he": ("hebrew",),
    **{code: ("devanagari",) for code in ("hi", "mr", "ne")},
    "th": ("thai",),
}
_KEYS = (*_SCRIPTS, "other")
# Pairs of delimiters whose content is math or code, removed in this order.
_NEUTRAL = (("```", "```"), ("`", "`"), ("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


@dataclass(frozen=True)
class LanguageConsistencyParams:
    """Parameters of ``language_consistency``.

    - ``target``: ISO 639-1 code of the language the reasoning should be in.
    - ``scope``: ``reasoning`` (the ``<think>`` block when there is one, else the
      whole response) or ``response`` (always the whole response).
    - ``open_tag`` / ``close_tag``: the reasoning-block tags.
    """

    target: str = "en"
    scope: Literal["reasoning", "response"] = "reasoning"
    open_tag: str = "<think>"
    close_tag: str = "</think>"

    def __post_init__(self) -> None:
        if self.target not in SCRIPTS_OF:
            raise ValueError(f"target must be one of {', '.join(sorted(SCRIPTS_OF))}")
        if not self.open_tag.strip() or not self.close_tag.strip():
            raise ValueError("open_tag and close_tag must be non-empty")


def _reasoning(response: str, params: LanguageConsistencyParams) -> str:
    if params.scope == "response":
        return response
    end = response.rfind(params.close_tag)
    start = response.find(params.open_tag)
    if end >= 0:
        start = start + len(params.open_tag) if 0 <= start < end else 0
        return response[start:end]
    if start >= 0:  # cut off while thinking
        return response[start + len(params.open_tag) :]
    return response


def _drop_between(text: str, open_: str, close: str) -> str:
    """Remove every ``open_ ... close`` span (linear); an unclosed opener stays."""
    kept: list[str] = []
    at = 0
    while True:
        start = text.find(open_, at)
        if start < 0:
            break
        end = text.find(close, start + len(open_))
        if end < 0:
            break
        kept.append(text[at:start])
        kept.append(" ")
        at = end + len(close)
    kept.append(text[at:])
    return "".join(kept)


def count_scripts(text: str) -> dict[str, int]:
    """Words per script in ``text``; math, code, LaTeX commands, tags and variables left out."""
    for open_, close in _NEUTRAL:
        text = _drop_between(text, open_, close)
    text = _MARKUP_TAG.sub(" ", _LATEX_COMMAND.sub(" ", text))
    counts = dict.fromkeys(_KEYS, 0)
    for match in _WORD.finditer(text):
        script = match.lastgroup or "other"
        word = match.group()
        if script in _SCRIPTS and _SCRIPTS[script][1]:
            counts[script] += len(word)
        elif len(word) > 1 or script not in _VARIABLE_SCRIPTS:
            counts[script] += 1
    return counts


def extract(
    response: str, reference: Any, params: LanguageConsistencyParams, context: Context
) -> str:
    """Word counts per script of the judged text, e.g. ``latin=120;han=3;...``."""
    counts = count_scripts(_reasoning(response, params))
    return ";".join(f"{key}={counts[key]}" for key in _KEYS)


def _unpack(extracted: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for part in extracted.split(";"):
        key, _, value = part.partition("=")
        if not (value.isascii() and value.isdigit()):
            break
        counts[key] = int(value)
    if tuple(counts) != _KEYS:
        raise CannotJudge("bad_extraction", f"{NAME}: malformed extraction {extracted[:80]!r}")
    return counts


def grade(
    extracted: str, reference: Any, params: LanguageConsistencyParams, context: Context
) -> Score:
    """The target share of the counted words."""
    counts = _unpack(extracted)
    total = sum(counts.values())
    target = sum(counts[script] for script in SCRIPTS_OF[params.target])
    details: dict[str, Any] = {
        "words": {key: n for key, n in counts.items() if n},
        "target_words": target,
    }
    if total == 0:
        return Score(0.0, Outcome.NO_ANSWER, details)
    share = target / total
    details["share"] = share
    if share == 1.0:
        return Score(1.0, Outcome.CORRECT, details)
    if share == 0.0:
        return Score(0.0, Outcome.INCORRECT, details)
    return Score(share, Outcome.PARTIAL, details)


LANGUAGE_CONSISTENCY = register(
    Verifier(
        name=NAME,
        version="1",
        params_type=LanguageConsistencyParams,
        extract=extract,
        grade=grade,
        description="DeepSeek-R1 language consistency: share of the reasoning's words "
        "in the target language (counted by script)",
    )
)
