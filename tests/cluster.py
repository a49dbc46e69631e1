"""Test support for scaled-out Referee: a real redis-server, `referee worker`s and replicas.

Every process is started with the same command line a user runs, in a session of its
own (so that a test can kill one worker with its whole pool), on loopback ports.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from support import REFEREE, Server, free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@dataclass
class Redis:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *args: str) -> str:
        import redis

        r = redis.Redis(port=self.port, socket_timeout=5)
        try:
            return str(r.execute_command(*args))
        finally:
            r.close()


def start_redis(tmp: Path, port: int | None = None) -> Redis:
    port = port or free_port()
    log = tmp / f"redis-{port}.log"
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(log),
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Redis(port, process, log)
    deadline = time.monotonic() + 20
    while True:
        try:
            if server.cli("PING") in ("True", "b'PONG'", "PONG"):
                return server
        except Exception:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"redis-server did not start: {log.read_text()}") from None
            time.sleep(0.05)


def stop_redis(server: Redis) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    def metrics_text(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def metric(self, name: str) -> float:
        return sum_metric(self.metrics_text(), name)

    def kill(self) -> None:
        """SIGKILL the worker with its whole pool, as a machine dying would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def sum_metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"([a-z_]+)(\{[^}]*\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


def start_worker(
    tmp: Path, redis_url: str, env: dict[str, str], concurrency: int = 1, wait: bool = True
) -> Worker:
    port = free_port()
    log = tmp / f"worker-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                REFEREE,
                "worker",
                "--redis",
                redis_url,
                "--concurrency",
                str(concurrency),
                "--metrics-port",
                str(port),
                "--log-format",
                "json",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
    worker = Worker(process, log, port)
    if wait:
        wait_worker(worker)
    return worker


def wait_worker(worker: Worker) -> None:
    deadline = time.monotonic() + 60
    while "serving" not in worker.log.read_text(errors="replace"):
        if worker.process.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{worker.log.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{worker.log.read_text()}")
        time.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            pass
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def start_replica(tmp: Path, redis_url: str, env: dict[str, str]) -> Server:
    """`referee serve --redis URL`, waiting until it is ready (it sees a worker)."""
    return wait_replica(spawn_replica(tmp, redis_url, env))


def spawn_replica(tmp: Path, redis_url: str, env: dict[str, str]) -> Server:
    port = free_port()
    log = tmp / f"replica-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [REFEREE, "serve", "--port", str(port), "--redis", redis_url, "--grpc-port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
    return Server(f"http://127.0.0.1:{port}", process, log)


def wait_replica(replica: Server) -> Server:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise RuntimeError(f"replica exited early:\n{replica.log.read_text()}")
        try:
            if httpx.get(replica.url + "/readyz", timeout=1).status_code == 200:
                return replica
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_process(replica.process)
    raise RuntimeError(f"replica did not become ready:\n{replica.log.read_text()}")


@dataclass
class Cluster:
    """Redis, ``referee worker``s and API replicas, all real processes."""

    tmp: Path
    redis: Redis
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)
    replicas: list[Server] = field(default_factory=list)

    def add_worker(self, concurrency: int = 1, wait: bool = True, **env: str) -> Worker:
        worker = start_worker(self.tmp, self.redis.url, {**self.env, **env}, concurrency, wait)
        self.workers.append(worker)
        return worker

    def add_replica(self, **env: str) -> Server:
        replica = start_replica(self.tmp, self.redis.url, {**self.env, **env})
        self.replicas.append(replica)
        return replica

    def live_workers(self) -> list[Worker]:
        return [w for w in self.workers if w.process.poll() is None]

    def stop(self) -> None:
        for proc in [r.process for r in self.replicas] + [w.process for w in self.workers]:
            stop_process(proc, timeout=10)


def cluster_of(
    tmp: Path, redis: Redis, env: dict[str, str], workers: int, replicas: int
) -> Iterator[Cluster]:
    cluster = Cluster(tmp, redis, env)
    try:
        for _ in range(workers):
            cluster.add_worker(wait=False)
        cluster.replicas = [spawn_replica(tmp, redis.url, env) for _ in range(replicas)]
        for w in cluster.workers:
            wait_worker(w)
        for r in cluster.replicas:
            wait_replica(r)
        yield cluster
    finally:
        cluster.stop()
