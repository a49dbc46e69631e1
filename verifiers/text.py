"""Text answer verifiers: exact string match, multiple-choice letter, regular expression.

Extraction works on the answer region (what follows the reasoning block) unless a
params field says otherwise; a response truncated inside its reasoning has no
answer. Every pattern here is fixed and linear-time: they run in the API process.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from referee.verifiers._extract import answer_region, last_answer_tag, last_boxed, normalize_space
from referee.verifiers._types import CannotJudge, Context, InvalidReference, Outcome, Score
from referee.verifiers.registry import Verifier, register, require_str_reference

__all__ = [
    "EXACT_MATCH",
    "MULTIPLE_CHOICE",
    "REGEX",
    "ExactMatchParams",
    "MultipleChoiceParams",
    "RegexParams",
]

_DETAIL_CHARS = 200


def _as_list(reference: Any) -> list[str]:
    require_str_reference(reference, None)
    return [reference] if isinstance(reference, str) else list(reference)


# --------------------------------------------------------------------------- exact_match

# Quotes include the curly ones (U+201C/D, U+2018/9); trailing marks the CJK ones.
_WRAP_CHARS = " \"'`*$\u201c\u201d\u2018\u2019"
_TRAILING_CHARS = _WRAP_CHARS + ".,!?;:\u3002\uff0c\uff01\uff1f\uff1b\uff1a"
_TEXT_COMMANDS = ("\\text", "\\textbf", "\\textit", "\\textrm", "\\mathrm", "\\mathbf", "\\mbox")
_MAX_UNWRAP = 4


@dataclass(frozen=True)
class ExactMatchParams:
    """How to find and normalise the answer before comparing it with the reference.

    ``extract="auto"`` takes the last ``\\boxed{}``, else the last
    ``<answer>...</answer>``, else the whole answer region; ``"none"`` takes the
    whole response. ``strip_punctuation`` removes surrounding quotes, ``$``,
    asterisks (markdown bold), a whole-answer ``\\text{...}`` wrapper and trailing
    sentence punctuation. Both sides get the same normalisation.
    """

    case_sensitive: bool = False
    extract: Literal["auto", "none"] = "auto"
    strip_punctuation: bool = True


def _closes_at_end(text: str, open_brace: int) -> bool:
    """Whether the ``{`` at ``open_brace`` is closed by the last character of ``text``."""
    depth = 0
    for i in range(open_brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i == len(text) - 1
    return False


def _unwrap_text_command(text: str) -> str:
    for command in _TEXT_COMMANDS:
        brace = len(command)
        if text.startswith(command) and text[brace : brace + 1] == "{":
            if _closes_at_end(text, brace):
                return text[brace + 1 : -1]
            break
    return text


def _normalize(text: str, params: ExactMatchParams) -> str:
    text = normalize_space(text)
    if not params.case_sensitive:
        text = text.casefold()
    if params.strip_punctuation:
        for _ in range(_MAX_UNWRAP):
            stripped = _unwrap_text_command(text.lstrip(_WRAP_CHARS).rstrip(_TRAILING_CHARS))
            if stripped == text:
                break
            text = stripped
    return text


def _exact_extract(
    response: str, reference: Any, params: ExactMatchParams, context: Context
) -> str:
    if params.extract == "none":
        return _normalize(response, params)
    region = answer_region(response)
    answer = last_boxed(region)
    if answer is None:
        answer = last_answer_tag(region)
    return _normalize(region if answer is None else answer, params)


def _exact_grade(
    extracted: str, reference: Any, params: ExactMatchParams, context: Context
) -> Score:
    if not extracted:
        return Score(0.0, Outcome.NO_ANSWER, {"extracted": None})
    details = {"extracted": extracted[:_DETAIL_CHARS]}
    if any(_normalize(ref, params) == extracted for ref in _as_list(reference)):
        return Score(1.0, Outcome.CORRECT, details)
    return Score(0.0, Outcome.INCORRECT, details)


# --------------------------------------------------------------------------- multiple_choice

# A choice letter as models write it. The last two branches keep the English words
# "A" and "I" from being read as answers: a bare letter counts only when it stands
# alone (end, punctuation, line break), except capitals other than A and I, which
# may be followed by more words ("the answer is B because ...").
_LETTER = (
    r"(?:\(\s*([A-Za-z])\s*\)"
    r"|\[\s*([A-Za-z])\s*\]"
    r"|([A-Za-z])(?!\w|[ \t]+\w)"
    r"|(?-i:([B-HJ-Z]))(?=[ \t]+\w))"
)
# "Answer: b", "answer is (C)", "**Answer:** D", "The correct option is B",
# "final answer: $\text{C}$", and Chinese 答案 (answer) followed by a colon or 是 (is).
_PHRASE = re.compile(
    r"(?:\b(?:answer|option|choice)\b|\u7b54\u6848)[\s*]*"
    r"(?:[:\uff1a\u662f]|(?:is|would\s+be|should\s+be|will\s+be)\b)"
    r"[\s*:$]*(?:\\[(\[]\s*)?(?:\\(?:text|textbf|mathrm|mathbf)\s*\{\s*)?"
    r"(?:(?:option|choice)\b[\s:]*)?" + _LETTER,
    re.IGNORECASE,
)
# "B is correct", "(b) is the correct answer".
_VERDICT = re.compile(
    r"(?<![\w(])(?:\(\s*([A-Za-z])\s*\)|(?-i:([A-Z])))\**\s+is\s+(?:the\s+)?correct\b",
    re.IGNORECASE,
)
# A whole answer that is only a label: "B", "(B)", "B.", "B) 42", "Option C: 7".
_LABEL = re.compile(
    r"(?:(?:option|choice)\b[\s:]*)?"
    r"(?:\(\s*([A-Za-z])\s*\)|\[\s*([A-Za-z])\s*\]|([A-Za-z])\s*(?:[.:)]|\Z))",
    re.IGNORECASE,
)
_PARENTHESISED = re.compile(r"(?<!\w)\(\s*([A-Z])\s*\)")
_LATEX_NOISE = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox)\s*|\\[()\[\]]")
_LABEL_WRAP = " \t\n\r\f\v*$`\"'\u201c\u201d\u2018\u2019_"
_LABEL_TRAIL = _LABEL_WRAP + ".,;:!?"


@dataclass(frozen=True)
class MultipleChoiceParams:
    """The letters a response may answer with (uppercase A-Z, each once)."""

    choices: str = "ABCDEFGHIJ"

    def __post_init__(self) -> None:
        if not self.choices:
            raise ValueError("choices must not be empty")
        if any(not ("A" <= c <= "Z") for c in self.choices):
            raise ValueError("choices must be uppercase letters A-Z")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("choices must not repeat a letter")


def _first_group(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group).upper()


def _label(text: str, *, strict: bool) -> str | None:
    """The letter of a text that is a choice label; ``strict`` allows nothing after it."""
    cleaned = _LATEX_NOISE.sub("", text).replace("{", "").replace("}", "").strip(_LABEL_WRAP)
    match = _LABEL.match(cleaned)
    if match is None or (strict and cleaned[match.end() :].strip(_LABEL_TRAIL)):
        return None
    return _first_group(match)


def _in(letter: str | None, choices: str) -> str | None:
    return letter if letter is not None and letter in choices else None


def _from_boxed(region: str, choices: str) -> str | None:
    boxed = last_boxed(region)
    return None if boxed is None else _in(_label(boxed, strict=False), choices)


def _from_answer_tag(region: str, choices: str) -> str | None:
    content = last_answer_tag(region)
    return None if content is None else _in(_label(content, strict=False), choices)


def _last_match(pattern: re.Pattern[str], region: str, choices: str) -> str | None:
    found: str | None = None
    for match in pattern.finditer(region):
        found = _in(_first_group(match), choices) or found
    return found


def _from_phrases(region: str, choices: str) -> str | None:
    return _last_match(_PHRASE, region, choices) or _last_match(_VERDICT, region, choices)


def _from_bare(region: str, choices: str) -> str | None:
    text = region.strip()
    first_break = text.find("\n")
    if first_break < 0:
        return _in(_label(text, strict=False), choices) if text else None
    last_line = text[text.rfind("\n") + 1 :]
    return _in(_label(last_line, strict=True), choices) or _in(
        _label(text[:first_break], strict=True), choices
    )


def _from_parenthesised(region: str, choices: str) -> str | None:
    return _last_match(_PARENTHESISED, region, choices)


_CHOICE_FINDERS = (
    _from_boxed,
    _from_answer_tag,
    _from_phrases,
    _from_bare,
    _from_parenthesised,
)


def _choice_extract(
    response: str, reference: Any, params: MultipleChoiceParams, context: Context
) -> str:
    # NFKC folds fullwidth forms ("\uff08\uff22\uff09" is "(B)") as CJK-language outputs write them.
    region = unicodedata.normalize("NFKC", answer_region(response))
    for finder in _CHOICE_FINDERS:
        letter = finder(region, params.choices)
        if letter is not None:
            return letter
    return ""


def _reference_letters(reference: Any, choices: str) -> frozenset[str]:
    letters: set[str] = set()
    for ref in _as_list(reference):
        letter = _label(ref, strict=False)
        if letter is None or letter not in choices:
            raise InvalidReference(f"reference {ref[:40]!r} is not one of the choices {choices}")
        letters.add(letter)
    return frozenset(letters)


def _check_choice_reference(reference: Any, params: MultipleChoiceParams) -> None:
    _reference_letters(reference, params.choices)


def _choice_grade(
    extracted: str, reference: Any, params: MultipleChoiceParams, context: Context
) -> Score:
    gold = _reference_letters(reference, params.choices)
    if not extracted:
        return Score(0.0, Outcome.NO_ANSWER, {"extracted": None})
    if extracted in gold:
        return Score(1.0, Outcome.CORRECT, {"extracted": extracted})
    return Score(0.0, Outcome.INCORRECT, {"extracted": extracted})


# --------------------------------------------------------------------------- regex


@dataclass(frozen=True)
class RegexParams:
    """A Python regular expression the (optionally stripped) answer must fully match.

    A pattern that backtracks catastrophically is contained by the worker's
    deadline; here it is only compiled, to reject invalid syntax early.
    """

    pattern: str
    ignore_case: bool = False
    dotall: bool = True
    strip: bool = True
    answer_region_only: bool = False

    def __post_init__(self) -> None:
        check_pattern(self.pattern, _flags(self))


def check_pattern(pattern: str, flags: int = 0) -> None:
    """Raise ValueError unless ``pattern`` compiles; the compiled pattern is cached.

    Compiling can take seconds for a pattern of a few kB: the service compiles a
    request's patterns off the event loop first (with a length limit), so this is a
    cache hit when the engine resolves the spec.
    """
    try:
        _compiled(pattern, flags)
    except re.error as exc:
        raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
    except (OverflowError, RecursionError, MemoryError, ValueError, TypeError) as exc:
        raise ValueError(
            f"pattern cannot be compiled ({type(exc).__name__}: {str(exc)[:100]})"
        ) from None


def _flags(params: RegexParams) -> int:
    return (re.IGNORECASE if params.ignore_case else 0) | (re.DOTALL if params.dotall else 0)


@lru_cache(maxsize=4096)
def _compiled(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _regex_extract(response: str, reference: Any, params: RegexParams, context: Context) -> str:
    text = answer_region(response) if params.answer_region_only else response
    return text.strip() if params.strip else text


def _regex_grade(extracted: str, reference: Any, params: RegexParams, context: Context) -> Score:
    details = {"extracted": extracted[:_DETAIL_CHARS]}
    try:
        compiled = _compiled(params.pattern, _flags(params))
    except (re.error, OverflowError, RecursionError, MemoryError) as exc:
        raise CannotJudge(
            "invalid_params", f"pattern cannot be compiled: {type(exc).__name__}"
        ) from None
    if compiled.fullmatch(extracted):
        return Score(1.0, Outcome.CORRECT, details)
    return Score(0.0, Outcome.INCORRECT, details)


EXACT_MATCH = register(
    Verifier(
        name="exact_match",
        version="1",
        params_type=ExactMatchParams,
        extract=_exact_extract,
        grade=_exact_grade,
        description="1 when the extracted answer equals a reference string after normalisation",
        check_reference=require_str_reference,
    )
)
MULTIPLE_CHOICE = register(
    Verifier(
        name="multiple_choice",
        version="1",
        params_type=MultipleChoiceParams,
        extract=_choice_extract,
        grade=_choice_grade,
        description="1 when the chosen option letter is a reference letter",
        check_reference=_check_choice_reference,
    )
)
REGEX = register(
    Verifier(
        name="regex",
        version="1",
        params_type=RegexParams,
        extract=_regex_extract,
        grade=_regex_grade,
        description="1 when the answer fully matches the given regular expression",
        pattern_params=("pattern",),
    )
)
