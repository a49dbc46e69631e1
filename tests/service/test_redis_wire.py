"""Hostile Redis content against a real cluster: crafted entries and values never run.

Anyone who can write to Redis can forge verdicts (Redis needs a password), but a
crafted task entry, cached value or reply must not run code in a worker or an API
replica, nor leave a request without an answer.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from cluster import Cluster, Redis, cluster_of, sum_metric
from conftest import SERVER_ENV

from referee import verifiers
from referee.service.cache import cache_key
from referee.service.dispatch._codec import decode_result, decode_results
from referee.service.dispatch._task import Task
from referee.verifiers import Context

pytestmark = pytest.mark.slow

PREFIX = "t-wire"
MALFORMED = "referee_malformed_entries_total"


class Exploit:
    """Unpickling this runs a shell command: the payload of a crafted entry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def exploit(marker: Path) -> bytes:
    return pickle.dumps(Exploit(marker))


@pytest.fixture(scope="module")
def wire(redis_server: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    env = {**SERVER_ENV, "REFEREE_REDIS_PREFIX": PREFIX, "REFEREE_REQUEST_TIMEOUT_S": "30"}
    yield from cluster_of(tmp_path_factory.mktemp("wire"), redis_server, env, 1, 1)


@pytest.fixture
def r(redis_server: Redis) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server.port, socket_timeout=10)
    yield client
    client.close()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def score(url: str, items: list[dict[str, Any]], verifier: str = "math", **headers: str) -> Any:
    reply = httpx.post(
        url + "/score", json={"verifier": verifier, "items": items}, headers=headers, timeout=25
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["results"]


def test_pickled_task_entry_is_never_run(wire: Cluster, r: redis.Redis, tmp_path: Path) -> None:
    marker = tmp_path / "ran-in-worker"
    worker, replica = wire.workers[0], wire.replicas[0]
    counted = sum_metric(worker.metrics_text(), MALFORMED, source="task")
    tasks, reply = f"{PREFIX}:tasks", f"{PREFIX}:reply:0123456789ab"
    answerable = r.xadd(
        tasks,
        {"d": repr(time.time() + 60), "rp": reply, "t": "7", "p": exploit(marker), "k": ""},
    )
    nowhere = r.xadd(tasks, {"p": exploit(marker)})  # no reply stream: acked and deleted

    entries = wait_for("the error answer", lambda: r.xrange(reply))
    assert len(entries) == 1 and entries[0][1][b"t"] == b"7"
    (answer,) = decode_results(entries[0][1][b"r"])
    assert answer.status == "error" and answer.error is not None
    assert answer.error.kind == "bad_entry"

    def gone() -> bool:
        pending = r.xpending(tasks, f"{PREFIX}:judges")["pending"]
        return (
            not r.xrange(tasks, answerable, answerable)
            and not r.xrange(tasks, nowhere, nowhere)
            and pending == 0
        )

    wait_for("both entries acked and deleted", gone)
    wait_for(
        "the counter",
        lambda: sum_metric(worker.metrics_text(), MALFORMED, source="task") - counted == 2,
    )
    assert not marker.exists()
    # The worker goes on judging real requests.
    results = score(replica.url, [{"response": "so \\boxed{41}", "reference": "41"}])
    assert [(x["status"], x["reward"]) for x in results] == [("ok", 1.0)]
    assert worker.process.poll() is None
    assert not marker.exists()


def test_malformed_chunk_answers_each_of_its_tasks(wire: Cluster, r: redis.Redis) -> None:
    """A chunk entry whose tasks do not decode: every task id gets its error, in one reply."""
    tasks, reply = f"{PREFIX}:tasks", f"{PREFIX}:reply:00000000c0de"
    r.xadd(
        tasks,
        {"d": repr(time.time() + 60), "rp": reply, "t": "a,b,c", "p": b"[1,2]", "k": ",,"},
    )
    entries = wait_for("the error answers", lambda: r.xrange(reply))
    assert len(entries) == 1 and entries[0][1][b"t"] == b"a,b,c"
    answers = decode_results(entries[0][1][b"r"])
    assert [(a.status, a.error and a.error.kind) for a in answers] == [("error", "bad_entry")] * 3


def test_pickled_cache_value_is_a_miss(wire: Cluster, r: redis.Redis, tmp_path: Path) -> None:
    marker = tmp_path / "ran-in-replica"
    replica = wire.replicas[0]
    verifiers.load_builtin()
    math = verifiers.get("math")
    # A radical: a plain number is judged by the replica itself, without the cache.
    params, response, reference = math.parse_params({}), "so \\boxed{\\sqrt{4242}}", "\\sqrt{4242}"
    context = Context()
    extracted = math.extract(response, reference, params, context)
    task = Task("math", params, extracted, reference, context)
    key = f"{PREFIX}:cache:{cache_key(math, task).hex()}"
    r.set(key, exploit(marker), ex=600)
    counted = sum_metric(httpx.get(replica.url + "/metrics").text, MALFORMED, source="cache")

    start = time.monotonic()
    results = score(replica.url, [{"response": response, "reference": reference}])
    assert time.monotonic() - start < 20
    assert [(x["status"], x["reward"], x["outcome"], x["cached"]) for x in results] == [
        ("ok", 1.0, "correct", False)
    ]
    assert not marker.exists()
    assert sum_metric(httpx.get(replica.url + "/metrics").text, MALFORMED, source="cache") == (
        counted + 1
    )
    # The judgement replaced the crafted value (so this was the key the request used)...
    stored = decode_result(r.get(key) or b"")
    assert stored.score is not None and stored.score.reward == 1.0
    # ...and the next identical item is a real cache hit.
    again = score(replica.url, [{"response": response, "reference": reference}])
    assert [(x["reward"], x["cached"]) for x in again] == [(1.0, True)]
    assert not marker.exists()


def test_bad_reply_is_an_error_not_a_hang(wire: Cluster, r: redis.Redis, tmp_path: Path) -> None:
    marker = tmp_path / "ran-in-replica-reader"
    replica = wire.replicas[0]
    rid = f"wire-bad-reply-{time.time_ns()}"
    counted = sum_metric(httpx.get(replica.url + "/metrics").text, MALFORMED, source="result")
    with ThreadPoolExecutor(1) as ex:
        start = time.monotonic()
        pending = ex.submit(
            score, replica.url, [{"response": "sleep:2.5"}], "misbehave", **{"X-Request-ID": rid}
        )

        def ours() -> Any:
            found = [f for _, f in r.xrange(f"{PREFIX}:tasks") if f.get(b"rid") == rid.encode()]
            return found[0] if found else None

        fields = wait_for("the task entry", ours, timeout=5)
        # A crafted answer overtakes the worker's: it must not run, and must answer.
        r.xadd(fields[b"rp"], {"t": fields[b"t"], "r": exploit(marker)})
        results = pending.result(timeout=25)
        elapsed = time.monotonic() - start
    assert [(x["status"], x["error"]["kind"]) for x in results] == [("error", "bad_entry")]
    assert elapsed < 2.5  # answered by the bad reply, not by the worker's judgement
    assert not marker.exists()
    assert sum_metric(httpx.get(replica.url + "/metrics").text, MALFORMED, source="result") == (
        counted + 1
    )
    # The reply reader is still serving.
    results = score(replica.url, [{"response": "\\boxed{8}", "reference": "8"}])
    assert [(x["status"], x["reward"]) for x in results] == [("ok", 1.0)]
