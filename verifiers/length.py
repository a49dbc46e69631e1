"""``cosine_length``: the cosine length-scaled correctness reward.

From "Demystifying Long Chain-of-Thought Reasoning in LLMs" (arXiv:2502.03373,
§4.1), as open-r1 ships it (``get_cosine_scaled_reward``): a correct answer earns
between ``max_value_correct`` (length 0) and ``min_value_correct`` (length
``max_len``), more when shorter; a wrong one between ``min_value_wrong`` (length 0)
and ``max_value_wrong`` (length ``max_len``), penalised less when longer, so that
a model unsure of its answer is pushed to think longer rather than guess::

    progress = min(length / max_len, 1)
    reward = lo + (hi - lo) * (1 + cos(pi * progress)) / 2
    (lo, hi) = (min_value_correct, max_value_correct)   if correct
               (max_value_wrong, min_value_wrong)       otherwise

Two differences from open-r1, both written down here:

- Length is in tokens: the trainer's ``completion_tokens`` when the item gives it,
  else ``ceil(len(response) / chars_per_token)`` (as ``soft_overlong``). open-r1
  counts characters; ``chars_per_token: 1`` without ``completion_tokens``
  reproduces that exactly.
- ``progress`` is clipped at 1. open-r1 does not clip, so past ``max_len`` its
  cosine turns back up and a correct answer twice too long earns the top reward
  again; here anything at or beyond ``max_len`` earns the ``max_len`` value.

Correctness is the verdict of an inner verifier, ``math`` by default: any
registered verifier that does not run code nor read the context, named by
``verifier`` with its params in ``verifier_params``. The inner verifier's extract
runs in this one's extract (API process) and its grade in this one's grade
(worker), so the cache key covers the inner extraction and the length; the item's
reference is the inner verifier's reference. Only the inner outcome ``correct``
counts as correct (a partial score is wrong); an inner error stays an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic.json_schema import SkipJsonSchema

from referee.verifiers._types import CannotJudge, Context, InvalidParams, Outcome, Score
from referee.verifiers.registry import REGISTRY, Verifier, register

__all__ = ["COSINE_LENGTH", "CosineLengthParams", "cosine_reward"]

NAME = "cosine_length"
_HEADER = "tokens={tokens};estimated={estimated}\n"


@dataclass(frozen=True)
class CosineLengthParams:
    """Parameters of ``cosine_length`` (the first five are open-r1's, same defaults).

    - ``min_value_wrong`` / ``max_value_wrong``: reward of a wrong answer at length
      0 / at ``max_len`` and beyond.
    - ``min_value_correct`` / ``max_value_correct``: reward of a correct answer at
      ``max_len`` and beyond / at length 0.
    - ``max_len``: the length, in tokens, where the cosine reaches its end.
    - ``chars_per_token``: estimates the token count when the item carries no
      ``completion_tokens``.
    - ``verifier``, ``verifier_params``: the inner verifier that decides correctness.
    """

    min_value_wrong: float = -1.0
    max_value_wrong: float = -0.5
    min_value_correct: float = 0.5
    max_value_correct: float = 1.0
    max_len: int = 1000
    chars_per_token: float = 4.0
    verifier: str = "math"
    verifier_params: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    # The validated inner params: what equality, hashing and the cache key use.
    inner_params: SkipJsonSchema[Any] = field(default=None, init=False)

    def __post_init__(self) -> None:
        values = (
            self.min_value_wrong,
            self.max_value_wrong,
            self.min_value_correct,
            self.max_value_correct,
        )
        if not all(math.isfinite(v) for v in values):
            raise ValueError("the min/max values must be finite numbers")
        if self.max_len <= 0:
            raise ValueError("max_len must be > 0")
        if not (math.isfinite(self.chars_per_token) and self.chars_per_token > 0):
            raise ValueError("chars_per_token must be a finite number > 0")
        inner = _inner_verifier(self.verifier)
        try:
            parsed = inner.parse_params(self.verifier_params)
        except InvalidParams as exc:
            raise ValueError(f"verifier_params: {exc}") from None
        object.__setattr__(self, "inner_params", parsed)


def _inner_verifier(name: str) -> Verifier[Any]:
    inner = REGISTRY.get(name)
    if inner is None:
        raise ValueError(
            f"verifier: unknown verifier {name!r}; valid: {', '.join(sorted(REGISTRY))}"
        )
    if inner.name == NAME:
        raise ValueError("verifier: cosine_length cannot judge its own correctness")
    if inner.runs_code or inner.grade_uses_context:
        raise ValueError(
            f"verifier: {name!r} cannot be nested (it runs code or reads the item's context)"
        )
    return inner


def cosine_reward(correct: bool, length: int, params: CosineLengthParams) -> float:
    """The reward for a verdict at a length (the formula in the module docstring)."""
    progress = min(length / params.max_len, 1.0)
    cosine = math.cos(progress * math.pi)
    if correct:
        low, high = params.min_value_correct, params.max_value_correct
    else:
        low, high = params.max_value_wrong, params.min_value_wrong
    return low + 0.5 * (high - low) * (1.0 + cosine)


def check_reference(reference: Any, params: CosineLengthParams) -> None:
    REGISTRY[params.verifier].validate_reference(reference, params.inner_params)


def extract(response: str, reference: Any, params: CosineLengthParams, context: Context) -> str:
    """The length header, then the inner verifier's extraction."""
    if context.completion_tokens is not None:
        tokens, estimated = max(context.completion_tokens, 0), 0
    else:
        # round() first so that float noise (21 / 0.7 = 30.000000000000004) does not add a token.
        tokens, estimated = math.ceil(round(len(response) / params.chars_per_token, 6)), 1
    inner = REGISTRY[params.verifier].extract(response, reference, params.inner_params, context)
    return _HEADER.format(tokens=tokens, estimated=estimated) + inner


def _parse(extracted: str) -> tuple[int, bool, str]:
    header, newline, inner = extracted.partition("\n")
    fields_ = dict(part.partition("=")[::2] for part in header.split(";"))
    tokens, estimated = fields_.get("tokens", ""), fields_.get("estimated", "")
    if not newline or not (tokens.isascii() and tokens.isdigit()) or estimated not in ("0", "1"):
        raise CannotJudge("bad_extraction", f"{NAME}: malformed extraction {extracted[:80]!r}")
    return int(tokens), estimated == "1", inner


def grade(extracted: str, reference: Any, params: CosineLengthParams, context: Context) -> Score:
    """Grade with the inner verifier, then scale by length."""
    tokens, estimated, inner_extracted = _parse(extracted)
    verdict = REGISTRY[params.verifier].grade(
        inner_extracted, reference, params.inner_params, context
    )
    correct = verdict.outcome == Outcome.CORRECT
    details = {
        "tokens": tokens,
        "estimated": estimated,
        "correct": correct,
        params.verifier: {
            "reward": verdict.reward,
            "outcome": verdict.outcome.value,
            "details": dict(verdict.details),
        },
    }
    # A timeout or memory limit keeps its outcome: such results are not cached.
    outcome = Outcome.CORRECT if correct else verdict.outcome
    if outcome == Outcome.PARTIAL:
        outcome = Outcome.INCORRECT
    return Score(cosine_reward(correct, tokens, params), outcome, details)


def time_budget(reference: Any, params: CosineLengthParams) -> float | None:
    budget = REGISTRY[params.verifier].time_budget
    return None if budget is None else budget(reference, params.inner_params)


COSINE_LENGTH = register(
    Verifier(
        name=NAME,
        version="1",
        params_type=CosineLengthParams,
        extract=extract,
        grade=grade,
        description="open-r1 cosine length-scaled reward: shorter correct answers earn more, "
        "longer wrong ones lose less (correctness by an inner verifier, math by default)",
        check_reference=check_reference,
        time_budget=time_budget,
    )
)
