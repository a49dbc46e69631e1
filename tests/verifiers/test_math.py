"""Tables of (reference, response, expected outcome) for the ``math`` verifier.

Responses are written the way DeepSeek-R1, Qwen2.5-Math and Llama write them.
Cases marked ``xfail(strict=True)`` are known wrong judgements (a false positive
or a false negative); each reason says what goes wrong. When one is fixed the
test turns XPASS and fails, so the mark has to be removed with the fix.
"""

from __future__ import annotations

from typing import Any

import math_verify.grader
import pytest

from referee.verifiers import (
    NO_CONTEXT,
    CannotJudge,
    InvalidParams,
    InvalidReference,
    Outcome,
    Score,
    get,
)
from referee.verifiers.math import MATH, MathParams, extract, grade

CORRECT = Outcome.CORRECT
INCORRECT = Outcome.INCORRECT
NO_ANSWER = Outcome.NO_ANSWER
DEFAULT = MathParams()
APPROX = MathParams(numeric_approximations=True)


def judge(response: str, reference: Any, params: MathParams = DEFAULT) -> Score:
    return MATH.verify(response, reference, params)


def case(
    reference: Any,
    response: str,
    expected: Outcome,
    id: str,
    params: MathParams = DEFAULT,
    bug: str | None = None,
) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(reference, response, expected, params, id=id, marks=marks)


def r1(reasoning: str, answer: str) -> str:
    """A DeepSeek-R1 style completion: a closed think block, then the written answer."""
    return f"<think>\n{reasoning}\n</think>\n\n{answer}"


def qwen(answer: str) -> str:
    """A Qwen2.5-Math style completion (chain of thought, then a boxed answer)."""
    return (
        "To solve the problem, we work step by step.\n\n...\n\n"
        f"Therefore, the answer is ${answer}$."
    )


def llama(answer: str) -> str:
    """A Llama-3 style completion (numbered steps, then 'The final answer is')."""
    return (
        "## Step 1: Understand the problem\nWe need the value asked for.\n\n"
        "## Step 2: Compute\nCarrying out the computation.\n\n"
        f"The final answer is: ${answer}$"
    )


# --------------------------------------------------------------------------- reasoning models

THINKING = [
    case(
        "\\frac{3}{4}",
        r1(
            "Okay, so I need to convert 0.75 to a fraction. 0.75 = 75/100 = 3/4.",
            "**Final Answer**\n\\[\n\\boxed{\\dfrac{3}{4}}\n\\]",
        ),
        CORRECT,
        "r1-dfrac",
    ),
    case(
        "12",
        r1("Let me try \\boxed{10}... no wait, 3 times 4 is 12.", "The answer is $\\boxed{12}$."),
        CORRECT,
        "r1-box-in-think-ignored",
    ),
    case(
        "10",
        r1("Maybe the answer is \\boxed{10}? Let me re-check... 3 times 4 is 12.", "$\\boxed{12}$"),
        INCORRECT,
        "r1-reference-only-in-reasoning",
    ),
    case(
        "10",
        "First guess: $\\boxed{10}$. Hmm, that's wrong: 3 times 4 is 12, so $\\boxed{12}$.",
        INCORRECT,
        "no-think-reference-in-earlier-box",
    ),
    case(
        "5",
        "<think>\nWe have 2 + 3 = 5, so the answer is \\boxed{5}. Wait, let me double-check",
        NO_ANSWER,
        "r1-truncated-box-inside-think",
    ),
    case("5", "<think>\nLet me compute 2 + 3", NO_ANSWER, "r1-truncated-no-box"),
    case("5", "<think>\n2 + 3 = \\boxed{5}\n</think>", NO_ANSWER, "r1-box-only-inside-think"),
    case(
        "5",
        "<think>\n2 + 3 = \\boxed{5}\n</think>\n\nThe answer is 5.",
        CORRECT,
        "r1-plain-answer-after-think",
    ),
    case(
        "7",
        "the sum is 3 + 4 = 7.\n</think>\n\nSo the answer is $\\boxed{7}$.",
        CORRECT,
        "qwq-think-opened-by-template",
    ),
    case(
        "42",
        "<think>\n\n</think>\n\nThe answer is $\\boxed{42}$.",
        CORRECT,
        "qwen3-empty-think",
    ),
    case(
        "6",
        "<think>a</think>first \\boxed{5}<think>no</think>then \\boxed{6}",
        CORRECT,
        "two-think-blocks-last-close",
    ),
    case("\\frac{1}{2}", qwen("\\boxed{\\frac{1}{2}}"), CORRECT, "qwen-math"),
    case("0.5", qwen("\\boxed{\\frac12}"), CORRECT, "qwen-frac12-vs-decimal"),
    case("\\sqrt{2}", llama("\\boxed{\\sqrt{2}}"), CORRECT, "llama-boxed"),
    case("12", llama("12"), CORRECT, "llama-unboxed-whole-response"),
    case(
        "12",
        "Final Answer: The final answer is $12$. I hope it is correct.",
        CORRECT,
        "minerva-style",
    ),
]

# --------------------------------------------------------------------------- box forms

BOXES = [
    # A "final answer" statement of a value after the last box is the final answer;
    # other phrases that mention "answer" after a box are not.
    case("5", "\\boxed{4}\n\nFinal answer: 5", CORRECT, "final-answer-after-box"),
    case("4", "\\boxed{4}\n\nFinal answer: 5", INCORRECT, "final-answer-after-box-wins"),
    case("5", "So \\boxed{5}. I hope the answer is correct.", CORRECT, "answer-word-after-box"),
    case("4", "\\boxed{4}\n\nThis is my final answer.", CORRECT, "final-answer-no-value"),
    # Two boxes side by side are one answer with two values: a hedge for 6.
    case("6", "\\boxed{5} \\boxed{6}", INCORRECT, "two-boxes-one-statement"),
    case("5, 6", "\\boxed{5} \\boxed{6}", CORRECT, "two-boxes-two-values"),
    case("5", "\\boxed{5} \\boxed{6}", INCORRECT, "two-boxes-first-is-not-it"),
    case("5", "\\boxed{5} Hmm, or \\boxed{6}? I'll go with \\boxed{5}.", CORRECT, "three-boxes"),
    case("6", "\\fbox{5} then \\boxed{6}", CORRECT, "fbox-then-boxed"),
    case("7", "The answer is \\fbox{7}.", CORRECT, "fbox"),
    case("5", "The answer is \\boxed 5.", CORRECT, "space-form"),
    case("12", "so $\\boxed 12$", CORRECT, "space-form-in-dollars"),
    case("5", "$\\boxed{\\boxed{5}}$", CORRECT, "box-in-box"),
    case("3", "So \\boxed{3}. Now to check: \\boxed{\\frac{1}{2", CORRECT, "truncated-last-box"),
    case("1/2", "The answer is \\boxed{\\frac{1}{2} ", CORRECT, "only-box-unclosed-fallback"),
    case("3", "\\boxed{}", NO_ANSWER, "empty-box"),
    case("3", "\\boxed{   }", NO_ANSWER, "blank-box"),
    case(
        "2+\\sqrt{3}",
        "The answer is \\boxed {2 + \\sqrt{3}}",
        CORRECT,
        "space-before-brace",
    ),
]

# --------------------------------------------------------------------------- numbers

NUMBERS = [
    case("0.75", "\\boxed{\\dfrac{3}{4}}", CORRECT, "dfrac-vs-decimal"),
    case("\\frac{3}{4}", "\\boxed{0.75}", CORRECT, "decimal-vs-frac"),
    case("0.75", "\\boxed{\\tfrac{3}{4}}", CORRECT, "tfrac"),
    case("0.75", "\\boxed{3/4}", CORRECT, "slash-fraction"),
    case("\\frac34", "\\boxed{\\frac{6}{8}}", CORRECT, "unreduced-fraction"),
    case("0.75", "\\boxed{\\frac{3}{5}}", INCORRECT, "wrong-fraction"),
    case("1/2", "\\boxed{\\frac12}", CORRECT, "frac12-shorthand"),
    case("\\frac52", "\\boxed{2.50}", CORRECT, "trailing-zero-decimal"),
    case("12", "\\boxed{12.00}", CORRECT, "money-style-decimals"),
    case("3", "\\boxed{3.0}", CORRECT, "point-zero"),
    case("1.0", "\\boxed{1}", CORRECT, "integer-vs-point-zero-reference"),
    case("-3", "\\boxed{-3}", CORRECT, "negative"),
    case("-3", "\\boxed{3}", INCORRECT, "sign-dropped"),
    case("5", "\\boxed{-5}", INCORRECT, "sign-added"),
    case("-5", "\\boxed{- 5}", CORRECT, "negative-with-space"),
    case("3", "\\boxed{-(-3)}", CORRECT, "double-negative"),
    case("0", "\\boxed{-0}", CORRECT, "negative-zero"),
    case("-0.5", "\\boxed{-\\frac{1}{2}}", CORRECT, "negative-frac"),
    case("-1/2", "\\boxed{\\frac{-1}{2}}", CORRECT, "minus-in-numerator"),
    case("1/2", "\\boxed{-\\frac12}", INCORRECT, "negative-half-vs-half"),
    case("\\frac{3}{4}", "\\boxed{-0.75}", INCORRECT, "negative-decimal-vs-positive"),
    case("-\\frac52", "\\boxed{-2.5}", CORRECT, "negative-decimal-vs-frac"),
    case("1000", "\\boxed{1,000}", CORRECT, "thousands-separator"),
    case("1,000", "\\boxed{1000}", CORRECT, "thousands-separator-in-reference"),
    case("1234567", "\\boxed{1,234,567}", CORRECT, "two-separators"),
    case("1234567", "\\boxed{1,234,568}", INCORRECT, "separators-off-by-one"),
    case("1000", "\\boxed{1{,}000}", CORRECT, "latex-braced-comma"),
    case("1000.5", "\\boxed{1,000.50}", CORRECT, "separator-and-decimal"),
    case("1000", "\\boxed{\\$1,000}", CORRECT, "dollar-amount"),
    case("1,000", "\\boxed{100}", INCORRECT, "separator-not-ignored-digits"),
    case("100", "\\boxed{1,00}", INCORRECT, "not-a-thousands-group"),
    case("3.5", "\\boxed{3,5}", CORRECT, "decimal-comma-for-a-number"),
    case("3.6", "\\boxed{3,5}", INCORRECT, "decimal-comma-other-number"),
    case("3, 5", "\\boxed{3,5}", CORRECT, "comma-list-for-a-list"),
    case("35", "\\boxed{3,5}", INCORRECT, "decimal-comma-not-digits-joined"),
    case(
        "1000",
        "\\boxed{1\\,000}",
        CORRECT,
        "thin-space-separator",
    ),
    case("5", "\\boxed{5}", CORRECT, "identical"),
    case("1000000", "\\boxed{10^6}", CORRECT, "power-of-ten"),
    case("10^6", "\\boxed{1000000}", CORRECT, "power-of-ten-reference"),
    case("100000000000000000000", "\\boxed{100000000000000000001}", INCORRECT, "huge-off-by-one"),
    case("0.3", "\\boxed{0.30000000000000004}", CORRECT, "float-artifact"),
]

# --------------------------------------------------------------------------- no false positives

CONSERVATIVE = [
    # A relative tolerance (1e-4) accepts these; exact answers must compare exactly.
    case("13536", "\\boxed{13535}", INCORRECT, "off-by-one-large-integer"),
    case("13536.0", "\\boxed{13535}", INCORRECT, "off-by-one-float-reference"),
    case("13536", "\\boxed{13535.5}", INCORRECT, "half-off-large-integer"),
    case("1000000", "\\boxed{1000001}", INCORRECT, "off-by-one-million"),
    case("100000000", "\\boxed{99999999}", INCORRECT, "off-by-one-hundred-million"),
    case("1234567", "\\boxed{1234567.0000004}", INCORRECT, "integer-vs-near-integer"),
    case("1", "\\boxed{1.000001}", INCORRECT, "one-vs-one-plus-1e-6"),
    case("1", "\\boxed{1.0000001}", INCORRECT, "one-vs-one-plus-1e-7"),
    # Percent confusion (x100).
    case("0.28", "\\boxed{28}", INCORRECT, "28-vs-0.28"),
    case("28", "\\boxed{0.28}", INCORRECT, "0.28-vs-28"),
    case("10", "\\boxed{0.1}", INCORRECT, "0.1-vs-10"),
    case("0.05", "\\boxed{5}", INCORRECT, "5-vs-0.05"),
    # A repeating fraction accepts a decimal of two places or more that is the
    # fraction rounded or cut there; one place is too coarse.
    case("\\frac{1}{3}", "\\boxed{0.3333}", CORRECT, "0.3333-vs-third"),
    case("1/3", "\\boxed{0.33}", CORRECT, "0.33-vs-third"),
    case("1/3", "\\boxed{0.3}", INCORRECT, "0.3-vs-third"),
    case("1/3", "\\boxed{0.34}", INCORRECT, "0.34-vs-third"),
    case("\\frac{2}{3}", "\\boxed{0.67}", CORRECT, "0.67-vs-two-thirds"),
    case("\\frac{2}{3}", "\\boxed{0.68}", INCORRECT, "0.68-vs-two-thirds"),
    case("0.3333", "\\boxed{\\frac{1}{3}}", INCORRECT, "third-vs-0.3333-reference"),
    case("\\frac{1}{3}", "\\boxed{0.333333}", CORRECT, "six-decimals-of-a-third"),
    case("1/3", "\\boxed{0.3333}", CORRECT, "0.3333-at-rounding-4", MathParams(float_rounding=4)),
    case("1/3", "\\boxed{0.3334}", INCORRECT, "0.3334-at-rounding-4", MathParams(float_rounding=4)),
    case(
        "13536",
        "\\boxed{13535}",
        INCORRECT,
        "off-by-one-at-rounding-0",
        MathParams(float_rounding=0),
    ),
    # Hedged answers.
    case("1", "\\boxed{1 \\text{ or } 2}", INCORRECT, "1-or-2-vs-1"),
    case("2", "\\boxed{1 \\text{ or } 2}", INCORRECT, "1-or-2-vs-2"),
    case("1", "\\boxed{1 or 2}", INCORRECT, "1-or-2-plain"),
    case("1", "\\boxed{1, 2}", INCORRECT, "list-vs-one"),
    case("1", "\\boxed{1 \\text{ and } 2}", INCORRECT, "1-and-2-vs-1"),
    case("1", "\\boxed{\\pm 1}", INCORRECT, "plus-minus-vs-one"),
    case("2", "\\boxed{2, 3}", INCORRECT, "two-answers-vs-one"),
    case("2, 3", "\\boxed{2}", INCORRECT, "one-answer-vs-two"),
    # Close but wrong.
    case("\\pi", "\\boxed{3.14}", INCORRECT, "pi-two-decimals"),
    case("4\\pi", "\\boxed{12.57}", INCORRECT, "4pi-two-decimals"),
    case("\\sqrt{2}", "\\boxed{-\\sqrt{2}}", INCORRECT, "negative-root"),
    case("3", "\\boxed{\\sqrt{3}}", INCORRECT, "root-of-reference"),
    case("2\\sqrt3", "\\boxed{3\\sqrt{2}}", INCORRECT, "swapped-root"),
    case("3\\pi", "\\boxed{\\pi}", INCORRECT, "pi-multiple"),
    case("\\frac{\\pi}{4}", "\\boxed{\\frac{3\\pi}{4}}", INCORRECT, "pi-fraction"),
    case("\\infty", "\\boxed{-\\infty}", INCORRECT, "minus-infinity"),
    case("1", "\\boxed{\\frac{1}{0}}", INCORRECT, "division-by-zero"),
    case("0", "\\boxed{0/0}", INCORRECT, "zero-over-zero"),
    # Tiny values: rounding to 6 decimals makes every number below 5e-7 equal.
    case(
        "0.0000000001",
        "\\boxed{0.0000000002}",
        INCORRECT,
        "tiny-decimal-doubled",
    ),
    case(
        "0.0000001",
        "\\boxed{0.0000002}",
        INCORRECT,
        "1e-7-doubled",
    ),
    case(
        "1.0000001",
        "\\boxed{1.0000004}",
        INCORRECT,
        "seventh-decimal-differs",
    ),
    case(
        "1.6\\times10^{-19}",
        "\\boxed{3.2\\times10^{-19}}",
        INCORRECT,
        "scientific-tiny-doubled",
    ),
    case("10^{-7}", "\\boxed{2\\times10^{-7}}", INCORRECT, "power-tiny-doubled"),
    case("1.6\\times10^{-19}", "\\boxed{0}", INCORRECT, "tiny-vs-zero"),
    case("0", "\\boxed{0.0000001}", INCORRECT, "zero-vs-1e-7"),
]

# --------------------------------------------------------------------------- roots, pi, percent

SYMBOLIC = [
    case("\\sqrt 2", "\\boxed{\\sqrt{2}}", CORRECT, "sqrt-no-braces-reference"),
    case("\\sqrt{2}", "\\boxed{2^{1/2}}", CORRECT, "sqrt-as-power"),
    # A decimal is an approximation of an irrational reference, not its value,
    # unless the params allow approximations.
    case("\\sqrt{2}", "\\boxed{1.41421356}", INCORRECT, "sqrt-decimal"),
    case("\\sqrt{2}", "\\boxed{1.41421356}", CORRECT, "sqrt-decimal-allowed", APPROX),
    case("\\sqrt{2}", "\\boxed{1.41421357}", INCORRECT, "sqrt-wrong-decimal-allowed", APPROX),
    case("\\sqrt{12}", "\\boxed{2\\sqrt{3}}", CORRECT, "simplified-root"),
    case("2\\sqrt2", "\\boxed{\\sqrt{8}}", CORRECT, "unsimplified-root"),
    case("\\frac{1}{\\sqrt3}", "\\boxed{\\sqrt{3}/3}", CORRECT, "rationalised"),
    case("\\frac{\\sqrt3}2", "\\boxed{\\dfrac{\\sqrt{3}}{2}}", CORRECT, "sqrt-over-two"),
    case("2", "\\boxed{\\sqrt[3]{8}}", CORRECT, "cube-root"),
    case("2", "\\boxed{8^{1/3}}", CORRECT, "cube-root-power"),
    case("2\\pi", "\\boxed{2\\pi}", CORRECT, "two-pi"),
    case("2\\pi", "\\boxed{6.283185}", INCORRECT, "two-pi-decimal"),
    case("2\\pi", "\\boxed{6.283185}", CORRECT, "two-pi-decimal-allowed", APPROX),
    case("\\pi/2", "\\boxed{\\frac{\\pi}{2}}", CORRECT, "pi-over-two"),
    case("\\frac{\\pi}{4}", "\\boxed{\\pi/4}", CORRECT, "pi-over-four-slash"),
    case("12.566371", "\\boxed{4\\pi}", CORRECT, "pi-multiple-vs-decimal-reference"),
    case("\\pi", "\\boxed{3.141593}", INCORRECT, "pi-six-decimals"),
    case("\\pi", "\\boxed{3.141593}", CORRECT, "pi-six-decimals-allowed", APPROX),
    case("(x+1)^2", "\\boxed{x^2+2x+1}", CORRECT, "expanded-polynomial"),
    case("x/2", "\\boxed{\\frac{x}{2}}", CORRECT, "symbolic-fraction"),
    case("x/2", "\\boxed{y/2}", INCORRECT, "other-variable-strict"),
    case("x/2", "\\boxed{y/2}", CORRECT, "other-variable-lenient", MathParams(strict=False)),
    case("45", "\\boxed{45^\\circ}", CORRECT, "degrees"),
    case("45^\\circ", "\\boxed{45^{\\circ}}", CORRECT, "degrees-braced"),
    case("\\infty", "\\boxed{\\infty}", CORRECT, "infinity"),
    # 10% is 0.1; math-verify also takes a bare 10 for 10% (and 10% for 10), on the
    # grounds that "what percent" questions store the reference without the sign.
    # That leniency only goes this way: 0.1 is never 10.
    case("0.1", "\\boxed{10\\%}", CORRECT, "percent-vs-decimal"),
    case("10\\%", "\\boxed{0.1}", CORRECT, "decimal-vs-percent-reference"),
    case("10\\%", "\\boxed{10}", CORRECT, "bare-number-vs-percent-reference"),
    case("10", "\\boxed{10\\%}", CORRECT, "percent-vs-bare-reference"),
    case("0.5", "\\boxed{50\\%}", CORRECT, "fifty-percent"),
    case("0.28", "\\boxed{28\\%}", CORRECT, "28-percent"),
    case("10\\%", "\\boxed{0.1\\%}", INCORRECT, "tenth-of-a-percent"),
    case("\\frac{1}{2}\\%", "\\boxed{0.5}", INCORRECT, "half-percent-vs-half"),
]

# --------------------------------------------------------------------------- structured answers

STRUCTURED = [
    case("x=5", "\\boxed{x = 5}", CORRECT, "equation-both"),
    case("5", "\\boxed{x = 5}", CORRECT, "equation-vs-value"),
    case("x=5", "\\boxed{5}", CORRECT, "value-vs-equation"),
    case("6", "\\boxed{x = 5}", INCORRECT, "equation-wrong-value"),
    case("x=5", "\\boxed{y=5}", INCORRECT, "other-variable-equation"),
    case("-2", "\\boxed{x=-2}", CORRECT, "negative-equation"),
    case("-2", "\\boxed{x=2}", INCORRECT, "equation-sign"),
    case("y=2x+3", "\\boxed{y=3+2x}", CORRECT, "line-reordered"),
    case("y=2x+3", "\\boxed{y=2x+4}", INCORRECT, "line-wrong-intercept"),
    case("2,3", "\\boxed{x = 2 \\text{ or } x = 3}", CORRECT, "two-roots-or"),
    case("2,3", "\\boxed{x = 2, x = 3}", CORRECT, "two-roots-comma"),
    case("2,3", "\\boxed{x=2}", INCORRECT, "one-of-two-roots"),
    case("[1,2)", "\\boxed{[1,2)}", CORRECT, "interval"),
    case("[1,2)", "\\boxed{(1,2]}", INCORRECT, "interval-wrong-ends"),
    case("[2,5]", "\\boxed{(2, 5)}", INCORRECT, "closed-vs-open"),
    case("[1,2]", "\\boxed{\\left[ 1, 2 \\right]}", CORRECT, "left-right-interval"),
    case("[1,2]", "\\boxed{x \\in [1,2]}", CORRECT, "membership"),
    case("(-\\infty,3)", "\\boxed{(-\\infty, 3)}", CORRECT, "ray"),
    case(
        "(-\\infty,2)\\cup(3,\\infty)",
        "\\boxed{(-\\infty, 2) \\cup (3, \\infty)}",
        CORRECT,
        "union",
    ),
    case("(1,2)", "\\boxed{(1,2)}", CORRECT, "point"),
    case("(3,-4)", "\\boxed{(3, -4)}", CORRECT, "point-negative"),
    case("(3,-4)", "\\boxed{(3,4)}", INCORRECT, "point-sign"),
    case("(1,2)", "\\boxed{(2,1)}", INCORRECT, "point-swapped"),
    case("(1, 2)", "The point is $\\boxed{2, 1}$", INCORRECT, "point-swapped-bare"),
    case("(1,2)", "\\boxed{\\left( 1, 2 \\right)}", CORRECT, "point-left-right"),
    case(
        "(1,2)",
        "\\boxed{\\{1,2\\}}",
        INCORRECT,
        "set-for-a-point",
        bug="strict mode is documented as 'sets != tuples' but the set {1,2} is accepted "
        "for the point (1,2)",
    ),
    case("\\{1,2\\}", "\\boxed{\\{1,2\\}}", CORRECT, "set"),
    case("\\{1,2\\}", "\\boxed{\\{2, 1\\}}", CORRECT, "set-reordered"),
    case("\\{1,2\\}", "\\boxed{\\{1,2,3\\}}", INCORRECT, "superset"),
    case("\\{1,2\\}", "\\boxed{1, 2}", CORRECT, "bare-list-for-set"),
    case("1, 2", "\\boxed{2, 1}", CORRECT, "bare-list-reordered"),
    case("-1, 1", "\\boxed{\\pm 1}", CORRECT, "plus-minus-as-two-roots"),
    case(
        "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
        "\\boxed{\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}}",
        CORRECT,
        "pmatrix",
    ),
    case(
        "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}",
        "$$\\boxed{\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}}$$",
        CORRECT,
        "pmatrix-spaced",
    ),
    case(
        "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}",
        "\\boxed{\\begin{bmatrix} 1 & 0 \\\\ 0 & 1 \\end{bmatrix}}",
        CORRECT,
        "bmatrix-vs-pmatrix",
    ),
    case(
        "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
        "\\boxed{\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}}",
        INCORRECT,
        "pmatrix-one-entry",
    ),
    case(
        "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}",
        "\\boxed{\\begin{pmatrix} 0 & 1 \\\\ 1 & 0 \\end{pmatrix}}",
        INCORRECT,
        "pmatrix-permuted",
    ),
    case(
        "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
        "\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}",
        CORRECT,
        "column-vector",
    ),
]

# --------------------------------------------------------------------------- text answers

TEXT = [
    case("\\text{Paris}", "The capital is $\\boxed{\\text{Paris}}$.", CORRECT, "text-paris"),
    case("Paris", "\\boxed{\\text{Paris}}", CORRECT, "text-vs-plain-reference"),
    case("Paris", "\\boxed{Paris}", CORRECT, "plain-word"),
    case("\\text{Paris}", "\\boxed{\\textbf{Paris}}", CORRECT, "textbf"),
    case("\\text{Paris}", "\\boxed{\\mathrm{Paris}}", CORRECT, "mathrm"),
    case("\\text{Paris}", "\\boxed{\\text{London}}", INCORRECT, "text-wrong-city"),
    case("\\text{Paris}", "\\boxed{\\text{Paris, France}}", INCORRECT, "text-extra-words"),
    case("\\text{No}", "\\boxed{\\text{yes}}", INCORRECT, "yes-vs-no"),
    case("\\text{odd}", "\\boxed{\\text{even}}", INCORRECT, "even-vs-odd"),
    case("\\text{no solution}", "\\boxed{\\text{no solution}}", CORRECT, "no-solution"),
    case("A", "\\boxed{A}", CORRECT, "choice"),
    case("A", "\\boxed{B}", INCORRECT, "wrong-choice"),
    case("A", "\\boxed{(A)}", CORRECT, "choice-parenthesised"),
    case("B", "\\boxed{\\textbf{(B)}}", CORRECT, "choice-bold"),
    case("Paris", "The capital of France is Paris.", NO_ANSWER, "unboxed-word-not-found"),
]

# --------------------------------------------------------------------------- other sources

SOURCES = [
    case("42", "<think>\n6 * 7\n</think>\n<answer>42</answer>", CORRECT, "answer-tag"),
    case("0.5", "<answer>\\frac{1}{2}</answer>", CORRECT, "answer-tag-latex"),
    case("7", "<answer>The answer is 7</answer>", CORRECT, "answer-tag-sentence"),
    case("7", "<answer>x = 7</answer>", CORRECT, "answer-tag-equation"),
    case("7", "<answer>\\boxed{7}</answer>", CORRECT, "box-inside-answer-tag"),
    case("7", "\\boxed{3} and <answer>7</answer>", INCORRECT, "box-before-tag-by-default"),
    case(
        "7",
        "\\boxed{3} and <answer>7</answer>",
        CORRECT,
        "tag-first-when-asked",
        MathParams(extract=("answer_tag", "boxed")),
    ),
    case(
        "3",
        "\\boxed{3}",
        NO_ANSWER,
        "box-ignored-when-not-listed",
        MathParams(extract=("answer_tag",), fallback="none"),
    ),
    case("3", "\\boxed{3}", NO_ANSWER, "nothing-listed", MathParams(extract=(), fallback="none")),
    # Trainers often stop generation at "</answer>", and vLLM drops the stop string.
    case("42", "<think>\nx\n</think>\n<answer> 42", CORRECT, "unclosed-tag-falls-back"),
    case(
        "42",
        "<think>\nx\n</think>\n<answer>42",
        CORRECT,
        "unclosed-tag-glued",
    ),
    # fallback="whole_response" (default): math-verify's own extraction of the tail.
    case("42", "The answer is 42.", CORRECT, "whole-response"),
    case("43", "The answer is 42.", INCORRECT, "whole-response-wrong"),
    case("10", "So x = 3, and then y = 7. The answer is 10.", CORRECT, "whole-response-final"),
    case("7", "So x = 3, and then y = 7. The answer is 10.", INCORRECT, "whole-response-not-mid"),
    case("42", "The answer is 42. I hope this helps with step 3.", CORRECT, "answer-phrase-wins"),
    case("0.5", "Final answer: $\\frac{1}{2}$", CORRECT, "whole-response-latex"),
    case("5", "no digits here", NO_ANSWER, "whole-response-nothing"),
    case("5", "", NO_ANSWER, "empty-response"),
    case("5", "   \n ", NO_ANSWER, "blank-response"),
    case("42", "x" * 5000 + " The answer is 42.", CORRECT, "answer-in-window"),
    case("42", "The answer is 42." + " blah" * 1000, NO_ANSWER, "answer-outside-window"),
    case(
        "42",
        "The answer is 42." + " blah" * 1000,
        CORRECT,
        "wider-window",
        MathParams(fallback_window=10_000),
    ),
    # fallback="last_number".
    case("42", "The answer is 42.", CORRECT, "last-number", MathParams(fallback="last_number")),
    case(
        "42",
        "I got 41 first, then 42.",
        CORRECT,
        "last-number-is-last",
        MathParams(fallback="last_number"),
    ),
    case(
        "41",
        "I got 41 first, then 42.",
        INCORRECT,
        "last-number-not-first",
        MathParams(fallback="last_number"),
    ),
    case(
        "1234.5",
        "So we get 1,234.5 in total",
        CORRECT,
        "last-number-separators",
        MathParams(fallback="last_number"),
    ),
    case("-3", "x = -3", CORRECT, "last-number-negative", MathParams(fallback="last_number")),
    case("3", "x = -3", INCORRECT, "last-number-sign", MathParams(fallback="last_number")),
    case(
        "0.75",
        "The answer is 3/4",
        CORRECT,
        "last-number-fraction",
        MathParams(fallback="last_number"),
    ),
    case("0.5", "it is .5", CORRECT, "last-number-leading-dot", MathParams(fallback="last_number")),
    case("5", "Total: 5km", NO_ANSWER, "last-number-glued", MathParams(fallback="last_number")),
    case("5", "no digits", NO_ANSWER, "last-number-none", MathParams(fallback="last_number")),
    case(
        "5",
        "<think>\nit is 5",
        NO_ANSWER,
        "last-number-truncated-think",
        MathParams(fallback="last_number"),
    ),
    case(
        "6",
        "41 then \\boxed{6}",
        CORRECT,
        "box-before-last-number",
        MathParams(fallback="last_number"),
    ),
    case(
        "0.001",
        "The answer is 1e-3",
        CORRECT,
        "last-number-exponent",
        MathParams(fallback="last_number"),
    ),
    case(
        "1",
        "The answer is 1e-3",
        INCORRECT,
        "last-number-exponent-false-positive",
        MathParams(fallback="last_number"),
    ),
    case(
        "2.5",
        "The speed is 2.5e3 m/s",
        INCORRECT,
        "last-number-exponent-mantissa",
        MathParams(fallback="last_number"),
    ),
    case(
        "3",
        "The answer is \u22123",
        INCORRECT,
        "last-number-unicode-minus",
        MathParams(fallback="last_number"),
    ),
    # fallback="none".
    case("42", "The answer is 42.", NO_ANSWER, "fallback-none", MathParams(fallback="none")),
    case("42", "\\boxed{42}", CORRECT, "fallback-none-boxed", MathParams(fallback="none")),
]

# --------------------------------------------------------------------------- references

REFERENCES = [
    case(["5", "five"], "\\boxed{5}", CORRECT, "list-first"),
    case(["4", "5"], "\\boxed{5}", CORRECT, "list-second"),
    case(["\\frac12", "50\\%"], "\\boxed{0.5}", CORRECT, "list-equivalents"),
    case(["\\frac12", "50\\%"], "\\boxed{0.6}", INCORRECT, "list-none-match"),
    case(["", "5"], "\\boxed{5}", CORRECT, "list-with-blank-entry"),
    case("\\boxed{5}", "\\boxed{5}", CORRECT, "reference-boxed"),
    case("\\boxed{0.5}", "\\boxed{\\frac{1}{2}}", CORRECT, "reference-boxed-decimal"),
    case(
        "We add them: $2 + 3 = 5$, so the answer is $\\boxed{5}$.",
        "\\boxed{5}",
        CORRECT,
        "reference-full-solution",
    ),
    case(
        "First $\\boxed{2}$ is wrong; the answer is $\\boxed{5}$.",
        "\\boxed{2}",
        INCORRECT,
        "reference-solution-last-box",
    ),
    case("$5$", "\\boxed{5}", CORRECT, "reference-in-dollars"),
    case("\\boxed 5", "\\boxed{5}", CORRECT, "reference-space-box"),
    case("five", "\\boxed{5}", INCORRECT, "reference-word"),
    case("@@", "\\boxed{5}", INCORRECT, "reference-garbage"),
    case("\\frac{1}{", "\\boxed{\\frac{1}{2}}", INCORRECT, "reference-broken-latex"),
]

# --------------------------------------------------------------------------- unicode, broken LaTeX

UNICODE = [
    case("-3", "\\boxed{\u22123}", CORRECT, "unicode-minus-in-box"),
    case("\u22123", "\\boxed{-3}", CORRECT, "unicode-minus-in-reference"),
    case("-0.5", "\\boxed{\u2212\\frac{1}{2}}", CORRECT, "unicode-minus-frac"),
    case("\\pi", "\\boxed{\u03c0}", CORRECT, "greek-pi"),
    case("2\\pi", "\\boxed{2\u03c0}", CORRECT, "two-greek-pi"),
    case("12", "\\boxed{3 \u00d7 4}", CORRECT, "times-sign"),
    case("3", "\\boxed{12 \u00f7 4}", CORRECT, "division-sign"),
    case(
        "12",
        "<think>\n\u8ba9\u6211\u60f3\u60f3\n</think>\n\n**\u7b54\u6848\uff1a\\boxed{12}**",
        CORRECT,
        "chinese",
    ),
    case(
        "1/2",
        "\\boxed{\u00bd}",
        CORRECT,
        "vulgar-fraction",
    ),
    case(
        "\\sqrt2",
        "\\boxed{\u221a2}",
        CORRECT,
        "radical-sign",
    ),
]

BROKEN = [
    case("1/2", "\\boxed{\\frac{}{}}", INCORRECT, "empty-frac"),
    case("1", "\\boxed{\\frac{1}{}}", INCORRECT, "half-empty-frac"),
    case("1", "\\boxed{\\sqrt{}}", INCORRECT, "empty-sqrt"),
    case("1", "\\boxed{)(}", INCORRECT, "parens"),
    case("1", "\\boxed{\\begin{pmatrix}1&2}", INCORRECT, "unterminated-env"),
    case("1", "\\boxed{\\left(}", INCORRECT, "lone-left"),
    case("1", "\\boxed{^^}", INCORRECT, "carets"),
    case("1/2", "\\boxed{@@}", INCORRECT, "garbage"),
    case("1/2", "The answer is $\\frac{1}{2$.", INCORRECT, "broken-inline-math"),
    case("1", "The answer is $$", NO_ANSWER, "empty-display"),
    case("1", "\\boxed{a^{b^{c^{d}}}}", INCORRECT, "tower-of-symbols"),
    case("1", "\\boxed{2^{1000000}}", INCORRECT, "huge-power"),
    case("10^{10^{10}}", "\\boxed{10^{10^{10}}}", CORRECT, "huge-power-same"),
    case("10^{10^{10}}", "\\boxed{10^{10^{10}}+1}", INCORRECT, "huge-power-plus-one"),
]

# --------------------------------------------------------------------------- large and small

MAGNITUDES = [
    case("6.02\\times10^{23}", "\\boxed{6.02\\times10^{23}}", CORRECT, "avogadro"),
    case("6.02 \\times 10^{23}", "\\boxed{6.02\\times 10^{23}}", CORRECT, "avogadro-spaced"),
    case("6.022 \\cdot 10^{23}", "\\boxed{6.022\\times10^{23}}", CORRECT, "cdot-vs-times"),
    case("6.02\\times10^{23}", "\\boxed{6.03\\times10^{23}}", INCORRECT, "avogadro-wrong-digit"),
    case("6.02\\times10^{23}", "\\boxed{6.0221\\times10^{23}}", INCORRECT, "avogadro-more-digits"),
    case("3.0\\times10^8", "\\boxed{3\\times10^{8}}", CORRECT, "speed-of-light"),
    case("300000000", "\\boxed{3\\times10^{8}}", CORRECT, "scientific-vs-integer"),
    case("3\\times10^8", "\\boxed{2.998\\times10^{8}}", INCORRECT, "more-precise-is-different"),
    case(
        "602000000000000000000000",
        "\\boxed{6.02\\times10^{23}}",
        CORRECT,
        "avogadro-vs-integer",
    ),
    case("10^{-10}", "\\boxed{10^{-10}}", CORRECT, "tiny-power"),
    case("10^{-10}", "\\boxed{0.0000000001}", CORRECT, "tiny-decimal-vs-power"),
    case("1e-10", "\\boxed{1e-10}", CORRECT, "e-notation-both-sides"),
    case(
        "1e-10",
        "\\boxed{10^{-10}}",
        CORRECT,
        "e-notation-reference",
    ),
    case(
        "2000",
        "\\boxed{2e3}",
        CORRECT,
        "e-notation-answer",
    ),
    case(
        "1e-10",
        "\\boxed{-7.281718}",
        INCORRECT,
        "e-notation-is-euler",
    ),
    case("1e-10", "\\boxed{2e-10}", INCORRECT, "e-notation-doubled"),
]

# --------------------------------------------------------------------------- answer phrases
# Without a box, the statement after the last "answer is" / "Answer:" is judged,
# not the last formula of the working.

PHRASES = [
    case(
        "(-3, 1, 4)",
        r1("So $(-3,1,4)$ it is.", "Hmm, then $f(6) = 6^2 + 9 = 45$.\n\nThe answer is (-3,1,4)."),
        CORRECT,
        "phrase-after-working-step",
    ),
    case(
        "45",
        "Then $f(6) = 6^2 + 9 = 45$.\n\nThe answer is (-3,1,4).",
        INCORRECT,
        "phrase-beats-working-step-that-equals-gold",
    ),
    case(
        "-\\frac{11}{12}", "The area is $70$.\n\n**Answer:** -11/12", CORRECT, "bold-answer-colon"
    ),
    case("t^2 - 36", "We factor.\n\nThe answer is (t-6)(t+6).", CORRECT, "phrase-product"),
    case("5", "The answer is 5 or 6.", INCORRECT, "phrase-two-answers"),
    case("3.5", "The answer is 3.5. So we are done.", CORRECT, "phrase-decimal-then-sentence"),
    case("2", "Answer: \\(x = 2\\) which checks out.", CORRECT, "phrase-inline-parens-math"),
    case("12", "The final answer is **12**.", CORRECT, "phrase-bold-number"),
]

# mode="math_verify": math-verify with the two original guards, without the
# cascade's guards and fallbacks (the verdicts of version 1).
MATH_VERIFY = MathParams(mode="math_verify")
MATH_VERIFY_ONLY = [
    case("1000", "\\boxed{1\\,000}", INCORRECT, "plain-thin-space", MATH_VERIFY),
    case("1.0000001", "\\boxed{1.0000004}", CORRECT, "plain-seventh-decimal", MATH_VERIFY),
    case("1.6\\times10^{-19}", "\\boxed{3.2\\times10^{-19}}", CORRECT, "plain-tiny", MATH_VERIFY),
    case("1/2", "\\boxed{\u00bd}", INCORRECT, "plain-vulgar-fraction", MATH_VERIFY),
    case("6", "$x=\\boxed{2}$ or $x=\\boxed{6}$", CORRECT, "plain-last-box", MATH_VERIFY),
    case("2, 6", "$x=\\boxed{2}$ or $x=\\boxed{6}$", INCORRECT, "plain-several-boxes", MATH_VERIFY),
    case("2, 6", "$x=\\boxed{2}$ or $x=\\boxed{6}$", CORRECT, "cascade-several-boxes"),
    # A coarser float_rounding asks for tolerance: the written-decimals guard follows it.
    case("0.1234568", "\\boxed{0.1234567}", INCORRECT, "seven-decimals-default"),
    case(
        "0.1234568",
        "\\boxed{0.1234567}",
        CORRECT,
        "seven-decimals-at-3",
        MathParams(float_rounding=3),
    ),
]

ALL_CASES = (
    MATH_VERIFY_ONLY
    + PHRASES
    + THINKING
    + BOXES
    + NUMBERS
    + CONSERVATIVE
    + SYMBOLIC
    + STRUCTURED
    + TEXT
    + SOURCES
    + REFERENCES
    + UNICODE
    + BROKEN
    + MAGNITUDES
)


@pytest.mark.parametrize(("reference", "response", "expected", "params"), ALL_CASES)
def test_math_table(reference: Any, response: str, expected: Outcome, params: MathParams) -> None:
    score = judge(response, reference, params)
    assert score.outcome == expected, score.details
    assert score.reward == (1.0 if expected == CORRECT else 0.0)


# --------------------------------------------------------------------------- details


@pytest.mark.parametrize(
    ("response", "params", "extracted", "source"),
    [
        ("The answer is $\\boxed{\\frac{1}{2}}$.", DEFAULT, "\\frac{1}{2}", "boxed"),
        ("\\fbox{7}", DEFAULT, "7", "boxed"),
        ("<answer>\n  x = 7 \n</answer>", DEFAULT, "x = 7", "answer_tag"),
        ("The answer is\n\n42.", DEFAULT, "42", "bare"),
        ("I am not sure.\n\nWe tried.", DEFAULT, "I am not sure. We tried.", "whole_response"),
        ("So 1,234.5 in all", MathParams(fallback="last_number"), "1234.5", "last_number"),
        ("\\boxed{  1  /  2 }", DEFAULT, "1 / 2", "boxed"),
    ],
)
def test_details_name_what_was_extracted_and_where(
    response: str, params: MathParams, extracted: str, source: str
) -> None:
    score = judge(response, "1", params)
    assert score.details["extracted"] == extracted
    assert score.details["source"] == source


def test_details_of_an_unanswered_response() -> None:
    score = judge("<think>\nstill thinking", "5")
    assert score.outcome == NO_ANSWER
    assert score.reward == 0.0
    assert score.details == {"extracted": None}


def test_extracted_detail_is_bounded() -> None:
    score = judge("\\boxed{" + "1+" * 500 + "1}", "501")
    assert score.outcome == CORRECT
    assert len(score.details["extracted"]) == 200


# --------------------------------------------------------------------------- extraction is the key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            r1("Let me add: 2 + 3 = 5.", "The answer is $\\boxed{5}$."),
            r1("Hmm, 5? Or \\boxed{6}? Checking again... 5.", "So: \\boxed{5}"),
        ),
        ("Short: \\boxed{\\frac{1}{2}}", "A much longer derivation, then \\boxed{\\frac{1}{2}}."),
        ("\\boxed{x  =\n 5}", "\\boxed{x = 5}"),
        ("<answer>7</answer>", "reasoning 1, 2, 3 <answer>7</answer>"),
    ],
)
def test_extract_depends_only_on_the_final_answer(first: str, second: str) -> None:
    a = extract(first, "5", DEFAULT, NO_CONTEXT)
    b = extract(second, "5", DEFAULT, NO_CONTEXT)
    assert a
    assert a == b
    assert grade(a, "5", DEFAULT, NO_CONTEXT) == grade(b, "5", DEFAULT, NO_CONTEXT)


def test_extract_differs_when_the_answer_differs() -> None:
    a = extract("\\boxed{5}", "5", DEFAULT, NO_CONTEXT)
    b = extract("\\boxed{6}", "5", DEFAULT, NO_CONTEXT)
    c = extract("<answer>5</answer>", "5", DEFAULT, NO_CONTEXT)
    assert len({a, b, c}) == 3  # the source is part of the key, too


def test_extract_is_empty_when_there_is_no_answer() -> None:
    assert extract("<think>\n\\boxed{5}", "5", DEFAULT, NO_CONTEXT) == ""
    assert extract("", "5", DEFAULT, NO_CONTEXT) == ""
    assert extract("text", "5", MathParams(fallback="none"), NO_CONTEXT) == ""


# --------------------------------------------------------------------------- unusable references


@pytest.mark.parametrize(
    "reference",
    ["", "   ", "$$", "$ $", "\\boxed{}", "\\boxed{   }", ["", "  "]],
    ids=["empty", "blank", "dollars", "spaced-dollars", "empty-box", "blank-box", "blank-list"],
)
def test_unparseable_reference_cannot_be_judged(reference: Any) -> None:
    with pytest.raises(CannotJudge) as info:
        judge("\\boxed{5}", reference)
    assert info.value.kind == "invalid_reference"
    assert info.value.retryable is False


@pytest.mark.parametrize("response", ["", "<think>\nno answer yet"])
def test_unparseable_reference_is_an_error_even_without_an_answer(response: str) -> None:
    with pytest.raises(CannotJudge):
        judge(response, "")


@pytest.mark.parametrize(
    "reference",
    [[], 5, None, {"answer": "5"}, ["5", 5]],
    ids=["empty-list", "int", "none", "dict", "mixed"],
)
def test_reference_of_the_wrong_shape(reference: Any) -> None:
    with pytest.raises(InvalidReference):
        judge("\\boxed{5}", reference)


# --------------------------------------------------------------------------- params


def test_registered_under_its_name() -> None:
    assert get("math") is MATH
    assert MATH.params_type is MathParams


def test_params_defaults_and_parsing() -> None:
    assert MATH.parse_params(None) == DEFAULT
    assert MATH.parse_params({}) == DEFAULT
    parsed = MATH.parse_params(
        {"extract": ["answer_tag"], "fallback": "last_number", "float_rounding": 4, "strict": False}
    )
    assert parsed == MathParams(
        extract=("answer_tag",), fallback="last_number", float_rounding=4, strict=False
    )
    assert hash(parsed) == hash(
        MathParams(extract=("answer_tag",), fallback="last_number", float_rounding=4, strict=False)
    )


def test_unknown_param_is_named_and_valid_ones_listed() -> None:
    with pytest.raises(InvalidParams) as info:
        MATH.parse_params({"fallbak": "none"})
    message = str(info.value)
    assert "'fallbak'" in message
    for name in ("extract", "fallback", "fallback_window", "float_rounding", "strict"):
        assert name in message


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [
        ({"fallback": "guess"}, "fallback"),
        ({"extract": ["latex"]}, "extract"),
        ({"extract": ["boxed", "boxed"]}, "repeat"),
        ({"float_rounding": 31}, "float_rounding"),
        ({"float_rounding": -1}, "float_rounding"),
        ({"numeric_precision": 0}, "numeric_precision"),
        ({"fallback_window": 0}, "fallback_window"),
        ({"strict": "maybe"}, "strict"),
    ],
)
def test_invalid_param_values(raw: dict[str, Any], mentions: str) -> None:
    with pytest.raises(InvalidParams, match=mentions):
        MATH.parse_params(raw)


def test_params_must_be_an_object() -> None:
    with pytest.raises(InvalidParams):
        MATH.parse_params(["boxed"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- internal failures


def test_the_symbolic_comparison_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only sympy's simplification can tell these are equal (no string or numeric match):
    # make sure that path is reached and decides, rather than failing quietly.
    calls: list[bool] = []
    real = math_verify.grader.sympy_symbolic_eq

    def spy(*args: Any) -> bool:
        calls.append(real(*args))
        return calls[-1]

    monkeypatch.setattr(math_verify.grader, "sympy_symbolic_eq", spy)
    assert judge("\\boxed{x^2+2x+1}", "(x+1)^2").outcome == CORRECT
    assert True in calls
    calls.clear()
    assert judge("\\boxed{x^2+2x+2}", "(x+1)^2").outcome == INCORRECT
    assert calls
    assert True not in calls


def test_a_crash_inside_the_comparison_is_not_a_wrong_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(math_verify.grader, "sympy_expr_eq", boom)
    with pytest.raises((RuntimeError, CannotJudge)):
        judge("\\boxed{x^2+2x+1}", "(x+1)^2")
