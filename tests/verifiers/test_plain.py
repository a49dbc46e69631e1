"""The ``math`` verifier's fast path for plain numbers agrees with the full cascade.

Every verdict the fast path gives is compared with ``grade`` (math-verify and the
cascade, no fast path) on the labelled corpus and on generated pairs written the
ways models and datasets write numbers; where the fast path gives none, the
cascade decides, so only its decisions need checking.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from judging_corpus import CASES

from referee.verifiers import NO_CONTEXT, Outcome
from referee.verifiers._plain import parse_plain, same_value
from referee.verifiers.math import MATH, MathParams, extract, grade

DEFAULT = MathParams()


@pytest.mark.parametrize(
    ("text", "value", "decimal"),
    [
        ("42", Fraction(42), False),
        ("-7", Fraction(-7), False),
        ("+3", Fraction(3), False),
        ("0", Fraction(0), False),
        ("3.50", Fraction(7, 2), True),
        ("0.125", Fraction(1, 8), True),
        ("3/4", Fraction(3, 4), False),
        ("-3/4", Fraction(-3, 4), False),
        ("\\frac{3}{4}", Fraction(3, 4), False),
        ("\\dfrac{3}{4}", Fraction(3, 4), False),
        ("-\\frac{11}{12}", Fraction(-11, 12), False),
        ("\\frac{-11}{12}", Fraction(-11, 12), False),
        ("$42$", Fraction(42), False),
        ("\\boxed{42}", Fraction(42), False),
        ("$\\boxed{-5}$", Fraction(-5), False),
        (" \\( 8 \\) ", Fraction(8), False),
        ("70{,}350", Fraction(70350), False),
        ("1{,}000{,}000.5", Fraction(2000001, 2), True),
        ("\\frac47", Fraction(4, 7), False),
        ("-\\dfrac17", Fraction(-1, 7), False),
    ],
)
def test_plain_numbers(text: str, value: Fraction, decimal: bool) -> None:
    parsed = parse_plain(text)
    assert parsed is not None
    assert (parsed.value, parsed.decimal) == (value, decimal)


@pytest.mark.parametrize(
    "text",
    [
        "1,000",  # thousands separator, decimal comma or a pair: the cascade decides
        "0,5",
        "007",  # leading zeros
        "50\\%",
        "5 cm",
        "\\frac1234",  # \frac{1}{2}34
        "\\frac40",
        "70{,}35",
        "0{,}350",
        "\\frac{1}{0}",
        "1/0",
        "\u22125",  # unicode minus
        "3.",
        ".5",
        "1e3",
        "2^{10}",
        "\\sqrt{2}",
        "x = 3",
        "3, 4",
        "1" * 80,  # long: not worth a fast path
        "",
    ],
)
def test_not_plain(text: str) -> None:
    assert parse_plain(text) is None


@pytest.mark.parametrize(
    ("answer", "reference", "verdict"),
    [
        ("42", "42", True),
        ("42.0", "42", True),
        ("0.5", "\\frac{1}{2}", True),
        ("-0", "0", True),
        ("41", "42", False),
        ("-42", "42", False),
        ("\\frac{2}{3}", "\\frac{3}{2}", False),
        ("1222.5", "122.25", False),
        ("0.5", "1", False),
        ("0.33", "\\frac{1}{3}", None),  # may round a repeating fraction: the cascade's call
        ("0.3", "\\frac{1}{3}", None),
        ("122.250001", "122.25", None),  # within the cascade's rounding
        ("1/99999", "1/99998", None),  # denominators too large to be sure
        ("1" + "0" * 20, "1" + "0" * 19 + "1", None),  # beyond the numeric precision
        ("42", "x", None),
    ],
)
def test_same_value(answer: str, reference: str, verdict: bool | None) -> None:
    assert same_value(answer, [reference]) is verdict


def _cascade(response: str, reference: str) -> tuple[float | None, Outcome]:
    extracted = extract(response, reference, DEFAULT, NO_CONTEXT)
    score = grade(extracted, reference, DEFAULT, NO_CONTEXT)
    return score.reward, score.outcome


def _fast(response: str, reference: str) -> tuple[float | None, Outcome] | None:
    assert MATH.shortcut is not None
    extracted = extract(response, reference, DEFAULT, NO_CONTEXT)
    score = MATH.shortcut(extracted, reference, DEFAULT)
    return None if score is None else (score.reward, score.outcome)


def test_the_fast_path_agrees_with_the_cascade_on_the_corpus() -> None:
    decided = 0
    for case in CASES:
        fast = _fast(case.response, case.reference)
        if fast is not None:
            decided += 1
            assert fast == _cascade(case.response, case.reference), case.id
    assert decided >= 20  # the corpus has plain-number cases: the fast path must see some


_INTS = st.integers(min_value=-(10**12), max_value=10**12)
_FRACTIONS = st.builds(Fraction, st.integers(-999, 999), st.integers(1, 999))


def _written(value: Fraction, style: int) -> str:
    """``value`` written one of the ways answers and references are written."""
    if value.denominator == 1:
        whole = str(value.numerator)
        grouped = f"{value.numerator:,}".replace(",", "{,}")
        return [whole, f"{whole}.0", grouped, f"${whole}$", f"\\({whole}\\)"][style % 5]
    num, den = abs(value.numerator), value.denominator
    sign = "-" if value < 0 else ""
    forms = [
        f"{sign}{num}/{den}",
        f"{sign}\\frac{{{num}}}{{{den}}}",
        f"\\frac{{{sign}{num}}}{{{den}}}",
        f"{sign}\\dfrac{{{num}}}{{{den}}}",
    ]
    if num < 10 and den < 10:
        forms.append(f"{sign}\\frac{num}{den}")
    exact = Fraction(value)
    if 10**6 % den == 0 or (2**10 * 5**10) % den == 0:  # a terminating decimal
        digits = 0
        while (exact * 10**digits).denominator != 1:
            digits += 1
        forms.append(f"{float(exact):.{digits}f}")
    return forms[style % len(forms)]


def _response(answer: str, style: int) -> str:
    if style % 3 == 0:
        return (
            f"<think>\nSo the total is {answer}.\n</think>\n\nThe answer is $\\boxed{{{answer}}}$."
        )
    if style % 3 == 1:
        return (
            f"Adding them up gives the result.\n\n**Final Answer**\n\\[\n\\boxed{{{answer}}}\n\\]"
        )
    return f"<answer>{answer}</answer>"


def _approximation(value: Fraction, places: int, cut: bool) -> str:
    """``value`` as a decimal of ``places`` places, rounded or cut (what models write)."""
    scaled = value * 10**places
    digits = int(scaled) if cut else round(scaled)
    sign = "-" if digits < 0 else ""
    whole, frac = divmod(abs(digits), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(_INTS.map(Fraction), _FRACTIONS),
    st.one_of(_INTS.map(Fraction), _FRACTIONS),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from(["same", "other", "approximation", "truncated"]),
    st.integers(1, 7),
)
def test_the_fast_path_agrees_with_the_cascade_on_generated_pairs(
    gold: Fraction, other: Fraction, ref_style: int, ans_style: int, kind: str, places: int
) -> None:
    reference = _written(gold, ref_style).strip("$")
    if kind == "approximation":
        answer = _approximation(gold, places, cut=ans_style % 2 == 0)
    elif kind == "truncated":  # the response ends before any answer
        answer = ""
    else:
        answer = _written(gold if kind == "same" else other, ans_style).strip("$")
    response = _response(answer, ans_style) if answer else "<think>\nLet me compute 3 + 4 ="
    fast = _fast(response, reference)
    if fast is not None:
        assert fast == _cascade(response, reference), (response, reference)
    if kind == "same" and ans_style % 5 != 4 and not answer.startswith("\\("):
        assert fast is not None, (response, reference)  # what the fast path is for
