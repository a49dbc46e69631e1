"""Synthetic GRPO batches shaped like real math rollouts, for the benchmarks.

Per prompt a reference of a realistic kind (integers, fractions, decimals,
radicals, multiples of pi, negative numbers, expressions, intervals, tuples) and
a group of R1/Qwen-style responses: a ``<think>`` block of plausible math prose,
then a final answer, mostly boxed; most correct (some in an equivalent form),
some wrong (a few wrong answers shared by the group), some truncated or in words,
a few not boxed. Each item carries the reward its generator meant it to get.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import gcd, pi
from random import Random

# -- reference answers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A prompt's gold answer, other ways of writing it, and the group's likely mistakes."""

    kind: str
    reference: str
    equivalents: tuple[str, ...]
    wrong: tuple[str, ...]
    words: str | None = None


_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
]
_ONES += ["fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_FRACTION_WORDS = {
    Fraction(1, 2): "one half",
    Fraction(1, 3): "one third",
    Fraction(2, 3): "two thirds",
    Fraction(1, 4): "one quarter",
    Fraction(3, 4): "three quarters",
    Fraction(1, 5): "one fifth",
}


def _words(n: int) -> str | None:
    if not 0 <= n < 100:
        return None
    if n < 20:
        return _ONES[n]
    return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])


def _frac(v: Fraction, cmd: str = "\\frac") -> str:
    """``v`` in LaTeX: an integer, or ``\\frac{p}{q}`` with the sign in front."""
    if v.denominator == 1:
        return str(v.numerator)
    sign = "-" if v < 0 else ""
    return f"{sign}{cmd}{{{abs(v.numerator)}}}{{{v.denominator}}}"


def _decimal(v: Fraction) -> str | None:
    """``v`` as a finite decimal when it has one (denominator 2^a 5^b)."""
    d = v.denominator
    for f in (2, 5):
        while d % f == 0:
            d //= f
    if d != 1:
        return None
    return format(Decimal(v.numerator) / Decimal(v.denominator), "f")


def _distinct(value: Fraction, candidates: Sequence[Fraction]) -> list[Fraction]:
    out: list[Fraction] = []
    for c in candidates:
        if c != value and c not in out:
            out.append(c)
    return out


def _integer(rng: Random) -> Answer:
    n = rng.choice([rng.randint(2, 60), rng.randint(2, 60), rng.randint(60, 999)])
    if rng.random() < 0.15:
        n = rng.randint(1000, 99999)
    eq = [str(n)]
    unit = rng.choices(["", "^\\circ", "\\text{ cm}", "\\text{ dollars}"], [80, 8, 7, 5])[0]
    if unit:
        eq.append(f"{n}{unit}")
    if n >= 1000 and rng.random() < 0.3:
        eq.append(f"{n // 1000}{{,}}{n % 1000:03d}")
    wrong = [n + 1, n - 1, 2 * n, n + 10, n // 2, 10 * n]
    wrong = [w for w in dict.fromkeys(wrong) if w > 0 and w != n]
    return Answer("integer", str(n), tuple(eq), tuple(map(str, wrong)), _words(n))


def _fraction_forms(v: Fraction) -> list[str]:
    p, q = abs(v.numerator), v.denominator
    sign = "-" if v < 0 else ""
    forms = [
        _frac(v, "\\dfrac"),
        f"{sign}{p}/{q}",
        _frac(v, "\\tfrac"),
        f"{sign}\\frac{{{2 * p}}}{{{2 * q}}}",
    ]
    if p < 10 and q < 10:
        forms.append(f"{sign}\\dfrac{p}{q}")
    if sign:
        forms.append(f"\\frac{{-{p}}}{{{q}}}")
    dec = _decimal(v)
    if dec is not None:
        forms += [dec, dec]
    return forms


def _fraction(rng: Random) -> Answer:
    while True:
        v = Fraction(rng.randint(1, 40), rng.randint(2, 16))
        if v.denominator > 1:
            break
    p, q = v.numerator, v.denominator
    wrong = _distinct(v, [Fraction(q, p), Fraction(p + 1, q), Fraction(p, q + 1), 2 * v])
    return Answer(
        "fraction",
        _frac(v),
        tuple(_fraction_forms(v)),
        tuple(_frac(w) for w in wrong),
        _FRACTION_WORDS.get(v),
    )


def _decimal_answer(rng: Random) -> Answer:
    while True:
        v = Fraction(rng.randint(1, 999), rng.choice([2, 4, 5, 8, 10, 20, 25, 100]))
        if v.denominator > 1:
            break
    ref = _decimal(v) or _frac(v)
    eq = [_frac(v), f"{v.numerator}/{v.denominator}", ref + "0"]
    wrong = _distinct(v, [10 * v, v + Fraction(1, 10), v - Fraction(1, 2), 1 / v])
    return Answer("decimal", ref, tuple(eq), tuple(_decimal(w) or _frac(w) for w in wrong))


def _negative(rng: Random) -> Answer:
    if rng.random() < 0.5:
        n = rng.randint(1, 120)
        return Answer("negative", str(-n), (str(-n),), (str(n), str(-n - 1), str(-2 * n)))
    while True:
        v = -Fraction(rng.randint(1, 20), rng.randint(2, 12))
        if v.denominator > 1:
            break
    wrongs = _distinct(v, [-v, v - 1, 1 / v])
    return Answer("negative", _frac(v), tuple(_fraction_forms(v)), tuple(map(_frac, wrongs)))


def _sqrt(rng: Random) -> Answer:
    b = rng.choice([2, 3, 5, 6, 7, 10, 11, 13, 15, 17])
    a, d = rng.randint(1, 6), rng.choice([1, 1, 1, 2, 3])
    g = gcd(a, d)
    a, d = a // g, d // g
    coef = "" if a == 1 else str(a)
    num = f"{coef}\\sqrt{{{b}}}"
    ref = num if d == 1 else f"\\frac{{{num}}}{{{d}}}"
    eq = [ref]
    if d == 1:
        if a > 1:
            eq += [f"\\sqrt{{{a * a * b}}}", f"{a} \\cdot \\sqrt{{{b}}}"]
        if b < 10:
            eq.append(f"{coef}\\sqrt{b}")
    else:
        eq += [f"\\frac{{{a}}}{{{d}}}\\sqrt{{{b}}}", f"{num}/{d}"]
        if a == 1 and d == b:
            eq.append(f"\\frac{{1}}{{\\sqrt{{{b}}}}}")
    wrong = [str(a * a * b), f"{a + 1}\\sqrt{{{b}}}", num if d > 1 else f"\\sqrt{{{a * b}}}"]
    wrong = [w for w in wrong if w not in (ref, "\\sqrt{" + str(b) + "}")]
    return Answer("sqrt", ref, tuple(eq), tuple(wrong))


def _pi_latex(v: Fraction) -> str:
    k, m = v.numerator, v.denominator
    top = "\\pi" if k == 1 else f"{k}\\pi"
    return top if m == 1 else f"\\frac{{{top}}}{{{m}}}"


def _pi(rng: Random) -> Answer:
    v = Fraction(rng.randint(1, 8), rng.choice([1, 2, 3, 4, 6]))
    k, m = v.numerator, v.denominator
    eq = [_pi_latex(v), f"{k} \\pi" if m == 1 else f"\\frac{{{k}}}{{{m}}}\\pi"]
    if m > 1:
        eq += [f"{k}\\pi/{m}", f"\\dfrac{{{k}\\pi}}{{{m}}}"]
    wrong = [_pi_latex(w) for w in _distinct(v, [v + 1, v / 2, 2 * v])]
    wrong.append(f"{float(v) * pi:.2f}")
    return Answer("pi", _pi_latex(v), tuple(eq), tuple(wrong))


def _algebraic(rng: Random) -> Answer:
    x = rng.choice("xxxnt")
    a, b, c = rng.randint(2, 9), rng.randint(1, 9), rng.randint(1, 6)
    shape = rng.randrange(4)
    if shape == 0:
        ref, eq = f"{a}{x} + {b}", [f"{b} + {a}{x}", f"{a}{x}+{b}"]
        wrong = [f"{a}{x} - {b}", f"{b}{x} + {a}"]
    elif shape == 1:
        ref = f"{x}^2 + {2 * c}{x} + {c * c}"
        eq = [f"({x}+{c})^2", f"({x} + {c})^{{2}}", f"{x}^{{2}}+{2 * c}{x}+{c * c}"]
        wrong = [f"{x}^2 + {c}{x} + {c * c}", f"{x}^2 + {c * c}"]
    elif shape == 2:
        ref, eq = f"({x}-{c})({x}+{c})", [f"{x}^2 - {c * c}", f"({x}+{c})({x}-{c})"]
        wrong = [f"({x}-{c})^2", f"{x}^2 + {c * c}"]
    else:
        ref = f"\\frac{{{x}+{b}}}{{{a}}}"
        eq = [f"\\frac{{{x}}}{{{a}}} + \\frac{{{b}}}{{{a}}}", f"({x}+{b})/{a}"]
        wrong = [f"\\frac{{{x}-{b}}}{{{a}}}", f"{a}{x}+{b}"]
    return Answer("algebraic", ref, (ref, *eq), tuple(wrong))


def _interval(rng: Random) -> Answer:
    a = rng.randint(-9, 5)
    b = a + rng.randint(1, 9)
    shape = rng.randrange(4)
    if shape == 0:
        lo, hi = rng.choice("[("), rng.choice("])")
        ref = f"{lo}{a}, {b}{hi}"
        eq = [f"{lo}{a},{b}{hi}", f"\\left{lo}{a}, {b}\\right{hi}"]
        flip = {"[": "(", "(": "["}[lo]
        wrong = [f"{flip}{a}, {b}{hi}", f"{lo}{a - 1}, {b}{hi}"]
    elif shape == 1:
        ref, eq = f"[{a}, \\infty)", [f"[{a},\\infty)", f"\\left[{a}, \\infty\\right)"]
        wrong = [f"({a}, \\infty)", f"(-\\infty, {a}]"]
    elif shape == 2:
        ref, eq = f"(-\\infty, {b})", [f"(-\\infty,{b})", f"\\left(-\\infty, {b}\\right)"]
        wrong = [f"(-\\infty, {b}]", f"({b}, \\infty)"]
    else:
        ref = f"(-\\infty, {a}) \\cup ({b}, \\infty)"
        eq = [f"(-\\infty,{a})\\cup({b},\\infty)"]
        wrong = [f"({a}, {b})", f"(-\\infty, {a}] \\cup [{b}, \\infty)"]
    return Answer("interval", ref, (ref, *eq), tuple(wrong))


def _tuple(rng: Random) -> Answer:
    vals = [rng.randint(-6, 9) for _ in range(rng.choice([2, 2, 3]))]
    while len(set(vals)) < len(vals):
        vals = [v + i for i, v in enumerate(vals)]
    join = ", ".join(map(str, vals))
    ref = f"({join})"
    eq = [f"({','.join(map(str, vals))})", f"\\left({join}\\right)"]
    swapped = vals[::-1]
    negated = [vals[0], -vals[1], *vals[2:]] if vals[1] else [vals[0], 1, *vals[2:]]
    wrong = [f"({', '.join(map(str, w))})" for w in (swapped, negated)]
    return Answer("tuple", ref, (ref, *eq), tuple(w for w in wrong if w != ref))


_KINDS: list[tuple[Callable[[Random], Answer], int]] = [
    (_integer, 40),
    (_fraction, 14),
    (_decimal_answer, 6),
    (_negative, 8),
    (_sqrt, 9),
    (_pi, 7),
    (_algebraic, 7),
    (_interval, 5),
    (_tuple, 4),
]


def make_answer(rng: Random) -> Answer:
    makers, weights = zip(*_KINDS, strict=True)
    maker: Callable[[Random], Answer] = rng.choices(makers, weights)[0]
    return maker(rng)


# -- responses -------------------------------------------------------------------------------


def _sentence(rng: Random) -> str:
    """One sentence of plausible reasoning, with intermediate numbers and LaTeX."""
    a, b, c = rng.randint(2, 12), rng.randint(1, 20), rng.randint(1, 9)
    n, p, q = rng.randint(3, 40), rng.randint(1, 9), rng.randint(2, 12)
    x = rng.randint(1, 15)
    templates = [
        f"If I let $x$ be the unknown, then ${a}x + {b} = {a * x + b}$, so $x = {x}$.",
        f"That means the total is ${a} \\times {b} = {a * b}$.",
        f"Let me compute $\\frac{{{p}}}{{{q}}} + \\frac{{{c}}}{{{a}}} = "
        f"\\frac{{{p * a + c * q}}}{{{q * a}}}$.",
        f"Wait, is that right? Let me double-check: ${a}^2 = {a * a}$, yes.",
        f"By the Pythagorean theorem, $c^2 = {a}^2 + {b}^2 = {a * a + b * b}$, "
        f"so $c = \\sqrt{{{a * a + b * b}}}$.",
        f"Hmm, maybe I should consider the case $n = {n}$ separately.",
        f"So the sum is $\\sum_{{k=1}}^{{{n}}} k = \\frac{{{n}({n}+1)}}{{2}} = "
        f"{n * (n + 1) // 2}$.",
        f"\n\\[\n{a}x^2 - {b}x + {c} = 0\n\\]\nThe discriminant is "
        f"${b}^2 - 4 \\cdot {a} \\cdot {c} = {b * b - 4 * a * c}$.",
        "Alternatively, I could set up the equation differently.",
        "But wait, the problem says the numbers are positive, so I can discard that root.",
        f"Let me check with a small example: when $n = {c}$, we get ${c * c + 1}$.",
        f"So far I have ${a} + {b} = {a + b}$ and ${a} - {b} = {a - b}$.",
        f"The probability is then $\\frac{{{p}}}{{{q * p}}}$ before simplifying.",
        "Okay, that seems consistent with what I found before.",
        f"Since $\\gcd({a}, {b}) = {gcd(a, b)}$, the fraction is already reduced.",
        f"The area of the triangle is $\\frac{{1}}{{2}} \\cdot {a} \\cdot {2 * b} = {a * b}$.",
        f"Hmm, then $f({c}) = {c}^2 + {b} = {c * c + b}$.",
    ]
    return rng.choice(templates)


_OPENERS = [
    "Okay, so I need to figure out this problem.",
    "Alright, let's see.",
    "Let me try to work through this problem step by step.",
    "Hmm, so the problem is asking for a specific value.",
    "First, let me understand what the question is asking.",
]


def _prose(rng: Random, chars: int) -> str:
    """Paragraphs of reasoning, about ``chars`` characters long."""
    paragraphs = [rng.choice(_OPENERS)]
    size = len(paragraphs[0])
    while size < chars:
        para = " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
        paragraphs.append(para)
        size += len(para) + 2
    return "\n\n".join(paragraphs)


_BOXED_ENDINGS = [
    "Therefore, the final answer is $\\boxed{{{x}}}$.",
    "**Final Answer**\n\\[\n\\boxed{{{x}}}\n\\]",
    "The answer is \\(\\boxed{{{x}}}\\).",
    "Thus, the answer is $\\boxed{{{x}}}$.",
    "\\[\n\\boxed{{{x}}}\n\\]",
]
_PLAIN_ENDINGS = ["The answer is {x}.", "So the answer is ${x}$.", "**Answer:** {x}"]


def _think_length(rng: Random) -> int:
    return int(min(6000, max(300, rng.lognormvariate(7.3, 0.7))))


def write_response(rng: Random, final: str | None, mode: str, answer: Answer) -> str:
    """A completion in R1 (``<think>``) or Qwen (no think block) style.

    ``mode``: ``boxed`` (``final`` in ``\\boxed{}``), ``plain`` (not boxed),
    ``words`` (the answer spelled out), ``truncated`` (cut inside the think block).
    """
    think = _prose(rng, _think_length(rng))
    if final is not None and rng.random() < 0.5:
        think += f"\n\nSo the answer should be ${final}$. Let me verify that once more."
    if rng.random() < 0.04 and answer.wrong:
        think = think.replace(
            "\n\n", f"\n\nSo maybe it is \\boxed{{{rng.choice(answer.wrong)}}}? Wait, no.\n\n", 1
        )
    if mode == "truncated":
        if rng.random() < 0.5:
            think += f"\n\nSo that gives ${answer.reference}$, but let me recheck the case"
        cut = rng.randint(int(len(think) * 0.6), len(think))
        return "<think>\n" + think[:cut]
    summary = " ".join(_sentence(rng) for _ in range(rng.randint(1, 3)))
    if mode == "words":
        ending = f"The answer is {answer.words}."
    elif mode == "plain":
        ending = rng.choice(_PLAIN_ENDINGS).format(x=final)
    else:
        ending = rng.choice(_BOXED_ENDINGS).format(x=final)
    if rng.random() < 0.2:  # Qwen-Math style: no think block, steps then the answer
        steps = "\n\n".join(
            f"Step {i}: {_sentence(rng)} {_sentence(rng)}" for i in range(1, rng.randint(3, 6))
        )
        return f"To solve this problem, we proceed step by step.\n\n{steps}\n\n{ending}"
    return (
        f"<think>\n{think}\n</think>\n\nTo solve the problem, we reason as follows. {summary}"
        f"\n\n{ending}"
    )


# -- the batch -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One rollout of the batch, with what the generator meant it to be."""

    id: str
    response: str
    reference: str
    kind: str
    label: str  # correct | correct_alt | wrong | unboxed | truncated | words
    intended: float  # the reward a careful human grader would give


def _group(rng: Random, prompt: str, samples: int) -> list[Item]:
    answer = make_answer(rng)
    p_correct = rng.betavariate(0.9, 0.6)
    n_wrong = min(len(answer.wrong), rng.choice([1, 1, 2, 2, 3]))
    wrongs = rng.sample(answer.wrong, n_wrong) if n_wrong else []
    items = []
    for s in range(samples):
        r = rng.random()
        if r < 0.06:
            label, final = "truncated", None
        elif r < 0.08:
            label, final = ("words", None) if answer.words else ("truncated", None)
        elif r < 0.12:
            label, final = "unboxed", rng.choice(answer.equivalents[:2])
        elif rng.random() < p_correct or not wrongs:
            alts = [e for e in answer.equivalents if e != answer.reference]
            alt = bool(alts) and rng.random() < 0.4
            label = "correct_alt" if alt else "correct"
            final = rng.choice(alts) if alt else answer.reference
        else:
            label, final = "wrong", rng.choices(wrongs, [6, 3, 1][: len(wrongs)])[0]
        mode = {"truncated": "truncated", "words": "words", "unboxed": "plain"}.get(label, "boxed")
        intended = 1.0 if label in ("correct", "correct_alt", "unboxed") else 0.0
        response = write_response(rng, final, mode, answer)
        items.append(
            Item(f"{prompt}-s{s}", response, answer.reference, answer.kind, label, intended)
        )
    return items


def build_batch(seed: int, prompts: int, samples: int) -> list[Item]:
    rng = Random(seed)
    return [item for p in range(prompts) for item in _group(rng, f"{seed}/p{p}", samples)]


def unseen_items(seed: int, n: int, avoid: set[str]) -> list[Item]:
    """``n`` items of another seed, each with a reference not in ``avoid`` nor shared.

    Sharing no reference with anything sent before, they share no cache key either.
    """
    rng = Random(seed)
    avoid = set(avoid)
    out: list[Item] = []
    prompt = 0
    while len(out) < n:
        group = _group(rng, f"{seed}/u{prompt}", 4)
        prompt += 1
        if group[0].reference not in avoid:
            avoid.add(group[0].reference)
            out.append(rng.choice(group))
    return out
