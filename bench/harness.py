"""What the benchmarks share: start and stop servers, workers and Redis; load; CPU per process.

Every bench script that runs ``referee serve`` (embedded or ``--redis``), ``referee
worker`` or ``redis-server`` starts and stops them here, so each gets the same clean
environment (the caller's ``REFEREE_*`` settings are not passed on; a script passes
the ones it means), readiness check and shutdown. ``Cpu`` reads CPU seconds from
``/proc`` (a process and its reaped children; the live children summed in), which is
how the capacity model in docs/scaling.md is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REFEREE = str(Path(sys.executable).with_name("referee"))
NO_CACHE = {"REFEREE_CACHE_SIZE": "0", "REFEREE_REDIS_CACHE_TTL_S": "0"}

__all__ = [
    "NO_CACHE",
    "Cpu",
    "Server",
    "closed_loop",
    "free_port",
    "percentiles",
    "start_redis",
    "start_server",
    "start_worker",
    "stop",
    "stop_server",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFEREE_")}
    env["REFEREE_LOG_LEVEL"] = "warning"
    env.update(extra or {})
    return env


def _spawn(args: list[str], log: Path, env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=_env(env), start_new_session=True
        )


@dataclass
class Server:
    """A ``referee serve``: its HTTP URL, gRPC target ('' without gRPC), process, log."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    target: str = ""
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)  # `referee worker`s

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [self.process, *self.workers]


def start_server(
    log_dir: Path,
    workers: int | None = None,
    env: dict[str, str] | None = None,
    *,
    redis_url: str | None = None,
    grpc: bool = False,
    ready_workers: int = 1,
    wait_s: float = 120.0,
) -> Server:
    """A fresh ``referee serve`` (an empty cache), ready when ``/readyz`` sees workers.

    ``workers``: its worker processes (embedded); ``redis_url``: judge through Redis
    instead (start ``referee worker``s with :func:`start_worker`, before or after).
    """
    port = free_port()
    grpc_port = free_port() if grpc else 0
    args = [REFEREE, "serve", "--port", str(port), "--grpc-port", str(grpc_port)]
    if workers is not None:
        args += ["--workers", str(workers)]
    if redis_url is not None:
        args += ["--redis", redis_url]
    log = log_dir / f"referee-{port}.log"
    process = _spawn(args, log, env)
    server = Server(
        f"http://127.0.0.1:{port}", process, log, f"127.0.0.1:{grpc_port}" if grpc else ""
    )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"referee serve exited early:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            r = httpx.get(server.url + "/readyz", timeout=1)
            if r.status_code == 200 and r.json().get("workers", 1) >= ready_workers:
                return server
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"referee serve did not become ready:\n{log.read_text()}")


def start_worker(
    log_dir: Path, redis_url: str, concurrency: int, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A ``referee worker`` (it is ready when the replica's ``/readyz`` counts it)."""
    args = [REFEREE, "worker", "--redis", redis_url, "--concurrency", str(concurrency)]
    return _spawn(args, log_dir / f"worker-{free_port()}.log", env)


def start_redis(log_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server without persistence on a free port; (process, URL)."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(log_dir)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return process, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def stop(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    """SIGTERM each, then SIGKILL the process group of any that outlives ``timeout``."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)


def stop_server(server: Server) -> None:
    stop([server.process, *server.workers])


# -- CPU per process -----------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """CPU seconds of a process (its threads, to the nanosecond, from schedstat) and of
    the children it has reaped (clock ticks, from /proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    own = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            own += int((task / "schedstat").read_text().split()[0])
    if own == 0:  # no schedstat (a kernel without it): ticks
        return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own / 1e9 + reaped


def children(pid: int) -> list[int]:
    """Every live descendant of ``pid``."""
    kids: list[str] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += (task / "children").read_text().split()
    out = [int(k) for k in kids]
    for k in list(out):
        out += children(k)
    return out


class Cpu:
    """CPU seconds by part, between ``start`` and ``stop``.

    ``parts`` maps a name to a function returning the pids to sum now; children that
    exit meanwhile count through their parent's reaped-children fields. Measure a
    part as its process alone (``own``) or with its descendants (``tree``).
    """

    def __init__(self, parts: dict[str, Callable[[], list[int]]]) -> None:
        self.parts = parts
        self._before: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    @staticmethod
    def own(pid: int) -> Callable[[], list[int]]:
        return lambda: [pid]

    @staticmethod
    def tree(pid: int) -> Callable[[], list[int]]:
        return lambda: [pid, *children(pid)]

    @staticmethod
    def descendants(pid: int) -> Callable[[], list[int]]:
        return lambda: children(pid)

    def _now(self) -> dict[str, float]:
        return {k: sum(cpu_s(p) for p in pids()) for k, pids in self.parts.items()}

    def start(self) -> None:
        self._before = self._now()

    def stop(self) -> dict[str, float]:
        after = self._now()
        self.seconds = {k: after[k] - self._before[k] for k in after}
        return self.seconds

    def per_item_ms(self, items: int) -> dict[str, float]:
        return {k: v * 1000 / items for k, v in self.seconds.items()}


# -- load ----------------------------------------------------------------------------


@dataclass
class Load:
    """What a closed-loop run measured: wall time, each request's latency, failures."""

    wall_s: float
    latencies_s: list[float]
    errors: list[str]
    replies: list[Any]  # each body's parsed JSON reply, in order (None: no reply)

    def per_s(self, n: int) -> float:
        return n / self.wall_s


async def closed_loop(
    url: str,
    bodies: Sequence[Any],
    concurrency: int,
    path: str = "/score",
    check: Callable[[Any], None] | None = None,
) -> Load:
    """POST each body with ``concurrency`` in flight over as many kept-alive connections.

    The client is aiohttp: on a small machine the load generator shares the CPUs with
    the server, and httpx's async client costs several milliseconds of CPU per
    request, which would measure the client rather than the server. ``check`` gets
    each parsed reply. A transport error (a reset connection) is recorded, not
    raised: ``errors`` says how many requests a client would have had to send again.
    """
    import aiohttp

    latencies: list[float] = []
    errors: list[str] = []
    replies: list[Any] = [None] * len(bodies)
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:

        async def one(i: int, body: Any) -> None:
            async with semaphore:
                start = time.perf_counter()
                try:
                    async with session.post(path, json=body) as response:
                        response.raise_for_status()
                        reply = await response.json()
                except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                    errors.append(type(exc).__name__)
                    return
                latencies.append(time.perf_counter() - start)
            replies[i] = reply
            if check is not None:
                check(reply)

        start = time.perf_counter()
        await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
        wall = time.perf_counter() - start
    return Load(wall, latencies, errors, replies)


def percentiles(seconds: Sequence[float]) -> dict[str, float | None]:
    if len(seconds) < 2:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(seconds) * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }
