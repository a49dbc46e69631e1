"""The app factory. Resources (worker pool, cache, metrics) open in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from referee import verifiers
from referee.service import config, edge, openrlhf
from referee.service.admission import AdmissionMiddleware
from referee.service.auth import AuthMiddleware, load_key_hashes
from referee.service.cache import ResultCache
from referee.service.dispatch.base import Dispatcher
from referee.service.dispatch.pool import PoolEvents, WorkerPool
from referee.service.dispatch.redis_streams import RedisDispatcher, RedisStats
from referee.service.engine import Engine
from referee.service.logs import RequestIdMiddleware
from referee.service.metrics import Metrics
from referee.service.middleware import BodyLimitMiddleware, MetricsMiddleware
from referee.service.routes import router
from referee.service.settings import Settings
from referee.service.version import __version__

__all__ = ["build_engine", "create_app"]

log = logging.getLogger("referee")


def build_pool(settings: Settings, metrics: Metrics) -> WorkerPool:
    """A started local worker pool (blocks while the worker processes start)."""
    events = PoolEvents(
        on_restart=lambda reason: metrics.worker_restarts.labels(reason).inc(),
        workers_alive=metrics.workers.set,
    )
    pool = WorkerPool(config.pool_config(settings), events)
    pool.start()
    return pool


def build_dispatcher(settings: Settings, metrics: Metrics) -> Dispatcher:
    """Redis Streams when ``redis_url`` is set, else the local worker pool."""
    if not settings.redis_url:
        return build_pool(settings, metrics)

    def on_stats(stats: RedisStats) -> None:
        metrics.redis_up.set(1 if stats.connected else 0)
        metrics.workers.set(stats.workers if stats.connected else 0)
        metrics.queue_depth.set(stats.depth)
        metrics.queue_lag.set(stats.lag)
        metrics.queue_pending.set(stats.pending)

    dispatcher = RedisDispatcher(
        config.redis_config(settings),
        on_stats,
        on_malformed=lambda source: metrics.malformed.labels(source).inc(),
    )
    dispatcher.start()
    return dispatcher


def build_engine(settings: Settings, metrics: Metrics) -> Engine:
    """A started engine (blocks while the worker processes start)."""
    verifiers.load_builtin(settings.plugin_modules)
    return Engine(
        build_dispatcher(settings, metrics),
        ResultCache(settings.cache_size),
        metrics,
        request_timeout_s=settings.request_timeout_s,
        chunk_size=settings.chunk_size,
        max_item_timeout_s=settings.max_item_timeout_s,
        default_verifier=edge.parse_spec(settings.default_verifier),
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the input back: it can be a megabyte of model output.
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    """A Referee app; the worker pool starts when the app's lifespan starts."""
    settings = settings or Settings()
    metrics = Metrics()
    gate = edge.KeyGate(
        load_key_hashes(settings.api_key_hashes, settings.api_key_file),
        config.key_limits(settings),
        metrics,
    )
    admission = edge.Admission(settings.max_queued_items, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await asyncio.to_thread(build_engine, settings, metrics)
        app.state.engine = engine
        grpc_server = None
        if settings.grpc_port:  # after the pool: gRPC's threads and fork() do not mix
            from referee.service.grpc.server import GrpcServer

            grpc_server = GrpcServer(engine, settings, metrics.registry, gate, admission)
            try:
                app.state.grpc_port = await grpc_server.start()
            except BaseException:
                await asyncio.to_thread(engine.close)
                raise
        if settings.redis_url:
            log.info("referee ready; judging through redis")
        else:
            log.info("referee ready with %d worker processes", settings.workers)
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop()
            await asyncio.to_thread(engine.close)

    app = FastAPI(
        title="Referee",
        version=__version__,
        description="Verifiable reward server for RL of reasoning models.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.limits = config.edge_limits(settings)
    app.include_router(router)
    app.include_router(openrlhf.router)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_errors(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(edge.Refused)
    async def on_refused(request: Request, exc: edge.Refused) -> JSONResponse:
        refusal = exc.refusal
        headers = None
        if refusal.retry_after_s is not None:
            headers = {"Retry-After": str(refusal.retry_after_s)}
        return JSONResponse(
            {"detail": refusal.message},
            status_code=edge.HTTP_STATUS[refusal.kind],
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AdmissionMiddleware, admission=admission)
    app.add_middleware(AuthMiddleware, gate=gate)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)
    return app
