"""The judging corpora through the ``math`` verifier.

``judging_corpus.py`` labels each (reference, response) as a careful grader would:
in the default mode (``cascade``) no wrong answer may be accepted, recall stays
above its floor, and every stage of the cascade accepts some right answer of the
class it serves (while none of them accepts a wrong one). ``judging_public.json``
holds math-verify's own test tables: per class, Referee agrees with their labels at
least as often as math-verify itself, but for the labels marked ``disputed`` there
(they record math-verify's own behaviour rather than a careful grader's verdict).
``bench/judging.py`` prints the same figures per source, class and split.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from judging_corpus import CASES, Case
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from referee.verifiers import CannotJudge
from referee.verifiers.math import MATH, MathParams

# Measured: all but 2 of the corpus' right answers accepted; see README "Judging quality".
RECALL_FLOOR = 0.985
PUBLIC = Path(__file__).resolve().parents[1] / "judging_public.json"
# The cascade's stages and the class of answers each one serves.
STAGES = {
    "math_verify": "integer",
    "same_text": "loose_reference",
    "normalized": "broken_latex",
    "answer_tag_latex": "set",  # a formula in <answer> tags: "\\{1, 2\\}"
    "decimal_comma": "decimal_comma",
    "rounded_decimal": "fraction_decimal",
    "composite": "composite_rounding",
    "exact_number": "units",
    "latex_rewrite": "symbolic_latex",
    "several_values": "hedging",
}


def _score(case: Case, params: MathParams) -> Any:
    try:
        return MATH.verify(case.response, case.reference, params)
    except CannotJudge:  # status "error": the sample is masked, never rewarded
        return None


def _accepted(case: Case, params: MathParams) -> bool:
    score = _score(case, params)
    return score is not None and score.reward == 1.0


def test_corpus_is_labelled_and_sourced() -> None:
    assert len(CASES) >= 300
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.source == "own" or c.source.startswith("math-verify issue #") for c in CASES)
    by_label = Counter(c.expected for c in CASES)
    assert by_label[True] >= 150 and by_label[False] >= 100
    assert len({c.category for c in CASES}) >= 15


def test_default_mode_has_no_false_positive_and_keeps_its_recall() -> None:
    params = MathParams()
    assert params.mode == "cascade"
    false_positives, false_negatives = [], []
    for case in CASES:
        accepted = _accepted(case, params)
        if accepted and not case.expected:
            false_positives.append(case.id)
        elif case.expected and not accepted:
            false_negatives.append(case.id)
    positives = sum(c.expected for c in CASES)
    recall = 1 - len(false_negatives) / positives
    assert false_positives == []
    assert recall >= RECALL_FLOOR, f"recall {recall:.3f}; missed: {false_negatives}"


def test_every_stage_accepts_right_answers_of_its_class() -> None:
    by_stage: dict[str, set[str]] = {}
    for case in CASES:
        score = _score(case, MathParams())
        if score is not None and score.reward == 1.0:
            assert case.expected, case.id  # no stage accepts a wrong answer
            by_stage.setdefault(score.details["stage"], set()).add(case.category)
    for stage, category in STAGES.items():
        assert category in by_stage.get(stage, set()), (stage, by_stage.get(stage))


def _math_verify_alone(case: dict[str, Any]) -> bool:
    if case.get("plain_parse"):
        gold, pred = parse(case["reference"]), parse(case["response"])
    else:
        configs: list[Any] = [
            LatexExtractionConfig(boxed_match_priority=0)
            if kind == "latex"
            else ExprExtractionConfig()
            for kind in case.get("match_types", ["latex", "expr"])
        ]
        gold, pred = parse(case["reference"], configs), parse(case["response"], configs)
    return bool(
        verify(
            gold,
            pred,
            float_rounding=case.get("float_rounding", 6),
            strict=case.get("strict", True),
            timeout_seconds=None,
        )
    )


@pytest.mark.timeout(300)
def test_no_class_of_the_public_corpus_is_worse_than_math_verify() -> None:
    assert sum("disputed" in c for c in json.loads(PUBLIC.read_text())["cases"]) == 3
    logging.disable(logging.CRITICAL)
    try:
        cases = json.loads(PUBLIC.read_text())["cases"]
        ours: Counter[str] = Counter()
        theirs: Counter[str] = Counter()
        for case in cases:
            if "disputed" in case:  # a label that records math-verify's own behaviour
                continue
            params = MathParams(
                float_rounding=case.get("float_rounding", 6), strict=case.get("strict", True)
            )
            subject = Case(
                case["id"], case["reference"], case["response"], case["expected"], "", ""
            )
            ours[case["class"]] += _accepted(subject, params) == case["expected"]
            theirs[case["class"]] += _math_verify_alone(case) == case["expected"]
    finally:
        logging.disable(logging.NOTSET)
    worse = {k: (ours[k], theirs[k]) for k in theirs if ours[k] < theirs[k]}
    assert worse == {}
