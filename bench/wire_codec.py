"""The task/result wire codec against pickle: encode + decode microseconds per object.

Tasks and results cross Redis and the pipe to local worker processes as versioned,
checked JSON (``referee.service.dispatch._codec``) instead of pickle, which runs
code on load. This measures what that costs: the round trip (encode then decode)
of GRPO-shaped tasks and results of a few verifiers, codec and pickle interleaved
in rounds, and prints the ratio codec / pickle per shape (target: within a small
factor). Writes its figures to ``bench/results/wire_codec.json``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from referee import verifiers
from referee.service.dispatch._codec import (
    decode_result,
    decode_task,
    encode_result,
    encode_task,
)
from referee.service.dispatch._task import Task, TaskResult
from referee.verifiers import Context, Outcome, Score


def shapes() -> dict[str, tuple[Any, Callable[[Any], Any]]]:
    get = verifiers.get
    response = "Let me think. " * 40 + "so the answer is \\boxed{\\frac{3}{4}}"
    math_task = Task("math", get("math").parse_params({}), response[-200:], "3/4", Context())
    code_ref = {
        "language": "python",
        "tests": [{"input": f"{i} {i + 1}\n", "output": f"{2 * i + 1}\n"} for i in range(20)],
    }
    code_task = Task(
        "code",
        get("code").parse_params({}),
        "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n",
        code_ref,
        Context("Add two numbers.", 512),
        30.0,
    )
    regex_task = Task(
        "regex", get("regex").parse_params({"pattern": r"\d+"}), "42", None, Context()
    )
    math_result = TaskResult.ok(
        Score(1.0, Outcome.CORRECT, {"extracted": "\\frac{3}{4}", "source": "boxed"}), 0.004
    )
    code_result = TaskResult.ok(
        Score(
            0.0,
            Outcome.INCORRECT,
            {
                "language": "python",
                "passed": 3,
                "total": 20,
                "first_failure": {"input": "3 4\n", "expected": "7\n", "got": "8\n"},
            },
        ),
        0.12,
    )
    error_result = TaskResult.fail("deadline", "took longer than 10 s", retryable=False)
    return {
        "task math": (math_task, _task_round_trip),
        "task code": (code_task, _task_round_trip),
        "task regex": (regex_task, _task_round_trip),
        "result math": (math_result, _result_round_trip),
        "result code": (code_result, _result_round_trip),
        "result error": (error_result, _result_round_trip),
    }


def _task_round_trip(task: Task) -> Task:
    return decode_task(encode_task(task))


def _result_round_trip(result: TaskResult) -> TaskResult:
    return decode_result(encode_result(result))


def _pickle_round_trip(obj: Any) -> Any:
    return pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def per_call_us(fn: Callable[[Any], Any], obj: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn(obj)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=5000, help="round trips per round and shape")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 1000")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "wire_codec.json"
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.n = 3, 1000
    verifiers.load_builtin()
    figures: dict[str, dict[str, float]] = {}
    print(f"{'shape':<14} {'codec us':>9} {'pickle us':>10} {'ratio':>6} {'bytes':>12}")
    for name, (obj, codec) in shapes().items():
        assert codec(obj) == obj, f"{name}: the round trip changed the object"
        ours, theirs = [], []
        for _ in range(args.rounds):  # interleaved: both see the same machine load
            ours.append(per_call_us(codec, obj, args.n))
            theirs.append(per_call_us(_pickle_round_trip, obj, args.n))
        codec_us, pickle_us = statistics.median(ours), statistics.median(theirs)
        encoded = encode_task(obj) if isinstance(obj, Task) else encode_result(obj)
        pickled = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        figures[name] = {
            "codec_us": round(codec_us, 2),
            "pickle_us": round(pickle_us, 2),
            "ratio": round(codec_us / pickle_us, 2),
            "codec_bytes": len(encoded),
            "pickle_bytes": len(pickled),
        }
        print(
            f"{name:<14} {codec_us:>9.2f} {pickle_us:>10.2f} {codec_us / pickle_us:>6.2f}"
            f" {len(encoded):>5} / {len(pickled):<5}"
        )
    worst = max(f["ratio"] for f in figures.values())
    print(f"codec / pickle, worst shape: {worst:.2f}x (bytes: codec / pickle)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"shapes": figures, "worst_ratio": worst}, indent=2) + "\n")


if __name__ == "__main__":
    main()
