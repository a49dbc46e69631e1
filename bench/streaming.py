"""Benchmark: how long a GRPO trainer waits for rewards after generation ends.

One step of a GRPO run is simulated: 256 groups of 16 samples are "generated" at
a fixed rate (a sleep per group, ``--gen-s`` seconds in all, 10 by default), a
mix of math groups and code groups (stdin/stdout tests run in the sandbox), with
a few programs that sleep (``--slow`` of them, ``--slow-s`` each, at random
places in the step). The figure is the trainer's wait: from the moment the last
group is generated until the last reward is in its hands, for

(a) the baseline: one ``POST /score`` with the whole step, after generation;
(b) one ``POST /score`` per group with ``Accept: application/x-ndjson``, sent as
    each group is generated (results read as they are judged);
(c) one gRPC ``ScoreStream`` for the whole step, a ``ScoreRequest`` per group
    written as each group is generated.

Every scheme gets items of the same shape that no cache has seen (its own salt),
from one ``referee serve`` this script starts (HTTP and gRPC, ``--workers``). The
rewards of the three are compared by position. Target: (b) and (c) wait at most
a tenth of (a).

Then, on one batch of math items (cold cache each time), unary HTTP against unary
gRPC: time to the first result (for a unary call, the whole call) and items/s;
and the time to the first result when streaming (NDJSON, gRPC stream).

Run ``.venv/bin/python bench/streaming.py`` (``--quick`` for a smoke run); it
writes its figures to ``bench/results/streaming.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from harness import start_server, stop_server

from referee.clients.grpc import AsyncGrpcRefereeClient

Item = dict[str, Any]
Step = list[list[Item]]  # groups of items


# -- the workload ------------------------------------------------------------------------------


def math_group(salt: int, g: int, size: int, rng: random.Random) -> list[Item]:
    ref = salt + g
    answers = [str(ref), str(ref), f"\\frac{{{2 * ref}}}{{2}}", str(ref + 1), str(2 * ref)]
    return [
        {
            "response": f"<think>step {s} of problem {g}: ...</think>\n"
            f"So the answer is $\\boxed{{{rng.choice(answers)}}}$.",
            "reference": str(ref),
            "verifier": "math",
        }
        for s in range(size)
    ]


def code_group(
    salt: int, g: int, size: int, rng: random.Random, slow: set[int], slow_s: float
) -> list[Item]:
    reference = {
        "language": "python",
        "time_limit_s": slow_s + 2,
        "tests": [{"stdin": f"{g} {salt % 1000}\n", "stdout": f"{g + salt % 1000}\n"}],
    }
    items = []
    for s in range(size):
        variant = rng.randrange(6)  # samples of a group share a few programs
        op = "-" if variant == 5 else "+"
        program = f"# {salt} {g} {variant}\na, b = map(int, input().split())\nprint(a {op} b)\n"
        if s in slow:
            program = f"# {salt} {g} slow\nimport time\ntime.sleep({slow_s})\n" + program
        items.append(
            {"response": f"```python\n{program}```", "reference": reference, "verifier": "code"}
        )
    return items


def make_step(
    salt: int, groups: int, size: int, code_share: float, slow: int, slow_s: float, seed: int
) -> Step:
    rng = random.Random(seed)
    code = set(rng.sample(range(groups), round(groups * code_share)))
    slow_at: dict[int, set[int]] = {}
    for g in rng.sample(sorted(code), min(slow, len(code))):
        slow_at.setdefault(g, set()).add(rng.randrange(size))
    step = []
    for g in range(groups):
        if g in code:
            step.append(code_group(salt, g, size, rng, slow_at.get(g, set()), slow_s))
        else:
            step.append(math_group(salt, g, size, rng))
    return step


async def generate(step: Step, gen_s: float) -> AsyncIterator[tuple[int, list[Item]]]:
    """The groups of ``step`` at a fixed rate, as an inference engine would hand them over."""
    start = time.monotonic()
    for g, group in enumerate(step):
        await asyncio.sleep(max(0.0, start + (g + 1) * gen_s / len(step) - time.monotonic()))
        yield g, group


# -- the three schemes -------------------------------------------------------------------------


async def scheme_a(url: str, step: Step, gen_s: float) -> tuple[float, list[float | None]]:
    async for _ in generate(step, gen_s):
        pass
    generated = time.monotonic()
    items = [it for group in step for it in group]
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        r = await http.post("/score", json={"items": items})
        r.raise_for_status()
    wait = time.monotonic() - generated
    return wait, [x["reward"] for x in r.json()["results"]]


async def scheme_b(url: str, step: Step, gen_s: float) -> tuple[float, list[float | None]]:
    size = len(step[0])
    rewards: list[float | None] = [None] * (len(step) * size)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)

    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:

        async def one(g: int, group: list[Item]) -> None:
            async with http.stream(
                "POST", "/score", json={"items": group}, headers={"accept": "application/x-ndjson"}
            ) as r:
                r.raise_for_status()
                async for line in r.aiter_lines():
                    if line:
                        data = json.loads(line)
                        rewards[g * size + data["index"]] = data["reward"]

        async with asyncio.TaskGroup() as tasks:
            async for g, group in generate(step, gen_s):
                tasks.create_task(one(g, group))
            generated = time.monotonic()
    return time.monotonic() - generated, rewards


async def scheme_c(target: str, step: Step, gen_s: float) -> tuple[float, list[float | None]]:
    size = len(step[0])
    rewards: list[float | None] = [None] * (len(step) * size)
    generated = 0.0

    async def groups() -> AsyncIterator[list[Item]]:
        nonlocal generated
        async for _, group in generate(step, gen_s):
            yield group
        generated = time.monotonic()

    async with AsyncGrpcRefereeClient(target) as client:
        async for s in client.stream(groups()):
            rewards[s.group * size + s.index] = s.result.reward
    return time.monotonic() - generated, rewards


# -- unary HTTP vs unary gRPC --------------------------------------------------------------------


def math_batch(salt: int, n: int) -> list[Item]:
    rng = random.Random(salt)
    return [it for g in range(n // 16) for it in math_group(salt, g, 16, rng)]


async def unary_http(url: str, items: list[Item]) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        start = time.monotonic()
        r = await http.post("/score", json={"items": items})
        r.raise_for_status()
        elapsed = time.monotonic() - start
    return {"first_result_s": elapsed, "items_per_s": len(items) / elapsed}


async def unary_grpc(target: str, items: list[Item]) -> dict[str, float]:
    async with AsyncGrpcRefereeClient(target, batch_size=len(items)) as client:
        start = time.monotonic()
        await client.score(items)
        elapsed = time.monotonic() - start
    return {"first_result_s": elapsed, "items_per_s": len(items) / elapsed}


async def stream_http(url: str, items: list[Item]) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        start = time.monotonic()
        first = None
        async with http.stream(
            "POST", "/score", json={"items": items}, headers={"accept": "application/x-ndjson"}
        ) as r:
            async for line in r.aiter_lines():
                if line and first is None:
                    first = time.monotonic() - start
        elapsed = time.monotonic() - start
    return {"first_result_s": first or elapsed, "items_per_s": len(items) / elapsed}


async def stream_grpc(target: str, items: list[Item]) -> dict[str, float]:
    async with AsyncGrpcRefereeClient(target) as client:
        start = time.monotonic()
        first = None
        async for _ in client.stream([items]):
            if first is None:
                first = time.monotonic() - start
        elapsed = time.monotonic() - start
    return {"first_result_s": first or elapsed, "items_per_s": len(items) / elapsed}


# -- the server ----------------------------------------------------------------------------------


# -- main ----------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, url: str, target: str) -> dict[str, Any]:
    salt = random.Random(args.seed).randrange(10**6, 10**7)
    steps = {
        name: make_step(
            salt * 10 + n,
            args.groups,
            args.size,
            args.code_share,
            args.slow,
            args.slow_s,
            args.seed,
        )
        for n, name in enumerate("abc")
    }
    # Warm-up: lazy imports and the sandbox's first runs, on items of another salt.
    warm = make_step(salt * 10 + 9, 8, args.size, 0.5, 0, args.slow_s, args.seed)
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        (
            await http.post("/score", json={"items": [it for g in warm for it in g]})
        ).raise_for_status()

    waits: dict[str, float] = {}
    rewards: dict[str, list[float | None]] = {}
    for name, scheme in (("a", scheme_a), ("b", scheme_b), ("c", scheme_c)):
        where = target if name == "c" else url
        waits[name], rewards[name] = await scheme(where, steps[name], args.gen_s)  # type: ignore[operator]
        print(f"({name}) wait after the last group: {waits[name]:7.2f} s", flush=True)
    agree = sum(
        1 for x, y, z in zip(rewards["a"], rewards["b"], rewards["c"], strict=True) if x == y == z
    )
    n = len(rewards["a"])

    batch = args.unary_items
    unary = {
        "http_unary": await unary_http(url, math_batch(salt * 10 + 3, batch)),
        "grpc_unary": await unary_grpc(target, math_batch(salt * 10 + 4, batch)),
        "http_ndjson": await stream_http(url, math_batch(salt * 10 + 5, batch)),
        "grpc_stream": await stream_grpc(target, math_batch(salt * 10 + 6, batch)),
    }
    return {
        "config": vars(args) | {"output": str(args.output)},
        "items_per_step": n,
        "wait_s": waits,
        "ratio_b_over_a": waits["b"] / waits["a"],
        "ratio_c_over_a": waits["c"] / waits["a"],
        "rewards_agree": agree,
        "unary_batch_items": batch,
        "unary": unary,
    }


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--groups", type=int, default=256)
    ap.add_argument("--size", type=int, default=16, help="samples per group")
    ap.add_argument("--gen-s", type=float, default=10.0, help="generation time of a step")
    ap.add_argument("--code-share", type=float, default=0.2, help="share of code groups")
    ap.add_argument("--slow", type=int, default=8, help="slow programs per step")
    ap.add_argument("--slow-s", type=float, default=0.5, help="seconds each slow program sleeps")
    ap.add_argument("--unary-items", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="a small smoke run")
    ap.add_argument("--output", type=Path, default=Path("bench/results/streaming.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.groups, args.gen_s, args.slow, args.unary_items = 32, 2.0, 2, 256
    args.output.parent.mkdir(parents=True, exist_ok=True)
    server = start_server(args.output.parent, args.workers, grpc=True)
    url, target = server.url, server.target
    try:
        out = asyncio.run(run(args, url, target))
    finally:
        stop_server(server)
    w = out["wait_s"]
    print(
        f"\nGRPO step: {args.groups} groups x {args.size} = {out['items_per_step']} items, "
        f"generated over {args.gen_s:g} s; {args.code_share:.0%} code groups, "
        f"{args.slow} programs sleeping {args.slow_s:g} s; {args.workers} workers"
    )
    print(f"  (a) one POST /score after generation   wait {w['a']:7.2f} s")
    print(
        f"  (b) NDJSON POST /score per group       wait {w['b']:7.2f} s   "
        f"{out['ratio_b_over_a']:.3f} of (a), {1 / max(out['ratio_b_over_a'], 1e-9):.1f}x less"
    )
    print(
        f"  (c) gRPC ScoreStream for the step      wait {w['c']:7.2f} s   "
        f"{out['ratio_c_over_a']:.3f} of (a), {1 / max(out['ratio_c_over_a'], 1e-9):.1f}x less"
    )
    print(
        f"  rewards equal across (a), (b), (c): {out['rewards_agree']} of {out['items_per_step']}"
    )
    u = out["unary"]
    print(f"\nOne batch of {out['unary_batch_items']} math items, cold cache:")
    for name in ("http_unary", "grpc_unary", "http_ndjson", "grpc_stream"):
        print(
            f"  {name:12s} first result {u[name]['first_result_s'] * 1000:8.1f} ms   "
            f"{u[name]['items_per_s']:8.1f} items/s"
        )
    ratio = u["grpc_unary"]["items_per_s"] / u["http_unary"]["items_per_s"]
    print(f"  unary gRPC / unary HTTP items/s: {ratio:.2f}")
    out["unary_grpc_over_http_items_per_s"] = ratio
    args.output.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
