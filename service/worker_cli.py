"""``referee worker``: start the local worker pool, then consume tasks from Redis."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from prometheus_client import start_http_server

from referee import sandbox, verifiers
from referee.sandbox.backend import open_sandbox
from referee.service import config
from referee.service.app import build_pool
from referee.service.dispatch.redis_worker import RedisWorker
from referee.service.logs import configure
from referee.service.metrics import Metrics
from referee.service.settings import Settings

__all__ = ["SANDBOX_UNUSABLE", "run_worker", "sandbox_problem"]

log = logging.getLogger("referee.worker")

# The exit status of a worker whose configured sandbox backend cannot run.
SANDBOX_UNUSABLE = 3

_FIXES = {
    "docker": "REFEREE_SANDBOX=docker needs a Docker engine at DOCKER_HOST that holds the "
    "sandbox image (REFEREE_DOCKER_IMAGE, built by deploy/build-images.sh). In the compose "
    "cluster, REFEREE_DOCKER_SOCK names the engine's socket on the host (the path in "
    "DOCKER_HOST). REFEREE_SANDBOX=none (compose: REFEREE_WORKER_SANDBOX=none) refuses "
    "code items instead",
    "bwrap": "install bubblewrap and setpriv (make sysdeps) and run the worker as root, "
    "or choose another backend with REFEREE_SANDBOX (docker, or none to refuse code items)",
    "local-unsafe": "REFEREE_SANDBOX=local-unsafe needs /usr/bin/python3 (or choose "
    "another backend with REFEREE_SANDBOX)",
}


def sandbox_problem(backend: str) -> str | None:
    """Why ``backend`` cannot run code here, with the setting that fixes it; None if it can.

    Starts one jail of the backend and closes it: the same start every code-lane
    worker process makes, so a worker that passes can judge code. ``none`` (code
    refused on purpose) always passes.
    """
    if backend == "none":
        return None
    uid = 65534 if os.geteuid() == 0 else os.geteuid()
    try:
        open_sandbox(backend, uid=uid).close()
    except (sandbox.SandboxError, OSError) as exc:
        fix = _FIXES.get(backend, "set REFEREE_SANDBOX to bwrap, docker or none")
        return f"the {backend!r} sandbox cannot run code: {exc}. Fix: {fix}."
    return None


def run_worker(
    url: str | None, concurrency: int | None, metrics_port: int | None, log_format: str | None
) -> int:
    """Serve until SIGTERM or SIGINT; the exit status."""
    overrides: dict[str, Any] = {
        "redis_url": url,
        "workers": concurrency,
        "metrics_port": metrics_port,
        "log_format": log_format,
    }
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    configure(settings.log_level, settings.log_format)
    if not settings.redis_url:
        log.error("no Redis: pass --redis redis://host:port or set REFEREE_REDIS_URL")
        return 2
    problem = sandbox_problem(settings.sandbox)
    if problem is not None and settings.sandbox != "auto":
        # Before any health endpoint or heartbeat: a worker that would refuse every code
        # item its operator asked it to run never reports ready.
        log.error("not starting: %s", problem)
        return SANDBOX_UNUSABLE
    if problem is not None:
        log.warning("code items will be refused (sandbox_unavailable): %s", problem)
    verifiers.load_builtin(settings.plugin_modules)  # entries name verifiers and their params
    metrics = Metrics()
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.host, registry=metrics.registry)
        log.info("metrics on http://%s:%d/metrics", settings.host, settings.metrics_port)
    pool = build_pool(settings, metrics)
    options = config.worker_options(settings)
    try:
        asyncio.run(_serve(RedisWorker(options, pool, metrics)))
    finally:
        pool.close()
    log.info("worker stopped")
    return 0


async def _serve(worker: RedisWorker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await worker.run(stop)
