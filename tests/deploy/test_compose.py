"""The docker compose cluster for real, brought up by the README's own commands.

The README's "Local cluster with docker compose" steps (the block after the
``compose-steps`` marker) run as written, in one bash with ``-euo pipefail``: the
private engine (deploy/sandbox-image/start-dockerd.sh), the image builds
(deploy/build-images.sh: cached, so only a machine's first run pays the base image's
debootstrap), ``up`` with three workers, the wait for ``/readyz``, then a math item and
a code item scored through the proxy; the block after ``compose-down`` stops it. The
only changes are the environment the compose file documents (a project name of our
own, free host ports, one task per worker) and ``localhost:8000`` rewritten to that
free port. REFEREE_SKIP_DOCKER=1 skips on purpose, as for the docker backend.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
FILES = ["-f", str(COMPOSE)]
README = ROOT / "README.md"


def readme_block(marker: str) -> str:
    """The body of the first fenced block after ``<!-- marker``."""
    text = README.read_text()
    at = text.index(f"<!-- {marker}")
    fence = re.compile(r"^(`{3,})[a-z]*\n(.*?)^\1$", re.M | re.S).search(text, at)
    assert fence is not None, f"no fenced block after <!-- {marker}"
    return fence.group(2)


def _run(argv: list[str], env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}", pytrace=False)
    return done.stdout


class Cluster:
    def __init__(self, env: dict[str, str], project: str, url: str, port: int) -> None:
        self.env, self.project, self.url, self.port = env, project, url, port

    def compose(self, *args: str, timeout: float = 300) -> str:
        argv = ["docker-compose", "-p", self.project, *FILES, *args]
        return _run(argv, self.env, timeout)

    def readme(self, marker: str, timeout: float = 1500) -> str:
        """Run a README block as written (but for the port), from the repository root."""
        script = readme_block(marker).replace("localhost:8000", f"localhost:{self.port}")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        if done.returncode != 0:
            logs = subprocess.run(
                [
                    "docker-compose",
                    "-p",
                    self.project,
                    *FILES,
                    "logs",
                    "--no-color",
                    "--tail",
                    "30",
                ],
                capture_output=True,
                text=True,
                env=self.env,
                timeout=60,
                cwd=ROOT,
            ).stdout
            pytest.fail(
                f"README block {marker} failed ({done.returncode}):\n{done.stdout}\n"
                f"{done.stderr[-4000:]}\n{logs}",
                pytrace=False,
            )
        return done.stdout

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
def cluster() -> Iterator[tuple[Cluster, str]]:
    """The cluster the README's steps bring up, and what those steps printed."""
    if os.environ.get("REFEREE_SKIP_DOCKER") == "1":
        pytest.skip("REFEREE_SKIP_DOCKER=1: the compose cluster is not tested on this run")
    host = _run([str(DEPLOY / "sandbox-image" / "start-dockerd.sh")], dict(os.environ)).strip()
    port = free_port()
    project = f"referee-test-{os.getpid()}"
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": project,
        "REFEREE_HTTP_PORT": str(port),
        "REFEREE_GRPC_HOST_PORT": str(free_port()),
        "REFEREE_WORKER_CONCURRENCY": "1",
        "COMPOSE_INTERACTIVE_NO_CLI": "1",
    }
    env.pop("REFEREE_DOCKER_SOCK", None)  # the README's steps set it
    cluster = Cluster({**env, "DOCKER_HOST": host}, project, f"http://127.0.0.1:{port}", port)
    try:
        printed = Cluster(env, project, cluster.url, port).readme("compose-steps")
        yield cluster, printed
    finally:
        subprocess.run(
            ["docker-compose", "-p", project, *FILES, "down", "-t", "20"],
            env=cluster.env,
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


def test_readme_steps_score_math_and_code(cluster: tuple[Cluster, str]) -> None:
    c, printed = cluster
    answers = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
    ready, math, code = answers
    assert ready["status"] == "ready", printed
    ((m,), (k,)) = math["results"], code["results"]
    assert (m["status"], m["outcome"], m["reward"]) == ("ok", "correct", 1.0), m
    # Run by a worker in a sandbox container, not refused (sandbox_unavailable).
    assert (k["status"], k["outcome"], k["reward"]) == ("ok", "correct", 1.0), k
    assert len(c.containers("worker")) == 3  # `up --scale worker=3` kept its workers


def test_scores_through_proxy_replicas_and_workers(cluster: tuple[Cluster, str]) -> None:
    c, _ = cluster
    assert len(c.containers("api")) == 2
    deadline = time.monotonic() + 180
    while len(_workers_alive(c)) < 3 and time.monotonic() < deadline:
        time.sleep(1)
    assert len(_workers_alive(c)) >= 3, _workers_alive(c)
    body = _batch(40, "a")
    _expect_judged(body, _score(c, body))
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
    right, wrong = _score(c, code)
    assert (right["status"], right["outcome"], right["reward"]) == ("ok", "correct", 1.0), right
    assert (wrong["status"], wrong["outcome"], wrong["reward"]) == ("ok", "incorrect", 0.0), wrong
    # The proxy spreads requests over both replicas, once its health checks have seen
    # both ready (two checks 2 s apart): until then it may send everything to one.
    served = 'referee_http_request_duration_seconds_count{method="POST",route="/score"'
    apis = c.containers("api")
    idle = set(apis)
    deadline = time.monotonic() + 90
    n = 0
    while idle and time.monotonic() < deadline:
        body = _batch(5, f"r{n}")
        _expect_judged(body, _score(c, body))
        n += 1
        idle = {api for api in idle if served not in c.metrics(api, 8000)}
        time.sleep(0.2)
    assert not idle, f"replicas {sorted(idle)} served no /score in 90 s"
    scored = [c.metrics(w, 9100) for w in c.containers("worker")]
    assert any("referee_items_scored_total" in m for m in scored)


def test_proxy_answers_json_503_while_no_replica_is_ready(cluster: tuple[Cluster, str]) -> None:
    c, _ = cluster
    c.compose("stop", "-t", "10", "api")
    try:
        # The proxy marks a replica down after three failed checks 2 s apart; until
        # then it still forwards (and may time out connecting). Bounded, not timed.
        deadline = time.monotonic() + 90
        r = None
        while time.monotonic() < deadline:
            try:
                r = httpx.get(c.url + "/readyz", timeout=15)
            except httpx.HTTPError:
                r = None
            if r is not None and r.status_code == 503 and "API replica" in r.text:
                break  # the proxy's answer, not a stopping replica's own /readyz
            time.sleep(0.5)
        assert r is not None and r.status_code == 503
        assert r.headers["content-type"] == "application/json"
        assert r.json()["status"] == "not ready"
        assert r.json()["reason"].startswith("no API replica is ready")
        r = httpx.post(c.url + "/score", json=_batch(1, "x"), timeout=15)
        assert (r.status_code, r.json()["status"]) == (503, "not ready")
    finally:
        c.compose("start", "api")
    _wait_ready(c)


def test_scale_workers_then_readme_down(cluster: tuple[Cluster, str]) -> None:
    c, _ = cluster
    c.compose("up", "-d", "--no-recreate", "--scale", "worker=1")
    assert len(c.containers("worker")) == 1
    body = _batch(60, "b")
    _expect_judged(body, _score(c, body))
    again = _score(c, body)  # the shared cache answers repeats
    assert all(r["cached"] for r in again)
    c.readme("compose-down", timeout=300)
    assert c.compose("ps", "-q") == ""
    with pytest.raises(httpx.HTTPError):
        httpx.get(c.url + "/healthz", timeout=2)


def test_wrong_socket_path_fails_up_instead_of_making_a_directory(
    cluster: tuple[Cluster, str], tmp_path: Path
) -> None:
    """A REFEREE_DOCKER_SOCK that does not exist on the host: ``up`` refuses, naming it."""
    c, _ = cluster
    missing = tmp_path / "no-engine-here.sock"
    project = f"{c.project}-wrongsock"
    env = {**c.env, "COMPOSE_PROJECT_NAME": project, "REFEREE_DOCKER_SOCK": str(missing)}
    argv = ["docker-compose", "-p", project, *FILES]
    try:
        done = subprocess.run(
            [*argv, "up", "--no-start", "worker"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode != 0
        assert str(missing) in done.stderr and "does not exist" in done.stderr, done.stderr
        assert not missing.exists()
    finally:
        subprocess.run([*argv, "down"], capture_output=True, env=env, timeout=120)
