"""Benchmark: unary gRPC ``Score`` against ``POST /score`` for the same batch.

One ``referee serve`` with both transports. Each client turns the same plain items
into its wire (JSON body / ``ScoreRequest`` message) and reads the rewards back.

(a) Judged batches: a server without a result cache (``REFEREE_CACHE_SIZE=0``); per
    round one GRPO-shaped batch (bench/grpo_batch.py) sent by both transports, in
    alternating order, so both judge the same items; judging dominates.
(b) Cached batch: a server with its cache; one batch scored once, then sent
    ``--repeats`` times by each transport in turn: every item is a cache hit, so what
    is measured is the cost of the edge and the transport (parse, check, convert,
    encode).
(c) The server's request conversion alone, in this process: the message read
    straight into the engine's inputs (``grpc/messages.py``) against the former path
    (``ScoreRequest`` message -> JSON-shaped dict -> pydantic -> inputs).

Goal: gRPC / HTTP items/s at least 1.0 in (a) and (b). Run
``.venv/bin/python bench/grpc_vs_http.py`` (``--quick`` for a smoke run); figures go
to ``bench/results/grpc_vs_http.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import httpx
from grpo_batch import Item, build_batch
from harness import Server, stop_server
from harness import start_server as harness_start

from referee.service.edge import EdgeLimits, items_of
from referee.service.grpc import convert
from referee.service.grpc.messages import score_inputs
from referee.service.grpc.v1 import referee_pb2 as pb
from referee.service.grpc.v1 import referee_pb2_grpc as pb_grpc
from referee.service.schemas import ScoreRequest


def start_server(workers: int, log_dir: Path, cache: bool) -> Server:
    return harness_start(log_dir, workers, {} if cache else {"REFEREE_CACHE_SIZE": "0"}, grpc=True)


def _wire(items: Sequence[Item]) -> list[dict[str, Any]]:
    return [{"id": it.id, "response": it.response, "reference": it.reference} for it in items]


class Http:
    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=600)

    def __call__(self, items: Sequence[Item]) -> list[float | None]:
        response = self.client.post("/score", json={"verifier": "math", "items": _wire(items)})
        response.raise_for_status()
        return [r["reward"] for r in response.json()["results"]]


class Grpc:
    def __init__(self, target: str) -> None:
        self.channel = grpc.insecure_channel(
            target, options=[("grpc.max_receive_message_length", -1)]
        )
        self.stub = pb_grpc.RefereeStub(self.channel)

    def __call__(self, items: Sequence[Item]) -> list[float | None]:
        request = pb.ScoreRequest(items=[convert.item_to_proto(it) for it in _wire(items)])
        request.verifier.string_value = "math"
        response = self.stub.Score(request, timeout=600)
        return [r.reward if r.HasField("reward") else None for r in response.results]


def timed(fn: Callable[[Sequence[Item]], list[float | None]], items: Sequence[Item]) -> Any:
    start = time.perf_counter()
    rewards = fn(items)
    return time.perf_counter() - start, rewards


def conversion(items: Sequence[Item], repeats: int) -> dict[str, float]:
    """Server-side µs per item of each request conversion, best of ``repeats``."""
    limits = EdgeLimits(
        max_batch_items=len(items),
        max_response_chars=2_000_000,
        max_pattern_chars=2000,
        max_schema_bytes=256 * 1024,
        validation_timeout_s=5.0,
        max_queued_items=100_000,
        default_verifier=None,
    )
    message = pb.ScoreRequest(items=[convert.item_to_proto(it) for it in _wire(items)])
    message.verifier.string_value = "math"

    def former() -> Any:
        body = ScoreRequest.model_validate(convert.request_to_dict(message))
        return items_of(body, limits)

    def direct() -> Any:
        return score_inputs(message, limits)

    if former() != direct():
        raise SystemExit("the two conversions disagree")
    out = {}
    for name, fn in (("former_us_per_item", former), ("direct_us_per_item", direct)):
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        out[name] = 1e6 * best / len(items)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 rounds, small batches")
    parser.add_argument("--output", default="bench/results/grpc_vs_http.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.prompts, args.repeats = 2, 16, 5
    n = args.prompts * args.samples
    results: dict[str, Any] = {"items_per_batch": n}

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(args.workers, Path(tmp), cache=False)
        http, rpc = Http(server.url), Grpc(server.target)
        sides = {"http": http, "grpc": rpc}
        try:
            http(build_batch(999, 8, args.samples))  # warm both paths
            rpc(build_batch(998, 8, args.samples))
            fresh: list[dict[str, float]] = []
            for r in range(args.rounds):
                batch = build_batch(100 + r, args.prompts, args.samples)
                times: dict[str, float] = {}
                rewards: dict[str, list[float | None]] = {}
                for name in ("http", "grpc") if r % 2 == 0 else ("grpc", "http"):
                    times[name], rewards[name] = timed(sides[name], batch)
                if rewards["http"] != rewards["grpc"]:
                    raise SystemExit(f"round {r}: rewards differ between transports")
                fresh.append(times)
                print(f"round {r}: http {times['http']:.3f}s  grpc {times['grpc']:.3f}s")
            med = {k: statistics.median(t[k] for t in fresh) for k in ("http", "grpc")}
            results["judged"] = {
                "rounds": fresh,
                "median_s": med,
                "ratio": med["http"] / med["grpc"],
            }
        finally:
            rpc.channel.close()
            http.client.close()
            stop_server(server)

        server = start_server(args.workers, Path(tmp), cache=True)
        http, rpc = Http(server.url), Grpc(server.target)
        sides = {"http": http, "grpc": rpc}
        try:
            batch = build_batch(7, args.prompts, args.samples)
            http(batch)  # every item is now a cache hit
            rpc(batch)
            cached: dict[str, list[float]] = {"http": [], "grpc": []}
            for k in range(args.repeats):
                for name in ("http", "grpc") if k % 2 == 0 else ("grpc", "http"):
                    cached[name].append(timed(sides[name], batch)[0])
            cmed = {k: statistics.median(v) for k, v in cached.items()}
            results["cached"] = {"median_s": cmed, "ratio": cmed["http"] / cmed["grpc"]}
        finally:
            rpc.channel.close()
            http.client.close()
            stop_server(server)

    results["conversion"] = conversion(build_batch(5, args.prompts, args.samples), args.repeats)
    fresh_ratio, cached_ratio = results["judged"]["ratio"], results["cached"]["ratio"]
    conv = results["conversion"]
    print(f"\n{n} items per request; gRPC items/s / HTTP items/s (goal >= 1.0):")
    print(
        f"  (a) judged batch:   {fresh_ratio:.3f}  "
        f"(http {n / med['http']:.0f}/s, grpc {n / med['grpc']:.0f}/s)"
    )
    print(
        f"  (b) cached batch:   {cached_ratio:.3f}  "
        f"(http {n / cmed['http']:.0f}/s, grpc {n / cmed['grpc']:.0f}/s)"
    )
    print(
        f"  (c) server conversion per item: former {conv['former_us_per_item']:.1f} us, "
        f"direct {conv['direct_us_per_item']:.1f} us "
        f"(ratio {conv['former_us_per_item'] / conv['direct_us_per_item']:.2f})"
    )
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
