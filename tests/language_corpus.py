"""Chains of thought for ``language_consistency``: pure and mixed, short and long.

Each case is a list of segments labelled with the language they are written in,
so that the expected share is known without the verifier's own counting: English
segments count their words of two letters or more outside math, Chinese segments
their Han characters. The mixed ones switch language the way R1-Zero-style
models do: inside a sentence ("Wait, 这里 ..."), between sentences, and for
whole paragraphs.
"""

# Chinese text is written with its own full-width punctuation, on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CASES", "Case"]


@dataclass(frozen=True)
class Case:
    name: str
    segments: tuple[tuple[str, str], ...]  # (language, text)

    @property
    def reasoning(self) -> str:
        return "".join(text for _, text in self.segments)

    def response(self, answer: str = "The answer is $\\boxed{5}$.") -> str:
        return f"<think>\n{self.reasoning}\n</think>\n\n{answer}"

    def share(self, language: str) -> float:
        """Expected share of ``language`` words, from the labels."""
        counts = {"en": 0, "zh": 0}
        for lang, text in self.segments:
            plain = re.sub(r"\$[^$]*\$|\\[A-Za-z]+", " ", text)
            if lang == "en":
                counts["en"] += len(re.findall(r"[A-Za-z]{2,}", plain))
            else:
                counts["zh"] += len(re.findall(r"[\u4e00-\u9fff]", plain))
        total = counts["en"] + counts["zh"]
        return counts[language] / total if total else 0.0


_EN_QUADRATIC = (
    "We need the roots of $x^2 - 5x + 6 = 0$. Let me factor it: I need two numbers "
    "that multiply to 6 and add to 5. Those are 2 and 3, so $(x-2)(x-3) = 0$. "
    "Let me double-check by expanding: $x^2 - 3x - 2x + 6 = x^2 - 5x + 6$. Good. "
    "So the roots are $x = 2$ and $x = 3$, and their sum is 5."
)
_ZH_QUADRATIC = (
    "我们需要求方程 $x^2 - 5x + 6 = 0$ 的根。先尝试因式分解：需要两个数，乘积为 6，和为 5。"
    "这两个数是 2 和 3，所以 $(x-2)(x-3) = 0$。展开验证一下：$x^2 - 3x - 2x + 6$，正确。"
    "所以两根分别是 2 和 3，它们的和是 5。"
)
_EN_LONG = " ".join(
    [
        "Okay, so I need to find how many positive integers n less than 100 make n^2 + n "
        "divisible by 6. First, note that n^2 + n = n(n+1), a product of two consecutive "
        "integers, so it is always even. So the condition reduces to divisibility by 3.",
        "A product n(n+1) is divisible by 3 exactly when n is 0 or 2 modulo 3. Let me count: "
        "from 1 to 99 there are 33 multiples of 3, and the numbers that are 2 modulo 3 are "
        "2, 5, ..., 98, which is another 33 numbers.",
        "Wait, let me re-check the residue 2 case: if n = 2 then n + 1 = 3, divisible by 3. "
        "Yes. And n = 1 gives 1 * 2 = 2, not divisible. So the total is 33 + 33 = 66.",
        "Hmm, but I should double-check whether n = 99 is included: 99 < 100, and 99 is a "
        "multiple of 3, so yes. The count is 66.",
    ]
    * 6
)
_ZH_LONG = "".join(
    [
        "好的，我需要找出小于 100 的正整数 n 中，有多少个使得 $n^2 + n$ 能被 6 整除。"
        "首先注意 $n^2 + n = n(n+1)$ 是两个连续整数的乘积，所以一定是偶数。"
        "因此条件化为能被 3 整除。",
        "乘积 $n(n+1)$ 能被 3 整除，当且仅当 n 模 3 余 0 或余 2。"
        "数一数：1 到 99 之间有 33 个 3 的倍数，"
        "模 3 余 2 的数是 2, 5, ..., 98，也是 33 个。",
        "等一下，再检查余 2 的情况：如果 n = 2，那么 n + 1 = 3，能被 3 整除。对。"
        "n = 1 时乘积是 2，不能整除。所以总数是 33 + 33 = 66。",
    ]
    * 6
)

CASES: tuple[Case, ...] = (
    Case("en_short", (("en", "2 + 3 = 5, so the answer is 5."),)),
    Case("en_math", (("en", _EN_QUADRATIC),)),
    Case("en_long", (("en", _EN_LONG),)),
    Case("zh_short", (("zh", "2 加 3 等于 5，所以答案是 5。"),)),
    Case("zh_math", (("zh", _ZH_QUADRATIC),)),
    Case("zh_long", (("zh", _ZH_LONG),)),
    Case(
        "mixed_in_sentence",
        (
            ("en", "We need the roots of $x^2 - 5x + 6 = 0$. Let me factor it. Wait, "),
            ("zh", "这里我需要检查一下判别式"),
            ("en", ": $25 - 24 = 1$, which is positive, so there are two real roots. "),
            ("en", "They are 2 and 3, and "),
            ("zh", "它们的和是"),
            ("en", " 5."),
        ),
    ),
    Case(
        "mixed_sentences",
        (
            ("en", _EN_QUADRATIC + " "),
            ("zh", "等一下，再检查一遍：2 乘 3 等于 6，2 加 3 等于 5，没错。"),
            ("en", " So the final answer is 5."),
        ),
    ),
    Case(
        "mixed_paragraphs_long",
        (
            ("en", _EN_LONG + "\n\n"),
            ("zh", _ZH_LONG + "\n\n"),
            ("en", "So, putting it together, the count is 66."),
        ),
    ),
    Case(
        "zh_with_english_terms",
        (
            ("zh", "我们用 "),
            ("en", "Vieta's formulas"),
            ("zh", "：两根之和等于 5，两根之积等于 6。所以答案是 5。再用 "),
            ("en", "discriminant"),
            ("zh", " 检查：$25 - 24 = 1 > 0$，有两个实根。"),
        ),
    ),
    Case(
        "mostly_zh_drift",
        (
            ("en", "Let me think about this. "),
            ("zh", _ZH_QUADRATIC),
        ),
    ),
)
