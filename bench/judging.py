"""Benchmark: judging quality of math-verify alone against Referee's ``math`` verifier.

Every case of the labelled judging corpus (``tests/judging_corpus.py``: reference,
response, whether the answer is right, and the source of that label) is judged by

(a) math-verify alone, as its README shows it: ``parse`` the gold (in ``$…$``),
    ``parse`` the whole response, ``verify``;
(b) open-r1's ``accuracy_reward`` (the extraction configs of ``bench/score_math.py``);
(c) Referee's ``math`` verifier, ``mode: "math_verify"`` (math-verify behind Referee's
    extraction and its two original guards);
(d) Referee's ``math`` verifier in its default ``mode: "cascade"``.

For each it prints true/false positives and negatives, precision and recall side by
side, the ratio of missed correct answers against (a), and the ids of the false
positives. A reference that does not parse (``status: "error"`` in Referee; a
skipped sample in open-r1) counts as not accepted and is listed under ``errors``.

Run ``.venv/bin/python bench/judging.py``; it writes ``bench/results/judging.json``.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from judging_corpus import CASES, Case  # noqa: E402
from math_verify import parse, verify  # noqa: E402
from score_math import openr1_configs  # noqa: E402

from referee.verifiers import CannotJudge  # noqa: E402
from referee.verifiers.math import MATH, MathParams  # noqa: E402

Judge = Callable[[Case], bool | None]


def math_verify_alone(case: Case) -> bool | None:
    gold = parse(f"${case.reference}$", parsing_timeout=None)
    if not gold:
        return None
    return bool(verify(gold, parse(case.response, parsing_timeout=None), timeout_seconds=None))


_OPENR1 = openr1_configs(with_expr=True)


def open_r1(case: Case) -> bool | None:
    gold = parse(f"${case.reference}$", extraction_mode="first_match", parsing_timeout=None)
    if not gold:
        return None
    answer = parse(
        case.response,
        extraction_config=_OPENR1,
        extraction_mode="first_match",
        parsing_timeout=None,
    )
    return bool(verify(gold, answer, timeout_seconds=None))


def referee(mode: str) -> Judge:
    params = MathParams(mode=mode)  # type: ignore[arg-type]

    def judge(case: Case) -> bool | None:
        try:
            return MATH.verify(case.response, case.reference, params).reward == 1.0
        except CannotJudge:
            return None

    return judge


def measure(judge: Judge) -> dict[str, object]:
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    errors: list[str] = []
    verdicts: dict[str, bool] = {}
    false_positives: list[str] = []
    false_negatives: list[str] = []
    start = time.perf_counter()
    for case in CASES:
        try:
            verdict = judge(case)
        except Exception:  # a crash of the judge is an error, not a verdict
            verdict = None
        if verdict is None:
            errors.append(case.id)
            verdict = False
        verdicts[case.id] = verdict
        if verdict and case.expected:
            counts["tp"] += 1
        elif verdict:
            counts["fp"] += 1
            false_positives.append(case.id)
        elif case.expected:
            counts["fn"] += 1
            false_negatives.append(case.id)
        else:
            counts["tn"] += 1
    elapsed = time.perf_counter() - start
    accepted = counts["tp"] + counts["fp"]
    return {
        **counts,
        "precision": counts["tp"] / accepted if accepted else 1.0,
        "recall": counts["tp"] / (counts["tp"] + counts["fn"]),
        "ms_per_case": 1000 * elapsed / len(CASES),
        "errors": errors,
        "false_positives": false_positives,
        "false_negatives": false_negatives,
        "verdicts": verdicts,
    }


def _precision_recall(cases: list[Case], verdicts: dict[str, bool]) -> tuple[float, float]:
    tp = sum(verdicts[c.id] and c.expected for c in cases)
    accepted = sum(verdicts[c.id] for c in cases)
    positives = sum(c.expected for c in cases)
    return (tp / accepted if accepted else 1.0), (tp / positives if positives else 1.0)


def by_category(results: dict[str, dict[str, object]], names: list[str]) -> dict[str, object]:
    """Precision and recall of each judge in ``names`` per answer category of the corpus."""
    categories: dict[str, list[Case]] = {}
    for case in CASES:
        categories.setdefault(case.category, []).append(case)
    table: dict[str, object] = {}
    for category, cases in categories.items():
        row: dict[str, object] = {"cases": len(cases)}
        for name in names:
            verdicts = results[name]["verdicts"]
            row[name] = _precision_recall(cases, verdicts)  # type: ignore[arg-type]
        table[category] = row
    return table


def main() -> None:
    logging.disable(logging.CRITICAL)  # math-verify logs every failed parse
    judges: dict[str, Judge] = {
        "math-verify alone": math_verify_alone,
        "open-r1 accuracy_reward": open_r1,
        "Referee mode=math_verify": referee("math_verify"),
        "Referee mode=cascade (default)": referee("cascade"),
    }
    for judge in judges.values():  # warm-up: lazy imports, parser caches
        for case in CASES[:20]:
            judge(case)
    results = {name: measure(judge) for name, judge in judges.items()}
    positives = sum(c.expected for c in CASES)
    print(
        f"judging corpus: {len(CASES)} cases, {positives} correct answers, "
        f"{len(CASES) - positives} wrong\n"
    )
    header = f"{'':32} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'err':>4} {'precision':>9} "
    print(header + f"{'recall':>7} {'ms/case':>8}")
    for name, r in results.items():
        print(
            f"{name:32} {r['tp']:>4} {r['fp']:>4} {r['fn']:>4} {r['tn']:>4} "
            f"{len(r['errors']):>4} {r['precision']:>9.3f} {r['recall']:>7.3f} "  # type: ignore[arg-type]
            f"{r['ms_per_case']:>8.1f}"
        )
    base, best = results["math-verify alone"], results["Referee mode=cascade (default)"]
    missed = best["fn"] or 1
    print(
        f"\nmissed correct answers: math-verify alone {base['fn']}, cascade {best['fn']} "
        f"({base['fn'] / missed:.1f}x fewer)"
    )  # type: ignore[operator]
    names = ["math-verify alone", "Referee mode=cascade (default)"]
    categories = by_category(results, names)
    print(f"\n{'per category':18} {'cases':>5}   math-verify P / R   Referee P / R")
    for category, row in categories.items():
        (p0, r0), (p1, r1) = row[names[0]], row[names[1]]  # type: ignore[index]
        print(
            f"{category:18} {row['cases']:>5}   {p0:>9.3f} / {r0:.3f}"  # type: ignore[index]
            f"   {p1:>7.3f} / {r1:.3f}"
        )
    for name, r in results.items():
        if r["false_positives"]:
            print(f"false positives of {name}: {', '.join(r['false_positives'])}")  # type: ignore[arg-type]
        print(f"false negatives of {name}: {', '.join(r['false_negatives']) or '-'}")  # type: ignore[arg-type]
    out = HERE / "results" / "judging.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "cases": len(CASES),
                "positives": positives,
                "machine": platform.platform(),
                "results": results,
                "by_category": categories,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
