"""Tables of R1-style responses for the format and shaping verifiers."""

from __future__ import annotations

import math
from typing import Any

import pytest

from referee.verifiers import NO_CONTEXT, CannotJudge, Context, InvalidParams, Outcome, get
from referee.verifiers import format as fmt

R1_OK = (
    "<think>\nOkay, so I need to find 2 + 3. Adding them gives 5. Let me double-check: "
    "3 + 2 = 5. Yes.\n</think>\n\nThe sum is $\\boxed{5}$."
)
R1_TAGGED = (
    "<think>\nFirst, factor 12 = 2^2 \\cdot 3, so it has (2+1)(1+1) = 6 divisors.\n</think>\n"
    "<answer>\n6\n</answer>"
)
R1_TRUNCATED = "<think>\nLet me compute the integral \\int_0^1 x^2 dx. The antiderivative is"
QWEN3_NO_THINK = "<think>\n\n</think>\n\nThe answer is **42**."
CHINESE = "<think>\n让我想想……3 \u00d7 4 = 12。\n</think>\n\n**答案\uff1a12**"

# Strings that an extractor must survive: empty, control characters, a lone
# surrogate (json.loads produces one from "\ud800"), huge, tag fragments.
ODD_RESPONSES = [
    "",
    " ",
    "\x00\x01\x02",
    "\ud800",
    "</think>" * 1000,
    "<think" * 1000,
    "a" * 200_000,
    "\u200b<think>\u00a0</think>\u3000",
]


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("name", "verifier"),
    [
        ("think_format", fmt.THINK_FORMAT),
        ("tag_count", fmt.TAG_COUNT),
        ("soft_overlong", fmt.SOFT_OVERLONG),
        ("repetition", fmt.REPETITION),
    ],
)
def test_registered_under_its_name(name: str, verifier: Any) -> None:
    assert get(name) is verifier
    assert verifier.version == "1"
    assert verifier.params_schema()["type"] == "object"


@pytest.mark.parametrize(
    "verifier", [fmt.THINK_FORMAT, fmt.TAG_COUNT, fmt.SOFT_OVERLONG, fmt.REPETITION]
)
@pytest.mark.parametrize("response", ODD_RESPONSES, ids=range(len(ODD_RESPONSES)))
def test_extract_never_raises_and_grade_accepts_it(verifier: Any, response: str) -> None:
    params = verifier.params_type()
    extracted = verifier.extract(response, None, params, NO_CONTEXT)
    assert isinstance(extracted, str)
    score = verifier.grade(extracted, None, params, NO_CONTEXT)
    assert math.isfinite(score.reward)


@pytest.mark.parametrize("verifier", [fmt.THINK_FORMAT, fmt.TAG_COUNT, fmt.SOFT_OVERLONG])
def test_grade_refuses_an_extraction_it_did_not_make(verifier: Any) -> None:
    # A corrupted cache entry or a version skew must be an error, never a reward.
    with pytest.raises(CannotJudge):
        verifier.grade("<think>not an extraction</think>", None, verifier.params_type(), NO_CONTEXT)


# --------------------------------------------------------------------------- think_format


@pytest.mark.parametrize(
    ("response", "params", "reason"),
    [
        (R1_OK, {}, None),
        (R1_TAGGED, {}, None),
        (CHINESE, {}, None),
        ("\n\n  <think>short</think>5", {}, None),
        (QWEN3_NO_THINK, {}, None),  # empty reasoning is still the format
        (R1_TRUNCATED, {}, "missing close tag"),
        ("", {}, "missing close tag"),
        ("The answer is \\boxed{5}.", {}, "missing close tag"),
        ("<think>\nreasoning\n</think>\n\n   \n\t", {}, "empty answer"),
        ("<think>\nreasoning\n</think>", {}, "empty answer"),
        ("<think>a</think>\nWait.\n</think>\n5", {}, "multiple close tags"),
        ("<think>a\n<think>b</think>\n5", {}, "multiple open tags"),
        ("Sure! <think>a</think>\n5", {}, "open tag not at start"),
        ("</think>\n5\n<think>", {}, "open tag not at start"),
        ("I add them: 2 + 3 = 5.\n</think>\n\n**5**", {}, "missing open tag"),
        # The chat template already put "<think>\n" at the end of the prompt.
        ("I add them: 2 + 3 = 5.\n</think>\n\n**5**", {"require_open_tag": False}, None),
        ("<think>\nrepeated tag\n</think>\n5", {"require_open_tag": False}, None),
        ("I add.\n</think>\n", {"require_open_tag": False}, "empty answer"),
        ("I add. <think>again</think> 5", {"require_open_tag": False}, "open tag not at start"),
        (
            "<reasoning>\n2+3=5\n</reasoning>\n5",
            {"open_tag": "<reasoning>", "close_tag": "</reasoning>"},
            None,
        ),
        ("<reasoning>\n2+3=5\n</reasoning>\n5", {}, "missing close tag"),
    ],
)
def test_think_format(response: str, params: dict[str, Any], reason: str | None) -> None:
    parsed = fmt.THINK_FORMAT.parse_params(params)
    score = fmt.THINK_FORMAT.verify(response, None, parsed)
    if reason is None:
        assert (score.reward, score.outcome, dict(score.details)) == (1.0, Outcome.CORRECT, {})
    else:
        assert score.reward == 0.0
        assert score.outcome == Outcome.BAD_FORMAT
        assert score.details == {"reason": reason}


def test_think_format_extraction_is_small_and_shared_by_same_shaped_responses() -> None:
    params = fmt.ThinkFormatParams()
    long = "<think>\n" + "Let me reconsider. " * 5000 + "\n</think>\n\nThe answer is 7."
    a = fmt.THINK_FORMAT.extract(long, None, params, NO_CONTEXT)
    b = fmt.THINK_FORMAT.extract(R1_OK, None, params, NO_CONTEXT)
    assert a == b
    assert len(a) < 64
    assert fmt.THINK_FORMAT.grade(a, None, params, NO_CONTEXT) == fmt.THINK_FORMAT.grade(
        b, None, params, NO_CONTEXT
    )
    # Three or fifty stray tags are judged alike, so they share a cache entry too.
    three = fmt.THINK_FORMAT.extract("<think>" * 3 + "</think>5", None, params, NO_CONTEXT)
    fifty = fmt.THINK_FORMAT.extract("<think>" * 50 + "</think>5", None, params, NO_CONTEXT)
    assert three == fifty


@pytest.mark.parametrize(
    "raw",
    [
        {"open_tag": ""},
        {"close_tag": "   "},
        {"open_tag": "<t>", "close_tag": "<t>"},
        {"open_tag": "<think>", "close_tag": "<think>x"},
        {"require_open_tag": "sometimes"},
        {"open": "<think>"},
        {"open_tag": ["<think>"]},
    ],
)
def test_think_format_rejects_bad_params(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        fmt.THINK_FORMAT.parse_params(raw)


def test_think_format_params_parse_and_hash() -> None:
    parsed = fmt.THINK_FORMAT.parse_params({"require_open_tag": False})
    assert parsed == fmt.ThinkFormatParams(require_open_tag=False)
    assert hash(parsed) == hash(fmt.ThinkFormatParams(require_open_tag=False))
    assert fmt.THINK_FORMAT.parse_params(None) == fmt.ThinkFormatParams()


# --------------------------------------------------------------------------- tag_count


@pytest.mark.parametrize(
    ("response", "tags", "ok"),
    [
        (R1_TAGGED, None, 4),
        ("<think></think><answer></answer>", None, 4),  # adjacent tags are in order
        (R1_OK, None, 2),
        (R1_TRUNCATED, None, 1),
        ("", None, 0),
        ("The answer is 6.", None, 0),
        # Reversed blocks: the think tags are placed, the answer tags come before them.
        ("<answer>6</answer>\n<think>count divisors</think>", None, 2),
        # A repeated tag earns nothing, and does not stop later tags from counting.
        ("<think>a</think><think>b</think>\n<answer>6</answer>", None, 2),
        # A close tag before its open tag: only the close tag is lost.
        ("</think> oops <think>x <answer>6</answer>", None, 3),
        ("<answer>6</answer><answer>6</answer>", None, 0),
        (
            "<reasoning>\n…\n</reasoning>\n<answer>6</answer>",
            ("<reasoning>", "</reasoning>", "<answer>", "</answer>"),
            4,
        ),
        ("<think>\n中文推理\n</think>\n<answer>\n六\n</answer>", None, 4),
        ("<think>x</think>", ("</think>",), 1),
    ],
)
def test_tag_count(response: str, tags: tuple[str, ...] | None, ok: int) -> None:
    params = fmt.TagCountParams() if tags is None else fmt.TagCountParams(tags=tags)
    score = fmt.TAG_COUNT.verify(response, None, params)
    total = len(params.tags)
    assert score.details == {"tags_ok": ok, "tags_total": total}
    assert score.reward == pytest.approx(ok / total)
    expected = (
        Outcome.CORRECT if ok == total else Outcome.BAD_FORMAT if ok == 0 else Outcome.PARTIAL
    )
    assert score.outcome == expected


def test_tag_count_parses_a_json_list_into_a_hashable_tuple() -> None:
    parsed = fmt.TAG_COUNT.parse_params({"tags": ["<think>", "</think>"]})
    assert parsed.tags == ("<think>", "</think>")
    hash(parsed)
    score = fmt.TAG_COUNT.verify("<think>x</think>5", None, parsed)
    assert (score.reward, score.outcome) == (1.0, Outcome.CORRECT)


@pytest.mark.parametrize(
    "raw",
    [
        {"tags": []},
        {"tags": ["<think>", "<think>"]},
        {"tags": ["<think>", ""]},
        {"tags": "<think>"},
        {"tags": [1, 2]},
        {"tag": ["<think>"]},
    ],
)
def test_tag_count_rejects_bad_params(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        fmt.TAG_COUNT.parse_params(raw)


# --------------------------------------------------------------------------- soft_overlong

SMALL = fmt.SoftOverlongParams(max_length=100, buffer=20)


@pytest.mark.parametrize(
    ("tokens", "params", "reward", "outcome"),
    [
        (0, SMALL, 0.0, Outcome.CORRECT),
        (80, SMALL, 0.0, Outcome.CORRECT),  # exactly max_length - buffer
        (81, SMALL, -0.05, Outcome.PARTIAL),  # first token into the buffer
        (90, SMALL, -0.5, Outcome.PARTIAL),
        (99, SMALL, -0.95, Outcome.PARTIAL),
        (100, SMALL, -1.0, Outcome.PARTIAL),  # exactly max_length: still the ramp
        (101, SMALL, -1.0, Outcome.INCORRECT),
        (10**9, SMALL, -1.0, Outcome.INCORRECT),
        (90, fmt.SoftOverlongParams(100, 20, penalty_factor=0.5), -0.25, Outcome.PARTIAL),
        (101, fmt.SoftOverlongParams(100, 20, penalty_factor=0.5), -0.5, Outcome.INCORRECT),
        (1, fmt.SoftOverlongParams(10, 10), -0.1, Outcome.PARTIAL),  # buffer == max_length
        (3072, fmt.SoftOverlongParams(), 0.0, Outcome.CORRECT),
        (3073, fmt.SoftOverlongParams(), -1 / 1024, Outcome.PARTIAL),
        (4096, fmt.SoftOverlongParams(), -1.0, Outcome.PARTIAL),
        (4097, fmt.SoftOverlongParams(), -1.0, Outcome.INCORRECT),
    ],
)
def test_soft_overlong_formula_with_trainer_token_counts(
    tokens: int, params: fmt.SoftOverlongParams, reward: float, outcome: Outcome
) -> None:
    score = fmt.SOFT_OVERLONG.verify(R1_OK, None, params, Context(completion_tokens=tokens))
    assert score.reward == pytest.approx(reward)
    assert score.outcome == outcome
    assert score.details == {"tokens": tokens, "estimated": False}


@pytest.mark.parametrize("tokens", [90, 101])
def test_soft_overlong_zero_penalty_gives_positive_zero(tokens: int) -> None:
    params = fmt.SoftOverlongParams(100, 20, penalty_factor=0.0)
    score = fmt.SOFT_OVERLONG.verify("x", None, params, Context(completion_tokens=tokens))
    assert score.reward == 0.0
    assert math.copysign(1.0, score.reward) == 1.0  # not -0.0 on the wire


@pytest.mark.parametrize(
    ("length", "chars_per_token", "tokens"),
    [
        (0, 4.0, 0),
        (1, 4.0, 1),
        (4, 4.0, 1),
        (5, 4.0, 2),
        (21, 0.7, 30),  # 21 / 0.7 is 30.000000000000004 in floating point
        (84, 0.7, 120),
        (10, 3.3, 4),
        (7, 1.0, 7),
    ],
)
def test_soft_overlong_estimates_tokens_from_characters(
    length: int, chars_per_token: float, tokens: int
) -> None:
    params = fmt.SoftOverlongParams(chars_per_token=chars_per_token)
    score = fmt.SOFT_OVERLONG.verify("é" * length, None, params)
    assert score.details == {"tokens": tokens, "estimated": True}


def test_soft_overlong_prefers_the_trainer_count_even_when_zero() -> None:
    long = "<think>\n" + "hmm " * 10_000
    params = fmt.SoftOverlongParams(max_length=100, buffer=20)
    assert fmt.SOFT_OVERLONG.verify(long, None, params).outcome == Outcome.INCORRECT
    score = fmt.SOFT_OVERLONG.verify(long, None, params, Context(completion_tokens=0))
    assert (score.reward, score.outcome) == (0.0, Outcome.CORRECT)
    assert score.details == {"tokens": 0, "estimated": False}


def test_soft_overlong_negative_count_does_not_raise() -> None:
    params = fmt.SoftOverlongParams()
    score = fmt.SOFT_OVERLONG.verify("x", None, params, Context(completion_tokens=-5))
    assert score.details == {"tokens": 0, "estimated": False}


def test_soft_overlong_same_length_same_grade() -> None:
    params = fmt.SoftOverlongParams(max_length=100, buffer=20)
    context = Context(completion_tokens=95)
    a = fmt.SOFT_OVERLONG.extract(R1_OK, None, params, context)
    b = fmt.SOFT_OVERLONG.extract(R1_TRUNCATED, None, params, context)
    assert a == b
    assert fmt.SOFT_OVERLONG.verify(R1_OK, None, params, context) == fmt.SOFT_OVERLONG.verify(
        R1_TRUNCATED, None, params, context
    )


@pytest.mark.parametrize(
    "raw",
    [
        {"max_length": 0},
        {"max_length": -1},
        {"max_length": 10.5},
        {"buffer": 0},
        {"max_length": 100, "buffer": 101},
        {"penalty_factor": -0.1},
        {"penalty_factor": float("inf")},
        {"chars_per_token": 0},
        {"chars_per_token": float("nan")},
        {"max_tokens": 100},
    ],
)
def test_soft_overlong_rejects_bad_params(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        fmt.SOFT_OVERLONG.parse_params(raw)


def test_soft_overlong_param_defaults() -> None:
    assert fmt.SOFT_OVERLONG.parse_params({}) == fmt.SoftOverlongParams(4096, 1024, 1.0, 4.0)


# --------------------------------------------------------------------------- repetition


def _open_r1_penalty(text: str, ngram_size: int, max_penalty: float) -> float:
    """An independent copy of open-r1's get_repetition_penalty_reward, as an oracle."""
    if text == "" or len(text.split()) < ngram_size:
        return 0.0
    words = text.lower().split()
    ngrams = list(zip(*[words[i:] for i in range(ngram_size)], strict=False))
    return (1 - len(set(ngrams)) / len(ngrams)) * max_penalty


R1_LOOP = (
    "<think>\nLet me check again. " * 40
    + "Wait, maybe I made a mistake.\n</think>\n\nThe answer is $\\boxed{12}$."
)
REPETITION_TEXTS = [
    "",
    "Yes.",
    "the cat sat on the mat",
    "a b a b a b",
    "The the THE the",
    "Wait, wait. Wait, wait.",
    "a\tb\n\na  b\u3000a b",
    R1_OK,
    R1_LOOP,
    CHINESE,
    "<think>\n" + "So 2 + 2 = 4. " * 200 + "</think>\n4",
]


@pytest.mark.parametrize("ngram_size", [1, 2, 3, 4])
@pytest.mark.parametrize("text", REPETITION_TEXTS, ids=range(len(REPETITION_TEXTS)))
def test_repetition_matches_open_r1(text: str, ngram_size: int) -> None:
    params = fmt.RepetitionParams(ngram_size=ngram_size, max_penalty=-1.0)
    score = fmt.REPETITION.verify(text, None, params)
    assert score.reward == pytest.approx(_open_r1_penalty(text, ngram_size, -1.0))
    assert score.outcome == (Outcome.CORRECT if score.reward == 0 else Outcome.PARTIAL)


@pytest.mark.parametrize(
    ("text", "params", "reward", "share"),
    [
        ("the cat sat on the mat", fmt.RepetitionParams(), 0.0, 0.0),
        ("a b a b a b", fmt.RepetitionParams(ngram_size=2), -0.6, 0.6),
        ("The the THE the", fmt.RepetitionParams(ngram_size=1), -0.75, 0.75),
        ("The the THE the", fmt.RepetitionParams(ngram_size=1, max_penalty=-0.5), -0.375, 0.75),
        ("one two", fmt.RepetitionParams(ngram_size=3), 0.0, 0.0),
        ("", fmt.RepetitionParams(), 0.0, 0.0),
    ],
)
def test_repetition_values(
    text: str, params: fmt.RepetitionParams, reward: float, share: float
) -> None:
    score = fmt.REPETITION.verify(text, None, params)
    assert score.reward == pytest.approx(reward)
    assert score.details["repeated_share"] == pytest.approx(share)


def test_repetition_loop_is_penalised_and_zero_penalty_is_correct() -> None:
    looped = fmt.REPETITION.verify(R1_LOOP, None, fmt.RepetitionParams())
    assert looped.outcome == Outcome.PARTIAL
    assert -1.0 < looped.reward < -0.8
    silent = fmt.REPETITION.verify(R1_LOOP, None, fmt.RepetitionParams(max_penalty=0.0))
    assert (silent.reward, silent.outcome) == (0.0, Outcome.CORRECT)
    assert math.copysign(1.0, silent.reward) == 1.0


def test_repetition_same_words_same_grade() -> None:
    params = fmt.RepetitionParams(ngram_size=2)
    a = fmt.REPETITION.extract("A B  A\nB", None, params, NO_CONTEXT)
    b = fmt.REPETITION.extract("a b a b", None, params, NO_CONTEXT)
    assert a == b == "a b a b"
    assert fmt.REPETITION.grade(a, None, params, NO_CONTEXT) == fmt.REPETITION.grade(
        b, None, params, NO_CONTEXT
    )


@pytest.mark.parametrize(
    "raw",
    [
        {"ngram_size": 0},
        {"ngram_size": 100_000},
        {"ngram_size": 2.5},
        {"max_penalty": 0.5},
        {"max_penalty": float("-inf")},
        {"n": 3},
    ],
)
def test_repetition_rejects_bad_params(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        fmt.REPETITION.parse_params(raw)
