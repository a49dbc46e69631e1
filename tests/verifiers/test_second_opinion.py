"""Table for the independent grader of the second-opinion sampler."""

from __future__ import annotations

import pytest

from referee.verifiers.second_opinion import answer_of_extraction, equivalent

CASES = [
    ("\\frac{1}{2}", "0.5", True),
    ("2\\sqrt{3}", "\\sqrt{12}", True),
    ("x^2+2x+1", "(x+1)^2", True),
    ("2\\frac{1}{4}", "\\frac{9}{4}", True),
    ("1\\frac{1}{2}", "\\frac{1}{2}", False),
    ("1\\,000", "1000", True),
    ("1,000", "1000", True),
    ("0204", "204", True),
    ("25\\%", "0.25", True),
    ("25\\%", "25", True),
    ("0.2", "10\\%", False),
    ("(1, 2)", "(1,2)", True),
    ("(1, 2)", "(2,1)", False),
    ("\\{2, 1\\}", "\\{1,2\\}", True),
    ("x = 5", "5", True),
    ("13535", "13536", False),
    ("28", "0.28", False),
    ("3.141592653", "3.14159", True),
    ("3.14", "3.14159", False),
    ("5 \\text{ cm}", "5", True),
    ("2 \\text{ or } 3", "2, 3", True),
    ("\\frac{\\pi}{2}", "\\frac{\\pi}{2}", True),
    ("\\sqrt[3]{8}", "2", True),
    ("m \\geq 2", "[2,\\infty)", None),
    ('__import__("os")', "1", None),
    ("a" * 400, "1", None),
    ("\\frac{1}{", "1", None),
]


@pytest.mark.parametrize(("answer", "reference", "verdict"), CASES)
def test_equivalent(answer: str, reference: str, verdict: bool | None) -> None:
    assert equivalent(answer, reference) is verdict


def test_list_of_references_and_extraction_format() -> None:
    assert equivalent("5", ["4", "5"]) is True
    assert answer_of_extraction("boxed\x1f2\x1f2, 3") == "2"
