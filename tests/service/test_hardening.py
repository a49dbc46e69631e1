"""API keys, admission control and graceful shutdown of a real `referee serve`."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SERVER_ENV
from support import REFEREE, Server, start_server, stop_server


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("keyed")
    keyfile = tmp / "keys"
    keyfile.write_text(f"# inflight tests\n{sha('key-two')}  second key\n")
    env = {
        **SERVER_ENV,
        "REFEREE_API_KEY_HASHES": sha("key-one"),
        "REFEREE_API_KEY_FILE": str(keyfile),
        "REFEREE_KEY_REQUESTS_PER_S": "0.5",
        "REFEREE_KEY_BURST": "4",
        "REFEREE_KEY_MAX_INFLIGHT": "1",
    }
    srv = start_server(tmp, env, workers=1)
    yield srv
    stop_server(srv)


def test_api_keys_required_except_health(keyed: Server) -> None:
    assert httpx.get(keyed.url + "/healthz").status_code == 200
    assert httpx.get(keyed.url + "/readyz").status_code == 200
    body = {"verifier": "math", "items": [{"response": "\\boxed{1}", "reference": "1"}]}
    r = httpx.post(keyed.url + "/score", json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in r.json()["detail"]
    r = httpx.post(keyed.url + "/score", json=body, headers={"Authorization": "Bearer nope"})
    assert (r.status_code, r.json()) == (401, {"detail": "invalid API key"})
    assert httpx.get(keyed.url + "/metrics").status_code == 401
    ok = httpx.post(keyed.url + "/score", json=body, headers={"Authorization": "Bearer key-one"})
    assert ok.status_code == 200 and ok.json()["results"][0]["reward"] == 1.0


def test_per_key_rate_limit(keyed: Server) -> None:
    auth = {"Authorization": "Bearer key-one"}
    codes = [httpx.get(keyed.url + "/verifiers", headers=auth) for _ in range(6)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited, [r.status_code for r in codes]
    assert int(limited[0].headers["retry-after"]) >= 1
    assert "REFEREE_KEY_REQUESTS_PER_S" in limited[0].json()["detail"]


def test_per_key_inflight_limit(keyed: Server) -> None:
    auth = {"Authorization": "Bearer key-two"}
    slow = {"verifier": "misbehave", "items": [{"response": "sleep:1.5"}]}
    with ThreadPoolExecutor(1) as ex:
        first = ex.submit(httpx.post, keyed.url + "/score", json=slow, headers=auth, timeout=30)
        time.sleep(0.5)
        second = httpx.post(keyed.url + "/score", json=slow, headers=auth, timeout=30)
        assert first.result().status_code == 200
    assert second.status_code == 429
    assert "REFEREE_KEY_MAX_INFLIGHT" in second.json()["detail"]


def test_hash_key_command() -> None:
    out = subprocess.run([REFEREE, "hash-key", "s3cret"], capture_output=True, text=True)
    assert out.stdout.strip() == sha("s3cret")
    piped = subprocess.run([REFEREE, "hash-key"], input="s3cret\n", capture_output=True, text=True)
    assert piped.stdout.strip() == sha("s3cret")


def test_public_address_needs_keys_or_insecure() -> None:
    # 192.0.2.1 (TEST-NET) is not on this machine: past our check, binding fails.
    cmd = [REFEREE, "serve", "--host", "192.0.2.1", "--port", "9", "--workers", "1"]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "refusing" in refused.stderr
    env = {"REFEREE_API_KEY_HASHES": sha("k"), "PATH": "/usr/bin:/bin"}
    keyed = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert "refusing" not in keyed.stderr
    bad = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, env={**env, "REFEREE_API_KEY_HASHES": "x"}
    )
    assert bad.returncode == 2 and "referee hash-key" in bad.stderr


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_flood_beyond_capacity_gets_429_and_memory_stays_bounded(tmp_path: Path) -> None:
    env = {**SERVER_ENV, "REFEREE_MAX_QUEUED_ITEMS": "40", "REFEREE_CACHE_SIZE": "0"}
    srv = start_server(tmp_path, env, workers=1)
    try:

        def send(i: int) -> httpx.Response:
            items = [{"response": f"sleep:0.01{i:05d}{j}"} for j in range(10)]
            return httpx.post(
                srv.url + "/score", json={"verifier": "misbehave", "items": items}, timeout=120
            )

        with ThreadPoolExecutor(16) as ex:
            list(ex.map(send, range(16)))  # warm up
            before = rss_kb(srv.process.pid)
            responses = list(ex.map(send, range(16, 112)))
        after = rss_kb(srv.process.pid)
        codes = {r.status_code for r in responses}
        assert codes <= {200, 429}, codes
        rejected = [r for r in responses if r.status_code == 429]
        assert rejected, "a flood of 16 concurrent clients was never refused"
        assert 1 <= int(rejected[0].headers["retry-after"]) <= 60
        assert "max_queued_items=40" in rejected[0].json()["detail"]
        for r in responses:
            if r.status_code == 200:
                assert all(x["status"] == "ok" for x in r.json()["results"])
        assert after - before < 100_000, (before, after)  # KiB: a safety bound, not a timing
        text = httpx.get(srv.url + "/metrics").text
        assert 'referee_rejected_requests_total{reason="queue_full",status="429"}' in text
    finally:
        stop_server(srv)


def test_sigterm_finishes_in_flight_requests(tmp_path: Path) -> None:
    srv = start_server(tmp_path, SERVER_ENV, workers=1)
    results: list[Any] = []
    body = {"verifier": "misbehave", "items": [{"response": "sleep:1.5"}]}
    runner = threading.Thread(
        target=lambda: results.append(httpx.post(srv.url + "/score", json=body, timeout=60))
    )
    runner.start()
    time.sleep(0.5)
    srv.process.send_signal(signal.SIGTERM)
    runner.join(timeout=30)
    assert results[0].status_code == 200
    assert results[0].json()["results"][0]["status"] == "ok"
    # uvicorn re-raises the signal once it has shut down gracefully.
    assert srv.process.wait(timeout=30) in (0, -signal.SIGTERM)
    with pytest.raises(httpx.ConnectError):
        httpx.get(srv.url + "/healthz", timeout=2)
