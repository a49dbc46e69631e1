"""Benchmark: CPU per item of judging, per verifier, for the capacity model (docs/scaling.md).

One ``referee serve --workers 1`` with its in-process cache off; for each verifier,
``--items`` distinct items in requests of 256, one at a time. CPU seconds are read
from /proc (bench/harness.py) for the API process and for its judging processes
apart, so the figures say what a worker machine and an API replica each pay per item.
Plain-number math answers are judged in the API process (a fast path) and never
reach a worker; radicals go to the workers (sympy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness import NO_CACHE, Cpu, closed_loop, start_server, stop_server


def math_radical(i: int) -> dict[str, Any]:
    """As bench/scale_out.py sends: a quarter wrong (those cost sympy the most)."""
    ref = i + 1 if i % 4 == 0 else i
    return {"response": f"so \\boxed{{\\sqrt{{{i}}}}}", "reference": f"\\sqrt{{{ref}}}"}


def math_radical_same(i: int) -> dict[str, Any]:
    return {"response": f"so \\boxed{{\\sqrt{{{i}}}}}", "reference": f"\\sqrt{{{i}}}"}


def math_plain(i: int) -> dict[str, Any]:
    return {"response": f"the answer is \\boxed{{{i}}}", "reference": str(i + i % 2)}


def exact_match(i: int) -> dict[str, Any]:
    return {"response": f"<answer>word{i}</answer>", "reference": f"word{i - i % 3}"}


def think_format(i: int) -> dict[str, Any]:
    return {"response": f"<think>step {i}</think> answer {i}"}


def code_python(i: int) -> dict[str, Any]:
    program = f"```python\nprint(int(input()) + {i % 7})\n```"
    cases = [{"stdin": "1\n", "stdout": f"{1 + i % 7}\n"}]
    return {"response": program, "reference": {"language": "python", "tests": cases}}


CASES: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "math (radicals, a quarter wrong: sympy, in a worker)": ("math", math_radical),
    "math (radicals written as the reference)": ("math", math_radical_same),
    "math (plain numbers: the API process's fast path)": ("math", math_plain),
    "exact_match": ("exact_match", exact_match),
    "think_format": ("think_format", think_format),
    "code (python, one test, in the sandbox)": ("code", code_python),
}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--code-items", type=int, default=100)
    ap.add_argument("--output", type=Path, default=Path("bench/results/capacity.json"))
    args = ap.parse_args(argv)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        server = start_server(Path(d), 1, NO_CACHE)
        try:
            pid = server.process.pid
            for seed, (name, (verifier, make)) in enumerate(CASES.items()):
                n = args.code_items if verifier == "code" else args.items
                base = (seed + 1) * 10_000_000
                batch = [make(base + i) for i in range(n)]
                bodies = [
                    {"verifier": verifier, "items": batch[i : i + 256]} for i in range(0, n, 256)
                ]
                warm = [{"verifier": verifier, "items": [make(base - 1 - i) for i in range(8)]}]
                asyncio.run(closed_loop(server.url, warm, 1))
                cpu = Cpu({"api": Cpu.own(pid), "judging": Cpu.descendants(pid)})
                cpu.start()
                load = asyncio.run(closed_loop(server.url, bodies, 1))
                cpu.stop()
                bad = [r for reply in load.replies for r in reply["results"] if r["status"] != "ok"]
                ms = cpu.per_item_ms(n)
                out[name] = {**ms, "items": n, "errors": len(bad)}
                print(
                    f"{name:54s} API {ms['api']:.3f} ms/item, judging {ms['judging']:.3f} "
                    f"ms/item ({len(bad)} of {n} not judged)"
                )
        finally:
            stop_server(server)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
