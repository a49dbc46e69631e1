"""Benchmark: judging quality of math-verify alone against Referee's ``math`` verifier.

Two labelled corpora, each case with its source, split and class:

- ``tests/judging_corpus.py``: written here (``own``) or adapted from public bug
  reports; split ``dev`` (rules were written while looking at it);
- ``tests/judging_public.json``: the test tables of math-verify itself (Apache-2.0),
  split by source file: ``dev`` for the files rules were written from, ``heldout``
  for the others, which no rule was written from;
- symbolic LaTeX pairs built at run time from the installed sympy's own parser tests
  (BSD): each LaTeX string against ``sympy.latex`` of the expression it must parse
  to (right answers), and against the next different expression (wrong answers);
  ``test_latex.py`` is ``dev``, the strings only ``test_latex_lark.py`` has are
  ``heldout``.

Every case is judged by

(a) math-verify alone: for the public cases as math-verify's own tests call it (the
    extraction configs, ``float_rounding`` and ``strict`` of the case); for our own
    cases as its README shows (``parse`` the gold in ``$…$``, ``parse`` the response);
(b) open-r1's ``accuracy_reward`` (the extraction configs of ``bench/score_math.py``);
(c) Referee's ``math`` verifier, ``mode: "math_verify"``;
(d) Referee's ``math`` verifier in its default ``mode: "cascade"``, with the case's
    ``float_rounding`` and ``strict`` when it sets them.

It prints, for dev and held-out separately, agreement with the labels per source
and per class for (a) and (d) side by side, flags every class where Referee is
worse, and lists the cases judged differently. A reference that does not parse
(``status: "error"``) counts as not accepted and is listed under ``errors``.

Run ``.venv/bin/python bench/judging.py``; it writes ``bench/results/judging.json``.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from judging_corpus import CASES  # noqa: E402
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify  # noqa: E402
from score_math import openr1_configs  # noqa: E402

from referee.verifiers import CannotJudge  # noqa: E402
from referee.verifiers.math import MATH, MathParams  # noqa: E402

PUBLIC = HERE.parent / "tests" / "judging_public.json"


@dataclass(frozen=True)
class Item:
    id: str
    source: str
    split: str
    klass: str
    reference: str
    response: str
    expected: bool
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def load() -> list[Item]:
    items = [
        Item(
            c.id,
            "own" if c.source == "own" else "public reports",
            "dev",
            c.category,
            c.reference,
            c.response,
            c.expected,
        )
        for c in CASES
    ]
    items += symbolic_items()
    for c in json.loads(PUBLIC.read_text())["cases"]:
        options = {
            k: c[k]
            for k in ("float_rounding", "strict", "match_types", "plain_parse", "disputed")
            if k in c
        }
        items.append(
            Item(
                c["id"],
                c["source"],
                c["split"],
                c["class"],
                c["reference"],
                c["response"],
                c["expected"],
                options,
            )
        )
    return items


def _pairs(module: Any) -> list[tuple[str, str, Any]]:
    """(list name, LaTeX, expression) of every ``*_PAIRS`` table of a sympy test module."""
    names = [n for n in dir(module) if n.endswith("_PAIRS")]
    return [(n, *p) for n in sorted(names) for p in getattr(module, n)]


def _differ(a: Any, b: Any) -> bool:
    """Two expressions whose values differ at a point (evaluated, numerically)."""
    import sympy

    try:
        point = {
            v: sympy.Rational(7 + 3 * i, 5)
            for i, v in enumerate(sorted(a.free_symbols | b.free_symbols, key=str))
        }
        va, vb = (sympy.N(e.subs(point).doit(), 20) for e in (a, b))
        return bool(va.is_number and vb.is_number and abs(complex(va) - complex(vb)) > 1e-6)
    except Exception:
        return False


def symbolic_items() -> list[Item]:
    """(sympy.latex(expected), LaTeX string) pairs from sympy's own parser tests."""
    import sympy
    import sympy.parsing.tests.test_latex as antlr_tests
    import sympy.parsing.tests.test_latex_lark as lark_tests

    dev = _pairs(antlr_tests)
    seen = {s for _, s, _ in dev}
    heldout = [(n, s, e) for n, s, e in _pairs(lark_tests) if s not in seen]
    items: list[Item] = []
    for split, source, pairs in (
        ("dev", "sympy test_latex.py", dev),
        ("heldout", "sympy test_latex_lark.py", heldout),
    ):
        # sympy prints log(x, b) as \log(x): the base is lost, so such pairs are left out.
        pairs = [
            (name, s, sympy.sympify(e))
            for name, s, e in pairs
            if isinstance(e, (sympy.Basic, int, float)) and "\\log_" not in s and "\\lg" not in s
        ]
        for n, (name, text, expr) in enumerate(pairs):
            klass = "latex " + name.removesuffix("_PAIRS").removesuffix("_EXPRESSION").lower()
            reference = sympy.latex(expr)
            items.append(
                Item(
                    f"{source}-{n}",
                    source,
                    split,
                    klass,
                    reference,
                    f"\\boxed{{{text}}}",
                    True,
                )
            )
            other = pairs[(n + len(pairs) // 2) % len(pairs)][2]
            if _differ(expr, other):
                items.append(
                    Item(
                        f"{source}-{n}-wrong",
                        source,
                        split,
                        "symbolic_latex_wrong",
                        sympy.latex(other),
                        f"\\boxed{{{text}}}",
                        False,
                    )
                )
    return items


Judge = Callable[[Item], bool | None]


def math_verify_alone(item: Item) -> bool | None:
    o = item.options
    if item.source.startswith("math-verify"):
        if o.get("plain_parse"):
            gold, pred = (
                parse(item.reference, parsing_timeout=None),
                parse(item.response, parsing_timeout=None),
            )
        else:
            configs: list[Any] = []
            for kind in o.get("match_types", ["latex", "expr"]):
                configs.append(
                    LatexExtractionConfig(boxed_match_priority=0)
                    if kind == "latex"
                    else ExprExtractionConfig()
                )
            gold = parse(item.reference, configs, parsing_timeout=None)
            pred = parse(item.response, configs, parsing_timeout=None)
        if not gold:
            return None
        return bool(
            verify(
                gold,
                pred,
                float_rounding=o.get("float_rounding", 6),
                strict=o.get("strict", True),
                timeout_seconds=None,
            )
        )
    gold = parse(f"${item.reference}$", parsing_timeout=None)
    if not gold:
        return None
    return bool(verify(gold, parse(item.response, parsing_timeout=None), timeout_seconds=None))


_OPENR1 = openr1_configs(with_expr=True)


def open_r1(item: Item) -> bool | None:
    gold = parse(f"${item.reference}$", extraction_mode="first_match", parsing_timeout=None)
    if not gold:
        return None
    answer = parse(
        item.response,
        extraction_config=_OPENR1,
        extraction_mode="first_match",
        parsing_timeout=None,
    )
    return bool(verify(gold, answer, timeout_seconds=None))


def referee(mode: str) -> Judge:
    def judge(item: Item) -> bool | None:
        o = item.options
        params = MathParams(
            mode=mode,
            float_rounding=o.get("float_rounding", 6),  # type: ignore[arg-type]
            strict=o.get("strict", True),
        )
        try:
            return MATH.verify(item.response, item.reference, params).reward == 1.0
        except CannotJudge:
            return None

    return judge


def measure(judge: Judge, items: list[Item]) -> dict[str, Any]:
    verdicts: dict[str, bool] = {}
    errors: list[str] = []
    start = time.perf_counter()
    for item in items:
        try:
            verdict = judge(item)
        except Exception:  # a crash of the judge is an error, not a verdict
            verdict = None
        if verdict is None:
            errors.append(item.id)
            verdict = False
        verdicts[item.id] = verdict
    elapsed = time.perf_counter() - start
    tp = sum(verdicts[i.id] and i.expected for i in items)
    fp = sum(verdicts[i.id] and not i.expected for i in items)
    fn = sum(not verdicts[i.id] and i.expected for i in items)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": len(items) - tp - fp - fn,
        "agree": tp + len(items) - tp - fp - fn,
        "ms_per_case": 1000 * elapsed / len(items),
        "errors": errors,
        "false_positives": [i.id for i in items if verdicts[i.id] and not i.expected],
        "false_negatives": [i.id for i in items if not verdicts[i.id] and i.expected],
        "verdicts": verdicts,
    }


def table(
    items: list[Item], key: Callable[[Item], str], base: dict[str, bool], best: dict[str, bool]
) -> tuple[list[tuple[str, int, int, int, str]], list[str]]:
    """Rows (group, cases, agreements of math-verify alone, of Referee, flag); the groups
    where Referee is worse on labels nobody disputes."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    rows, worse = [], []
    for name, group in sorted(groups.items()):
        a = sum(base[i.id] == i.expected for i in group)
        b = sum(best[i.id] == i.expected for i in group)
        clean = [i for i in group if "disputed" not in i.options]
        a_clean = sum(base[i.id] == i.expected for i in clean)
        b_clean = sum(best[i.id] == i.expected for i in clean)
        flag = ""
        if b_clean < a_clean:
            flag = "  WORSE"
            worse.append(name)
        elif b < a:
            flag = f"  (only on {len(group) - len(clean)} disputed label(s))"
        rows.append((name, len(group), a, b, flag))
    return rows, worse


def main() -> None:
    logging.disable(logging.CRITICAL)  # math-verify logs every failed parse
    items = load()
    judges: dict[str, Judge] = {
        "math-verify alone": math_verify_alone,
        "open-r1 accuracy_reward": open_r1,
        "Referee mode=math_verify": referee("math_verify"),
        "Referee mode=cascade (default)": referee("cascade"),
    }
    for judge in judges.values():  # warm-up: lazy imports, parser caches
        for item in items[:20]:
            judge(item)
    results = {name: measure(judge, items) for name, judge in judges.items()}
    base = results["math-verify alone"]["verdicts"]
    best = results["Referee mode=cascade (default)"]["verdicts"]
    report: dict[str, Any] = {}
    for split in ("dev", "heldout"):
        part = [i for i in items if i.split == split]
        positives = sum(i.expected for i in part)
        print(
            f"\n=== {split}: {len(part)} cases, {positives} right answers, "
            f"{len(part) - positives} wrong"
        )
        print(f"{'':32} {'agree':>6} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'err':>4}")
        for name, r in results.items():
            sub = measure(lambda i, v=r["verdicts"]: v[i.id], part)
            errs = len([e for e in r["errors"] if e in {i.id for i in part}])
            print(
                f"{name:32} {sub['agree'] / len(part):>6.1%} {sub['tp']:>4} {sub['fp']:>4} "
                f"{sub['fn']:>4} {sub['tn']:>4} {errs:>4}"
            )
        report[split] = {}
        for title, key in (("source", lambda i: i.source), ("class", lambda i: i.klass)):
            rows, worse = table(part, key, base, best)
            print(f"\n{'per ' + title:44} {'cases':>5}  {'math-verify':>11}  {'Referee':>7}")
            for name, n, a, b, flag in rows:
                print(f"{name[:44]:44} {n:>5}  {a:>5} {a / n:>5.0%}  {b:>3} {b / n:>4.0%}{flag}")
            report[split][title] = {"rows": rows, "worse": worse}
        changed = [i for i in part if base[i.id] != best[i.id]]
        for i in changed:
            who = "Referee" if best[i.id] == i.expected else "math-verify"
            note = f" [disputed label: {i.options['disputed']}]" if "disputed" in i.options else ""
            print(f"  differs ({who} right): {i.id}{note}")
    for name, r in results.items():
        print(
            f"{name}: {r['ms_per_case']:.1f} ms/case; false positives: "
            f"{', '.join(r['false_positives']) or '-'}"
        )
    out = HERE / "results" / "judging.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "cases": len(items),
                "machine": platform.platform(),
                "results": results,
                "tables": report,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
