"""Tables of real-looking model outputs for exact_match, multiple_choice and regex."""

from __future__ import annotations

import time
from typing import Any

import pytest

from referee.verifiers import NO_CONTEXT, InvalidParams, InvalidReference, Outcome, get, text

EM = text.EXACT_MATCH
MC = text.MULTIPLE_CHOICE
RX = text.REGEX

ODD_RESPONSES = [
    "",
    "   \n\t",
    "\x00",
    "\ud800",
    "<think>",
    "</think>",
    "\\boxed{",
    "\\boxed{}",
    "<answer></answer>",
    "()" * 1000,
    "\u200b\u00a0\u3000",
    "\uff21\uff4e\uff53\uff57\uff45\uff52\uff1a\uff22",  # fullwidth "Answer:B"
]


@pytest.mark.parametrize(
    ("name", "verifier"),
    [("exact_match", EM), ("multiple_choice", MC), ("regex", RX)],
)
def test_registered_under_its_name(name: str, verifier: Any) -> None:
    assert get(name) is verifier
    assert verifier.version == "1"


@pytest.mark.parametrize(
    ("verifier", "params", "reference"),
    [
        (EM, text.ExactMatchParams(), "B"),
        (EM, text.ExactMatchParams(extract="none", case_sensitive=True), "B"),
        (MC, text.MultipleChoiceParams(), "B"),
        (RX, text.RegexParams(pattern=r"\d+", answer_region_only=True), None),
    ],
)
@pytest.mark.parametrize("response", ODD_RESPONSES, ids=range(len(ODD_RESPONSES)))
def test_extract_never_raises_and_grade_accepts_it(
    verifier: Any, params: Any, reference: Any, response: str
) -> None:
    extracted = verifier.extract(response, reference, params, NO_CONTEXT)
    assert isinstance(extracted, str)
    score = verifier.grade(extracted, reference, params, NO_CONTEXT)
    assert score.outcome in set(Outcome)


# --------------------------------------------------------------------------- exact_match

PARIS_R1 = (
    "<think>\nThe question asks for the capital of France. That is Paris, not Lyon.\n"
    "</think>\n\nThe capital of France is \\boxed{\\text{Paris}}."
)


@pytest.mark.parametrize(
    ("response", "reference", "params", "outcome", "extracted"),
    [
        (PARIS_R1, "Paris", {}, Outcome.CORRECT, "paris"),
        ("<think>\nhmm\n</think>\n\n**Paris.**", "Paris", {}, Outcome.CORRECT, "paris"),
        (
            "<think>hmm</think>\n<answer>\n  paris \n</answer>",
            "Paris",
            {},
            Outcome.CORRECT,
            "paris",
        ),
        ("\u201cParis\u201d", "Paris", {}, Outcome.CORRECT, "paris"),
        ("$\\text{ Paris }$", "Paris", {}, Outcome.CORRECT, "paris"),
        ("`Paris`!", "'Paris'", {}, Outcome.CORRECT, "paris"),
        ("The answer is $42$.", "42", {}, Outcome.INCORRECT, "the answer is $42"),
        ("\\boxed{42}", "$42$", {}, Outcome.CORRECT, "42"),
        (
            "<think>\nNYC it is\n</think>\n\nNew   York\n City!",
            ["NYC", "New York City"],
            {},
            Outcome.CORRECT,
            "new york city",
        ),
        # casefold, not lower: the German sharp s folds to "ss".
        ("<think>x</think> STRASSE", "Straße", {}, Outcome.CORRECT, "strasse"),
        ("<think>x</think> paris", "Paris", {"case_sensitive": True}, Outcome.INCORRECT, "paris"),
        ("<think>x</think> Paris", "Paris", {"case_sensitive": True}, Outcome.CORRECT, "Paris"),
        ("Paris.", "Paris", {"strip_punctuation": False}, Outcome.INCORRECT, "paris."),
        ("Paris.", "Paris.", {"strip_punctuation": False}, Outcome.CORRECT, "paris."),
        # The last \boxed wins over an earlier one and over an <answer> block.
        (
            "<answer>Lyon</answer> so \\boxed{Lyon}... no: \\boxed{Paris}",
            "Paris",
            {},
            Outcome.CORRECT,
            "paris",
        ),
        # A \boxed inside the reasoning is not the answer.
        ("<think>maybe \\boxed{Lyon}</think>\nParis", "Paris", {}, Outcome.CORRECT, "paris"),
        ("\\boxed{Lyon}", "Paris", {}, Outcome.INCORRECT, "lyon"),
        ("\\boxed{北京}。", "北京", {}, Outcome.CORRECT, "北京"),
        # A \text{} wrapper is removed only when it spans the whole answer.
        (
            "\\text{a} + \\text{b}",
            "\\text{a} + \\text{b}",
            {},
            Outcome.CORRECT,
            "\\text{a} + \\text{b}",
        ),
        ("<think>\nThe capital is Paris", "Paris", {}, Outcome.NO_ANSWER, None),
        ("", "Paris", {}, Outcome.NO_ANSWER, None),
        ("<think>x</think>\n\n  **  **", "Paris", {}, Outcome.NO_ANSWER, None),
        ("\\boxed{}", "Paris", {}, Outcome.NO_ANSWER, None),
        # extract="none" compares the whole response, tags and all.
        (
            "<think>x</think>Paris",
            "<think>x</think>Paris",
            {"extract": "none"},
            Outcome.CORRECT,
            "<think>x</think>paris",
        ),
        ("<think>x</think>Paris", "<think>x</think>Paris", {}, Outcome.INCORRECT, "paris"),
    ],
)
def test_exact_match(
    response: str, reference: Any, params: dict[str, Any], outcome: Outcome, extracted: str | None
) -> None:
    score = EM.verify(response, reference, EM.parse_params(params))
    assert score.outcome == outcome
    assert score.reward == (1.0 if outcome == Outcome.CORRECT else 0.0)
    assert score.details == {"extracted": extracted}


def test_exact_match_details_are_truncated() -> None:
    score = EM.verify("<think>x</think>" + "word " * 400, "word", text.ExactMatchParams())
    assert score.outcome == Outcome.INCORRECT
    assert len(score.details["extracted"]) == 200


def test_exact_match_same_extraction_same_grade() -> None:
    params = text.ExactMatchParams()
    a = EM.extract("The capital: \\boxed{Paris}", "Paris", params, NO_CONTEXT)
    b = EM.extract("<think>\nLong thought.\n</think>\n\n**paris**", "Paris", params, NO_CONTEXT)
    assert a == b
    assert EM.grade(a, "Paris", params, NO_CONTEXT) == EM.grade(b, "Paris", params, NO_CONTEXT)


@pytest.mark.parametrize("reference", [5, None, [], ["Paris", 3], {"answer": "Paris"}])
def test_exact_match_rejects_bad_references(reference: Any) -> None:
    with pytest.raises(InvalidReference):
        EM.verify("Paris", reference, text.ExactMatchParams())


@pytest.mark.parametrize(
    "raw",
    [{"extract": "boxed"}, {"case_sensitive": "perhaps"}, {"strip": True}, {"extract": None}],
)
def test_exact_match_rejects_bad_params(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        EM.parse_params(raw)


# --------------------------------------------------------------------------- multiple_choice

THINK = "<think>\nOption A is too small, (B) fits, and C contradicts the premise.\n</think>\n\n"


@pytest.mark.parametrize(
    ("response", "letter"),
    [
        # \boxed{} first, in its many spellings.
        (THINK + "\\boxed{B}", "B"),
        (THINK + "Final Answer: $\\boxed{\\text{B}}$", "B"),
        (THINK + "\\boxed{(B)}", "B"),
        (THINK + "\\boxed{B) 42}", "B"),
        (THINK + "\\boxed{\\textbf{(D)}\\ 12}", "D"),
        (THINK + "The answer is C. Actually, \\boxed{B}", "B"),
        (THINK + "\\boxed{A}, no wait: \\boxed{E}", "E"),
        # then <answer>...</answer>
        (THINK + "<answer>C</answer>", "C"),
        (THINK + "<answer>\n(c)\n</answer>", "C"),
        (THINK + "<answer>C</answer> though the answer is D", "C"),
        # then explicit answer phrases; the last one wins.
        (THINK + "The answer is **B**.", "B"),
        (THINK + "**Answer:** D", "D"),
        (THINK + "**Answer: C**", "C"),
        (THINK + "Answer: b", "B"),
        (THINK + "the answer is (c).", "C"),
        (THINK + "The correct option is B", "B"),
        (THINK + "final answer: C)", "C"),
        (THINK + "The answer is $\\textbf{E}$", "E"),
        (THINK + "The answer is \\(\\text{D}\\).", "D"),
        (THINK + "The correct answer is option (A).", "A"),
        (THINK + "The answer would be B because 7 is prime.", "B"),
        (THINK + "At first the answer is A. Rechecking, the answer is C.", "C"),
        (THINK + "Option B is correct.", "B"),
        (THINK + "**(D)** is the correct answer.", "D"),
        (THINK + "答案\uff1aC", "C"),  # fullwidth colon
        (THINK + "所以正确答案是 D。", "D"),
        (THINK + "\u7b54\u6848\uff1a\uff08\uff22\uff09", "B"),  # fullwidth "(B)"
        (THINK + "\uff21\uff4e\uff53\uff57\uff45\uff52: \uff23", "C"),  # fullwidth "Answer: C"
        # then a response that is only a label
        (THINK + "B", "B"),
        (THINK + "(B)", "B"),
        (THINK + "B.", "B"),
        (THINK + "B) 42", "B"),
        (THINK + "  **b**  ", "B"),
        (THINK + "A", "A"),
        ("Counting the divisors of 12 gives six.\n\nC", "C"),
        ("C\n\nExplanation: 12 has six divisors.", "C"),
        (THINK + "**Final Answer**\n\n**(C)**", "C"),
        # and last, a standalone parenthesised capital
        (THINK + "Comparing (A) and (B), I pick (D) since f(x) grows.", "D"),
        # A phrase beats a bare label on the first line.
        (THINK + "B\n\nWait, actually the answer is D.", "D"),
        # No answer: the article "A", the pronoun "I", lowercase sub-parts, f(A), truncation.
        (THINK + "A good approach is to compute 12 / 2.", ""),
        (THINK + "The answer is a bit tricky.", ""),
        (THINK + "Answer: I think it is 42.", ""),
        (THINK + "The answer is A because 7 is prime.", ""),
        (THINK + "See part (b) for details.", ""),
        (THINK + "Therefore g(A) is larger.", ""),
        (THINK + "The answer is not clear.", ""),
        ("<think>\nSo the answer is B. Let me verify by", ""),
        ("", ""),
        (THINK, ""),
    ],
)
def test_multiple_choice_extraction(response: str, letter: str) -> None:
    params = text.MultipleChoiceParams()
    assert MC.extract(response, "B", params, NO_CONTEXT) == letter


@pytest.mark.parametrize(
    ("response", "choices", "letter"),
    [
        (THINK + "The answer is E.", "ABCD", ""),
        (THINK + "\\boxed{E}", "ABCD", ""),
        # A letter outside the choices is skipped in favour of the last valid one.
        (THINK + "The answer is B. Hmm, or the answer is E.", "ABCD", "B"),
        (THINK + "The answer is K.", "ABCDEFGHIJ", ""),
        (THINK + "The answer is K.", "ABCDEFGHIJK", "K"),
    ],
)
def test_multiple_choice_only_takes_allowed_letters(
    response: str, choices: str, letter: str
) -> None:
    params = text.MultipleChoiceParams(choices=choices)
    assert MC.extract(response, "A", params, NO_CONTEXT) == letter


@pytest.mark.parametrize(
    ("response", "reference", "outcome", "extracted"),
    [
        (THINK + "The answer is **B**.", "B", Outcome.CORRECT, "B"),
        (THINK + "The answer is **B**.", "(B)", Outcome.CORRECT, "B"),
        (THINK + "The answer is **B**.", "b", Outcome.CORRECT, "B"),
        (THINK + "The answer is **B**.", "B.", Outcome.CORRECT, "B"),
        (THINK + "The answer is **B**.", " B) 42 ", Outcome.CORRECT, "B"),
        (THINK + "The answer is **B**.", ["A", "B"], Outcome.CORRECT, "B"),
        (THINK + "The answer is **B**.", "C", Outcome.INCORRECT, "B"),
        (THINK + "A good approach is to guess.", "A", Outcome.NO_ANSWER, None),
    ],
)
def test_multiple_choice_grading(
    response: str, reference: Any, outcome: Outcome, extracted: str | None
) -> None:
    score = MC.verify(response, reference, text.MultipleChoiceParams())
    assert score.outcome == outcome
    assert score.reward == (1.0 if outcome == Outcome.CORRECT else 0.0)
    assert score.details == {"extracted": extracted}


def test_multiple_choice_same_extraction_same_grade() -> None:
    params = text.MultipleChoiceParams()
    a = MC.extract(THINK + "\\boxed{\\text{(C)}}", "C", params, NO_CONTEXT)
    b = MC.extract("**Answer:** c", "C", params, NO_CONTEXT)
    assert a == b == "C"
    assert MC.grade(a, "C", params, NO_CONTEXT) == MC.grade(b, "C", params, NO_CONTEXT)


@pytest.mark.parametrize(
    ("reference", "choices"),
    [("Paris", "ABCD"), ("E", "ABCD"), (3, "ABCD"), ([], "ABCD"), (["A", "Z"], "ABCD"), ("", "AB")],
)
def test_multiple_choice_rejects_bad_references(reference: Any, choices: str) -> None:
    params = text.MultipleChoiceParams(choices=choices)
    with pytest.raises(InvalidReference):
        MC.validate_reference(reference, params)
    with pytest.raises(InvalidReference):
        MC.verify("B", reference, params)


@pytest.mark.parametrize(
    "raw",
    [
        {"choices": ""},
        {"choices": "abcd"},
        {"choices": "AAB"},
        {"choices": "A1"},
        {"letters": "AB"},
    ],
)
def test_multiple_choice_rejects_bad_params(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        MC.parse_params(raw)


ADVERSARIAL = [
    "answer is " * 5_000,
    "answer" + " " * 50_000 + "!",
    "answer:" + " " * 50_000 + "!",
    "Option" + " " * 50_000,
    "(A " * 20_000,
    "A " * 25_000,
    "A" + "*" * 50_000 + " is",
    "\n".join(["B is"] * 10_000),
    "\\text{" * 10_000,
    "\\boxed{" * 10_000,
    "<think>" + "\\boxed{" * 10_000 + "</think>" + "\\boxed{" * 10_000,
    "\\(" * 25_000,
    "answer is B" + " \t" * 25_000,
]


@pytest.mark.parametrize("response", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_multiple_choice_extraction_is_fast_on_hostile_input(response: str) -> None:
    # Extraction runs in the API process: a backtracking pattern would take
    # seconds or hours here; the linear ones take milliseconds.
    params = text.MultipleChoiceParams()
    start = time.perf_counter()
    MC.extract(response, "B", params, NO_CONTEXT)
    EM.extract(response, "B", text.ExactMatchParams(), NO_CONTEXT)
    assert time.perf_counter() - start < 3.0  # a safety bound: backtracking takes minutes


# --------------------------------------------------------------------------- regex


@pytest.mark.parametrize(
    ("response", "params", "outcome"),
    [
        ("  42\n", {"pattern": r"\d+"}, Outcome.CORRECT),
        ("  42\n", {"pattern": r"\d+", "strip": False}, Outcome.INCORRECT),
        ("The answer is 42", {"pattern": r"\d+"}, Outcome.INCORRECT),  # fullmatch, not search
        ("YES", {"pattern": "yes"}, Outcome.INCORRECT),
        ("YES", {"pattern": "yes", "ignore_case": True}, Outcome.CORRECT),
        ("step 1\nstep 2", {"pattern": "step.*2"}, Outcome.CORRECT),
        ("step 1\nstep 2", {"pattern": "step.*2", "dotall": False}, Outcome.INCORRECT),
        ("<think>\nhmm\n</think>\n\n42", {"pattern": r"\d+"}, Outcome.INCORRECT),
        (
            "<think>\nhmm\n</think>\n\n42",
            {"pattern": r"\d+", "answer_region_only": True},
            Outcome.CORRECT,
        ),
        ("<think>\nit is 42", {"pattern": r".*42", "answer_region_only": True}, Outcome.INCORRECT),
        ('{"name": "Ada", "age": 36}', {"pattern": r"\{.*\}"}, Outcome.CORRECT),
        ("Résumé ✓", {"pattern": r"\w+ ✓"}, Outcome.CORRECT),
        ("", {"pattern": ""}, Outcome.CORRECT),
        ("", {"pattern": r"\d+"}, Outcome.INCORRECT),
    ],
)
def test_regex(response: str, params: dict[str, Any], outcome: Outcome) -> None:
    score = RX.verify(response, None, RX.parse_params(params))
    assert score.outcome == outcome
    assert score.reward == (1.0 if outcome == Outcome.CORRECT else 0.0)


def test_regex_ignores_the_reference_and_keeps_details_small() -> None:
    params = text.RegexParams(pattern="a+")
    score = RX.verify("a" * 1000, {"anything": [1, 2]}, params)
    assert score.outcome == Outcome.CORRECT
    assert score.details == {"extracted": "a" * 200}


def test_regex_same_extraction_same_grade() -> None:
    params = text.RegexParams(pattern=r"-?\d+")
    a = RX.extract("  -7 \n", None, params, NO_CONTEXT)
    b = RX.extract("\n-7", None, params, NO_CONTEXT)
    assert a == b == "-7"
    assert RX.grade(a, None, params, NO_CONTEXT) == RX.grade(b, None, params, NO_CONTEXT)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "pattern"),
        ({"pattern": "("}, "not a valid regular expression"),
        ({"pattern": "a{2,1}"}, "not a valid regular expression"),
        ({"pattern": 5}, "pattern"),
        ({"pattern": "a", "flags": "i"}, "flags"),
    ],
)
def test_regex_rejects_bad_params(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParams, match=message):
        RX.parse_params(raw)


def test_regex_params_are_hashable() -> None:
    assert hash(RX.parse_params({"pattern": "x"})) == hash(text.RegexParams(pattern="x"))
