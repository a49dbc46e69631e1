"""Tables for ``countdown`` (TinyZero's reward: 0 / format_score / score), and its safety."""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import httpx
import pytest

from referee.verifiers import InvalidParams, InvalidReference, Outcome
from referee.verifiers.countdown import COUNTDOWN, BadExpression, CountdownParams, evaluate

REF = {"target": 51, "numbers": [93, 43, 1]}
AT_MOST_ONCE = CountdownParams(use_all_numbers=False)


def tz(answer: str) -> str:
    """A TinyZero-style completion: reasoning in <think>, the equation in <answer>."""
    return f"<think>\n93 - 43 = 50, 50 + 1 = 51.\n</think>\n<answer>{answer}</answer>"


CASES = [
    ("(93-43)+1", REF, CountdownParams(), 1.0, Outcome.CORRECT, "correct"),
    ("93 - 43 + 1", REF, CountdownParams(), 1.0, Outcome.CORRECT, "no-parens"),
    ("1 + (93 - 43)", REF, CountdownParams(), 1.0, Outcome.CORRECT, "reordered"),
    ("93 + 43 - 1", REF, CountdownParams(), 0.1, Outcome.INCORRECT, "wrong-value"),
    ("93 - 43", REF, CountdownParams(), 0.1, Outcome.INCORRECT, "number-unused"),
    ("93 - 43 + 1 + 1 - 1", REF, CountdownParams(), 0.1, Outcome.INCORRECT, "number-reused"),
    ("93 - 42 + 1 - 1", REF, CountdownParams(), 0.1, Outcome.INCORRECT, "number-not-given"),
    ("93 - 43 + 1 = 51", REF, CountdownParams(), 0.1, Outcome.BAD_FORMAT, "equals-sign"),
    ("(93-43)+1", REF, CountdownParams(format_score=0.0), 1.0, Outcome.CORRECT, "no-format"),
    ("93 - 43", REF, CountdownParams(format_score=0.0), 0.0, Outcome.INCORRECT, "zero-format"),
    (
        "93 - 42",
        {"target": 51, "numbers": [93, 42, 1]},
        AT_MOST_ONCE,
        1.0,
        Outcome.CORRECT,
        "at-most-once",
    ),
    (
        "93 - 42 + 1 - 1",
        {"target": 51, "numbers": [93, 42, 1]},
        AT_MOST_ONCE,
        0.1,
        Outcome.INCORRECT,
        "at-most-once-reused",
    ),
    (
        "6 / 4 * 2",
        {"target": 3, "numbers": [6, 4, 2]},
        CountdownParams(),
        1.0,
        Outcome.CORRECT,
        "exact-fractions",
    ),
    (
        "(1/3)*3*1",
        {"target": 1, "numbers": [1, 3, 3, 1]},
        CountdownParams(),
        1.0,
        Outcome.CORRECT,
        "thirds-exact",
    ),
    (
        "8 / (4 - 4)",
        {"target": 1, "numbers": [8, 4, 4]},
        CountdownParams(),
        0.1,
        Outcome.BAD_FORMAT,
        "division-by-zero",
    ),
    (
        "2 ** 10",
        {"target": 1024, "numbers": [2, 10]},
        CountdownParams(),
        0.1,
        Outcome.BAD_FORMAT,
        "power-refused",
    ),
    ("__import__('os').system('true')", REF, CountdownParams(), 0.1, Outcome.BAD_FORMAT, "code"),
    ("93.0 - 43 + 1", REF, CountdownParams(), 0.1, Outcome.BAD_FORMAT, "float-literal"),
    ("-43 + 93 + 1", REF, CountdownParams(), 1.0, Outcome.CORRECT, "unary-minus"),
    ("93 \u2212 43 + 1", REF, CountdownParams(), 0.1, Outcome.BAD_FORMAT, "unicode-minus"),
    (
        "3 \u00d7 4",
        {"target": 12, "numbers": [3, 4]},
        CountdownParams(),
        1.0,
        Outcome.CORRECT,
        "times-sign",
    ),
]


@pytest.mark.parametrize(
    ("answer", "reference", "params", "reward", "outcome"),
    [pytest.param(*c[:5], id=c[5]) for c in CASES],
)
def test_countdown_table(
    answer: str, reference: Any, params: CountdownParams, reward: float, outcome: Outcome
) -> None:
    score = COUNTDOWN.verify(tz(answer), reference, params)
    assert (score.reward, score.outcome) == (reward, outcome), score.details
    assert score.details["extracted"] == answer


@pytest.mark.parametrize(
    ("response", "outcome"),
    [
        ("93 - 43 + 1", Outcome.NO_ANSWER),
        ("<think>\n<answer>(93-43)+1</answer>", Outcome.NO_ANSWER),  # still thinking
        ("<answer></answer>", Outcome.NO_ANSWER),
        ("<answer>(93-43)+1", Outcome.CORRECT),  # stop string dropped
        ("<answer>1</answer> no, <answer>(93-43)+1</answer>", Outcome.CORRECT),
    ],
)
def test_where_the_answer_is_read(response: str, outcome: Outcome) -> None:
    score = COUNTDOWN.verify(response, REF, CountdownParams())
    assert score.outcome == outcome
    assert score.reward == (1.0 if outcome == Outcome.CORRECT else 0.0)


def test_evaluate_is_exact_and_lists_numbers_in_order() -> None:
    assert evaluate("(93 - 43) / 3") == (Fraction(50, 3), [93, 43, 3])


@pytest.mark.parametrize(
    "hostile",
    [
        "(" * 5000 + "1" + ")" * 5000,
        "9" * 400,
        "1" + "*99999999" * 40,
        "[x for x in range(10**9)]",
        "(lambda: 1)()",
        "1 if 1 else 2",
        "1 << 100000",
        "abs(-1)",
        "'a' * 10",
    ],
)
def test_hostile_expressions_are_refused_quickly(hostile: str) -> None:
    start = time.perf_counter()
    with pytest.raises(BadExpression):
        evaluate(hostile)
    assert time.perf_counter() - start < 1.0  # a safety bound, not a timing claim


@pytest.mark.parametrize(
    ("reference", "field"),
    [
        ("51", "reference must be an object"),
        ({"numbers": [1]}, "reference.target"),
        ({"target": 1.5, "numbers": [1]}, "reference.target"),
        ({"target": 5}, "reference.numbers"),
        ({"target": 5, "numbers": []}, "reference.numbers"),
        ({"target": 5, "numbers": ["1"]}, "reference.numbers"),
        ({"target": 5, "numbers": [1] * 100}, "reference.numbers"),
    ],
)
def test_malformed_reference_names_the_field(reference: Any, field: str) -> None:
    with pytest.raises(InvalidReference, match=field):
        COUNTDOWN.validate_reference(reference, CountdownParams())


def test_params() -> None:
    assert COUNTDOWN.parse_params({"format_score": 0.2}) == CountdownParams(format_score=0.2)
    with pytest.raises(InvalidParams, match="format_score"):
        COUNTDOWN.parse_params({"format_score": 2.0})


def test_through_http(client: httpx.Client) -> None:
    items = [
        {"id": "ok", "response": tz("(93-43)+1"), "reference": REF},
        {"id": "wrong", "response": tz("93-43"), "reference": REF},
        {"id": "none", "response": "I give up", "reference": REF},
    ]
    r = client.post("/score", json={"verifier": "countdown", "items": items})
    assert r.status_code == 200, r.text
    got = {x["id"]: (x["reward"], x["outcome"]) for x in r.json()["results"]}
    assert got == {"ok": (1.0, "correct"), "wrong": (0.1, "incorrect"), "none": (0.0, "no_answer")}
    bad = client.post(
        "/score",
        json={"verifier": "countdown", "items": [{"response": "x", "reference": {"target": 3}}]},
    )
    assert bad.status_code == 422
    assert "reference.numbers" in bad.text
