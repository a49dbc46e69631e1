"""``referee worker``: start the local worker pool, then consume tasks from Redis."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from prometheus_client import start_http_server

from referee import verifiers
from referee.service import config
from referee.service.app import build_pool
from referee.service.dispatch.redis_worker import RedisWorker
from referee.service.logs import configure
from referee.service.metrics import Metrics
from referee.service.settings import Settings

__all__ = ["run_worker"]

log = logging.getLogger("referee.worker")


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
