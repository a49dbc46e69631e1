"""Conformance: HumanEval's canonical solutions through the `code` verifier.

HumanEval (openai/human-eval, MIT licence) is not in this repository; give the
path of its ``HumanEval.jsonl`` or ``HumanEval.jsonl.gz``. Each problem is
judged the way RL datasets carry it: the response is the prompt plus the
canonical solution in a fenced block, the reference ``{test_code, entry_point}``.
The baseline is the dataset's own evaluation (prompt, solution, test and
``check(entry_point)`` in one bare ``python3 -I`` process, as human-eval runs
it, unsandboxed): every problem where the two disagree is listed. A second pass
judges each problem's prompt with an empty body (``pass``), which must fail.

Run ``.venv/bin/python bench/humaneval.py --data PATH``; it writes its figures to
``bench/results/humaneval.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from referee import sandbox
from referee.verifiers.code import CODE, CodeParams


def load(path: Path) -> list[dict[str, Any]]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def reference(problem: dict[str, Any]) -> dict[str, Any]:
    return {
        "language": "python",
        "test_code": problem["test"],
        "entry_point": problem["entry_point"],
    }


def bare(program: str, problem: dict[str, Any], timeout_s: float) -> bool:
    """human-eval's own check: everything in one process."""
    source = f"{program}\n{problem['test']}\ncheck({problem['entry_point']})\n"
    try:
        done = subprocess.run(
            ["/usr/bin/python3", "-I", "-c", source],
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="HumanEval.jsonl(.gz)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per problem")
    parser.add_argument("--output", type=Path, default=Path("bench/results/humaneval.json"))
    args = parser.parse_args()

    problems = load(args.data)
    sandbox.configure("bwrap")
    params = CodeParams()
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        for problem in problems:
            row: dict[str, Any] = {"task_id": problem["task_id"]}
            for name, body in (
                ("canonical", problem["canonical_solution"]),
                ("empty", "    pass\n"),
            ):
                program = problem["prompt"] + body
                ref = {**reference(problem), "time_limit_s": args.timeout}
                score = CODE.verify(f"```python\n{program}\n```", ref, params)
                row[name] = score.reward
                row[f"{name}_outcome"] = str(score.outcome)
                row[f"{name}_bare"] = 1.0 if bare(program, problem, args.timeout) else 0.0
            rows.append(row)
    finally:
        sandbox.current().close()
    elapsed = time.perf_counter() - started

    canonical = sum(r["canonical"] for r in rows)
    canonical_bare = sum(r["canonical_bare"] for r in rows)
    empty = sum(r["empty"] for r in rows)
    differ = [
        r for r in rows if (r["canonical"], r["empty"]) != (r["canonical_bare"], r["empty_bare"])
    ]
    print(f"problems: {len(rows)} ({elapsed:.0f} s)")
    print(f"canonical solutions passed: referee {canonical:.0f}, bare python {canonical_bare:.0f}")
    print(f"empty bodies passed (must be 0 for referee): {empty:.0f}")
    for r in differ:
        print(f"  differs: {r}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "problems": len(rows),
                "canonical_passed": canonical,
                "canonical_passed_bare": canonical_bare,
                "empty_passed": empty,
                "differ": differ,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
