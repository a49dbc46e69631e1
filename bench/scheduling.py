"""Benchmark: do cheap items wait behind slow code items?

A ``referee serve`` with 2 workers judges a stream of one-item math requests
(fresh answers: no cache hit) from a few concurrent clients, first alone
(baseline), then while code items whose programs sleep hold the workers. It
reports the p50/p99 latency of the math items in both phases, for the server
as it is (a code lane and a judge lane) and for the same server with one shared
lane (``REFEREE_CODE_WORKERS=0``), in one run. Target: math p99 under 1 s with
code items sleeping, 2 workers.

Run ``.venv/bin/python bench/scheduling.py`` (``--quick`` for a smoke run);
figures go to ``bench/results/scheduling.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from harness import percentiles, start_server, stop_server

_counter = itertools.count(1)


def _math_body() -> dict[str, Any]:
    n = next(_counter) * 7919 % 1_000_003
    return {"verifier": "math", "items": [{"response": f"\\boxed{{{n}}}", "reference": str(n)}]}


def _code_body(sleep_s: float) -> dict[str, Any]:
    program = f"import time\ntime.sleep({sleep_s})\nprint(int(input()) * 2)\n"
    reference = {
        "language": "python",
        "tests": [{"input": "21\n", "output": "42\n"}],
        "time_limit_s": sleep_s + 5,
    }
    response = f"```python\n{program}```"
    return {"verifier": "code", "items": [{"response": response, "reference": reference}]}


async def math_load(url: str, duration_s: float, clients: int) -> list[float]:
    """One-item math requests from ``clients`` loops for ``duration_s``; their latencies."""
    latencies: list[float] = []
    stop = time.monotonic() + duration_s
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def loop() -> None:
            while time.monotonic() < stop:
                start = time.perf_counter()
                response = await client.post("/score", json=_math_body())
                result = response.json()["results"][0]
                if result["outcome"] != "correct":
                    raise SystemExit(f"math item judged {result}")
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(loop() for _ in range(clients)))
    return latencies


async def with_code(url: str, duration_s: float, clients: int, code_items: int) -> dict[str, Any]:
    """Math load while ``code_items`` sleeping programs are being judged."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        code = [
            asyncio.create_task(client.post("/score", json=_code_body(duration_s + 1)))
            for _ in range(code_items)
        ]
        await asyncio.sleep(0.3)  # the code items reach the workers first
        latencies = await math_load(url, duration_s, clients)
        outcomes = [r.json()["results"][0]["outcome"] for r in await asyncio.gather(*code)]
    return {"latencies": latencies, "code_outcomes": outcomes}


def measure(tmp: Path, lanes: bool, args: argparse.Namespace) -> dict[str, Any]:
    env = {} if lanes else {"REFEREE_CODE_WORKERS": "0"}
    server = start_server(tmp, args.workers, env)
    try:
        asyncio.run(math_load(server.url, 1.0, 1))  # warm up
        alone = asyncio.run(math_load(server.url, args.duration, args.clients))
        loaded = asyncio.run(with_code(server.url, args.duration, args.clients, args.code_items))
    finally:
        stop_server(server)
    return {
        "alone": {"n": len(alone), **percentiles(alone)},
        "with_code": {"n": len(loaded["latencies"]), **percentiles(loaded["latencies"])},
        "code_outcomes": loaded["code_outcomes"],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--code-items", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--quick", action="store_true", help="3 s phases")
    parser.add_argument("--output", default="bench/results/scheduling.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 3.0
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, lanes in (("lanes", True), ("one_lane", False)):
            results[name] = measure(Path(tmp), lanes, args)
            r = results[name]
            print(
                f"{name:9s} math alone: p50 {r['alone']['p50_ms']} ms, p99 {r['alone']['p99_ms']}"
                f" ms ({r['alone']['n']} items) | with {args.code_items} sleeping code items:"
                f" p50 {r['with_code']['p50_ms']} ms, p99 {r['with_code']['p99_ms']} ms"
                f" ({r['with_code']['n']} items); code: {r['code_outcomes']}"
            )
    lanes_p99 = results["lanes"]["with_code"]["p99_ms"]
    one_p99 = results["one_lane"]["with_code"]["p99_ms"]
    alone_p99 = results["lanes"]["alone"]["p99_ms"]
    if lanes_p99 and alone_p99:
        print(f"\nmath p99 with code sleeping / alone (lanes) = {lanes_p99 / alone_p99:.2f}")
    if lanes_p99 and one_p99:
        print(f"math p99 with code sleeping: one lane / lanes = {one_p99 / lanes_p99:.1f}")
    print(f"target: math p99 under 1000 ms with code sleeping -> {lanes_p99} ms")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
