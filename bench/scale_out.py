"""Benchmark: judging through Redis against embedded, with the same judging processes.

In one run, on this machine, with every cache off (``REFEREE_CACHE_SIZE=0``,
``REFEREE_REDIS_CACHE_TTL_S=0``) and distinct math items that the workers must judge
(radicals: plain numbers are judged by the replica itself and never reach Redis):

(a) embedded: ``referee serve --workers W`` (W judging processes, default one per CPU);
    in-process cache off;
(b) scaled out: ``referee serve --redis`` (one replica) with one ``referee worker
    --concurrency W`` (the same W judging processes), and with W ``referee worker
    --concurrency 1``, through a redis-server this script starts; in-process cache off,
    the shared Redis cache on (every item misses it: the costliest path for Redis);

each sent the way a trainer sends a step (requests of ``--batch`` items, 4 in flight).
It prints items/s and the ratio of (b) to (a) (goal: at least 0.9), and the CPU per
item of each part, from /proc: the replica, the worker consumers (their main
processes), the judging processes, redis-server (goals: redis-server at most 20 µs,
replica and consumer at most 0.3 ms). redis-server's idle cost (heartbeats, the
replica's monitoring, its own cron), measured for 3 s before each run, is taken out
and shown apart: it is paid per second, not per item. Then the Redis round trip: the median latency
of one-item requests, one at a time, through Redis with one worker minus the same on
``referee serve --workers 1``. Figures go to ``bench/results/scale_out.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from harness import (
    NO_CACHE,
    Cpu,
    Server,
    closed_loop,
    start_redis,
    start_server,
    start_worker,
    stop_server,
)
from harness import stop as stop_procs

GOALS = {"ratio": 0.9, "redis_us": 20.0, "replica_ms": 0.3, "consumer_ms": 0.3}


def items(seed: int, n: int) -> list[dict[str, Any]]:
    """Distinct radicals: a quarter wrong, the rest right; none a plain number."""
    out = []
    for i in range(n):
        k = seed * 1_000_000 + i
        ref = k + 1 if i % 4 == 0 else k
        out.append({"response": f"so \\boxed{{\\sqrt{{{k}}}}}", "reference": f"\\sqrt{{{ref}}}"})
    return out


def bodies(batch_items: list[dict[str, Any]], batch: int) -> list[dict[str, Any]]:
    return [
        {"verifier": "math", "items": batch_items[i : i + batch]}
        for i in range(0, len(batch_items), batch)
    ]


def all_judged(reply: Any) -> None:
    bad = [x for x in reply["results"] if x["status"] != "ok"]
    if bad:
        raise RuntimeError(f"not judged: {bad[0]}")


def throughput(url: str, batch_items: list[dict[str, Any]], batch: int) -> float:
    load = asyncio.run(closed_loop(url, bodies(batch_items, batch), 4, check=all_judged))
    if load.errors:
        raise RuntimeError(f"transport errors: {load.errors[:3]}")
    return load.per_s(len(batch_items))


def latency(url: str, batch_items: list[dict[str, Any]]) -> float:
    seconds = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for item in batch_items:
            start = time.perf_counter()
            client.post("/score", json={"verifier": "math", "items": [item]}).raise_for_status()
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def scaled(tmp: Path, redis_url: str, shape: list[int], prefix: str) -> Server:
    """One replica and a ``referee worker`` per entry of ``shape`` (its concurrency).

    The shared Redis cache and de-duplication stay on (the default): the items are
    distinct, so each pays the full miss path (look-up, in-flight mark, fill).
    """
    env = {"REFEREE_CACHE_SIZE": "0", "REFEREE_REDIS_PREFIX": prefix}
    workers = [start_worker(tmp, redis_url, c, env) for c in shape]
    server = start_server(tmp, None, env, redis_url=redis_url, ready_workers=sum(shape))
    server.workers = workers
    return server


def commandstats(redis_url: str | None, reset: bool = False) -> dict[str, float]:
    """redis-server's own time per command (µs in all) since the last reset."""
    if redis_url is None:
        return {}
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        if reset:
            client.config_resetstat()
            return {}
        stats: dict[str, Any] = client.info("commandstats")
        return {k.removeprefix("cmdstat_"): float(v["usec"]) for k, v in stats.items()}
    finally:
        client.close()


def measure(
    server: Server,
    redis_pid: int | None,
    args: argparse.Namespace,
    seed: int,
    redis_url: str | None = None,
) -> Any:
    """items/s, and CPU ms per item by part (redis-server's idle cost taken out)."""
    throughput(server.url, items(seed + 500, 256), args.batch)  # warm-up
    idle_per_s = 0.0
    if redis_pid is not None:  # heartbeats, monitoring, its own cron: paid with no load
        idle = Cpu({"redis": Cpu.own(redis_pid)})
        idle.start()
        time.sleep(3.0)
        idle_per_s = idle.stop()["redis"] / 3.0
    parts = {"replica": Cpu.tree(server.process.pid)}
    if server.workers:
        consumers = [w.pid for w in server.workers]
        parts["consumer"] = lambda: consumers
        parts["judging"] = lambda: [c for w in consumers for c in Cpu.descendants(w)()]
    if redis_pid is not None:
        parts["redis"] = Cpu.own(redis_pid)
    cpu = Cpu(parts)
    commandstats(redis_url, reset=True)
    cpu.start()
    start = time.perf_counter()
    rate = throughput(server.url, items(seed, args.items), args.batch)
    wall = time.perf_counter() - start
    cpu.stop()
    per_command = commandstats(redis_url)
    if per_command:
        top = sorted(per_command.items(), key=lambda kv: -kv[1])[:6]
        print(
            "  redis-server time by command, us/item: "
            + ", ".join(f"{k} {v / args.items:.1f}" for k, v in top)
        )
    if redis_pid is not None:
        cpu.seconds["redis_idle"] = idle_per_s * wall
        cpu.seconds["redis"] -= idle_per_s * wall
    return rate, cpu.per_item_ms(args.items)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=4096, help="items per measurement")
    ap.add_argument("--batch", type=int, default=512, help="items per request")
    ap.add_argument("--latency-requests", type=int, default=200)
    ap.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--quick", action="store_true", help="smoke run: 1024 items, 50 requests")
    ap.add_argument("--output", type=Path, default=Path("bench/results/scale_out.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.items, args.latency_requests = 1024, 50
    w = args.processes
    results: dict[str, Any] = {
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "items": args.items,
        "batch": args.batch,
        "judging_processes": w,
    }
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        redis_proc, redis_url = start_redis(tmp)
        try:
            server = start_server(tmp, w, NO_CACHE)
            try:
                base, cpu = measure(server, None, args, 1)
            finally:
                stop_server(server)
            # Embedded: the replica's tree is the API process and its judging processes.
            results["embedded"] = {"items_per_s": base, "cpu_ms_per_item": cpu}
            print(
                f"embedded, {w} judging processes: {base:8.0f} items/s; "
                f"CPU {cpu['replica']:.2f} ms/item (all its processes)"
            )
            results["redis"] = {}
            for seed, shape in ((2, [w]), (3, [1] * w)):
                name = " + ".join(f"worker --concurrency {c}" for c in shape)
                server = scaled(tmp, redis_url, shape, f"bench{seed}")
                try:
                    rate, cpu = measure(server, redis_proc.pid, args, seed, redis_url)
                finally:
                    stop_server(server)
                results["redis"][name] = {
                    "items_per_s": rate,
                    "ratio": rate / base,
                    "cpu_ms_per_item": cpu,
                }
                print(
                    f"redis, {name}: {rate:8.0f} items/s ({rate / base:.2f}x embedded, goal "
                    f">= {GOALS['ratio']}); CPU per item: replica {cpu['replica']:.3f} ms, "
                    f"consumer {cpu['consumer']:.3f} ms, judging {cpu['judging']:.3f} ms, "
                    f"redis-server {cpu['redis'] * 1000:.1f} us "
                    f"(+{cpu['redis_idle'] * 1000:.1f} idle)"
                )
            server = start_server(tmp, 1, NO_CACHE)
            try:
                latency(server.url, items(80, 20))
                lat_embedded = latency(server.url, items(10, args.latency_requests))
            finally:
                stop_server(server)
            server = scaled(tmp, redis_url, [1], "lat")
            try:
                latency(server.url, items(81, 20))
                lat_redis = latency(server.url, items(11, args.latency_requests))
            finally:
                stop_server(server)
        finally:
            stop_procs([redis_proc])
    overhead_ms = (lat_redis - lat_embedded) * 1000
    results["latency_one_item_ms"] = {
        "embedded_1_worker": lat_embedded * 1000,
        "redis_1_worker": lat_redis * 1000,
        "redis_round_trip_overhead": overhead_ms,
    }
    print(
        f"one-item request, median: embedded {lat_embedded * 1000:.1f} ms, "
        f"through redis {lat_redis * 1000:.1f} ms: redis round trip {overhead_ms:+.1f} ms/item"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    sys.exit(main())
