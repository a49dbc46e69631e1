"""Format and shaping verifiers: reasoning-tag layout, tag counts, overlong and repetition.

These judge the shape of a response, not its correctness; trainers add them to an
answer verifier with a small weight (PROTOCOL.md, composite specs). Each ``extract``
reduces the response to the few facts its ``grade`` needs (tag counts, a token
count, the normalised words), so well-formed responses share cache entries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from referee.verifiers._types import CannotJudge, Context, Outcome, Score
from referee.verifiers.registry import Verifier, register

__all__ = [
    "REPETITION",
    "SOFT_OVERLONG",
    "TAG_COUNT",
    "THINK_FORMAT",
    "RepetitionParams",
    "SoftOverlongParams",
    "TagCountParams",
    "ThinkFormatParams",
]

# Counts above this carry no more information for grading; capping them lets
# responses that differ only in how badly they repeat a tag share a cache entry.
_COUNT_CAP = 2
_MAX_NGRAM = 1024


def _pack(**facts: int) -> str:
    """Encode small integer facts as the extracted string, e.g. ``open=1;close=1``."""
    return ";".join(f"{key}={value}" for key, value in facts.items())


def _unpack(verifier: str, extracted: str, keys: tuple[str, ...]) -> dict[str, int]:
    """Decode what ``_pack`` wrote; anything else is our fault, never the model's."""
    facts: dict[str, int] = {}
    for part in extracted.split(";"):
        key, sep, value = part.partition("=")
        if not sep or not (value.isascii() and value.isdigit()):
            break
        facts[key] = int(value)
    if tuple(facts) != keys:
        raise CannotJudge("bad_extraction", f"{verifier}: malformed extraction {extracted[:80]!r}")
    return facts


# --------------------------------------------------------------------------- think_format


@dataclass(frozen=True)
class ThinkFormatParams:
    """The reasoning-block tags.

    Use ``require_open_tag=False`` for chat templates that already end the prompt
    with the open tag, so that the response starts inside the reasoning.
    """

    open_tag: str = "<think>"
    close_tag: str = "</think>"
    require_open_tag: bool = True

    def __post_init__(self) -> None:
        if not self.open_tag.strip() or not self.close_tag.strip():
            raise ValueError("open_tag and close_tag must be non-empty")
        if self.open_tag in self.close_tag or self.close_tag in self.open_tag:
            raise ValueError("open_tag and close_tag must differ and neither may contain the other")


def _think_extract(
    response: str, reference: Any, params: ThinkFormatParams, context: Context
) -> str:
    close_at = response.rfind(params.close_tag)
    answer = close_at >= 0 and bool(response[close_at + len(params.close_tag) :].strip())
    return _pack(
        open=min(response.count(params.open_tag), _COUNT_CAP),
        close=min(response.count(params.close_tag), _COUNT_CAP),
        leading=int(response.lstrip().startswith(params.open_tag.lstrip())),
        answer=int(answer),
    )


def _think_problem(facts: dict[str, int], params: ThinkFormatParams) -> str | None:
    if facts["close"] == 0:
        return "missing close tag"
    if facts["close"] > 1:
        return "multiple close tags"
    if facts["open"] > 1:
        return "multiple open tags"
    if facts["open"] == 0 and params.require_open_tag:
        return "missing open tag"
    if facts["open"] == 1 and not facts["leading"]:
        return "open tag not at start"
    if not facts["answer"]:
        return "empty answer"
    return None


def _think_grade(
    extracted: str, reference: Any, params: ThinkFormatParams, context: Context
) -> Score:
    facts = _unpack("think_format", extracted, ("open", "close", "leading", "answer"))
    problem = _think_problem(facts, params)
    if problem is None:
        return Score(1.0, Outcome.CORRECT, {})
    return Score(0.0, Outcome.BAD_FORMAT, {"reason": problem})


# --------------------------------------------------------------------------- tag_count


@dataclass(frozen=True)
class TagCountParams:
    """The tags expected once each, in this order.

    Tags are checked in the order given. A tag is *well placed* when it occurs
    exactly once in the response (as a substring) and that occurrence starts at
    or after the end of the previous well-placed tag (the start of the response
    for the first). A missing, repeated or misplaced tag earns nothing and does
    not move that point, so one stray tag costs only its own share. Each
    well-placed tag earns ``1 / len(tags)``.
    """

    tags: tuple[str, ...] = ("<think>", "</think>", "<answer>", "</answer>")

    def __post_init__(self) -> None:
        if not self.tags:
            raise ValueError("tags must not be empty")
        if any(not tag for tag in self.tags):
            raise ValueError("tags must be non-empty strings")
        if len(set(self.tags)) != len(self.tags):
            raise ValueError("tags must be distinct")


def _tag_extract(response: str, reference: Any, params: TagCountParams, context: Context) -> str:
    placed: list[str] = []
    cursor = 0
    for tag in params.tags:
        at = response.find(tag)
        ok = at >= cursor and response.find(tag, at + len(tag)) < 0
        if ok:
            cursor = at + len(tag)
        placed.append("1" if ok else "0")
    return "".join(placed)


def _tag_grade(extracted: str, reference: Any, params: TagCountParams, context: Context) -> Score:
    total = len(params.tags)
    if len(extracted) != total or extracted.strip("01"):
        raise CannotJudge("bad_extraction", f"tag_count: malformed extraction {extracted[:80]!r}")
    ok = extracted.count("1")
    details = {"tags_ok": ok, "tags_total": total}
    if ok == total:
        return Score(1.0, Outcome.CORRECT, details)
    if ok == 0:
        return Score(0.0, Outcome.BAD_FORMAT, details)
    return Score(ok / total, Outcome.PARTIAL, details)


# --------------------------------------------------------------------------- soft_overlong


@dataclass(frozen=True)
class SoftOverlongParams:
    """DAPO's soft overlong punishment (arXiv:2503.14476, eq. 13).

    With ``L`` the response length in tokens: 0 up to ``max_length - buffer``, then
    a linear ramp down to ``-penalty_factor`` at ``max_length``, and
    ``-penalty_factor`` beyond. ``L`` is the trainer's ``completion_tokens`` when
    given, else ``ceil(len(response) / chars_per_token)``.
    """

    max_length: int = 4096
    buffer: int = 1024
    penalty_factor: float = 1.0
    chars_per_token: float = 4.0

    def __post_init__(self) -> None:
        if self.max_length <= 0:
            raise ValueError("max_length must be > 0")
        if not 0 < self.buffer <= self.max_length:
            raise ValueError("buffer must be > 0 and <= max_length")
        if not (math.isfinite(self.penalty_factor) and self.penalty_factor >= 0):
            raise ValueError("penalty_factor must be a finite number >= 0")
        if not (math.isfinite(self.chars_per_token) and self.chars_per_token > 0):
            raise ValueError("chars_per_token must be a finite number > 0")


def _overlong_extract(
    response: str, reference: Any, params: SoftOverlongParams, context: Context
) -> str:
    if context.completion_tokens is not None:
        # A negative count is the edge's to reject; here it only must not raise.
        return _pack(tokens=max(context.completion_tokens, 0), estimated=0)
    # round() first so that float noise (21 / 0.7 = 30.000000000000004) does not add a token.
    tokens = math.ceil(round(len(response) / params.chars_per_token, 6))
    return _pack(tokens=tokens, estimated=1)


def _overlong_grade(
    extracted: str, reference: Any, params: SoftOverlongParams, context: Context
) -> Score:
    facts = _unpack("soft_overlong", extracted, ("tokens", "estimated"))
    length = facts["tokens"]
    details = {"tokens": length, "estimated": bool(facts["estimated"])}
    expected = params.max_length - params.buffer
    if length <= expected:
        return Score(0.0, Outcome.CORRECT, details)
    if length <= params.max_length:
        # + 0.0 turns the -0.0 of a zero penalty_factor into 0.0.
        reward = (expected - length) / params.buffer * params.penalty_factor + 0.0
        return Score(reward, Outcome.PARTIAL, details)
    return Score(-params.penalty_factor + 0.0, Outcome.INCORRECT, details)


# --------------------------------------------------------------------------- repetition


@dataclass(frozen=True)
class RepetitionParams:
    """open-r1's n-gram repetition penalty (Appendix C.2 of arXiv:2502.03373).

    Over the lowercased whitespace-separated words of the whole response:
    ``reward = (1 - unique_ngrams / total_ngrams) * max_penalty``, and 0 when the
    response has fewer than ``ngram_size`` words.
    """

    ngram_size: int = 3
    max_penalty: float = -1.0

    def __post_init__(self) -> None:
        if not 1 <= self.ngram_size <= _MAX_NGRAM:
            raise ValueError(f"ngram_size must be between 1 and {_MAX_NGRAM}")
        if not (math.isfinite(self.max_penalty) and self.max_penalty <= 0):
            raise ValueError("max_penalty must be a finite number <= 0")


def _repetition_extract(
    response: str, reference: Any, params: RepetitionParams, context: Context
) -> str:
    return " ".join(response.lower().split())


def _repetition_grade(
    extracted: str, reference: Any, params: RepetitionParams, context: Context
) -> Score:
    words = extracted.split()
    size = params.ngram_size
    if len(words) < size:
        return Score(0.0, Outcome.CORRECT, {"repeated_share": 0.0})
    ids: dict[str, int] = {}
    coded = [ids.setdefault(word, len(ids)) for word in words]
    total = len(coded) - size + 1
    unique = len({tuple(coded[i : i + size]) for i in range(total)})
    share = 1 - unique / total
    reward = share * params.max_penalty + 0.0
    outcome = Outcome.CORRECT if reward == 0 else Outcome.PARTIAL
    return Score(reward, outcome, {"repeated_share": share})


THINK_FORMAT = register(
    Verifier(
        name="think_format",
        version="1",
        params_type=ThinkFormatParams,
        extract=_think_extract,
        grade=_think_grade,
        description="1 when the response is one reasoning block followed by a non-empty answer",
    )
)
TAG_COUNT = register(
    Verifier(
        name="tag_count",
        version="1",
        params_type=TagCountParams,
        extract=_tag_extract,
        grade=_tag_grade,
        description="partial credit for each expected tag present once and in order",
    )
)
SOFT_OVERLONG = register(
    Verifier(
        name="soft_overlong",
        version="1",
        params_type=SoftOverlongParams,
        extract=_overlong_extract,
        grade=_overlong_grade,
        description="DAPO soft overlong punishment: 0, a linear ramp in the buffer, then -penalty",
    )
)
REPETITION = register(
    Verifier(
        name="repetition",
        version="1",
        params_type=RepetitionParams,
        extract=_repetition_extract,
        grade=_repetition_grade,
        description="open-r1 n-gram repetition penalty: repeated n-gram share times max_penalty",
    )
)
