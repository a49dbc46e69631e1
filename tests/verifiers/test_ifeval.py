"""Tables for ``ifeval``: each IFEval instruction followed and not followed, then the reward."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from referee.verifiers import InvalidReference, Outcome
from referee.verifiers._ifeval_checks import CHECKS
from referee.verifiers.ifeval import IFEVAL, IfevalParams

EN = "The quick brown fox jumps over the lazy dog while the farmer watches from the barn."
FR = "Le renard brun saute par-dessus le chien paresseux pendant que le fermier regarde."
PARAS = "First paragraph here.\n\nSecond one starts here.\n\nThird closes it."

# (instruction id, kwargs, response, followed)
TABLE: list[tuple[str, dict[str, Any], str, bool]] = [
    ("keywords:existence", {"keywords": ["fox", "Barn"]}, EN, True),
    ("keywords:existence", {"keywords": ["fox", "cat"]}, EN, False),
    ("keywords:frequency", {"keyword": "the", "frequency": 3, "relation": "at least"}, EN, True),
    ("keywords:frequency", {"keyword": "the", "frequency": 3, "relation": "less than"}, EN, False),
    ("keywords:forbidden_words", {"forbidden_words": ["cat", "mouse"]}, EN, True),
    ("keywords:forbidden_words", {"forbidden_words": ["lazy"]}, EN, False),
    ("keywords:forbidden_words", {"forbidden_words": ["do"]}, EN, True),  # whole words only
    (
        "keywords:letter_frequency",
        {"letter": "o", "let_frequency": 5, "let_relation": "at least"},
        EN,
        True,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 1, "let_relation": "less than"},
        EN,
        False,
    ),
    ("language:response_language", {"language": "en"}, EN, True),
    ("language:response_language", {"language": "fr"}, FR, True),
    ("language:response_language", {"language": "en"}, FR, False),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "less than"},
        "One. Two! Three?",
        False,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "at least"},
        "One. Two! Three?",
        True,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 2, "relation": "less than"},
        "Just one sentence, really.",
        True,
    ),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, "A\n***\nB\n***\nC", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, "A\n***\nB", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "A\n***\n\n***\nB", False),
    ("length_constraints:number_words", {"num_words": 10, "relation": "at least"}, EN, True),
    ("length_constraints:number_words", {"num_words": 10, "relation": "less than"}, EN, False),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "second"},
        PARAS,
        True,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "first"},
        PARAS,
        False,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "second"},
        PARAS,
        False,
    ),
    (
        "detectable_content:number_placeholders",
        {"num_placeholders": 2},
        "Dear [name], your order [id] shipped.",
        True,
    ),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name].", False),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        "Thanks.\n\nP.S. See you soon.",
        True,
    ),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.P.S"},
        "Thanks.\nP.P.S late note",
        True,
    ),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Thanks, bye.", False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "* a\n* b\n- c", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "* a\n* b", False),
    ("detectable_format:constrained_response", {}, "Thinking... My answer is yes.", True),
    ("detectable_format:constrained_response", {}, "Yes, definitely.", False),
    (
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "*one* and **two**",
        True,
    ),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and **", False),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "Section", "num_sections": 2},
        "Section 1\nintro\nSection 2\nbody",
        True,
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 3},
        "SECTION 1\nintro\nSECTION 2\nbody",
        False,
    ),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', True),
    ("detectable_format:json_format", {}, '{"a": 1', False),
    ("detectable_format:title", {}, "<<A Poem>>\nRoses are red.", True),
    ("detectable_format:title", {}, "<< >>\nRoses are red.", False),
    ("combination:two_responses", {}, "Answer one.\n******\nAnswer two.", True),
    ("combination:two_responses", {}, "Same.\n******\nSame.", False),
    ("combination:two_responses", {}, "Only one answer.", False),
    (
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a haiku."},
        "Write a haiku. Leaves fall softly down",
        True,
    ),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a haiku."}, "Leaves fall.", False),
    (
        "startend:end_checker",
        {"end_phrase": "Is there anything else I can help with?"},
        "Done. Is there anything else I can help with?",
        True,
    ),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done. Bye.", False),
    ("startend:quotation", {}, '"Wrapped in quotes."', True),
    ("startend:quotation", {}, '"Half wrapped.', False),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "at least"},
        "This is VERY IMPORTANT news.",
        True,
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "less than"},
        "This is VERY IMPORTANT.",
        False,
    ),
    ("change_case:english_capital", {}, EN.upper(), True),
    ("change_case:english_capital", {}, EN, False),
    ("change_case:english_lowercase", {}, EN.lower(), True),
    ("change_case:english_lowercase", {}, EN, False),
    ("punctuation:no_comma", {}, "No commas here at all.", True),
    ("punctuation:no_comma", {}, "Well, a comma.", False),
]


def test_every_instruction_has_cases() -> None:
    covered = {row[0] for row in TABLE}
    assert covered == set(CHECKS)
    for name in CHECKS:
        assert {row[3] for row in TABLE if row[0] == name} == {True, False}, name


@pytest.mark.parametrize(
    ("instruction", "kwargs", "response", "followed"),
    [pytest.param(*row, id=f"{row[0]}-{n}") for n, row in enumerate(TABLE)],
)
def test_instruction(
    instruction: str, kwargs: dict[str, Any], response: str, followed: bool
) -> None:
    reference = {"instruction_id_list": [instruction], "kwargs": [kwargs]}
    IFEVAL.validate_reference(reference, IfevalParams())
    score = IFEVAL.verify(response, reference, IfevalParams())
    assert score.details["followed"] == [followed]
    assert score.reward == (1.0 if followed else 0.0)


TWO = {
    "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
    # IFEval's dataset stores every kwarg key, unused ones as null.
    "kwargs": [{"num_words": None}, {"num_words": 5, "relation": "less than", "keyword": None}],
}


@pytest.mark.parametrize(
    ("response", "params", "reward", "outcome"),
    [
        ("Short and sweet.", IfevalParams(), 1.0, Outcome.CORRECT),
        ("Well, short.", IfevalParams(), 0.0, Outcome.PARTIAL),
        ("Well, short.", IfevalParams(scoring="fraction"), 0.5, Outcome.PARTIAL),
        (
            "Well, this one is far too long.",
            IfevalParams(scoring="fraction"),
            0.0,
            Outcome.INCORRECT,
        ),
        (
            "<think>\nHmm, let me, think, a lot here.\n</think>\nShort.",
            IfevalParams(),
            1.0,
            Outcome.CORRECT,
        ),
        ("<think>\nstill thinking", IfevalParams(), 0.0, Outcome.NO_ANSWER),
    ],
)
def test_reward_all_or_fraction(
    response: str, params: IfevalParams, reward: float, outcome: Outcome
) -> None:
    score = IFEVAL.verify(response, TWO, params)
    assert (score.reward, score.outcome) == (reward, outcome), score.details


def test_loose_ignores_a_first_line_and_markup() -> None:
    reference = {"instruction_id_list": ["startend:quotation"], "kwargs": [{}]}
    response = 'Sure, here it is:\n"All quoted."'
    assert IFEVAL.verify(response, reference, IfevalParams()).reward == 0.0
    assert IFEVAL.verify(response, reference, IfevalParams(loose=True)).reward == 1.0


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("punctuation:no_comma", "reference must be"),
        ({"instruction_id_list": [], "kwargs": []}, "reference.instruction_id_list"),
        ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": []}, "reference.kwargs"),
        ({"instruction_id_list": ["no:such"], "kwargs": [{}]}, r"instruction_id_list\[0\]"),
        (
            {"instruction_id_list": ["length_constraints:number_words"], "kwargs": [{}]},
            r"reference.kwargs\[0\].num_words",
        ),
        (
            {
                "instruction_id_list": ["length_constraints:number_words"],
                "kwargs": [{"num_words": 5, "relation": "exactly"}],
            },
            r"kwargs\[0\].relation",
        ),
        (
            {"instruction_id_list": ["keywords:existence"], "kwargs": [{"keywords": "fox"}]},
            r"kwargs\[0\].keywords",
        ),
        (
            {
                "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
                "kwargs": [{}, {"num_words": "5", "relation": "at least"}],
            },
            r"kwargs\[1\].num_words",
        ),
    ],
)
def test_malformed_reference_names_the_field(reference: Any, message: str) -> None:
    with pytest.raises(InvalidReference, match=message):
        IFEVAL.validate_reference(reference, IfevalParams())


def test_through_http(client: httpx.Client) -> None:
    items = [
        {"id": "ok", "response": "Short and sweet.", "reference": TWO},
        {"id": "comma", "response": "Well, short.", "reference": TWO},
    ]
    r = client.post(
        "/score",
        json={"verifier": {"name": "ifeval", "params": {"scoring": "fraction"}}, "items": items},
    )
    assert r.status_code == 200, r.text
    assert [x["reward"] for x in r.json()["results"]] == [1.0, 0.5]
    bad = client.post(
        "/score",
        json={
            "verifier": "ifeval",
            "items": [
                {"response": "x", "reference": {"instruction_id_list": ["x:y"], "kwargs": [{}]}}
            ],
        },
    )
    assert bad.status_code == 422
    assert "instruction_id_list[0]" in bad.text
