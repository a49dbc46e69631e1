"""Benchmark: ``language_consistency`` by script (the verifier) vs langdetect per sentence.

Both estimate the share of English words in a chain of thought, on the labelled
corpus of ``tests/language_corpus.py`` (pure English and Chinese, short and
long, with math; mixed inside sentences, between sentences and by paragraph).
The baseline splits the reasoning into sentences (``.!?``, their full-width
forms and line breaks), runs langdetect (seeded) on each and counts a
sentence's words for the language detected; words are counted the same way on
both sides, so only the attribution differs. Printed: each side's absolute
error against the labels per case, the mean error, and the time per chain of
thought with the ratio.

Run ``.venv/bin/python bench/language_consistency.py``; it writes
``bench/results/language_consistency.json``.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import langdetect  # noqa: E402
from language_corpus import CASES  # noqa: E402

from referee.verifiers import language  # noqa: E402

_SENTENCE = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s*|\n+")


def by_script(text: str) -> float:
    counts = language.count_scripts(text)
    total = sum(counts.values())
    return counts["latin"] / total if total else 0.0


def by_langdetect(text: str) -> float:
    english = total = 0
    for sentence in _SENTENCE.split(text):
        counts = language.count_scripts(sentence)
        words = sum(counts.values())
        if not words:
            continue
        langdetect.DetectorFactory.seed = 0
        try:
            detected = langdetect.detect(sentence)
        except langdetect.LangDetectException:
            detected = None
        total += words
        english += words if detected == "en" else 0
    return english / total if total else 0.0


def _time(fn: Any, text: str, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn(text)
    return (time.perf_counter() - start) / repeat


def main() -> None:
    by_langdetect("warm up the profiles.")
    rows = []
    for case in CASES:
        text, truth = case.reasoning, case.share("en")
        script, detect = by_script(text), by_langdetect(text)
        rows.append(
            {
                "case": case.name,
                "chars": len(text),
                "truth": round(truth, 3),
                "script": round(script, 3),
                "langdetect": round(detect, 3),
                "script_us": _time(by_script, text, 200) * 1e6,
                "langdetect_us": _time(by_langdetect, text, 5) * 1e6,
            }
        )
    print(
        f"{'case':24} {'chars':>6} {'truth':>6} {'script':>7} {'langdet':>8} "
        f"{'script µs':>10} {'langdet µs':>11}"
    )
    for r in rows:
        print(
            f"{r['case']:24} {r['chars']:6d} {r['truth']:6.3f} {r['script']:7.3f} "
            f"{r['langdetect']:8.3f} {r['script_us']:10.0f} {r['langdetect_us']:11.0f}"
        )
    n = len(rows)
    summary = {
        "mean_abs_error_script": sum(abs(r["script"] - r["truth"]) for r in rows) / n,
        "mean_abs_error_langdetect": sum(abs(r["langdetect"] - r["truth"]) for r in rows) / n,
        "time_ratio_langdetect_over_script": sum(r["langdetect_us"] for r in rows)
        / sum(r["script_us"] for r in rows),
    }
    print(json.dumps(summary, indent=2))
    out = ROOT / "bench" / "results" / "language_consistency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
