"""A labelled judging corpus for the ``math`` verifier: (reference, response, expected).

``expected`` is whether the response's final answer is right for the reference, as a
careful human grader would judge it. Each case names the source of its label:
``own`` (written here) or the public report it is adapted from (the expression pair
only, rewritten in our own words; Math-Verify is Apache-2.0).

Most cases are one (reference, final answer) pair written in several styles that
real models use: a Qwen-style boxed sentence, a DeepSeek-R1 ``<think>`` block then a
boxed display, ``<answer>`` tags (TinyZero / R1-Zero prompts), and Minerva's
"Final Answer: The final answer is $X$". Others are whole responses (several boxes,
prose answers, truncations).

The corpus is read by ``tests/verifiers/test_judging_corpus.py`` (zero false
positives in the default mode, a recall floor) and by ``bench/judging.py``
(precision and recall of math-verify alone against Referee's modes).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CASES", "Case"]

OWN = "own"


def issue(n: int) -> str:
    return f"math-verify issue #{n} (Apache-2.0)"


@dataclass(frozen=True)
class Case:
    id: str
    reference: str
    response: str
    expected: bool
    category: str
    source: str


def _boxed(a: str) -> str:
    return f"We work through it step by step.\n\nTherefore, the final answer is $\\boxed{{{a}}}$."


def _r1(a: str) -> str:
    return (
        "<think>\nOkay, let me set this up. Hmm, wait, let me double-check the arithmetic."
        "\n</think>\n\nThe computation gives the result.\n\n"
        f"**Final Answer**\n\\[\n\\boxed{{{a}}}\n\\]"
    )


def _tag(a: str) -> str:
    return (
        f"<think>\nFirst I compute the pieces, then combine them.\n</think>\n<answer>{a}</answer>"
    )


def _minerva(a: str) -> str:
    return f"Final Answer: The final answer is ${a}$. I hope it is correct."


STYLES = {"boxed": _boxed, "r1": _r1, "tag": _tag, "minerva": _minerva}
ALL = ("boxed", "r1", "tag")
BOX = ("boxed", "r1")

# (reference, final answer as the model writes it, expected, styles, source)
Pair = tuple[str, str, bool, tuple[str, ...], str]

PAIRS: dict[str, list[Pair]] = {
    "integer": [
        ("42", "42", True, (*ALL, "minerva"), OWN),
        ("42", "43", False, (*ALL, "minerva"), OWN),
        ("-7", "-7", True, ALL, OWN),
        ("-7", "7", False, ALL, OWN),
        ("13536", "13535", False, ALL, OWN),
        ("13536", "13536.0", True, BOX, OWN),
        ("0", "0", True, BOX, OWN),
        ("204", "0204", True, ("boxed",), OWN),
        ("4", "004", True, ("boxed",), issue(44)),
        ("840", "840", True, ("tag",), issue(44)),
        ("1", "1.000001", False, BOX, OWN),
    ],
    "fraction_decimal": [
        ("\\frac{3}{4}", "0.75", True, ALL, OWN),
        ("0.75", "\\dfrac{3}{4}", True, ALL, OWN),
        ("\\frac{1}{12}", "0.0833333333333333", True, BOX, issue(2)),
        ("\\frac{100}{3}", "33.3", False, BOX, issue(2)),
        ("\\frac{1}{3}", "0.33", True, BOX, OWN),
        ("\\frac{1}{3}", "0.3", False, BOX, OWN),
        ("\\frac{1}{3}", "0.333333", True, BOX, OWN),
        ("\\frac{1}{2}", "0.5000001", False, ALL, OWN),
        ("1/4", "0.2500004", False, BOX, OWN),
        ("3", "3.0000001", False, BOX, OWN),
        ("\\frac{2}{3}", "0.666667", True, BOX, OWN),
        ("\\frac{2}{3}", "0.666668", False, BOX, OWN),
        ("-\\frac{1}{8}", "-0.125", True, ALL, OWN),
        ("\\frac{2}{3}", "\\frac{4}{6}", True, ALL, OWN),
        ("\\frac{2}{3}", "\\frac{3}{2}", False, ALL, OWN),
        ("0.28", "28", False, ALL, OWN),
        ("28", "0.28", False, ALL, OWN),
        ("\\frac{9}{4}", "2\\frac{1}{4}", True, BOX, OWN),
        ("\\frac{1}{2}", "1\\frac{1}{2}", False, BOX, OWN),
        ("\\frac{7}{2}", "3\\tfrac{1}{2}", True, ("boxed",), OWN),
        ("\\frac47", "\\dfrac47", True, ALL, OWN),
        ("\\frac{1}{2}", "\u00bd", True, BOX, OWN),
        ("\\frac{3}{4}", "\u00be", True, ("boxed",), OWN),
        ("\\frac{1}{4}", "\u00bd", False, ("boxed",), OWN),
        ("-\\frac{1}{2}", "\\frac{-1}{2}", True, ALL, OWN),
        ("2.5", "\\frac{5}{2}", True, ALL, OWN),
        ("0.3", "0.30000000000000004", True, ("boxed",), OWN),
        ("1.0000001", "1.0000004", False, ("boxed",), OWN),
        ("\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}", True, BOX, issue(2)),
    ],
    "thousands": [
        ("1000000", "1,000,000", True, ALL, OWN),
        ("1234567", "1{,}234{,}567", True, BOX, OWN),
        ("1000", "1\\,000", True, BOX, OWN),
        ("25000", "25\\,000", True, ("boxed",), OWN),
        ("1000", "10,000", False, ALL, OWN),
        ("10000", "1,000", False, BOX, OWN),
        ("2024", "2,024", True, ("tag",), OWN),
        ("1234.5", "1,234.50", True, BOX, OWN),
        ("1234567", "1,234,568", False, BOX, OWN),
    ],
    "units": [
        ("5", "5 \\text{ cm}", True, ALL, OWN),
        ("5", "6 \\text{ cm}", False, BOX, OWN),
        ("12", "12\\text{ meters}", True, BOX, OWN),
        ("36", "36 \\mbox{ cm}^2", True, BOX, OWN),
        ("18.90", "\\$18.90", True, ALL, OWN),
        ("18.90", "\\$18.09", False, BOX, OWN),
        ("45", "45 \\text{ minutes}", True, BOX, OWN),
        ("45", "45 minutes", True, ("tag",), OWN),
        ("3", "3 \\text{ hours}", True, ("r1",), OWN),
        ("150", "150 \\text{ miles}", True, ("boxed",), OWN),
        ("150", "15 \\text{ miles}", False, ("boxed",), OWN),
        ("20", "20 \\text{ dollars}", True, ("boxed",), OWN),
        ("20", "\\$20", True, ("tag",), OWN),
        ("7", "7 \\text{ students}", True, ("boxed",), OWN),
        ("64", "64\\text{ square units}", True, ("boxed",), OWN),
    ],
    "degrees": [
        ("30", "30^\\circ", True, ALL, OWN),
        ("30^\\circ", "30", True, BOX, OWN),
        ("30", "30^{\\circ}", True, ("boxed",), OWN),
        ("30", "30\u00b0", True, BOX, OWN),
        ("60", "30^\\circ", False, BOX, OWN),
        ("120", "120 \\text{ degrees}", True, BOX, OWN),
        ("135^\\circ", "135^\\circ", True, ("tag",), OWN),
        ("45", "45\u00b0", True, ("tag",), OWN),
        ("90", "9^\\circ", False, ("boxed",), OWN),
    ],
    "percent": [
        ("25", "25\\%", True, ALL, OWN),
        ("25\\%", "25", True, BOX, OWN),
        ("0.25", "25\\%", True, BOX, OWN),
        ("25\\%", "0.25", True, ("boxed",), OWN),
        ("25", "0.25", False, BOX, OWN),
        ("12.5", "12.5\\%", True, ("boxed",), OWN),
        ("40", "40 \\text{ percent}", True, ("boxed",), OWN),
        ("40", "40 percent", True, ("tag",), OWN),
        ("40", "4\\%", False, BOX, OWN),
        ("10\\%", "0.1\\%", False, ("boxed",), OWN),
    ],
    "text": [
        ("\\text{Tuesday}", "\\text{Tuesday}", True, ALL, OWN),
        ("Tuesday", "\\text{Tuesday}", True, BOX, OWN),
        ("\\text{Tuesday}", "\\text{Wednesday}", False, ALL, OWN),
        ("\\text{odd}", "\\text{even}", False, BOX, OWN),
        ("\\text{(C)}", "\\text{(C)}", True, BOX, OWN),
        ("C", "C", True, ALL, issue(16)),
        ("C", "D", False, ALL, issue(16)),
        ("\\text{yes}", "\\text{Yes}", True, BOX, OWN),
        ("\\text{no}", "\\text{Yes}", False, BOX, OWN),
        ("13", "\\text{13}", True, BOX, issue(37)),
        ("\\text{east}", "\\textbf{East}", True, ("boxed",), OWN),
        ("\\text{Paris}", "\\text{Paris}", True, ("tag",), OWN),
    ],
    "interval": [
        ("(0,\\infty)", "(0, \\infty)", True, ALL, OWN),
        ("[2,5)", "[2, 5)", True, ALL, OWN),
        ("[2,5)", "[2, 5]", False, ALL, OWN),
        ("(-\\infty,-1]\\cup[1,\\infty)", "(-\\infty, -1] \\cup [1, \\infty)", True, BOX, OWN),
        ("(-\\infty,-1]\\cup[1,\\infty)", "(-\\infty, -1) \\cup (1, \\infty)", False, BOX, OWN),
        ("(1,3)", "x \\in (1, 3)", True, BOX, OWN),
        ("[\\sqrt{2},\\infty)", "m \\geq \\sqrt{2}", True, ("boxed",), issue(25)),
        ("(-2,2)", "(-2, 3)", False, ("boxed",), OWN),
        ("(0,1]", "\\left(0, 1\\right]", True, ("boxed",), OWN),
    ],
    "set": [
        ("\\{1,2,3\\}", "\\{3, 2, 1\\}", True, ALL, OWN),
        ("\\{1,2,3\\}", "\\{1, 2\\}", False, ALL, OWN),
        ("\\{1,2\\}", "\\{1, 2, 4\\}", False, BOX, OWN),
        ("\\emptyset", "\\varnothing", True, BOX, OWN),
        ("\\{-1,1\\}", "\\{1, -1\\}", True, ("boxed",), OWN),
    ],
    "tuple": [
        ("(1,2)", "(1, 2)", True, ALL, OWN),
        ("(2,-1)", "(-1, 2)", False, ALL, OWN),
        ("(1,\\frac{9}{2})", "(1, 4.5)", True, BOX, issue(2)),
        ("(0,1)", "(0, 1.5)", False, BOX, issue(14)),
        ("(3,-4)", "\\left(3, -4\\right)", True, ("boxed",), OWN),
        ("(1,2,3)", "(1, 2)", False, ("boxed",), OWN),
    ],
    "matrix": [
        (
            "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
            "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
            True,
            BOX,
            OWN,
        ),
        (
            "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
            "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}",
            True,
            ("boxed",),
            OWN,
        ),
        (
            "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
            "\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}",
            False,
            BOX,
            OWN,
        ),
        (
            "\\begin{pmatrix}-\\frac{7}{4}&-2\\\\4&\\frac{1}{4}\\end{pmatrix}",
            "\\begin{pmatrix}-1.75&-2\\\\4&0.25\\end{pmatrix}",
            True,
            ("boxed",),
            issue(2),
        ),
        (
            "\\begin{pmatrix}2\\\\-1\\end{pmatrix}",
            "\\begin{pmatrix} -1 \\\\ 2 \\end{pmatrix}",
            False,
            ("boxed",),
            OWN,
        ),
    ],
    "equation": [
        ("y=2x+3", "y = 3 + 2x", True, ALL, OWN),
        ("y=2x+3", "y = 2x - 3", False, ALL, OWN),
        ("x=5", "5", True, BOX, OWN),
        ("5", "x = 5", True, ALL, OWN),
        ("5", "x = 6", False, BOX, OWN),
        ("34x+45y-20z+100=0", "-34x-45y+20z-100=0", True, ("boxed",), issue(2)),
        ("3x+4y+14=0", "3x - y + 13 = 0", False, BOX, issue(60)),
        (
            "\\frac{x^2}{4}+\\frac{y^2}{3}=1",
            "\\frac{x^2}{16}+\\frac{y^2}{12}=1",
            False,
            ("boxed",),
            issue(40),
        ),
        ("(x+1)^2", "x^2 + 2x + 1", True, BOX, OWN),
        ("x^2-1", "(x-1)(x+1)", True, ("tag",), OWN),
        ("x^2-1", "(x-1)^2", False, ("boxed",), OWN),
        ("f(x)=2x", "f(x) = 2x", True, ("boxed",), OWN),
    ],
    "multiple": [
        ("2,3", "x = 2 \\text{ or } x = 3", True, BOX, OWN),
        ("2,3", "2 \\text{ and } 3", True, ("boxed",), OWN),
        ("2,3", "3, 2", True, ALL, OWN),
        ("2,3", "2", False, ALL, OWN),
        ("-2,2", "\\pm 2", True, BOX, OWN),
        ("2021", "\\pm 2021", False, ("boxed",), issue(14)),
        ("1331, 1728", "1728", False, BOX, issue(47)),
        ("19, 46, 82", "21, 36, 82", False, ("boxed",), issue(14)),
        ("1", "1 \\text{ or } 2", False, BOX, OWN),
        ("-3,1,4", "-3, 1, 4", True, ("tag",), OWN),
    ],
    "broken_latex": [
        ("\\sqrt{2}", "\u221a2", True, BOX, OWN),
        ("3\\sqrt{2}", "3\u221a2", True, ("boxed",), OWN),
        ("4", "4\\sqrt(2)", False, BOX, issue(41)),
        ("4\\sqrt{2}", "4\\sqrt(2)", True, ("boxed",), issue(41)),
        ("\\frac{1}{2}", "\\frac12", True, ALL, OWN),
        ("\\frac{1}{2}", "\\left(\\frac{1}{2}\\right)", True, BOX, OWN),
        ("1-\\frac{1}{e}", "1+\\frac{1}{\\mathrm{e}}", False, ("boxed",), issue(14)),
        ("12:00", "1:00", False, ("boxed",), issue(14)),
        ("2", "\\sqrt{}", False, ("boxed",), OWN),
        ("\\frac{1}{2}", "\\frac{1}{2", False, ("tag",), OWN),
        ("\\pi", "\u03c0", True, BOX, OWN),
        ("2\\pi", "2\u03c0", True, ("tag",), OWN),
        ("6", "2 \u00d7 3", True, ("boxed",), OWN),
    ],
    "small_large": [
        ("6.02\\times10^{23}", "6.02 \\times 10^{23}", True, ALL, OWN),
        ("6.02\\times10^{23}", "6.03\\times10^{23}", False, BOX, OWN),
        ("602000000000000000000000", "6.02\\times10^{23}", True, BOX, OWN),
        ("1.6\\times10^{-19}", "1.6 \\times 10^{-19}", True, BOX, OWN),
        ("1.6\\times10^{-19}", "3.2\\times10^{-19}", False, BOX, OWN),
        ("10^{-10}", "0.0000000001", True, BOX, OWN),
        ("1e-10", "2e-10", False, BOX, OWN),
        ("3\\times10^8", "300000000", True, ("boxed",), OWN),
        ("3\\times10^8", "3\\times10^9", False, ("boxed",), OWN),
        ("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}", False, ("boxed",), issue(14)),
        ("\\frac{1}{2004!}", "\\frac{1}{2006!}", False, ("boxed",), issue(14)),
        ("2^{100}", "1267650600228229401496703205376", True, ("boxed",), OWN),
        ("2^{100}", "1267650600228229401496703205377", False, ("boxed",), OWN),
        ("0.000001", "0.000002", False, ("boxed",), OWN),
        ("1.5\\times10^{-3}", "0.0015", True, ("tag",), OWN),
    ],
    "symbolic": [
        ("\\sqrt{12}", "2\\sqrt{3}", True, ALL, OWN),
        ("\\sqrt{2}", "-\\sqrt{2}", False, BOX, OWN),
        ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}", True, BOX, OWN),
        ("2\\pi", "6.283185", False, ("boxed",), OWN),
        ("\\sqrt{2}", "1.41421356", False, BOX, OWN),
        ("\\pi", "3.14", False, ("boxed",), OWN),
        ("\\tan^2(y)+1", "\\sec^2(y)", True, ("boxed",), issue(2)),
        ("e^{2}", "e^2", True, ("boxed",), OWN),
        ("\\ln 2", "\\log 2", False, ("boxed",), OWN),
        ("\\binom{5}{2}", "10", True, ("boxed",), OWN),
        ("5!", "120", True, ("boxed",), OWN),
    ],
    "decimal_comma": [
        ("1.22", "1,22", True, BOX, OWN),
        ("0.5", "0,5", True, ("boxed", "tag"), OWN),
        ("1.22", "1,23", False, BOX, OWN),
        ("122", "1,22", False, BOX, OWN),
        ("1, 22", "1,22", True, ("boxed",), OWN),
        ("1220", "1,220", True, ("boxed",), OWN),
    ],
    "composite_rounding": [
        ("(\\frac{3}{5}, \\frac{8}{3}]", "(0.6, 2.6667]", True, BOX, OWN),
        ("(\\frac{3}{5}, \\frac{8}{3}]", "(0.6, 2.6667)", False, BOX, OWN),
        ("(\\frac{3}{5}, \\frac{8}{3}]", "(0.6, 2.6668]", False, BOX, OWN),
        ("(\\frac{1}{3}, 2)", "(0.333, 2)", True, ("boxed",), OWN),
        ("(\\frac{1}{3}, 2)", "(0.3, 2)", False, ("boxed",), OWN),
        (
            "\\begin{pmatrix}\\frac{1}{3}\\\\\\frac{1}{5}\\end{pmatrix}",
            "\\begin{pmatrix}0.33\\\\0.2\\end{pmatrix}",
            True,
            BOX,
            OWN,
        ),
        (
            "\\begin{pmatrix}\\frac{1}{3}\\\\\\frac{1}{5}\\end{pmatrix}",
            "\\begin{pmatrix}0.33\\\\0.21\\end{pmatrix}",
            False,
            BOX,
            OWN,
        ),
        ("(\\sqrt{2}, 1)", "(1.414, 1)", False, ("boxed",), OWN),
    ],
    "loose_reference": [
        ("$5$.", "5", True, ALL, OWN),
        ("$5$.", "6", False, BOX, OWN),
        ("10weeks", "10", True, BOX, OWN),
        ("10weeks", "11", False, BOX, OWN),
        ("-1./3", "-\\frac{1}{3}", True, BOX, OWN),
        ("-1./3", "-1", False, BOX, OWN),
        ("2**10", "1024", True, ("boxed",), OWN),
        ("12:00", "12:00", True, ALL, OWN),
    ],
    "equation_sides": [
        ("\\sin(x)=\\frac{1}{2}", "\\cos(x)=\\frac{1}{2}", False, BOX, OWN),
        ("\\sin(x)=\\frac{1}{2}", "\\sin(x) = \\frac12", True, BOX, OWN),
        ("y=3x", "z=3x", False, ("boxed",), OWN),
        ("\\frac{dy}{dx}=2x", "\\frac{dz}{dx}=2x", False, BOX, OWN),
        ("\\frac{dy}{dx}=2x", "\\frac{dy}{dx} = 2x", True, BOX, OWN),
        ("x^2+y^2=1", "2x^2+2y^2=2", True, ("boxed",), OWN),
        ("x^2+y^2=1", "x^2+2y^2=1", False, ("boxed",), OWN),
    ],
    "symbolic_latex": [
        ("\\int_a^b x\\,dx", "\\int^b_a x dx", True, BOX, OWN),
        ("\\int_a^b x\\,dx", "\\int^a_b x dx", False, BOX, OWN),
        ("7", "\\int\\limits_{0}^{7} 1\\, dx", True, ("boxed",), OWN),
        ("1", "\\int\\limits_{0}^{7} 1\\, dx", False, BOX, OWN),
        ("17", "\\frac1234", True, ("boxed",), OWN),
        ("\\frac{1}{234}", "\\frac1234", False, ("boxed",), OWN),
        ("\\arcsin a", "\\sin^{-1} a", True, BOX, OWN),
        ("\\arccos a", "\\sin^{-1} a", False, BOX, OWN),
        ("\\frac{1}{\\sin a}", "\\sin^{-1} a", False, ("boxed",), OWN),
        ("\\sqrt{x}", "x^\\frac{1}{2}", True, BOX, OWN),
        ("\\sqrt[3]{x}", "x^\\frac{1}{2}", False, ("boxed",), OWN),
        ("\\log_{10} x", "\\lg x", True, ("boxed",), OWN),
        ("\\ln x", "\\lg x", False, ("boxed",), OWN),
    ],
    "aime": [
        ("33", "033", True, ALL, OWN),
        ("33", "034", False, BOX, OWN),
        ("5", "005", True, ("tag",), OWN),
        ("500", "050", False, ("boxed",), OWN),
    ],
    "multiple_choice": [
        ("C", "(C)", True, ALL, OWN),
        ("C", "\\text{C}", True, BOX, OWN),
        ("(B)", "B", True, BOX, OWN),
        ("C", "(D)", False, ALL, OWN),
        ("B", "\\text{(D)}", False, BOX, OWN),
    ],
    # Wrong answers in the shapes the cascade's fallbacks read: none may pass.
    "fallback_shapes": [
        ("\\sqrt{2}", "\u221a3", False, BOX, OWN),
        ("\\frac{1}{3}", "\u00bd", False, ("boxed",), OWN),
        ("1000", "1\\,001", False, BOX, OWN),
        ("100", "1\\,000", False, ("boxed",), OWN),
        ("40", "30\u00b0", False, BOX, OWN),
        ("\\pi", "2\u03c0", False, ("tag",), OWN),
        ("0.75", "\\dfrac{3}{5}", False, ("tag",), OWN),
        ("\\frac{3}{4}", "0.7", False, ("tag",), OWN),
        ("(1,2)", "(1, 3)", False, ("tag",), OWN),
        ("\\{1,2,3\\}", "\\{1, 2, 4\\}", False, ("tag",), OWN),
        ("602000000000000000000000", "6.021\\times10^{23}", False, BOX, OWN),
        ("602000000000000000000000", "6.02\\times10^{22}", False, ("boxed",), OWN),
        ("125", "12.5\\%", False, ("boxed",), OWN),
        ("50", "5 \\text{ cm}", False, ("boxed",), OWN),
        ("5", "5 \\text{ cm}^3 \\text{ or } 6", False, ("boxed",), OWN),
        ("18.9", "\\$189", False, ("tag",), OWN),
        ("1000000", "1,000,000,000", False, ("tag",), OWN),
        ("0.000001", "0.0000012", False, ("boxed",), OWN),
        ("3.14159", "3.14158", False, ("boxed",), OWN),
        ("3.14159", "3.141592653", True, ("boxed",), OWN),
        ("2.5", "2.50", True, ("tag",), OWN),
        ("12", "12 \\text{ apples and } 3", False, ("boxed",), OWN),
        ("\\sqrt{3}", "\\sqrt(2)", False, ("boxed",), OWN),
        ("\\emptyset", "\\{0\\}", False, ("boxed",), OWN),
        ("\\frac{1}{2}", "\\frac{1}{2", False, ("tag",), OWN),
        ("7", "The answer is 7", True, ("tag",), OWN),
        ("7", "I think 7 or 8", False, ("tag",), OWN),
    ],
}

# Whole responses: (reference, response, expected, category, source).
RAW: list[tuple[str, str, bool, str, str]] = [
    # Several boxes in one response.
    ("2,3", "The roots are $x = \\boxed{2}$ and $x = \\boxed{3}$.", True, "several_boxes", OWN),
    ("2,3", "So $\\boxed{2}$ or $\\boxed{3}$.", True, "several_boxes", OWN),
    ("-1,4", "Hence $x=\\boxed{-1}$, $x=\\boxed{4}$.", True, "several_boxes", OWN),
    ("2,3", "The roots are $\\boxed{2}$ and $\\boxed{4}$.", False, "several_boxes", OWN),
    (
        "2,3",
        "First I got $\\boxed{2}$. Checking again, it is $\\boxed{3}$.",
        False,
        "several_boxes",
        OWN,
    ),
    (
        "3",
        "First I got $\\boxed{2}$. Checking again, it is $\\boxed{3}$.",
        True,
        "several_boxes",
        OWN,
    ),
    (
        "2",
        "First I got $\\boxed{2}$. Checking again, it is $\\boxed{3}$.",
        False,
        "several_boxes",
        OWN,
    ),
    (
        "840",
        "so \\boxed{840}., let me explain.\n\n**Final Answer**\n\\boxed{840}",
        True,
        "several_boxes",
        issue(44),
    ),
    ("5", "\\boxed{5} Hmm, or \\boxed{6}? I'll go with \\boxed{5}.", True, "several_boxes", OWN),
    ("6", "\\boxed{5} Hmm, or \\boxed{6}? I'll go with \\boxed{5}.", False, "several_boxes", OWN),
    (
        "1,2,3",
        "The answers are $\\boxed{1}$, $\\boxed{2}$, and $\\boxed{3}$.",
        True,
        "several_boxes",
        OWN,
    ),
    ("1,2,3", "The answers are $\\boxed{1}$, $\\boxed{2}$.", False, "several_boxes", OWN),
    # Named values are one answer, compared as the reference's structure says.
    ("(1,2)", "$a=\\boxed{1}$ and $b=\\boxed{2}$", True, "several_boxes", OWN),
    ("1,2", "$a=\\boxed{1}$ and $b=\\boxed{2}$", True, "several_boxes", OWN),
    ("(1,2)", "$a=\\boxed{2}$ and $b=\\boxed{1}$", False, "several_boxes", OWN),
    ("(1,2)", "$a=\\boxed{1}$ and $b=\\boxed{3}$", False, "several_boxes", OWN),
    ("2", "$a=\\boxed{1}$ and $b=\\boxed{2}$", False, "hedging", OWN),
    ("2,3", "$x = \\boxed{2}$ or $x = \\boxed{4}$", False, "several_boxes", OWN),
    ("2,3", "$x = \\boxed{2}$, $x = \\boxed{3}$, or $x = \\boxed{4}$", False, "several_boxes", OWN),
    ("2,3", "Not \\boxed{2}. The roots are \\boxed{3}", False, "several_boxes", OWN),
    ("2,3,4", "$\\boxed{2}$ and $\\boxed{3}$", False, "several_boxes", OWN),
    (
        "$$(2, 2), (6, 2)$$",
        "The pairs are \\boxed{(2, 2)} \\quad\\text{and}\\quad \\boxed{(6, 2)}",
        True,
        "several_boxes",
        OWN,
    ),
    (
        "(2, 2), (6, 2)",
        "\\boxed{(2, 2)} \\quad\\text{and}\\quad \\boxed{(6, 3)}",
        False,
        "several_boxes",
        OWN,
    ),
    ("k = 45, n = 2", "So \\boxed{k = 45} and \\boxed{n = 2}.", True, "several_boxes", OWN),
    ("k = 45, n = 2", "So \\boxed{k = 45} and \\boxed{n = 3}.", False, "several_boxes", OWN),
    ("\\boxed{1}\\boxed{2}", "\\boxed{1,2}", True, "several_boxes", OWN),
    ("\\boxed{1}\\boxed{2}", "\\boxed{2}", False, "several_boxes", OWN),
    # Hedging: several values for a single-valued reference.
    ("2", "$\\boxed{1}$, $\\boxed{2}$, $\\boxed{3}$", False, "hedging", OWN),
    ("3", "$\\boxed{1}$, $\\boxed{2}$, $\\boxed{3}$", False, "hedging", OWN),
    ("3", "$x=\\boxed{2}$ or $x=\\boxed{3}$", False, "hedging", OWN),
    ("2", "x = 1 or x = 2", False, "hedging", OWN),
    ("1, 2", "x = 1 or x = 2", True, "hedging", OWN),
    ("2", "The answer is $1$ or $2$.", False, "hedging", OWN),
    ("1,2", "The answer is $1$ or $2$.", True, "hedging", OWN),
    ("\\{1,2\\}", "\\boxed{\\{1, 2, 3\\}}", False, "hedging", OWN),
    ("5", "\\boxed{5} \\quad \\boxed{5}", True, "hedging", OWN),
    ("4", "The answer is either 3 or 4.", False, "hedging", OWN),
    ("3, 4", "The answer is either 3 or 4.", True, "hedging", OWN),
    ("4", "<answer>3 or 4</answer>", False, "hedging", OWN),
    ("4", "<answer>3, 4</answer>", False, "hedging", OWN),
    ("\\{3, 4\\}", "<answer>3, 4</answer>", True, "hedging", OWN),
    ("4", "It is 3 apples or 4 apples.", False, "hedging", OWN),
    ("4", "It is 4 apples.", True, "hedging", OWN),
    ("4", "The answer is 4 (or 3).", False, "hedging", OWN),
    # Answer phrases with inline math; bare answers.
    ("34", "Final Answer: The largest $n$ is $34$.", True, "prose", OWN),
    ("34", "Final Answer: The largest $n$ is $35$.", False, "prose", OWN),
    ("n", "Final Answer: The largest $n$ is $34$.", False, "prose", OWN),
    ("10\\sqrt3 + \\sqrt{4}", "10\\sqrt3 + \\sqrt{4}", True, "bare", OWN),
    ("10\\sqrt{3}+2", "10\\sqrt3 + \\sqrt{4}", True, "bare", OWN),
    ("10\\sqrt{3}+3", "10\\sqrt3 + \\sqrt{4}", False, "bare", OWN),
    ("5", "Thus\n\\[\nx = 5\n\\]\n", True, "bare", OWN),
    ("\\frac{1}{2}", "We simplify.\n\n$\\frac{2}{4} = \\frac{1}{2}$", True, "bare", OWN),
    # GSM8K: solutions end with "#### answer"; the reference may be the whole solution.
    (
        "72",
        "She sold 48/2 = 24 clips in May.\nShe sold 48+24 = 72 clips.\n#### 72",
        True,
        "gsm8k",
        OWN,
    ),
    (
        "72",
        "She sold 48/2 = 24 clips in May.\nShe sold 48+24 = 72 clips.\n#### 73",
        False,
        "gsm8k",
        OWN,
    ),
    ("She sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", "\\boxed{72}", True, "gsm8k", OWN),
    ("She sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", "\\boxed{24}", False, "gsm8k", OWN),
    # MATH: the reference is a whole solution; its last boxed statement is the answer.
    ("So $x = \\boxed{\\frac{1}{2}}$.", "The answer is $0.5$.", True, "math_solution", OWN),
    ("So $x = \\boxed{\\frac{1}{2}}$.", "The answer is $0.25$.", False, "math_solution", OWN),
    # NuminaMath: several answers in the reference, boxed one by one.
    (
        "The roots are $\\boxed{1}$ and $\\boxed{-2}$.",
        "$\\boxed{-2, 1}$",
        True,
        "numina_multi",
        OWN,
    ),
    ("The roots are $\\boxed{1}$ and $\\boxed{-2}$.", "$\\boxed{1}$", False, "numina_multi", OWN),
    (
        "The roots are $\\boxed{1}$ and $\\boxed{-2}$.",
        "$\\boxed{-2, 1, 3}$",
        False,
        "numina_multi",
        OWN,
    ),
    # "$" as a currency sign in prose: the final total is the answer.
    (
        "20",
        "He pays $5 for apples, so $20 total so far. Then he gets $3 back, total $17.",
        False,
        "currency",
        OWN,
    ),
    (
        "17",
        "He pays $5 for apples, so $20 total so far. Then he gets $3 back, total $17.",
        True,
        "currency",
        OWN,
    ),
    ("-2,2", "\\boxed{x=2} \\text{ or } \\boxed{x=-2}", True, "several_boxes", OWN),
    # Prose answers without boxes.
    ("73", "Thus the count is **73**.\n\n---\n\nFinal Answer: **73**", True, "prose", issue(76)),
    ("73", "Thus the count is **72**.\n\n---\n\nFinal Answer: **72**", False, "prose", issue(76)),
    ("12", "The answer is 12.", True, "prose", OWN),
    ("12", "The answer is 12 apples.", True, "prose", OWN),
    ("12", "The answer is 13.", False, "prose", OWN),
    ("\\frac{1}{2}", "So the probability is $\\frac{1}{2}$.", True, "prose", OWN),
    ("\\frac{1}{2}", "So the probability is $\\frac{1}{3}$.", False, "prose", OWN),
    ("10", "We get 3, then 7, and the total is 10.", True, "prose", OWN),
    ("7", "We get 3, then 7, and the total is 10.", False, "prose", OWN),
    ("Paris", "The capital is Paris.", False, "prose", OWN),
    ("5", "**Answer:** 5 cm", True, "prose", OWN),
    ("5", "**Answer:** 6 cm", False, "prose", OWN),
    ("2", "Answer: $x = 2$", True, "prose", OWN),
    ("1000", "The answer is 1,000.", True, "prose", OWN),
    ("25", "The answer is 25%.", True, "prose", OWN),
    ("0.25", "The answer is 25.", False, "prose", OWN),
    # Reasoning blocks, truncation, no answer.
    ("5", "<think>\n2 + 3 = 5, so \\boxed{5}. Wait", False, "truncated", OWN),
    (
        "5",
        "<think>\nthe answer is \\boxed{5}\n</think>\n\nThe answer is \\boxed{6}.",
        False,
        "thinking",
        OWN,
    ),
    (
        "6",
        "<think>\nmaybe \\boxed{5}\n</think>\n\nThe answer is \\boxed{6}.",
        True,
        "thinking",
        OWN,
    ),
    ("5", "<think>\nmaybe \\boxed{5}\n</think>", False, "thinking", OWN),
    ("5", "", False, "truncated", OWN),
    ("5", "I cannot solve this.", False, "truncated", OWN),
    ("42", "<answer>42", True, "answer_tag", OWN),
    ("42", "\\boxed{41} and <answer>42</answer>", False, "answer_tag", OWN),
    ("x^2", "<answer>The answer is $x^2$</answer>", True, "answer_tag", OWN),
    ("\\frac{2}{3}", "<answer>\n2/3\n</answer>", True, "answer_tag", OWN),
    ("\\frac{2}{3}", "<answer>\n3/2\n</answer>", False, "answer_tag", OWN),
]


def _build() -> list[Case]:
    cases: list[Case] = []
    for category, pairs in PAIRS.items():
        for n, (reference, answer, expected, styles, source) in enumerate(pairs):
            for style in styles:
                cases.append(
                    Case(
                        id=f"{category}-{n}-{style}",
                        reference=reference,
                        response=STYLES[style](answer),
                        expected=expected,
                        category=category,
                        source=source,
                    )
                )
    for n, (reference, response, expected, category, source) in enumerate(RAW):
        cases.append(Case(f"raw-{n}-{category}", reference, response, expected, category, source))
    return cases


CASES = _build()
