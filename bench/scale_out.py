"""Benchmark: judging through Redis with 1, 2 and 4 ``referee worker`` processes vs embedded.

In one run, on this machine, with every cache off (``REFEREE_CACHE_SIZE=0``,
``REFEREE_REDIS_CACHE_TTL_S=0``) and distinct math items (so each one is judged):

(a) the embedded default, ``referee serve`` with one worker process per CPU;
(b) ``referee serve --redis`` (one replica) with 1, 2 and 4 ``referee worker
    --concurrency 1`` processes, through a redis-server this script starts;

each sent the way a trainer sends a step (requests of ``--batch`` items, 4 in flight).
It prints items/s and the ratio to (a), the CPU per item of each part (replica,
worker consumer processes, judging processes, redis-server), and the Redis round
trip per item: the median
latency of one-item requests, one at a time, through Redis with one worker minus the
same on ``referee serve --workers 1``. Figures go to ``bench/results/scale_out.json``.

On a 2-core machine, more worker processes than cores cannot add throughput; what
the 1 → 2 step shows is how well the queue feeds several consumers, and the Redis
overhead per item is what an extra machine must amortise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

REFEREE = str(Path(sys.executable).with_name("referee"))
NO_CACHE = {"REFEREE_CACHE_SIZE": "0", "REFEREE_REDIS_CACHE_TTL_S": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )


def stop(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, workers: int = 1) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited early:\n{log.read_text()}")
        try:
            r = httpx.get(url + "/readyz", timeout=1)
            if r.status_code == 200 and r.json()["workers"] >= workers:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not ready:\n{log.read_text()}")


def items(seed: int, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        k = seed * 1_000_000 + i
        if i % 4 == 0:
            out.append({"response": f"so \\boxed{{\\frac{{{k}}}{{2}}}}", "reference": str(k / 2)})
        else:
            out.append({"response": f"the answer is \\boxed{{{k}}}", "reference": str(k + i % 3)})
    return out


async def throughput(url: str, batch_items: list[dict[str, Any]], batch: int) -> float:
    bodies = [
        {"verifier": "math", "items": batch_items[i : i + batch]}
        for i in range(0, len(batch_items), batch)
    ]
    sem = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:

        async def post(body: dict[str, Any]) -> None:
            async with sem:
                r = await client.post("/score", json=body)
                r.raise_for_status()
                bad = [x for x in r.json()["results"] if x["status"] != "ok"]
                if bad:
                    raise RuntimeError(f"not judged: {bad[0]}")

        start = time.perf_counter()
        await asyncio.gather(*(post(b) for b in bodies))
        return len(batch_items) / (time.perf_counter() - start)


def _cpu_s(pid: int) -> float:
    """CPU seconds of a process and of its children it has reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    kids: list[str] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += (task / "children").read_text().split()
    out = [int(k) for k in kids]
    for k in list(out):
        out += _children(k)
    return out


def cpu_split(procs: Sequence[subprocess.Popen[bytes]], redis_pid: int) -> dict[str, float]:
    """CPU seconds so far: replica, worker consumers (main processes), judging, redis."""
    split = {"replica": 0.0, "consumer": 0.0, "judging": 0.0, "redis": _cpu_s(redis_pid)}
    for p in procs:
        if p.args[1] == "serve":  # type: ignore[index]
            split["replica"] += _cpu_s(p.pid) + sum(_cpu_s(c) for c in _children(p.pid))
        else:
            split["consumer"] += _cpu_s(p.pid)
            split["judging"] += sum(_cpu_s(c) for c in _children(p.pid))
    return split


def latency(url: str, batch_items: list[dict[str, Any]]) -> float:
    seconds = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for item in batch_items:
            start = time.perf_counter()
            client.post("/score", json={"verifier": "math", "items": [item]}).raise_for_status()
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def embedded(tmp: Path, workers: int) -> tuple[str, list[subprocess.Popen[bytes]]]:
    port = free_port()
    log = tmp / f"embedded-{port}.log"
    proc = spawn(
        [REFEREE, "serve", "--port", str(port), "--workers", str(workers), "--grpc-port", "0"],
        log,
        NO_CACHE,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc, log)
    return url, [proc]


def scaled(
    tmp: Path, redis_url: str, n: int, prefix: str
) -> tuple[str, list[subprocess.Popen[bytes]]]:
    env = {**NO_CACHE, "REFEREE_REDIS_PREFIX": prefix}
    procs = [
        spawn(
            [REFEREE, "worker", "--redis", redis_url, "--concurrency", "1"],
            tmp / f"worker-{prefix}-{i}.log",
            env,
        )
        for i in range(n)
    ]
    port = free_port()
    log = tmp / f"replica-{prefix}.log"
    procs.append(
        spawn(
            [REFEREE, "serve", "--port", str(port), "--redis", redis_url, "--grpc-port", "0"],
            log,
            env,
        )
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, procs[-1], log, workers=n)
    return url, procs


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=4096, help="items per measurement")
    ap.add_argument("--batch", type=int, default=512, help="items per request")
    ap.add_argument("--latency-requests", type=int, default=200)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--quick", action="store_true", help="smoke run: 1024 items, 50 requests")
    ap.add_argument("--output", type=Path, default=Path("bench/results/scale_out.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.items, args.latency_requests = 1024, 50
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    cpus = len(os.sched_getaffinity(0))
    results: dict[str, Any] = {
        "machine": {"cpus": cpus, "python": platform.python_version()},
        "items": args.items,
        "batch": args.batch,
    }
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rport = free_port()
        redis_proc = subprocess.Popen(
            [
                redis_server,
                "--port",
                str(rport),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                d,
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        redis_url = f"redis://127.0.0.1:{rport}/0"
        try:
            seed = 1
            url, procs = embedded(tmp, cpus)
            asyncio.run(throughput(url, items(99, 256), args.batch))  # warm-up
            cpu_before = sum(_cpu_s(p) for p in [procs[0].pid, *_children(procs[0].pid)])
            base = asyncio.run(throughput(url, items(seed, args.items), args.batch))
            cpu_after = sum(_cpu_s(p) for p in [procs[0].pid, *_children(procs[0].pid)])
            results["embedded_cpu_ms_per_item"] = (cpu_after - cpu_before) * 1000 / args.items
            stop(procs)
            print(
                f"embedded ({cpus} worker processes): {base:8.0f} items/s; CPU "
                f"{results['embedded_cpu_ms_per_item']:.2f} ms/item (all processes)"
            )
            results["embedded_items_per_s"] = base
            results["redis"] = {}
            for n in args.workers:
                seed += 1
                url, procs = scaled(tmp, redis_url, n, f"bench{n}")
                asyncio.run(throughput(url, items(90 + n, 256), args.batch))
                before = cpu_split(procs, redis_proc.pid)
                rate = asyncio.run(throughput(url, items(seed, args.items), args.batch))
                after = cpu_split(procs, redis_proc.pid)
                stop(procs)
                cpu_ms = {k: (after[k] - before[k]) * 1000 / args.items for k in after}
                results["redis"][n] = {
                    "items_per_s": rate,
                    "ratio": rate / base,
                    "cpu_ms_per_item": cpu_ms,
                }
                print(
                    f"redis, {n} worker process(es): {rate:8.0f} items/s  "
                    f"({rate / base:.2f}x embedded); CPU ms/item: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in cpu_ms.items())
                )
            url, procs = embedded(tmp, 1)
            latency(url, items(80, 20))
            lat_embedded = latency(url, items(seed + 1, args.latency_requests))
            stop(procs)
            url, procs = scaled(tmp, redis_url, 1, "lat")
            latency(url, items(81, 20))
            lat_redis = latency(url, items(seed + 2, args.latency_requests))
            stop(procs)
        finally:
            stop([redis_proc])
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
    main()
