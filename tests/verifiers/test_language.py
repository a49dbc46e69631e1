"""language_consistency on pure and mixed chains of thought (tests/language_corpus.py)."""

# Chinese text is written with its own full-width punctuation, on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import time
from typing import Any

import pytest
from language_corpus import CASES, Case

from referee.verifiers import NO_CONTEXT, CannotJudge, InvalidParams, Outcome, get, language

LC = language.LANGUAGE_CONSISTENCY
EN = LC.parse_params(None)
ZH = LC.parse_params({"target": "zh"})


def _score(response: str, params: Any = EN) -> Any:
    return LC.verify(response, None, params, NO_CONTEXT)


def test_registered_with_english_by_default() -> None:
    assert get("language_consistency") is LC
    assert EN.target == "en"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize(("target", "params"), [("en", EN), ("zh", ZH)])
def test_share_matches_the_labelled_corpus(case: Case, target: str, params: Any) -> None:
    score = _score(case.response(), params)
    assert score.reward == pytest.approx(case.share(target), abs=1e-9)
    expected = {1.0: Outcome.CORRECT, 0.0: Outcome.INCORRECT}.get(score.reward, Outcome.PARTIAL)
    assert score.outcome == expected


@pytest.mark.parametrize(
    ("response", "reward"),
    [
        # Only the reasoning counts: an English answer after a Chinese chain of thought.
        ("<think>我们先计算：2 加 3 等于 5。</think>\nThe answer is 5, as computed above.", 0.0),
        # No tags: the whole response.
        ("First add the numbers, then 这里 check.", 6 / 8),
        # Cut off while thinking: what follows the open tag.
        ("<think>Let me think 一下", 3 / 5),
        # Math, code and one-letter variables belong to no language.
        ("<think>所以 $\\frac{a}{b} = x$ 和 `for i in range(n)` 都对 x</think>5", 1.0),
        (
            "<think>设 \\(x\\) 满足 \\[\\sqrt{x} = 3\\]。\n"
            "```python\nprint(9)\n```\n所以 x = 9</think>",
            1.0,
        ),
    ],
)
def test_what_is_counted(response: str, reward: float) -> None:
    target = ZH if reward == 1.0 else EN
    assert _score(response, target).reward == pytest.approx(reward)


def test_scope_response_counts_the_answer_too() -> None:
    response = "<think>Short thought here.</think>\n答案是五"
    assert _score(response).reward == 1.0
    whole = LC.parse_params({"scope": "response"})
    assert _score(response, whole).reward == pytest.approx(3 / 7)


@pytest.mark.parametrize("response", ["", "<think></think>5", "<think>$x^2 = 4$, x = 2</think>2"])
def test_nothing_to_count_earns_nothing(response: str) -> None:
    score = _score(response)
    assert (score.reward, score.outcome) == (0.0, Outcome.NO_ANSWER)


@pytest.mark.parametrize(
    ("target", "text", "reward"),
    [
        ("ja", "<think>まず 2 と 3 を足します。答えは 5 です。</think>", 1.0),
        ("ko", "<think>먼저 두 수를 더합니다. So the sum is 5.</think>", 5 / 10),
        ("ru", "<think>Сначала сложим числа. Then the sum is five.</think>", 3 / 8),
        ("fr", "<think>D'abord, on additionne les nombres.</think>", 1.0),
    ],
)
def test_other_targets(target: str, text: str, reward: float) -> None:
    assert _score(text, LC.parse_params({"target": target})).reward == pytest.approx(reward)


@pytest.mark.parametrize("raw", [{"target": "xx"}, {"target": "EN"}, {"open_tag": " "}])
def test_bad_params_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        LC.parse_params(raw)


def test_grade_refuses_an_extraction_it_did_not_make() -> None:
    with pytest.raises(CannotJudge):
        LC.grade("<think>not counts</think>", None, EN, NO_CONTEXT)


def test_extraction_is_linear_on_hostile_input() -> None:
    # Unclosed delimiters and long runs must not make extraction quadratic.
    for hostile in ("$" + "a" * 200_000, "\\[" * 100_000, "`a" * 100_000, "计" * 200_000):
        start = time.perf_counter()
        LC.extract(hostile, None, EN, NO_CONTEXT)
        assert time.perf_counter() - start < 1.0
