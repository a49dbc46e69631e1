"""cosine_length: open-r1's cosine length-scaled reward over an inner verifier's verdict."""

from __future__ import annotations

import math
from typing import Any

import pytest

from referee.verifiers import (
    NO_CONTEXT,
    CannotJudge,
    Context,
    InvalidParams,
    Outcome,
    get,
    length,
    load_builtin,
)

load_builtin()
COSINE = length.COSINE_LENGTH
DEFAULT = COSINE.parse_params(None)

SHORT_RIGHT = "<think>\n6 times 7 is 42.\n</think>\n\nThe answer is $\\boxed{42}$."
SHORT_WRONG = "<think>\n6 times 7 is 48.\n</think>\n\nThe answer is $\\boxed{48}$."
LONG_THINK = (
    "Let me compute 6 times 7 carefully. 6 times 7 means adding 7 six times: "
    "7, 14, 21, 28, 35, 42. Let me double-check by adding 6 seven times: "
    "6, 12, 18, 24, 30, 36, 42. Both ways agree. "
) * 30
LONG_RIGHT = f"<think>\n{LONG_THINK}\n</think>\n\nThe answer is $\\boxed{{42}}$."
LONG_WRONG = f"<think>\n{LONG_THINK}\nHmm, maybe it is 48.\n</think>\n\n$\\boxed{{48}}$"
TRUNCATED = f"<think>\n{LONG_THINK}"


def _score(response: str, reference: Any = "42", params: Any = DEFAULT, tokens: int | None = None):
    return COSINE.verify(response, reference, params, Context(completion_tokens=tokens))


def open_r1(correct: bool, gen_len: int, max_len: int = 1000) -> float:
    """open-r1's get_cosine_scaled_reward formula with its defaults (for gen_len <= max_len)."""
    cosine = math.cos(gen_len / max_len * math.pi)
    low, high = (0.5, 1.0) if correct else (-0.5, -1.0)
    return low + 0.5 * (high - low) * (1.0 + cosine)


def test_registered_with_open_r1_defaults() -> None:
    assert get("cosine_length") is COSINE
    assert (DEFAULT.min_value_wrong, DEFAULT.max_value_wrong) == (-1.0, -0.5)
    assert (DEFAULT.min_value_correct, DEFAULT.max_value_correct) == (0.5, 1.0)
    assert DEFAULT.max_len == 1000
    schema = COSINE.params_schema()
    assert "verifier" in schema["properties"] and "inner_params" not in schema["properties"]


@pytest.mark.parametrize("correct", [True, False])
@pytest.mark.parametrize("tokens", [0, 1, 100, 250, 500, 750, 999, 1000])
def test_formula_matches_open_r1_up_to_max_len(correct: bool, tokens: int) -> None:
    response = SHORT_RIGHT if correct else SHORT_WRONG
    score = _score(response, tokens=tokens)
    assert score.reward == pytest.approx(open_r1(correct, tokens))
    assert score.details["correct"] is correct
    assert score.details["tokens"] == tokens and score.details["estimated"] is False


@pytest.mark.parametrize(("correct", "floor"), [(True, 0.5), (False, -0.5)])
@pytest.mark.parametrize("tokens", [1000, 1500, 2000, 10**9])
def test_beyond_max_len_the_reward_stays_at_its_end_value(
    correct: bool, floor: float, tokens: int
) -> None:
    # open-r1 does not clip: at 2 * max_len its cosine is back to the top reward.
    score = _score(SHORT_RIGHT if correct else SHORT_WRONG, tokens=tokens)
    assert score.reward == pytest.approx(floor)


def test_shorter_right_earns_more_and_longer_wrong_loses_less() -> None:
    # Without completion_tokens, length is estimated from characters (4 per token).
    short_right, long_right = _score(SHORT_RIGHT), _score(LONG_RIGHT)
    short_wrong, long_wrong = _score(SHORT_WRONG), _score(LONG_WRONG)
    assert short_right.outcome == long_right.outcome == Outcome.CORRECT
    assert short_wrong.outcome == long_wrong.outcome == Outcome.INCORRECT
    assert 1.0 >= short_right.reward > long_right.reward >= 0.5
    assert -1.0 <= short_wrong.reward < long_wrong.reward <= -0.5
    assert short_right.details["estimated"] is True
    assert short_right.details["tokens"] == math.ceil(len(SHORT_RIGHT) / 4)
    assert short_right.details["math"]["outcome"] == "correct"


def test_chars_per_token_one_counts_characters_like_open_r1() -> None:
    params = COSINE.parse_params({"chars_per_token": 1})
    medium = LONG_RIGHT.replace(LONG_THINK, LONG_THINK[: len(LONG_THINK) // 8])
    assert 500 < len(medium) < 1000
    score = _score(medium, params=params)
    assert score.details["tokens"] == len(medium)
    assert score.reward == pytest.approx(open_r1(True, len(medium)))


def test_no_answer_is_wrong() -> None:
    score = _score(TRUNCATED, tokens=4096)
    assert score.outcome == Outcome.NO_ANSWER
    assert score.reward == pytest.approx(-0.5)


def test_custom_values() -> None:
    params = COSINE.parse_params(
        {
            "min_value_wrong": -2,
            "max_value_wrong": 0,
            "min_value_correct": 0,
            "max_value_correct": 2,
            "max_len": 100,
        }
    )
    assert _score(SHORT_RIGHT, params=params, tokens=50).reward == pytest.approx(1.0)
    assert _score(SHORT_WRONG, params=params, tokens=50).reward == pytest.approx(-1.0)
    assert _score(SHORT_WRONG, params=params, tokens=0).reward == pytest.approx(-2.0)


@pytest.mark.parametrize(
    ("inner", "inner_params", "reference", "response", "correct"),
    [
        ("exact_match", None, "Paris", "<think>France's capital.</think>\n**Paris**", True),
        ("exact_match", None, "Paris", "<think>Hmm.</think>\nLyon", False),
        ("multiple_choice", {"choices": "ABCD"}, "C", "<think>...</think>\nAnswer: C", True),
        ("math", {"fallback": "none"}, "42", "<think>...</think>\nIt is 42.", False),
        ("math", {"fallback": "last_number"}, "42", "<think>...</think>\nIt is 42.", True),
    ],
)
def test_any_verifier_decides_correctness(
    inner: str, inner_params: Any, reference: str, response: str, correct: bool
) -> None:
    params = COSINE.parse_params({"verifier": inner, "verifier_params": inner_params})
    score = _score(response, reference, params, tokens=200)
    assert score.details["correct"] is correct
    assert score.details[inner]["outcome"] == ("correct" if correct else score.outcome.value)
    assert (score.reward > 0) is correct


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"verifier": "nope"}, "unknown verifier 'nope'"),
        ({"verifier": "cosine_length"}, "its own correctness"),
        ({"verifier": "code"}, "cannot be nested"),
        ({"verifier_params": {"fallback": "bogus"}}, "verifier_params"),
        ({"verifier_params": {"nope": 1}}, "unknown parameter"),
        ({"max_len": 0}, "max_len"),
        ({"chars_per_token": 0}, "chars_per_token"),
        ({"inner_params": {}}, "unknown parameter"),
    ],
)
def test_bad_params_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParams, match=message):
        COSINE.parse_params(raw)


def test_params_are_hashable_and_compare_by_the_inner_params() -> None:
    a = COSINE.parse_params({"verifier_params": {"fallback": "none"}})
    b = COSINE.parse_params({"verifier_params": {"fallback": "none", "strict": True}})
    c = COSINE.parse_params({"verifier_params": {"fallback": "last_number"}})
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b)
    assert a != c and repr(a) != repr(c)


def test_the_inner_reference_check_applies() -> None:
    from referee.verifiers import InvalidReference

    with pytest.raises(InvalidReference):
        COSINE.validate_reference({"not": "a string"}, DEFAULT)


def test_grade_refuses_an_extraction_it_did_not_make() -> None:
    with pytest.raises(CannotJudge):
        COSINE.grade("boxed\x1f42", "42", DEFAULT, NO_CONTEXT)
