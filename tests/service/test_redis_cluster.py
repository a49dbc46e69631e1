"""Scaled out: API replicas and `referee worker`s through a real Redis, faults included."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from cluster import (
    Cluster,
    Redis,
    cluster_of,
    start_redis,
    stop_redis,
    sum_metric,
    wait_worker,
)
from conftest import SERVER_ENV
from support import Server

pytestmark = pytest.mark.slow

ENV = {
    **SERVER_ENV,
    "REFEREE_RECLAIM_IDLE_S": "1.5",
    "REFEREE_MAX_DELIVERIES": "2",
    "REFEREE_LOG_LEVEL": "debug",
}


@pytest.fixture(scope="module")
def cluster(redis_server: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    env = {**ENV, "REFEREE_REDIS_PREFIX": "t-cluster"}
    yield from cluster_of(tmp_path_factory.mktemp("cluster"), redis_server, env, 2, 2)


def math_items(start: int, n: int) -> list[dict[str, Any]]:
    """Distinct items (no cache hits), some right, some wrong, some unboxed.

    Radicals, not plain numbers: the replica judges those itself (the fast path),
    and these items must travel to the workers.
    """
    items = []
    for i in range(start, start + n):
        answer = f"\\sqrt{{{i}}}"
        response = f"so the answer is \\boxed{{{answer}}}" if i % 50 else f"I think {answer}"
        reference = f"\\sqrt{{{i + (i % 5 == 0)}}}"
        items.append({"id": f"m{i}", "response": response, "reference": reference})
    return items


def judged(result: dict[str, Any]) -> tuple[Any, ...]:
    return (
        result["id"],
        result["status"],
        result["reward"],
        result["outcome"],
        json.dumps(result["details"], sort_keys=True),
        None if result["error"] is None else result["error"]["kind"],
    )


def score(url: str, body: dict[str, Any], **headers: str) -> list[dict[str, Any]]:
    r = httpx.post(url + "/score", json=body, headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def score_many(
    urls: list[str], items: list[dict[str, Any]], batch: int = 200
) -> list[dict[str, Any]]:
    bodies = [
        {"verifier": "math", "items": items[i : i + batch]} for i in range(0, len(items), batch)
    ]
    with ThreadPoolExecutor(len(bodies)) as ex:
        parts = ex.map(lambda ib: score(urls[ib[0] % len(urls)], ib[1]), enumerate(bodies))
        return [r for part in parts for r in part]


def test_same_results_as_embedded_and_shared_cache(cluster: Cluster, server: Server) -> None:
    a, b = cluster.replicas
    items = math_items(10_000, 60)
    body = {"verifier": "math", "items": items}
    first = score(a.url, body)
    assert [judged(r) for r in first] == [judged(r) for r in score(server.url, body)]
    assert not any(r["cached"] for r in first)
    # The other replica has never seen these: its answers come from the Redis cache.
    again = score(b.url, body)
    assert [judged(r) for r in again] == [judged(r) for r in first]
    assert all(r["cached"] for r in again)
    composite = {
        "verifier": [{"name": "math"}, {"name": "think_format", "weight": 0.1}],
        "items": [{"response": "<think>x</think> \\boxed{4}", "reference": "4"}],
    }
    assert score(b.url, composite)[0]["reward"] == pytest.approx(1.1)


def test_request_id_follows_item_to_worker(cluster: Cluster) -> None:
    rid = "trace-7f3a-redis"
    r = httpx.post(
        cluster.replicas[0].url + "/score",
        headers={"X-Request-ID": rid},
        json={"verifier": "misbehave", "items": [{"response": "ok-trace"}]},
        timeout=60,
    )
    assert r.status_code == 200 and r.headers["x-request-id"] == rid
    assert r.json()["results"][0]["status"] == "ok"
    deadline = time.monotonic() + 10
    while True:
        records = [
            json.loads(line)
            for w in cluster.workers
            for line in w.log.read_text().splitlines()
            if line.startswith("{")
        ]
        if any(rec.get("request_id") == rid for rec in records):
            break
        assert time.monotonic() < deadline, "no worker log line carries the request id"
        time.sleep(0.1)
    generated = httpx.get(cluster.replicas[0].url + "/healthz").headers["x-request-id"]
    assert len(generated) == 32


def test_kill_worker_mid_run_loses_nothing(cluster: Cluster, server: Server) -> None:
    items = math_items(20_000, 2000)
    expected = [judged(r) for r in score_many([server.url], items)]
    victim, survivor = cluster.live_workers()[:2]
    results: list[dict[str, Any]] = []
    runner = threading.Thread(
        target=lambda: results.extend(score_many([r.url for r in cluster.replicas], items))
    )
    runner.start()
    deadline = time.monotonic() + 60
    while victim.metric("referee_items_scored_total") < 100:
        assert time.monotonic() < deadline and runner.is_alive(), "the run never started"
        time.sleep(0.02)
    victim.kill()
    runner.join(timeout=100)
    assert not runner.is_alive()
    assert [judged(r) for r in results] == expected
    assert survivor.metric("referee_reclaimed_entries_total") >= 1
    # What the victim held were chunks of several tasks (200-item requests over two
    # workers): the survivor split each into single-task entries before judging.
    assert "splitting reclaimed entry" in survivor.log.read_text()
    cluster.add_worker()  # back to two for the next tests


def test_kill_replica_client_retries_on_the_other(cluster: Cluster, server: Server) -> None:
    items = math_items(30_000, 400)
    expected = [judged(r) for r in score_many([server.url], items, batch=20)]
    victim = cluster.add_replica()
    urls = [victim.url, cluster.replicas[0].url]
    retried = 0

    def send(i: int) -> list[dict[str, Any]]:
        nonlocal retried
        body = {"verifier": "math", "items": items[i * 20 : (i + 1) * 20]}
        for url in (urls[i % 2], urls[1]):
            try:
                return score(url, body)
            except httpx.TransportError:
                retried += 1
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(4) as ex:
        futures = [ex.submit(send, i) for i in range(20)]
        time.sleep(0.3)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        results = [r for f in futures for r in f.result()]
    assert [judged(r) for r in results] == expected
    cluster.replicas.remove(victim)


@pytest.fixture
def unconfined(redis_server: Redis, tmp_path: Path) -> Iterator[Cluster]:
    """Workers whose verifiers may kill their own ``referee worker`` (confinement off).

    Confined, a verifier cannot signal its process group (tests/service/test_confinement.py);
    this stands for whatever else can take a whole worker down with one item (the
    kernel's OOM killer, a segfault in the consumer).
    """
    env = {**ENV, "REFEREE_REDIS_PREFIX": "t-poison", "REFEREE_CONFINE_WORKERS": "false"}
    yield from cluster_of(tmp_path, redis_server, env, 2, 1)


@contextlib.contextmanager
def _supervised(cluster: Cluster) -> Iterator[None]:
    """Restart dead workers, as systemd or Kubernetes would, then wait for them all."""
    stop = threading.Event()

    def supervise() -> None:
        while not stop.is_set():
            for w in list(cluster.workers):
                if w.process.poll() is not None:
                    cluster.workers.remove(w)
                    cluster.add_worker(wait=False)
            time.sleep(0.2)

    sup = threading.Thread(target=supervise, daemon=True)
    sup.start()
    try:
        yield
    finally:
        stop.set()
        sup.join()
    for w in cluster.workers:
        wait_worker(w)


def test_poison_item_ends_as_error(unconfined: Cluster) -> None:
    """An item that kills its worker every time: an error after max_deliveries, not a loop."""
    cluster = unconfined
    with _supervised(cluster):
        body = {
            "verifier": "misbehave",
            "items": [{"response": "crash_group"}, {"response": "fine-after-poison"}],
        }
        poison, fine = score(cluster.replicas[0].url, body)
    assert poison["status"] == "error" and poison["reward"] is None
    assert poison["error"]["kind"] == "worker_crashed"
    assert poison["error"]["retryable"] is False
    assert fine["status"] == "ok" and fine["reward"] == 1.0


def test_poison_item_in_a_chunk_takes_no_innocent_item_with_it(unconfined: Cluster) -> None:
    """A poison task shares a chunk entry with others: they are judged, it alone fails."""
    cluster = unconfined
    with _supervised(cluster):
        # 32 items: the engine sends chunks of 2 (its hint is 4 workers, 4 chunks
        # each), so the poison item travels with an innocent one in one stream entry.
        items = [{"response": "crash_group"}] + [{"response": f"fine-{i}"} for i in range(31)]
        results = score(cluster.replicas[0].url, {"verifier": "misbehave", "items": items})
    logs = [path.read_text() for path in cluster.tmp.glob("worker-*.log")]
    poison, fine = results[0], results[1:]
    assert poison["status"] == "error" and poison["error"]["kind"] == "worker_crashed"
    assert [(r["status"], r["reward"]) for r in fine] == [("ok", 1.0)] * 31
    assert any("splitting reclaimed entry" in text for text in logs)


def test_stalled_worker_is_bypassed(cluster: Cluster) -> None:
    staller = cluster.live_workers()[0]
    body = {
        "verifier": "misbehave",
        "items": [{"response": f"sleep:0.2{i:03d}"} for i in range(12)],
    }
    results: list[dict[str, Any]] = []
    runner = threading.Thread(target=lambda: results.extend(score(cluster.replicas[0].url, body)))
    runner.start()
    time.sleep(0.5)
    import os

    os.killpg(staller.process.pid, signal.SIGSTOP)
    try:
        runner.join(timeout=60)
    finally:
        os.killpg(staller.process.pid, signal.SIGCONT)
    assert not runner.is_alive()
    assert [r["status"] for r in results] == ["ok"] * 12, [r["error"] for r in results]
    reclaimed = sum(w.metric("referee_reclaimed_entries_total") for w in cluster.live_workers())
    assert reclaimed >= 1


def test_deadline_drops_queued_work(cluster: Cluster) -> None:
    short = cluster.add_replica(REFEREE_REQUEST_TIMEOUT_S="1.5")
    body = {
        "verifier": "misbehave",
        "items": [{"response": f"sleep:0.4{i:03d}"} for i in range(20)],
    }
    results = score(short.url, body)
    kinds = [r["error"]["kind"] if r["error"] else r["status"] for r in results]
    assert "ok" in kinds and "deadline" in kinds
    assert set(kinds) == {"ok", "deadline"}
    assert all(r["error"]["retryable"] for r in results if r["error"])
    deadline = time.monotonic() + 10
    while sum(w.metric("referee_expired_entries_total") for w in cluster.live_workers()) < 1:
        assert time.monotonic() < deadline, "workers judged expired entries"
        time.sleep(0.2)
    cluster.replicas.remove(short)
    from cluster import stop_process

    stop_process(short.process)


def test_redis_outage_503_then_recovers(tmp_path: Path) -> None:
    redis = start_redis(tmp_path)
    env = {**ENV, "REFEREE_REDIS_PREFIX": "t-outage"}
    try:
        for c in cluster_of(tmp_path, redis, env, 1, 1):
            url = c.replicas[0].url
            body = {"verifier": "math", "items": [{"response": "\\boxed{1}", "reference": "1"}]}
            assert score(url, body)[0]["reward"] == 1.0
            stop_redis(redis)
            time.sleep(1.0)
            start = time.monotonic()
            r = httpx.post(url + "/score", json=body, timeout=30)
            assert time.monotonic() - start < 3
            assert r.status_code == 503, r.text
            assert "redis" in r.json()["detail"] and int(r.headers["retry-after"]) >= 1
            assert httpx.get(url + "/readyz").status_code == 503
            redis = start_redis(tmp_path, redis.port)
            deadline = time.monotonic() + 30
            while True:
                r = httpx.post(url + "/score", json=body, timeout=30)
                if r.status_code == 200 and r.json()["results"][0]["status"] == "ok":
                    break
                assert r.status_code in (200, 503), r.text
                assert time.monotonic() < deadline, f"no recovery: {r.status_code} {r.text}"
                time.sleep(0.3)
            assert sum_metric(httpx.get(url + "/metrics").text, "referee_redis_up") == 1
    finally:
        stop_redis(redis)


def test_worker_sigterm_hands_back_its_entries(cluster: Cluster) -> None:
    leaving = cluster.add_worker(REFEREE_SHUTDOWN_GRACE_S="0.2")
    body = {"verifier": "misbehave", "items": [{"response": f"sleep:1.{i:03d}"} for i in range(8)]}
    results: list[dict[str, Any]] = []
    runner = threading.Thread(target=lambda: results.extend(score(cluster.replicas[0].url, body)))
    runner.start()
    deadline = time.monotonic() + 30
    while "judging" not in leaving.log.read_text():
        assert time.monotonic() < deadline, "the new worker took nothing"
        time.sleep(0.05)
    leaving.process.send_signal(signal.SIGTERM)
    assert leaving.process.wait(timeout=30) == 0
    runner.join(timeout=60)
    assert [r["status"] for r in results] == ["ok"] * 8
    assert "handed 1 entries back" in leaving.log.read_text() or (
        "handed 2 entries back" in leaving.log.read_text()
    )
    cluster.workers.remove(leaving)


def test_identical_items_in_flight_are_judged_once(cluster: Cluster) -> None:
    def judged_total() -> float:
        return sum(
            sum_metric(w.metrics_text(), "referee_items_scored_total", verifier="misbehave")
            for w in cluster.live_workers()
        )

    before = judged_total()
    body = {"verifier": "misbehave", "items": [{"response": "sleep:1.0777"}]}
    urls = [r.url for r in cluster.replicas[:2]] * 2
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda url: score(url, body)[0], urls))
    assert [r["status"] for r in results] == ["ok"] * 4
    assert len({r["details"]["pid"] for r in results}) == 1  # one judgement, four answers
    time.sleep(1.0)  # workers' counters are not behind the answers, but be generous
    assert judged_total() - before == 1
