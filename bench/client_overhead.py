"""Benchmark: the trainer adapters' cost against a direct ``POST /score``.

(a) Adapter overhead: the same GRPO-shaped batch (64 prompts x 16 samples of math
    rollouts, bench/grpo_batch.py) scored through the TRL reward function
    (``referee.clients.trl.reward_function``, default options: requests of 1024
    items, 8 in flight) and through one direct ``POST /score`` of the whole batch
    with httpx, interleaved over ``--rounds`` fresh batches (no cache hit across
    rounds). Also the adapter with one request per batch (``batch_size=4096``), which
    isolates its own overhead (conversion, typed results) from the effect of
    splitting. Target: adapter / direct under 1.1.
(b) OpenRLHF-style load: one ``POST /openrlhf`` per sample (OpenRLHF sends one query
    per rollout), 256 in flight over as many kept-alive connections: p50/p99 latency,
    items/s and transport errors (reset connections), against a batch of the same
    shape in one ``POST /score`` (the per-request cost of that protocol). Goals: ratio
    at least 0.5, p99 under 1 s, no transport error.

Run ``.venv/bin/python bench/client_overhead.py`` (``--quick`` for a smoke run);
figures go to ``bench/results/client_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from grpo_batch import Item, build_batch
from harness import Cpu, closed_loop, percentiles, start_server, stop_server

from referee.clients.trl import reward_function

PROMPT = "<|im_start|>user\nSolve the problem.<|im_end|>\n<|im_start|>assistant\n"


def direct(url: str, items: Sequence[Item]) -> list[float | None]:
    body = {
        "verifier": "math",
        "items": [{"response": it.response, "reference": it.reference} for it in items],
    }
    response = httpx.post(url + "/score", json=body, timeout=600)
    response.raise_for_status()
    return [r["reward"] for r in response.json()["results"]]


def adapter(url: str, items: Sequence[Item], **options: Any) -> list[float | None]:
    reward = reward_function(url, "math", reference_column="solution", **options)
    try:
        return reward(
            prompts=[PROMPT] * len(items),
            completions=[it.response for it in items],
            solution=[it.reference for it in items],
        )
    finally:
        reward.close()  # type: ignore[union-attr]


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def openrlhf_load(
    url: str, items: Sequence[Item], concurrency: int, server_pid: int
) -> dict[str, Any]:
    bodies = [
        {
            "query": [PROMPT + item.response + "<|im_end|>"],
            "prompts": [PROMPT],
            "labels": [item.reference],
        }
        for item in items
    ]
    cpu = Cpu(
        {
            "server_api": Cpu.own(server_pid),
            "server_workers": Cpu.descendants(server_pid),
            "client": Cpu.own(os.getpid()),
        }
    )
    cpu.start()
    load = asyncio.run(closed_loop(url, bodies, concurrency, path="/openrlhf?verifier=math"))
    cpu.stop()
    cuts = percentiles(load.latencies_s)
    return {
        "items": len(items),
        "concurrency": concurrency,
        "wall_s": load.wall_s,
        "items_per_s": len(items) / load.wall_s,
        "p50_ms": cuts["p50_ms"],
        "p99_ms": cuts["p99_ms"],
        "transport_errors": len(load.errors),
        "cpu_ms_per_request": cpu.per_item_ms(len(items)),
        "rewards": [None if r is None else r["rewards"][0] for r in load.replies],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--load-items", type=int, default=2048)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="2 rounds, small batches")
    parser.add_argument("--output", default="bench/results/client_overhead.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.prompts, args.load_items = 2, 16, 256

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), args.workers)
        try:
            warm = build_batch(999, 8, args.samples)
            direct(server.url, warm)
            adapter(server.url, build_batch(998, 8, args.samples))
            rounds = []
            for r in range(args.rounds):
                batches = [
                    build_batch(100 + 3 * r + k, args.prompts, args.samples) for k in range(3)
                ]
                # Rotate who goes first: the machine is shared and noisy.
                order = [(r + k) % 3 for k in range(3)]
                times: dict[str, float] = {}
                rewards: dict[str, list[float | None]] = {}
                for k in order:
                    name, fn, options = [
                        ("direct", direct, {}),
                        ("adapter", adapter, {}),
                        ("adapter_one_request", adapter, {"batch_size": 4096}),
                    ][k]
                    times[name], rewards[name] = timed(fn, server.url, batches[k], **options)
                # Each side scored its own batch; check each against a direct answer.
                for k, name in enumerate(["direct", "adapter", "adapter_one_request"]):
                    if k and rewards[name] != direct(server.url, batches[k]):
                        raise SystemExit(f"round {r}: {name} rewards differ from POST /score")
                rounds.append(times)
                print(
                    f"round {r}: direct {times['direct']:.2f}s  adapter {times['adapter']:.2f}s"
                    f"  adapter(1 request) {times['adapter_one_request']:.2f}s"
                )
            med = {k: statistics.median(t[k] for t in rounds) for k in rounds[0]}
            ratio = med["adapter"] / med["direct"]
            ratio_one = med["adapter_one_request"] / med["direct"]
            n = args.prompts * args.samples
            print(f"\n(a) {n} items/batch, median over {args.rounds} rounds:")
            print(f"    adapter / direct             = {ratio:.3f}  (target < 1.1)")
            print(f"    adapter(1 request) / direct  = {ratio_one:.3f}")

            # Two fresh batches of one shape: neither side gets a cache hit.
            load_items = build_batch(500, args.load_items // args.samples, args.samples)
            baseline_items = build_batch(501, args.load_items // args.samples, args.samples)
            batch_s, _ = timed(direct, server.url, baseline_items)
            load = openrlhf_load(server.url, load_items, args.concurrency, server.process.pid)
            got, want = load.pop("rewards"), direct(server.url, load_items)
            differ = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
            if differ:
                raise SystemExit(f"OpenRLHF-style rewards differ from POST /score: {differ[:5]}")
            batch_rate = len(load_items) / batch_s
            print(f"\n(b) OpenRLHF-style: {len(load_items)} requests of 1 item, {args.concurrency}")
            print(
                f"    in flight: {load['items_per_s']:.0f} items/s, p50 {load['p50_ms']:.0f} ms,"
                f" p99 {load['p99_ms']:.0f} ms"
            )
            print(
                f"    one POST /score of a batch of that shape: {batch_rate:.0f} items/s"
                f"  (ratio {load['items_per_s'] / batch_rate:.3f}; goal >= 0.5, p99 < 1000 ms)"
            )
            print(f"    connections reset or failed: {load['transport_errors']} (goal 0)")
            print(
                "    CPU ms per request: "
                + ", ".join(f"{k} {v:.2f}" for k, v in load["cpu_ms_per_request"].items())
            )
        finally:
            stop_server(server)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "rounds": rounds,
                "median_s": med,
                "adapter_over_direct": ratio,
                "adapter_one_request_over_direct": ratio_one,
                "openrlhf_load": load,
                "direct_batch_items_per_s": batch_rate,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
