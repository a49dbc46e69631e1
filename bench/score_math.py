"""Benchmark: one GRPO step of math rewards, in-process math-verify vs ``POST /score``.

What is measured, in one run and on one machine:

(a) the baseline, what trainers do today: open-r1's ``accuracy_reward``, item by item
    in the main thread of this process (math-verify's ``signal.alarm`` timeouts need
    it): parse the gold, parse the whole completion with ``LatexExtractionConfig``
    (boxed first), ``verify`` → 1.0 / 0.0;
(b) the same batch through ``POST /score`` (verifier ``math``) of a ``referee serve``
    this script starts itself, sent the way a trainer sends one step (requests of
    512 items, 4 in flight). The headline figure is with a COLD result cache (a
    fresh server process per round); the same batch is then sent again and
    reported separately as the warm-cache figure;
(c) the latency of single-item requests under 16 concurrent clients, on items whose
    references the server has never seen (so no cache hit: it measures judging).

Why: a GRPO batch is groups of samples of one prompt, which mostly share a handful
of distinct answers; a server that extracts answers cheaply, de-duplicates and
judges in parallel worker processes should beat item-by-item grading by a wide
margin (target >= 2x on 2 cores). Both sides' rewards are compared item by item, so
that a speed-up bought with different rewards shows.

Fairness and noise: before timing, both sides judge the same warm-up items (other
references, so no cache key is shared) to load lazy imports and parser caches;
the machine this targets is small and shared, so the whole comparison is repeated
over ``--rounds`` batches (different seeds), interleaved, and CPU seconds per item
are reported next to the wall-clock rates (they are far less sensitive to noise).

The batch is synthetic but shaped like real rollouts: per prompt a reference of a
realistic kind (integers, fractions, decimals, radicals, multiples of pi, negative
numbers, expressions, intervals, tuples) and R1/Qwen-style responses (a ``<think>``
block of plausible math prose, then a final ``\\boxed{}``); most correct (some in
an equivalent form), some wrong (a few wrong answers shared by the group), some
truncated or with the answer in words, a few with the answer not boxed. Each item
carries the reward its generator meant it to get, to tell which side is right
where the two disagree.

Run ``.venv/bin/python bench/score_math.py`` (``--quick`` for a smoke run); it
writes its figures to ``bench/results/score_math.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from grpo_batch import Item, build_batch, unseen_items
from harness import Cpu, Server, cpu_s, percentiles, start_server, stop_server
from math_verify import (
    ExprExtractionConfig,
    LatexExtractionConfig,
    LatexNormalizationConfig,
    parse,
    verify,
)

# -- (a) the baseline: open-r1's accuracy_reward ---------------------------------------------


def openr1_configs(with_expr: bool) -> list[LatexExtractionConfig | ExprExtractionConfig]:
    """The completion's extraction as in open-r1 ``accuracy_reward`` (src/open_r1/rewards.py).

    open-r1 also passed ``equations=True``, deprecated (and a warning per call) since
    math-verify 0.8, where the parser handles equations itself; TRL's copy drops it.
    """
    latex = LatexExtractionConfig(
        normalization_config=LatexNormalizationConfig(
            nits=False,
            malformed_operators=False,
            basic_latex=True,
            boxed="all",
            units=True,
        ),
        boxed_match_priority=0,  # boxed is tried first
        try_extract_without_anchor=False,
    )
    return [latex, ExprExtractionConfig()] if with_expr else [latex]


def baseline_reward(
    item: Item, configs: Sequence[LatexExtractionConfig | ExprExtractionConfig]
) -> float | None:
    """1.0 / 0.0, or None when the gold does not parse (open-r1 then skips the sample).

    open-r1 parses the dataset's ``solution`` text, where math sits between ``$``;
    a bare answer must be wrapped so, or ``2\\sqrt{3}`` parses as 2.
    """
    gold = parse(f"${item.reference}$", extraction_mode="first_match")
    if not gold:
        return None
    answer = parse(item.response, extraction_config=configs, extraction_mode="first_match")
    return float(verify(gold, answer))


def run_baseline(
    items: Sequence[Item], warmup: Sequence[Item], with_expr: bool
) -> tuple[list[float | None], float, float]:
    """Rewards, wall seconds and CPU seconds of the baseline over ``items``."""
    configs = openr1_configs(with_expr)
    for item in warmup:
        baseline_reward(item, configs)
    start, cpu = time.perf_counter(), time.process_time()
    rewards = [baseline_reward(item, configs) for item in items]
    return rewards, time.perf_counter() - start, time.process_time() - cpu


# -- (b) the server --------------------------------------------------------------------------


def _wire(item: Item) -> dict[str, Any]:
    return {"id": item.id, "response": item.response, "reference": item.reference}


async def score_batch(
    url: str, items: Sequence[Item], request_size: int, concurrency: int
) -> tuple[list[dict[str, Any]], float]:
    """POST the batch as one GRPO step: requests of ``request_size``, ``concurrency`` at once."""
    bodies = [
        {"verifier": "math", "items": [_wire(it) for it in items[i : i + request_size]]}
        for i in range(0, len(items), request_size)
    ]
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:

        async def post(body: dict[str, Any]) -> list[dict[str, Any]]:
            async with gate:
                r = await client.post("/score", json=body)
            r.raise_for_status()
            results: list[dict[str, Any]] = r.json()["results"]
            return results

        start = time.perf_counter()
        parts = await asyncio.gather(*(post(b) for b in bodies))
        elapsed = time.perf_counter() - start
    return [r for part in parts for r in part], elapsed


async def measure_latency(url: str, items: Sequence[Item], clients: int) -> dict[str, Any]:
    """Single-item requests from ``clients`` concurrent clients; latency of each."""
    queue = list(reversed(items))
    samples: list[tuple[float, bool]] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while queue:
                body = {"verifier": "math", "items": [_wire(queue.pop())]}
                start = time.perf_counter()
                r = await client.post("/score", json=body)
                elapsed = time.perf_counter() - start
                r.raise_for_status()
                samples.append((elapsed, bool(r.json()["results"][0]["cached"])))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - start
    uncached = [s for s, cached in samples if not cached]
    return {
        "requests": len(samples),
        "clients": clients,
        "wall_s": round(wall, 3),
        "requests_per_s": round(len(samples) / wall, 1),
        "served_from_cache": len(samples) - len(uncached),
        "all": percentiles([s for s, _ in samples]),
        "uncached": percentiles(uncached),
    }


# -- comparison ------------------------------------------------------------------------------


def _tail(text: str, n: int = 160) -> str:
    return ("…" + text[-n:]) if len(text) > n else text


def compare(
    items: Sequence[Item], baseline: Sequence[float | None], server: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Item-by-item agreement where the server judged (status ok) and the gold parsed."""
    agree = 0
    pairs: Counter[str] = Counter()
    intent: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    server_errors = baseline_skipped = 0
    for item, b, s in zip(items, baseline, server, strict=True):
        if s["status"] != "ok":
            server_errors += 1
            continue
        if b is None:
            baseline_skipped += 1
            continue
        if b == s["reward"]:
            agree += 1
            continue
        pairs[f"{item.label}/{item.kind}: baseline={b:g} server={s['reward']:g}"] += 1
        side = "server" if s["reward"] == item.intended else "baseline"
        intent[side] += 1
        examples.append(
            {
                "id": item.id,
                "label": item.label,
                "kind": item.kind,
                "reference": item.reference,
                "baseline": b,
                "server": s["reward"],
                "server_outcome": s["outcome"],
                "server_extracted": s["details"].get("extracted"),
                "intended": item.intended,
                "response_tail": _tail(item.response),
            }
        )
    return {
        "compared": agree + len(examples),
        "agree": agree,
        "differ": len(examples),
        "server_errors": server_errors,
        "baseline_gold_unparsed": baseline_skipped,
        "differ_by_case": dict(pairs.most_common()),
        "differ_matches_intent": dict(intent),
        "examples": _spread(examples, 40),
    }


def _spread(examples: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` examples, round-robin over the kinds of difference."""
    by_case: dict[str, list[dict[str, Any]]] = {}
    for e in examples:
        by_case.setdefault(f"{e['label']}/{e['kind']}/{e['baseline']}", []).append(e)
    out: list[dict[str, Any]] = []
    while len(out) < min(limit, len(examples)):
        for group in by_case.values():
            if group and len(out) < limit:
                out.append(group.pop(0))
    return out


def intent_accuracy(items: Sequence[Item], rewards: Sequence[float | None]) -> float:
    hits = sum(r == it.intended for it, r in zip(items, rewards, strict=True) if r is not None)
    judged = sum(r is not None for r in rewards)
    return round(hits / max(1, judged), 4)


# -- rounds ----------------------------------------------------------------------------------


def _tree_cpu_s(pid: int) -> float | None:
    """CPU seconds of ``pid`` and its descendants (the shared harness reads /proc)."""
    return sum(cpu_s(p) for p in Cpu.tree(pid)())


def _verifier_seconds(url: str) -> tuple[float, float]:
    """Seconds the workers spent grading, and tasks graded, from ``/metrics``."""
    total = count = 0.0
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        name, _, value = line.partition("{")
        if name == "referee_verifier_duration_seconds_sum":
            total += float(value.rsplit(" ", 1)[1])
        elif name == "referee_verifier_duration_seconds_count":
            count += float(value.rsplit(" ", 1)[1])
    return total, count


@dataclass
class Round:
    """One batch judged both ways; the server side by a fresh process (cold cache)."""

    seed: int
    items: list[Item]
    baseline: list[float | None]
    base_s: float
    base_cpu_s: float
    cold: list[dict[str, Any]]
    cold_s: float
    cold_cpu_s: float | None
    graded_tasks: int
    graded_worker_s: float
    warm: list[dict[str, Any]]
    warm_s: float

    def rates(self) -> dict[str, float]:
        n = len(self.items)
        base, cold, warm = n / self.base_s, n / self.cold_s, n / self.warm_s
        return {
            "baseline_items_per_s": round(base, 1),
            "cold_items_per_s": round(cold, 1),
            "warm_items_per_s": round(warm, 1),
            "ratio_cold": round(cold / base, 3),
            "ratio_warm": round(warm / base, 3),
        }


def _timed_server_batch(
    server: Server, items: Sequence[Item], args: argparse.Namespace
) -> tuple[list[dict[str, Any]], float, float | None, tuple[float, float]]:
    cpu0, graded0 = _tree_cpu_s(server.process.pid), _verifier_seconds(server.url)
    results, seconds = asyncio.run(
        score_batch(server.url, items, args.request_size, args.concurrency)
    )
    cpu1, graded1 = _tree_cpu_s(server.process.pid), _verifier_seconds(server.url)
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return results, seconds, cpu, (graded1[0] - graded0[0], graded1[1] - graded0[1])


def run_round(
    args: argparse.Namespace, seed: int, items: list[Item], latency_items: Sequence[Item] | None
) -> tuple[Round, dict[str, Any] | None]:
    """Baseline, then a fresh server: warm-up, cold batch, warm batch, optional latency."""
    avoid = {it.reference for it in [*items, *(latency_items or [])]}
    # Code paths warmed on both sides alike (lazy imports, parser caches); no cache key shared.
    warmup = unseen_items(seed + 2, args.warmup, avoid)
    baseline, base_s, base_cpu = run_baseline(items, warmup, args.baseline_expr)
    latency = None
    with tempfile.TemporaryDirectory(prefix="referee-bench-") as tmp:
        server = start_server(Path(tmp), args.workers)
        try:
            asyncio.run(score_batch(server.url, warmup, max(1, len(warmup)), 1))
            cold, cold_s, cold_cpu, graded = _timed_server_batch(server, items, args)
            warm, warm_s = asyncio.run(
                score_batch(server.url, items, args.request_size, args.concurrency)
            )
            if latency_items:
                latency = asyncio.run(
                    measure_latency(server.url, latency_items, args.latency_clients)
                )
        finally:
            stop_server(server)
    result = Round(
        seed=seed,
        items=items,
        baseline=baseline,
        base_s=base_s,
        base_cpu_s=base_cpu,
        cold=cold,
        cold_s=cold_s,
        cold_cpu_s=cold_cpu,
        graded_tasks=int(graded[1]),
        graded_worker_s=graded[0],
        warm=warm,
        warm_s=warm_s,
    )
    return result, latency


# -- report ----------------------------------------------------------------------------------


def _statuses(results: Sequence[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(r["outcome"] or f"error:{r['error']['kind']}" for r in results))


def _print_round(i: int, r: Round, args: argparse.Namespace) -> None:
    n, rates = len(r.items), r.rates()
    cpu = "n/a" if r.cold_cpu_s is None else f"{r.cold_cpu_s:.1f}"
    cached = sum(x["cached"] for x in r.cold)
    print(f"round {i} (seed {r.seed}, {n} items = {args.prompts} prompts x {args.samples}):")
    print(
        f"  (a) baseline: {r.base_s:5.1f} s = {rates['baseline_items_per_s']:7.1f} items/s"
        f"   (CPU {r.base_cpu_s:.1f} s, one process)"
    )
    print(
        f"  (b) COLD:     {r.cold_s:5.1f} s = {rates['cold_items_per_s']:7.1f} items/s"
        f"   ratio {rates['ratio_cold']:.2f}x   (CPU {cpu} s, server + workers; "
        f"{r.graded_tasks} unique tasks graded in {r.graded_worker_s:.1f} worker-s, "
        f"{n - cached} of {n} items not de-duplicated)"
    )
    print(
        f"  (b) warm:     {r.warm_s:5.2f} s = {rates['warm_items_per_s']:7.1f} items/s"
        f"   ratio {rates['ratio_warm']:.2f}x   (same batch again: result cache; not headline)"
    )


def _print_agreement(agreement: dict[str, Any], warm_mismatch: int) -> None:
    print(
        f"agreement (server status ok, gold parsed), all rounds: {agreement['compared']} "
        f"compared, {agreement['agree']} agree, {agreement['differ']} differ; server errors "
        f"{agreement['server_errors']}, baseline gold unparsed "
        f"{agreement['baseline_gold_unparsed']}; warm vs cold mismatches {warm_mismatch}"
    )
    for case, count in agreement["differ_by_case"].items():
        print(f"  {count:5d}  {case}")
    print(
        f"  on differing items, the side matching the intent: {agreement['differ_matches_intent']}"
    )
    for e in agreement["examples"][:6]:
        print(
            f"  - {e['id']} [{e['label']}/{e['kind']}] ref {e['reference']!r}: baseline "
            f"{e['baseline']:g}, server {e['server']:g} ({e['server_outcome']}, extracted "
            f"{str(e['server_extracted'])[:60]!r})\n      tail: {e['response_tail'][-110:]!r}"
        )


def _print_latency(lat: dict[str, Any], seed: int) -> None:
    print(
        f"latency: {lat['requests']} single-item requests, {lat['clients']} concurrent clients, "
        f"items unseen by the server (seed {seed}, references disjoint from the batch), "
        f"result cache warm from the batch ({lat['served_from_cache']} served from cache):"
    )
    print(
        f"  p50 {lat['all']['p50_ms']} ms, p99 {lat['all']['p99_ms']} ms, "
        f"max {lat['all']['max_ms']} ms; {lat['requests_per_s']} requests/s"
    )


def _summary(rounds: Sequence[Round]) -> dict[str, Any]:
    n = sum(len(r.items) for r in rounds)
    base_s, cold_s = sum(r.base_s for r in rounds), sum(r.cold_s for r in rounds)
    warm_s = sum(r.warm_s for r in rounds)
    return {
        "items": n,
        "baseline_items_per_s": round(n / base_s, 1),
        "cold_items_per_s": round(n / cold_s, 1),
        "warm_items_per_s": round(n / warm_s, 1),
        "ratio_cold": round(base_s / cold_s, 3),
        "ratio_cold_median_of_rounds": round(
            statistics.median(r.rates()["ratio_cold"] for r in rounds), 3
        ),
        "ratio_warm": round(base_s / warm_s, 3),
        "baseline_cpu_ms_per_item": round(1000 * sum(r.base_cpu_s for r in rounds) / n, 2),
        "server_cpu_ms_per_item_cold": (
            None
            if any(r.cold_cpu_s is None for r in rounds)
            else round(1000 * sum(r.cold_cpu_s or 0.0 for r in rounds) / n, 2)
        ),
    }


# -- main ------------------------------------------------------------------------------------


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="batches (seed, seed+1000, ...) judged both ways, interleaved against noise",
    )
    ap.add_argument("--request-size", type=int, default=512)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument(
        "--warmup",
        type=int,
        default=256,
        help="items (references disjoint from the batch) judged by both sides before timing",
    )
    ap.add_argument("--latency-requests", type=int, default=800)
    ap.add_argument("--latency-clients", type=int, default=16)
    ap.add_argument(
        "--baseline-expr",
        action="store_true",
        help="add ExprExtractionConfig to the baseline's completion parsing (open-r1 has not)",
    )
    ap.add_argument("--output", type=Path, default=Path("bench/results/score_math.json"))
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 64 prompts, 1 round, 200 latency requests"
    )
    args = ap.parse_args(argv)
    if min(args.rounds, args.prompts, args.samples, args.workers, args.request_size) < 1:
        ap.error("--rounds, --prompts, --samples, --workers and --request-size must be >= 1")
    if args.quick:
        args.prompts, args.rounds, args.latency_requests = 64, 1, 200
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = _args(argv)
    print(
        f"referee bench score_math: {args.rounds} round(s) of {args.prompts} prompts x "
        f"{args.samples} samples; baseline = open-r1 accuracy_reward in this process's main "
        f"thread; server = referee serve --workers {args.workers}, POST /score, requests of "
        f"{args.request_size} items, {args.concurrency} in flight; {os.cpu_count()} CPUs"
    )
    rounds: list[Round] = []
    latency: dict[str, Any] | None = None
    latency_seed = args.seed + 1
    for i in range(args.rounds):
        seed = args.seed + 1000 * i
        last = i == args.rounds - 1
        items = build_batch(seed, args.prompts, args.samples)
        lat_items = None
        if last and args.latency_requests > 0:
            latency_seed = seed + 1
            avoid = {it.reference for it in items}
            lat_items = unseen_items(latency_seed, args.latency_requests, avoid)
        r, lat = run_round(args, seed, items, lat_items)
        latency = lat or latency
        rounds.append(r)
        _print_round(i, r, args)

    first = rounds[0]
    labels = Counter(it.label for it in first.items)
    mean_chars = statistics.mean(len(it.response) for r in rounds for it in r.items)
    print(f"batch shape: mean {mean_chars:,.0f} chars; round 0 labels {dict(labels)}")
    summary = _summary(rounds)
    print(
        f"SUMMARY ({summary['items']} items): (a) baseline {summary['baseline_items_per_s']} "
        f"items/s; (b) cold {summary['cold_items_per_s']} items/s; ratio (b)/(a) COLD = "
        f"{summary['ratio_cold']:.2f}x (median of rounds "
        f"{summary['ratio_cold_median_of_rounds']:.2f}x; target >= 2x); warm-cache "
        f"{summary['warm_items_per_s']} items/s = {summary['ratio_warm']:.2f}x (not headline)"
    )
    print(
        f"  CPU per item: baseline {summary['baseline_cpu_ms_per_item']} ms, server (cold, all "
        f"processes) {summary['server_cpu_ms_per_item_cold']} ms"
    )
    items = [it for r in rounds for it in r.items]
    baseline = [b for r in rounds for b in r.baseline]
    cold = [x for r in rounds for x in r.cold]
    warm = [x for r in rounds for x in r.warm]
    warm_mismatch = sum(a["reward"] != b["reward"] for a, b in zip(cold, warm, strict=True))
    agreement = compare(items, baseline, cold)
    _print_agreement(agreement, warm_mismatch)
    acc_b = intent_accuracy(items, baseline)
    acc_s = intent_accuracy(items, [x["reward"] for x in cold])
    print(f"match with the generator's intent: baseline {acc_b:.2%}, server {acc_s:.2%}")
    if latency is not None:
        _print_latency(latency, latency_seed)

    report = {
        "benchmark": "score_math",
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "versions": {"math_verify": version("math-verify"), "httpx": version("httpx")},
        "batch": {"mean_chars": round(mean_chars), "labels_round0": dict(labels)},
        "summary": summary,
        "rounds": [
            {
                "seed": r.seed,
                "items": len(r.items),
                **r.rates(),
                "baseline_s": round(r.base_s, 3),
                "baseline_cpu_s": round(r.base_cpu_s, 3),
                "cold_s": round(r.cold_s, 3),
                "cold_server_cpu_s": None if r.cold_cpu_s is None else round(r.cold_cpu_s, 3),
                "cold_items_deduplicated": sum(x["cached"] for x in r.cold),
                "cold_unique_tasks_graded": r.graded_tasks,
                "cold_worker_grading_s": round(r.graded_worker_s, 3),
                "cold_outcomes": _statuses(r.cold),
                "warm_s": round(r.warm_s, 3),
            }
            for r in rounds
        ],
        "agreement": agreement,
        "warm_vs_cold_reward_mismatches": warm_mismatch,
        "intent_accuracy": {"baseline": acc_b, "server": acc_s},
        "latency": None
        if latency is None
        else {**latency, "seed": latency_seed, "cache": "warm from the batch; items unseen"},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
