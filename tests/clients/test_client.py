"""The HTTP client: retry and splitting logic on a mock transport, behaviour on a live server."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import SERVER_ENV
from support import Server, start_server, stop_server

from referee.clients import (
    AsyncRefereeClient,
    DeadlineExceeded,
    Item,
    RefereeClient,
    RequestRejected,
    ServerError,
    ServerUnavailable,
)

Handler = Callable[[httpx.Request], httpx.Response]


def _echo_results(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    results = [
        {
            "id": item.get("id"),
            "status": "ok",
            "reward": float(item["response"] == str(item["reference"])),
            "outcome": "correct" if item["response"] == str(item["reference"]) else "incorrect",
            "details": {},
            "cached": False,
            "error": None,
        }
        for item in body["items"]
    ]
    return httpx.Response(200, json={"results": results})


class Recorder:
    """A transport handler that answers from a script, then by echoing results."""

    def __init__(self, *script: httpx.Response | Exception) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(time.monotonic())
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return _echo_results(request)


def _sync(handler: Handler, **options: object) -> RefereeClient:
    return RefereeClient("http://referee.test", transport=httpx.MockTransport(handler), **options)  # type: ignore[arg-type]


def _items(n: int) -> list[Item]:
    return [Item(response=str(i % 3), reference=1, id=f"i{i}") for i in range(n)]


# -- logic on a mock transport --------------------------------------------------------------


def test_splits_batches_and_keeps_order() -> None:
    rec = Recorder()
    with _sync(rec, batch_size=3, concurrency=2) as client:
        results = client.score(_items(10), verifier="exact_match")
    assert [len(json.loads(r.content)["items"]) for r in rec.requests] == [3, 3, 3, 1]
    assert all(json.loads(r.content)["verifier"] == "exact_match" for r in rec.requests)
    assert [r.id for r in results] == [f"i{i}" for i in range(10)]
    assert [r.reward for r in results] == [float(i % 3 == 1) for i in range(10)]


async def test_async_splits_batches_and_keeps_order() -> None:
    rec = Recorder()
    transport = httpx.MockTransport(rec)
    async with AsyncRefereeClient(
        "http://referee.test", transport=transport, batch_size=4, concurrency=3
    ) as client:
        results = await client.score(_items(10))
    assert len(rec.requests) == 3
    assert "verifier" not in json.loads(rec.requests[0].content)
    assert [r.id for r in results] == [f"i{i}" for i in range(10)]


async def test_async_split_batch_raises_the_first_failure() -> None:
    detail = [{"loc": ["body", "items", 1, "reference"], "msg": "bad"}]
    rec = Recorder(
        httpx.Response(422, json={"detail": detail}), *[httpx.Response(503) for _ in range(20)]
    )
    transport = httpx.MockTransport(rec)
    async with AsyncRefereeClient(
        "http://referee.test", transport=transport, batch_size=2, concurrency=1, backoff_s=0.05
    ) as client:
        with pytest.raises(RequestRejected):
            await client.score(_items(6))
    assert len(rec.requests) < 6  # the other requests stopped retrying


def test_empty_batch_sends_nothing() -> None:
    rec = Recorder()
    with _sync(rec) as client:
        assert client.score([]) == []
    assert rec.requests == []


def test_dict_items_and_unset_fields_left_out() -> None:
    rec = Recorder()
    with _sync(rec) as client:
        client.score([{"response": "1", "reference": 1}])
    assert json.loads(rec.requests[0].content)["items"] == [{"response": "1", "reference": 1}]
    with pytest.raises(TypeError, match="unknown keys"):
        client.score([{"response": "1", "answer": 1}])


def test_honours_retry_after_on_429() -> None:
    rec = Recorder(httpx.Response(429, headers={"retry-after": "0.4"}, json={"detail": "busy"}))
    with _sync(rec, backoff_s=0.01) as client:
        results = client.score(_items(2))
    assert len(results) == 2
    assert len(rec.requests) == 2
    assert rec.times[1] - rec.times[0] >= 0.4


def test_retries_503_and_connection_errors() -> None:
    rec = Recorder(
        httpx.ConnectError("refused"),
        httpx.Response(503, json={"detail": "not ready"}),
        httpx.ReadError("reset"),
    )
    with _sync(rec, backoff_s=0.01) as client:
        assert [r.reward for r in client.score(_items(2))] == [0.0, 1.0]
    assert len(rec.requests) == 4


def test_gives_up_after_retries() -> None:
    rec = Recorder(*[httpx.Response(503, json={"detail": "down"}) for _ in range(10)])
    with _sync(rec, retries=2, backoff_s=0.01) as client, pytest.raises(ServerUnavailable) as e:
        client.score(_items(1))
    assert len(rec.requests) == 3
    assert "HTTP 503: down" in str(e.value)


def test_never_retries_a_caller_fault() -> None:
    detail = [{"loc": ["body", "items", 0, "reference"], "msg": "bad reference"}]
    rec = Recorder(httpx.Response(422, json={"detail": detail}))
    with _sync(rec, backoff_s=0.01) as client, pytest.raises(RequestRejected) as e:
        client.score(_items(1))
    assert len(rec.requests) == 1
    assert e.value.status_code == 422
    assert "items.0.reference: bad reference" in str(e.value)


def test_server_error_is_not_retried() -> None:
    rec = Recorder(httpx.Response(500, json={"detail": "internal error"}))
    with _sync(rec) as client, pytest.raises(ServerError):
        client.score(_items(1))
    assert len(rec.requests) == 1


def test_deadline_cuts_retries_short() -> None:
    rec = Recorder(*[httpx.Response(503, headers={"retry-after": "30"}) for _ in range(5)])
    start = time.monotonic()
    with _sync(rec, deadline_s=1.0) as client, pytest.raises(DeadlineExceeded):
        client.score(_items(1))
    assert time.monotonic() - start < 1.0
    assert len(rec.requests) == 1


async def test_async_deadline_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFEREE_URL", "http://from-env.test:9")
    monkeypatch.setenv("REFEREE_API_KEY", "s3cret")
    rec = Recorder(*[httpx.Response(429, headers={"retry-after": "0.2"}) for _ in range(50)])
    async with AsyncRefereeClient(transport=httpx.MockTransport(rec)) as client:
        assert client.url == "http://from-env.test:9"
        with pytest.raises(DeadlineExceeded):
            await client.score(_items(1), deadline_s=0.7)
    assert rec.requests[0].headers["authorization"] == "Bearer s3cret"
    assert rec.requests[0].url.host == "from-env.test"
    assert 2 <= len(rec.requests) <= 4


def test_error_results_are_typed() -> None:
    payload = {
        "results": [
            {
                "id": None,
                "status": "error",
                "reward": None,
                "outcome": None,
                "details": {},
                "cached": False,
                "error": {"kind": "timeout", "message": "too slow", "retryable": True},
            }
        ]
    }
    with _sync(Recorder(httpx.Response(200, json=payload))) as client:
        (result,) = client.score(_items(1))
    assert not result.ok
    assert result.reward is None
    assert result.error is not None
    assert (result.error.kind, result.error.retryable) == ("timeout", True)


# -- a live server -------------------------------------------------------------------------


def test_live_results_equal_the_raw_route(server: Server) -> None:
    items = [
        {"id": "a", "response": "The answer is $\\boxed{\\frac{1}{2}}$", "reference": "0.5"},
        {"id": "b", "response": "\\boxed{3}", "reference": "4"},
        {"id": "c", "response": "raise", "verifier": "misbehave"},
    ]
    raw = httpx.post(server.url + "/score", json={"verifier": "math", "items": items}, timeout=60)
    with RefereeClient(server.url) as client:
        results = client.score(items, verifier="math")
    expected = raw.json()["results"]
    assert [(r.id, r.status, r.reward, r.outcome) for r in results] == [
        (e["id"], e["status"], e["reward"], e["outcome"]) for e in expected
    ]
    assert results[0].reward == 1.0
    assert results[2].error is not None
    assert results[2].error.kind == "verifier_error"


async def test_live_unknown_verifier_is_rejected_once(server: Server) -> None:
    async with AsyncRefereeClient(server.url, backoff_s=5.0) as client:
        start = time.monotonic()
        with pytest.raises(RequestRejected) as e:
            await client.score([Item("1", "1")], verifier="no_such_verifier")
    assert e.value.status_code == 422
    assert "verifier" in str(e.value)
    assert time.monotonic() - start < 3.0  # a retry would have waited for backoff_s


def test_live_deadline(server: Server) -> None:
    with RefereeClient(server.url) as client:
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            client.score([Item("sleep:2.5", verifier="misbehave")], deadline_s=0.5)
    assert time.monotonic() - start < 2.0


def test_live_survives_a_server_restart(tmp_path: Path) -> None:
    first = start_server(tmp_path, SERVER_ENV, workers=1)
    port = int(first.url.rsplit(":", 1)[1])
    stop_server(first)
    restarted: list[Server] = []

    def restart() -> None:
        time.sleep(1.0)
        restarted.append(start_server(tmp_path, SERVER_ENV, workers=1, port=port))

    thread = threading.Thread(target=restart)
    thread.start()
    try:
        with RefereeClient(first.url, retries=10_000, backoff_s=0.2, max_backoff_s=1.0) as client:
            results = client.score([Item("\\boxed{2}", "2")], verifier="math", deadline_s=90)
        assert [r.reward for r in results] == [1.0]
    finally:
        thread.join()
        for srv in restarted:
            stop_server(srv)


def test_imports_only_httpx_and_the_standard_library() -> None:
    # A trainer's environment may lack the server's dependencies.
    code = (
        "import sys\n"
        "import referee.clients, referee.clients.trl, referee.clients.openrlhf, "
        "referee.clients.verl\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    server_side = {"fastapi", "starlette", "pydantic", "uvicorn", "math_verify", "sympy"}
    heavy = {"torch", "transformers", "trl", "prometheus_client", "docker", "typer"}
    assert not (set(out) & (server_side | heavy))
    assert "httpx" in out


def test_live_retries_through_a_429(tmp_path: Path) -> None:
    # A key allowed one request a second: the second call is turned away with a 429
    # and Retry-After, and the client comes back after it instead of failing.
    key = "client-key"
    env = {
        **SERVER_ENV,
        "REFEREE_API_KEY_HASHES": hashlib.sha256(key.encode()).hexdigest(),
        "REFEREE_KEY_REQUESTS_PER_S": "1",
        "REFEREE_KEY_BURST": "1",
    }
    srv = start_server(tmp_path, env, workers=1)
    try:
        with RefereeClient(srv.url, api_key=key, backoff_s=0.05) as client:
            start = time.monotonic()
            first = client.score([Item("\\boxed{1}", "1")], verifier="math")
            second = client.score([Item("\\boxed{2}", "2")], verifier="math")
            elapsed = time.monotonic() - start
        assert [r.reward for r in first + second] == [1.0, 1.0]
        assert elapsed >= 0.9  # it waited for the key's next token
        time.sleep(1.1)  # /metrics too counts against the key's rate
        metrics = httpx.get(
            srv.url + "/metrics", headers={"authorization": f"Bearer {key}"}, timeout=10
        ).text
        assert 'referee_rejected_requests_total{reason="key_rate",status="429"} 1.0' in metrics
        with RefereeClient(srv.url, api_key="wrong") as client, pytest.raises(RequestRejected) as e:
            client.score([Item("1", "1")], verifier="math")
        assert e.value.status_code == 401
    finally:
        stop_server(srv)
