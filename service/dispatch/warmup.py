"""Warm-up judgements run once in the forkserver, before any worker is forked.

The first judgements in a fresh interpreter are slow (about 100 ms each for
math: lazy imports in sympy and latex2sympy, the ANTLR parser's caches, regex
compilation) and then fall to about 1 ms. Running a few representative ones in
the forkserver means every worker, including each replacement after a kill or
a recycle, starts with warm caches through copy-on-write memory.
"""

from __future__ import annotations

import logging

from referee import verifiers

__all__ = ["warm_up"]

log = logging.getLogger("referee.warmup")

_MATH_CASES = (
    ("so the answer is \\boxed{\\frac{3}{4}}", "0.75"),
    ("\\boxed{2\\sqrt{3}}", "\\sqrt{12}"),
    ("\\boxed{-\\dfrac65}", "-1.2"),
    ("\\boxed{(1, 2)}", "(1,2)"),
    ("\\boxed{[1, 3)}", "[1,3)"),
    ("\\boxed{\\{1, 2\\}}", "\\{1,2\\}"),
    ("\\boxed{x^2 + 1}", "1 + x^2"),
    ("\\boxed{x = 5}", "5"),
    ("\\boxed{\\frac{\\pi}{2}}", "90^\\circ"),
    ("\\boxed{10\\%}", "0.1"),
    (
        "\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}",
        "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
    ),
    ("\\boxed{\\text{Paris}}", "Paris"),
    ("<answer>12</answer>", "13"),
    ("The answer is (t-6)(t+6).", "t^2-36"),
    ("We get $y = 3x + 1$, so 7 apples.", "7"),
)


def warm_up() -> None:
    """Judge a handful of representative items with every built-in verifier."""
    verifiers.load_builtin()
    math = verifiers.get("math")
    params = math.parse_params(None)
    for response, reference in _MATH_CASES:
        try:
            math.verify(response, reference, params)
        except verifiers.VerifierError:  # pragma: no cover - warm-up must never stop a start
            log.debug("warm-up case failed", exc_info=True)
    for name in (
        "think_format",
        "tag_count",
        "soft_overlong",
        "repetition",
        "exact_match",
        "multiple_choice",
    ):
        verifier = verifiers.get(name)
        verifier.verify(
            "<think>a b c a b c</think>\n<answer>B</answer>", "B", verifier.parse_params(None)
        )
