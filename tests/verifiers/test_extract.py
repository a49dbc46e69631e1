"""Tables for the shared answer extraction (``verifiers/_extract.py``).

Everything here runs in the API process to build cache keys, so besides being
right it must stay linear on hostile input: the last section times each
function on megabyte-sized adversarial strings in a child process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from referee.verifiers._composite import parts
from referee.verifiers._extract import (
    all_boxes,
    answer_region,
    last_answer_tag,
    last_boxed,
    last_number,
    normalize_space,
    trailing_boxes,
)
from referee.verifiers._statement import answer_after_phrase, final_statement

# --------------------------------------------------------------------------- answer_region

R1 = (
    "<think>\nOkay, so the user wants 3/4 as a decimal. Maybe \\boxed{0.7}? No: "
    "3 divided by 4 is 0.75.\n</think>\n\nDividing, $\\frac{3}{4} = \\boxed{0.75}$."
)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        pytest.param("The answer is 5.", "The answer is 5.", id="no-tags-all-answer"),
        pytest.param("", "", id="empty"),
        pytest.param(R1, "\n\nDividing, $\\frac{3}{4} = \\boxed{0.75}$.", id="r1"),
        pytest.param("<think>so \\boxed{5}", "", id="truncated-while-thinking"),
        pytest.param("<think>\nLet me compute", "", id="truncated-no-box"),
        # Chat templates that put "<think>" in the prompt: only the close is in the response.
        pytest.param("reasoning...\n</think>\n\\boxed{5}", "\n\\boxed{5}", id="close-only"),
        pytest.param("<think>a</think>b<think>c</think>d", "d", id="last-close-wins"),
        pytest.param("<think>a</think>b<think>c", "b<think>c", id="reopened-after-close"),
        pytest.param("<think></think>", "", id="empty-think-nothing-after"),
        pytest.param("<think>\n\n</think>\n\n42", "\n\n42", id="qwen3-no-think"),
        pytest.param("</think>", "", id="lone-close"),
        pytest.param("<think >x</think >y", "<think >x</think >y", id="not-the-tag"),
    ],
)
def test_answer_region(response: str, expected: str) -> None:
    assert answer_region(response) == expected


def test_answer_region_custom_tags() -> None:
    text = "<reasoning>\\boxed{1}</reasoning>\\boxed{2}"
    assert answer_region(text, "<reasoning>", "</reasoning>") == "\\boxed{2}"
    assert answer_region("<reasoning>\\boxed{1}", "<reasoning>", "</reasoning>") == ""
    # The default tags are not looked for when others are given.
    assert answer_region("<think>x", "<reasoning>", "</reasoning>") == "<think>x"


# --------------------------------------------------------------------------- last_boxed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("\\boxed{5}", "5", id="plain"),
        pytest.param("So the answer is $\\boxed{42}$.", "42", id="in-dollars"),
        pytest.param("\\[\n\\boxed{\\dfrac{3}{4}}\n\\]", "\\dfrac{3}{4}", id="display"),
        pytest.param("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}", id="nested-braces"),
        pytest.param("\\boxed{a{b{c}d}e}", "a{b{c}d}e", id="deep-nesting"),
        pytest.param("\\boxed{1} then \\boxed{2}", "2", id="last-wins"),
        pytest.param("\\boxed{\\boxed{5}}", "5", id="box-in-box-inner-is-last"),
        pytest.param("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}", id="escaped-braces-set"),
        pytest.param("\\boxed{\\}}", "\\}", id="escaped-close-only"),
        pytest.param("\\boxed{\\{}", "\\{", id="escaped-open-only"),
        pytest.param(
            "\\boxed{\\left\\{ x \\mid x > 0 \\right\\}}",
            "\\left\\{ x \\mid x > 0 \\right\\}",
            id="left-right-escaped",
        ),
        pytest.param(
            "\\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}}",
            "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
            id="pmatrix-double-backslash",
        ),
        pytest.param("\\boxed{a\\\\}", "a\\\\", id="double-backslash-before-close"),
        pytest.param("\\boxed{a}}", "a", id="extra-close-after"),
        pytest.param("\\boxed{}", "", id="empty-box"),
        pytest.param("no box here", None, id="none"),
        pytest.param("", None, id="empty-text"),
        pytest.param("\\boxed", None, id="bare-command-at-end"),
        pytest.param("\\boxed{5} and then \\boxed", "5", id="bare-command-after-box"),
        # Truncated generations: the last box is unbalanced, the previous complete one counts.
        pytest.param("\\boxed{3}. Finally \\boxed{\\frac{1}{2", "3", id="truncated-last-box"),
        pytest.param("\\boxed{\\frac{1}{2", None, id="only-box-truncated"),
        pytest.param("\\boxed{3} \\boxed{ {x}", "3", id="unbalanced-inner-group"),
        pytest.param("\\boxed{1} \\boxed{2} \\boxed{\\sqrt{", "2", id="two-complete-one-open"),
        pytest.param("\\boxed{x} \\boxed{\\{", "x", id="escaped-brace-does-not-close"),
        # "\boxed 5" (TeX's space-delimited argument).
        pytest.param("The answer is \\boxed 5", "5", id="space-form"),
        pytest.param("The answer is \\boxed 5.", "5", id="space-form-period"),
        pytest.param("so $\\boxed 12$", "12", id="space-form-dollar"),
        pytest.param("\\boxed 7, which", "7", id="space-form-comma"),
        pytest.param("\\boxed{3} \\boxed 5", "5", id="space-form-after-brace-form"),
        pytest.param("\\boxed 5 \\boxed{3}", "3", id="brace-form-after-space-form"),
        pytest.param(
            "The answer is \\boxed {2 + \\sqrt{3}}",
            "2 + \\sqrt{3}",
            id="space-then-brace-group",
        ),
        pytest.param(
            "\\boxed {12}",
            "12",
            id="space-then-brace-number",
        ),
        # \fbox, mixed with \boxed.
        pytest.param("\\fbox{7}", "7", id="fbox"),
        pytest.param("\\boxed{1} \\fbox{2}", "2", id="fbox-after-boxed"),
        pytest.param("\\fbox{1} \\boxed{2}", "2", id="boxed-after-fbox"),
        pytest.param("\\fbox{1} \\boxed{\\frac{1", "1", id="fbox-before-truncated-boxed"),
        pytest.param("\\boxed{x = 5}", "x = 5", id="content-not-stripped-or-parsed"),
        pytest.param("\\boxed{ 5 }", " 5 ", id="content-keeps-spaces"),
        pytest.param("\\boxed{\\text{Paris}}", "\\text{Paris}", id="text"),
        pytest.param("\\boxed{答案}", "答案", id="unicode"),
    ],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


# --------------------------------------------------------------------------- last_answer_tag


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("<answer>5</answer>", "5", id="plain"),
        pytest.param("<answer>\n5\n</answer>", "\n5\n", id="not-stripped"),
        pytest.param("<answer>1</answer> <answer>2</answer>", "2", id="last-wins"),
        # A last block left open is read to the end: generation stopped at the close tag.
        pytest.param("<answer>1</answer> <answer>2", "2", id="open-last"),
        pytest.param("<answer>2", "2", id="only-open"),
        pytest.param("5</answer>", None, id="only-close"),
        pytest.param("</answer><answer>", "", id="reversed"),
        pytest.param("<answer></answer>", "", id="empty"),
        pytest.param("<answer>a<answer>b</answer>", "b", id="nearest-open"),
        pytest.param("<answer>\\boxed{3}</answer>", "\\boxed{3}", id="box-inside"),
        pytest.param("no tags", None, id="none"),
        pytest.param("<Answer>5</Answer>", None, id="case-sensitive"),
    ],
)
def test_last_answer_tag(text: str, expected: str | None) -> None:
    assert last_answer_tag(text) == expected


def test_last_answer_tag_custom_tags() -> None:
    assert last_answer_tag("[ANS]7[/ANS]", "[ANS]", "[/ANS]") == "7"
    assert last_answer_tag("<answer>7</answer>", "[ANS]", "[/ANS]") is None


# --------------------------------------------------------------------------- last_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("The answer is 42.", "42", id="integer-end-of-sentence"),
        pytest.param("Total: 1,234.5 dollars", "1234.5", id="thousands-and-decimal"),
        pytest.param("1,000,000", "1000000", id="millions"),
        pytest.param("about 12,34 units", "34", id="not-a-thousands-group"),
        pytest.param("x = -3", "-3", id="negative"),
        pytest.param("x=-5", "-5", id="negative-after-equals"),
        pytest.param("it is .5", ".5", id="leading-dot"),
        pytest.param("-.5", "-.5", id="negative-leading-dot"),
        pytest.param("so 0.5.", "0.5", id="decimal-then-period"),
        pytest.param("pi is 3.14.", "3.14", id="pi-then-period"),
        pytest.param("error 1e-3", "1e-3", id="exponent"),
        pytest.param("2.5E+3 m", "2.5E+3", id="exponent-upper-plus"),
        pytest.param("ratio 3/4", "3/4", id="fraction"),
        pytest.param("slope -1/2", "-1/2", id="negative-fraction"),
        pytest.param("1, 2, and 3", "3", id="list"),
        pytest.param("the point (1, 2)", "2", id="tuple"),
        pytest.param("costs $5", "5", id="dollar"),
        pytest.param("50% of them", "50", id="percent"),
        pytest.param("1,000,000 people and 2 dogs", "2", id="last-not-largest"),
        pytest.param("from 10-20", "20", id="range-dash-is-not-a-sign"),
        pytest.param("2-3", "3", id="subtraction"),
        pytest.param("x + 7 = 10\nSo x = 3", "3", id="multiline"),
        pytest.param("**Answer: 12**", "12", id="markdown-bold"),
        # Numbers glued to words are not numbers.
        pytest.param("It was 5km", None, id="glued-unit"),
        pytest.param("abc123", None, id="glued-prefix"),
        pytest.param("the 2nd one", None, id="ordinal"),
        pytest.param("version v1.2.3", None, id="version"),
        pytest.param("5 km and x2", "5", id="glued-skipped-earlier-kept"),
        pytest.param("no numbers", None, id="none"),
        pytest.param("", None, id="empty"),
        pytest.param("-", None, id="lone-minus"),
        pytest.param(". , /", None, id="punctuation"),
        pytest.param("答案是 12。", "12", id="cjk-around"),
        pytest.param(
            "The answer is \u22123",
            "-3",
            id="unicode-minus",
        ),
    ],
)
def test_last_number(text: str, expected: str | None) -> None:
    assert last_number(text) == expected


# --------------------------------------------------------------------------- normalize_space


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("  a \n\t b  ", "a b", id="mixed"),
        pytest.param("a\r\nb", "a b", id="crlf"),
        pytest.param("\\frac{1}{2}", "\\frac{1}{2}", id="untouched"),
        pytest.param("a\u00a0\u2003b", "a b", id="unicode-spaces"),
        pytest.param("", "", id="empty"),
        pytest.param(" \n\t ", "", id="only-space"),
        pytest.param("x  =  5", "x = 5", id="inner-runs"),
    ],
)
def test_normalize_space(text: str, expected: str) -> None:
    assert normalize_space(text) == expected


# --------------------------------------------------------------------------- several boxes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$x=\\boxed{2}$ or $x=\\boxed{3}$.", ["2", "3"], id="or"),
        pytest.param(
            "\\boxed{(2, 2)} \\quad\\text{and}\\quad \\boxed{(6, 2)}",
            ["(2, 2)", "(6, 2)"],
            id="quad-text-and",
        ),
        pytest.param("\\(\\boxed{1}\\) and \\(\\boxed{-2}\\).", ["1", "-2"], id="parens"),
        pytest.param(
            "$$\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}$$",
            ["(3, 3)", "(1, 1)"],
            id="part-label",
        ),
        pytest.param("\\boxed{1}\\boxed{2}", ["1", "2"], id="adjacent"),
        pytest.param("$a=\\boxed{1}$ and $b=\\boxed{2}$", ["a = 1", "b = 2"], id="named"),
        pytest.param(
            "$y_1 = \\boxed{x+1}$ and $y_2 = \\boxed{x}$", ["y_1 = x+1", "y_2 = x"], id="subscripts"
        ),
        # Prose between boxes: only the last one is the final statement.
        pytest.param("First \\boxed{2}. Checking again, it is \\boxed{3}.", ["3"], id="prose"),
        pytest.param("\\boxed{5} Hmm, or \\boxed{6}? I'll go with \\boxed{5}.", ["5"], id="hmm"),
        pytest.param("no boxes", [], id="none"),
    ],
)
def test_trailing_boxes(text: str, expected: list[str]) -> None:
    assert trailing_boxes(text) == expected


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        pytest.param("\\boxed{1} papers and \\boxed{2} bins", ["1", "2"], id="word-and"),
        pytest.param("\\boxed{35 cm} ++++++ \\boxed{4}", ["35 cm", "4"], id="symbols"),
        pytest.param("\\boxed{1} no no no no no \\boxed{2}", ["2"], id="prose-starts-a-run"),
        pytest.param("\\boxed{1}\\boxed{2}", ["1", "2"], id="adjacent"),
        pytest.param("\\fbox{7}", ["7"], id="fbox"),
        pytest.param("7", [], id="none"),
    ],
)
def test_all_boxes_of_a_reference(reference: str, expected: list[str]) -> None:
    assert all_boxes(reference) == expected


# --------------------------------------------------------------------------- statements


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Final Answer: The largest $n$ is $34$.", "34", id="inline-math-copula"),
        pytest.param(
            "Final Answer: The final answer is $X$. I hope it is correct.", "X", id="minerva"
        ),
        pytest.param("The answer is $2$ or $3$.", "2, 3", id="several-values"),
        pytest.param("The answer is $x=2$ when $y=3$.", None, id="math-joined-by-prose"),
        pytest.param("**Answer:** -11/12", "-11/12", id="leading-minus-kept"),
        pytest.param("The answer is 12 apples.", "12 apples", id="prose"),
        pytest.param("The answer is 19. <|im_start|>user", "19", id="sentence-then-junk"),
        pytest.param("no phrase here: 5", None, id="no-phrase"),
    ],
)
def test_answer_after_phrase(text: str, expected: str | None) -> None:
    assert answer_after_phrase(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("10\\sqrt3 + \\sqrt{4}", ("bare", "10\\sqrt3 + \\sqrt{4}"), id="formula"),
        pytest.param("x = 1 or x = 2", ("bare", "x = 1 or x = 2"), id="hedge-stays-whole"),
        pytest.param("We get 3, then 7, and the total is 10.", ("bare", "10"), id="copula"),
        pytest.param("So it is $\\frac{1}{2}$.", ("bare", "\\frac{1}{2}"), id="inline"),
        pytest.param("Thus\n\\[\nx = 5\n\\]\n", ("bare", "x = 5"), id="display-lines"),
        pytest.param("x = 5. I hope this helps!", ("bare", "x = 5"), id="last-sentence-with-math"),
        pytest.param(
            "He pays $5, so $20 so far. Then he gets $3 back, total $17.",
            ("statement", "Then he gets 3 back, total 17"),
            id="currency",
        ),
        pytest.param(
            "we get: $$a \\geq 2.$$ Therefore it grows by 100%.",
            ("statement", "Therefore it grows by 100%"),
            id="period-inside-display",
        ),
        pytest.param("The capital is Paris.", None, id="no-number"),
        pytest.param("I cannot solve this.", None, id="nothing"),
    ],
)
def test_final_statement(text: str, expected: tuple[str, str] | None) -> None:
    assert final_statement(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("(0.6, 2.6667]", ("(]", [["0.6", "2.6667"]]), id="interval"),
        pytest.param("\\left(3, -4\\right)", ("()", [["3", "-4"]]), id="sized"),
        pytest.param(
            "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
            ("matrix", [["1", "2"], ["3", "4"]]),
            id="matrix",
        ),
        pytest.param("(\\{1,2\\}, 3)", ("()", [["\\{1,2\\}", "3"]]), id="nested-set"),
        pytest.param("(-\\infty,-1]\\cup[1,\\infty)", None, id="union-is-not-one"),
        pytest.param("(x+1)(x-1)", None, id="product"),
        pytest.param("(1)", None, id="one-element"),
    ],
)
def test_composite_parts(text: str, expected: tuple[str, list[list[str]]] | None) -> None:
    assert parts(text) == expected


# --------------------------------------------------------------------------- hostile input

# (function, input), both Python expressions evaluated in the child. Each runs in a fresh child
# process so that a superlinear pattern is killed instead of hanging the suite.
MATH_EXTRACT = "lambda s: math.extract(s, '1', math.MathParams(), NO_CONTEXT)"
MATH_LAST_NUMBER = (
    "lambda s: math.extract(s, '1', math.MathParams(fallback='last_number'), NO_CONTEXT)"
)
MATH_WIDE = "lambda s: math.extract(s, '1', math.MathParams(fallback_window=10**7), NO_CONTEXT)"
REWRITE = "__import__('referee.verifiers._latex_rewrite', fromlist=['_']).rewrite"
PARTS = "__import__('referee.verifiers._composite', fromlist=['_']).parts"
HOSTILE = [
    pytest.param("_extract.last_boxed", '"{" * 1_000_000', id="boxed-1MB-open-braces"),
    pytest.param("_extract.last_boxed", '"\\\\boxed" + "{" * 1_000_000', id="boxed-1MB-unclosed"),
    pytest.param("_extract.last_boxed", '"\\\\boxed{" * 100_000', id="boxed-100k-open-boxes"),
    pytest.param("_extract.last_boxed", '"\\\\fbox{" * 100_000', id="fbox-100k-open-boxes"),
    pytest.param("_extract.last_boxed", '"\\\\boxed" * 170_000', id="boxed-bare-commands"),
    pytest.param("_extract.last_boxed", '"\\\\boxed . " * 100_000', id="boxed-empty-space-args"),
    pytest.param(
        "_extract.last_boxed", '"\\\\boxed{" + "\\\\{" * 500_000', id="boxed-escaped-braces"
    ),
    pytest.param(
        "_extract.last_boxed", '"\\\\boxed{" + "}" * 1_000_000', id="boxed-1MB-close-braces"
    ),
    pytest.param("_extract.last_number", '"1" * 1_000_000', id="number-1MB-digits"),
    pytest.param("_extract.last_number", '"1," * 500_000', id="number-digits-commas"),
    pytest.param("_extract.last_number", '"1" + ",000" * 250_000', id="number-one-long-group"),
    pytest.param("_extract.last_number", '"1" + ",000" * 250_000 + "x"', id="number-group-glued"),
    pytest.param("_extract.last_number", '"1,0000" * 166_000', id="number-broken-groups"),
    pytest.param("_extract.last_number", '"1" * 1_000_000 + "x"', id="number-digits-glued"),
    pytest.param("_extract.last_number", '"1e" * 500_000', id="number-exponents"),
    pytest.param("_extract.last_number", '"1/" * 500_000', id="number-slashes"),
    pytest.param("_extract.last_number", '"1." * 500_000', id="number-dots"),
    pytest.param("_extract.answer_region", '"<think>" * 150_000', id="region-open-tags"),
    pytest.param(
        "_extract.last_answer_tag", '"<answer>" * 110_000 + "</answer>"', id="answer-tags"
    ),
    pytest.param("_extract.normalize_space", '" \\n\\t" * 330_000', id="spaces"),
    # The whole extraction of the math verifier, as the API process runs it.
    pytest.param(MATH_EXTRACT, '"\\\\boxed{" * 140_000', id="math-extract-open-boxes"),
    pytest.param(MATH_EXTRACT, '"\\\\boxed . " * 100_000', id="math-extract-empty-boxes"),
    pytest.param(MATH_LAST_NUMBER, '"1," * 500_000', id="math-extract-last-number"),
    # The final statement over a window as large as a caller may ask for.
    pytest.param(MATH_WIDE, '"$x$ is " * 100_000', id="math-extract-inline-math"),
    pytest.param(MATH_WIDE, '"\\\\[" * 300_000 + "$$"', id="math-extract-open-displays"),
    pytest.param(MATH_WIDE, '"$" * 600_000', id="math-extract-dollars"),
    pytest.param(MATH_WIDE, '"\\\\$" * 300_000 + "$"', id="math-extract-escaped-dollars"),
    pytest.param(MATH_WIDE, '"answer is " * 60_000', id="math-extract-phrases"),
    pytest.param(MATH_WIDE, '"\\\\boxed{1} and " * 40_000', id="math-extract-box-run"),
    pytest.param("_extract.all_boxes", '"\\\\boxed{1}" * 100_000', id="all-boxes"),
    pytest.param("_extract.all_boxes", '"\\\\boxed{" * 100_000', id="all-boxes-open"),
    # Grading helpers that read the answer text in the worker.
    pytest.param(REWRITE, '"\\\\int^" * 300_000', id="rewrite-int-bounds"),
    pytest.param(REWRITE, '"x^\\\\frac{" * 100_000', id="rewrite-open-fractions"),
    pytest.param(REWRITE, '"\\\\sin^{-" * 100_000', id="rewrite-inverse-trig"),
    pytest.param(PARTS, '"(" * 500_000 + ")"', id="composite-open-brackets"),
    pytest.param(PARTS, '"(" + "1," * 300_000 + "2)"', id="composite-long-tuple"),
]

# A safety bound, not a benchmark: linear extraction of ~1 MB takes well under a
# second; a superlinear pattern takes minutes. Generous, for busy machines.
BOUND_S = 5.0

_CHILD = """
import json, sys, time
from referee.verifiers import NO_CONTEXT, _extract, math
_BOUND_S = 5.0  # BOUND_S below
fn = eval(sys.argv[1])
arg = eval(sys.argv[2])
best = float("inf")
for _ in range(2):  # the best of two, so that a busy machine does not fail the bound
    start = time.perf_counter()
    fn(arg)
    best = min(best, time.perf_counter() - start)
    if best < _BOUND_S:
        break
print(json.dumps({"seconds": best, "chars": len(arg)}))
"""


@pytest.mark.parametrize(("function", "build"), HOSTILE)
def test_linear_time_on_hostile_input(function: str, build: str) -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, function, build],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{function}({build}) ran past 20 s: superlinear")
    result = json.loads(done.stdout)
    assert result["chars"] >= 500_000
    assert result["seconds"] < BOUND_S, f"{function}({build}) took {result['seconds']:.2f} s"
