"""The docker compose cluster for real: images built offline, Redis, two API replicas
behind the proxy, workers scaled from one to three, a batch scored through it, down.

The fixture starts dockerd (deploy/sandbox-image/start-dockerd.sh) and builds the
images (deploy/build-images.sh: cached, so only a machine's first run pays the base
image's debootstrap). REFEREE_SKIP_DOCKER=1 skips on purpose, as for the docker backend.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
# Code items judged by the workers through the Docker backend (sibling containers).
SANDBOX = DEPLOY / "docker-compose.sandbox.yml"
FILES = ["-f", str(COMPOSE), "-f", str(SANDBOX)]


def _run(argv: list[str], env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}", pytrace=False)
    return done.stdout


class Cluster:
    def __init__(self, env: dict[str, str], project: str, url: str) -> None:
        self.env, self.project, self.url = env, project, url

    def compose(self, *args: str, timeout: float = 300) -> str:
        argv = ["docker-compose", "-p", self.project, *FILES, *args]
        return _run(argv, self.env, timeout)

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).split()

    def docker(self, *args: str) -> str:
        return _run(["docker", *args], self.env)

    def metrics(self, container: str, port: int) -> str:
        code = f"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}/metrics').read().decode())"
        return self.docker("exec", container, "python3", "-c", code)

    def redis(self, *args: str) -> str:
        (redis,) = self.containers("redis")
        return self.docker("exec", redis, "redis-cli", *args)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if os.environ.get("REFEREE_SKIP_DOCKER") == "1":
        pytest.skip("REFEREE_SKIP_DOCKER=1: the compose cluster is not tested on this run")
    host = _run([str(DEPLOY / "sandbox-image" / "start-dockerd.sh")], dict(os.environ)).strip()
    port = free_port()
    env = {
        **os.environ,
        "DOCKER_HOST": host,
        "REFEREE_HTTP_PORT": str(port),
        "REFEREE_GRPC_HOST_PORT": str(free_port()),
        "REFEREE_WORKER_CONCURRENCY": "1",
        "COMPOSE_INTERACTIVE_NO_CLI": "1",
        "REFEREE_DOCKER_SOCK": host.removeprefix("unix://"),
    }
    _run([str(DEPLOY / "build-images.sh")], env, timeout=1800)
    _run([str(DEPLOY / "sandbox-image" / "build.sh")], env, timeout=1800)
    _run([str(DEPLOY / "tools.sh")], env)  # docker-compose
    cluster = Cluster(env, f"referee-test-{os.getpid()}", f"http://127.0.0.1:{port}")
    try:
        cluster.compose("up", "-d", "--scale", "worker=1")
        _wait_ready(cluster)
        yield cluster
    finally:
        subprocess.run(
            ["docker-compose", "-p", cluster.project, *FILES, "down", "-t", "20"],
            env=env,
            capture_output=True,
            timeout=300,
        )


def _wait_ready(cluster: Cluster, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(cluster.url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    logs = cluster.compose("logs", "--no-color", "--tail", "30")
    pytest.fail(f"the cluster did not become ready on {cluster.url}:\n{logs}", pytrace=False)


def _batch(n: int, salt: str) -> dict[str, Any]:
    items = [
        # Radicals, not plain numbers (which the replicas judge themselves): to the workers.
        {
            "id": f"{salt}-{i}",
            "response": f"so \\boxed{{\\sqrt{{{i % 7}}}}}",
            "reference": f"\\sqrt{{{i % 5}}}",
        }
        for i in range(n)
    ]
    return {"verifier": "math", "items": items}


def _score(cluster: Cluster, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = httpx.post(cluster.url + "/score", json=body, timeout=120)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def _expect_judged(body: dict[str, Any], results: list[dict[str, Any]]) -> None:
    assert [r["id"] for r in results] == [it["id"] for it in body["items"]]
    for item, result in zip(body["items"], results, strict=True):
        i = int(item["id"].rsplit("-", 1)[1])
        assert result["status"] == "ok", result
        correct = i % 7 == i % 5
        assert (result["outcome"], result["reward"]) == (
            ("correct", 1.0) if correct else ("incorrect", 0.0)
        )


def _workers_alive(cluster: Cluster) -> list[str]:
    """Workers with a heartbeat in Redis (members ``consumer|concurrency``)."""
    return cluster.redis("ZRANGE", "referee:alive", "0", "-1").split()


def test_scores_through_proxy_replicas_and_workers(cluster: Cluster) -> None:
    assert len(cluster.containers("api")) == 2
    body = _batch(40, "a")
    _expect_judged(body, _score(cluster, body))
    # Code runs in the sandbox containers the workers start through the engine.
    tests = [{"stdin": "2 3", "stdout": "5"}]
    programs = ["a, b = map(int, input().split())\nprint(a + b)", "print(6)"]
    code = {
        "verifier": "code",
        "items": [
            {
                "id": f"c{i}",
                "response": f"```python\n{p}\n```",
                "reference": {"language": "python", "tests": tests},
            }
            for i, p in enumerate(programs)
        ],
    }
    right, wrong = _score(cluster, code)
    assert (right["status"], right["outcome"], right["reward"]) == ("ok", "correct", 1.0), right
    assert (wrong["status"], wrong["outcome"], wrong["reward"]) == ("ok", "incorrect", 0.0), wrong
    # The proxy spreads requests over both replicas, once its health checks have seen
    # both ready (two checks 2 s apart): until then it may send everything to one.
    served = 'referee_http_request_duration_seconds_count{method="POST",route="/score"'
    apis = cluster.containers("api")
    idle = set(apis)
    deadline = time.monotonic() + 90
    n = 0
    while idle and time.monotonic() < deadline:
        body = _batch(5, f"r{n}")
        _expect_judged(body, _score(cluster, body))
        n += 1
        idle = {api for api in idle if served not in cluster.metrics(api, 8000)}
        time.sleep(0.2)
    assert not idle, f"replicas {sorted(idle)} served no /score in 90 s"
    (worker,) = cluster.containers("worker")
    assert "referee_items_scored_total" in cluster.metrics(worker, 9100)


def test_scale_workers_then_down(cluster: Cluster) -> None:
    cluster.compose("up", "-d", "--no-recreate", "--scale", "worker=3")
    assert len(cluster.containers("worker")) == 3
    deadline = time.monotonic() + 180
    while len(_workers_alive(cluster)) < 3 and time.monotonic() < deadline:
        time.sleep(1)
    assert len(_workers_alive(cluster)) >= 3, _workers_alive(cluster)
    body = _batch(60, "b")
    _expect_judged(body, _score(cluster, body))
    again = _score(cluster, body)  # the shared cache answers repeats
    assert all(r["cached"] for r in again)
    cluster.compose("down", "-t", "20")
    assert cluster.compose("ps", "-q") == ""
    with pytest.raises(httpx.HTTPError):
        httpx.get(cluster.url + "/healthz", timeout=2)
