"""HTTP routes. Each validates (through the edge), calls one engine function, returns a
response. Refusals raised by the edge (``edge.Refused``) are rendered by the app."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from referee import sandbox
from referee.sandbox.run_code import DEFAULT_MEMORY_MB, sandbox_error
from referee.service import edge
from referee.service.dispatch._task import Task
from referee.service.dispatch.worker import RUN_CODE
from referee.service.edge import BadRequest, EdgeLimits
from referee.service.engine import Engine, ItemInput, ItemResult
from referee.service.schemas import (
    RunCodeRequest,
    RunCodeResponse,
    ScoreRequest,
    ScoreResponse,
    VerifierInfo,
    VerifiersResponse,
)
from referee.service.settings import Settings
from referee.verifiers import Context

__all__ = ["router"]

log = logging.getLogger("referee.routes")

router = APIRouter()

NDJSON = "application/x-ndjson"


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _limits(request: Request) -> EdgeLimits:
    limits: EdgeLimits = request.app.state.limits
    return limits


@router.post(
    "/score",
    response_model=ScoreResponse,
    responses={200: {"content": {NDJSON: {}}, "description": "With `Accept: " + NDJSON + "`"}},
)
async def score(body: ScoreRequest, request: Request) -> Response:
    """Judge a batch of rollouts; results come back in the order of ``items``.

    With ``Accept: application/x-ndjson`` each result is one line with its ``index``,
    written as soon as it is judged (completion order).
    """
    limits = _limits(request)
    items, verifier = edge.items_of(body, limits)
    try:
        await edge.check_costly(items, verifier, limits)
        if NDJSON in request.headers.get("accept", ""):
            return await _score_ndjson(_engine(request), items, verifier)
        results = await _engine(request).score(items, verifier)
    except BadRequest as exc:
        return _bad_request(exc)
    payload = {"results": [r.to_wire() for r in results]}
    return Response(_encode(payload), media_type="application/json")


def _encode(payload: Any) -> bytes:
    # backslashreplace: a lone surrogate in a response (valid in JSON input) goes back
    # out as its \uXXXX escape instead of failing to encode.
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8", "backslashreplace")


def _bad_request(exc: BadRequest) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": ["body", *exc.loc], "msg": exc.message, "type": "value_error"}]},
        status_code=422,
    )


async def _score_ndjson(engine: Engine, items: list[ItemInput], verifier: Any) -> Response:
    """Results as NDJSON lines in completion order; a bad request is still a JSON 422."""
    results = engine.score_stream(items, verifier)
    try:
        first = await anext(results)  # plans the request: BadRequest comes out here
    except BaseException:
        await results.aclose()
        raise

    async def lines() -> AsyncIterator[bytes]:
        async with contextlib.aclosing(results):
            try:
                yield _line(first)
                async for pair in results:
                    yield _line(pair)
            except Exception as exc:
                log.exception("streamed /score failed")
                error = {"kind": "internal", "message": type(exc).__name__, "retryable": True}
                yield _encode({"error": error}) + b"\n"

    return StreamingResponse(lines(), media_type=NDJSON)


def _line(pair: tuple[int, ItemResult]) -> bytes:
    index, result = pair
    return _encode({**result.to_wire(), "index": index}) + b"\n"


@router.post("/run_code", response_model=RunCodeResponse)
async def run_code(body: RunCodeRequest, request: Request) -> JSONResponse:
    """Run one program, SandboxFusion-compatible (same request and response fields)."""
    if sandbox.get_language(body.language) is None:
        raise HTTPException(
            422, f"language: unsupported {body.language!r}; valid: {', '.join(sandbox.LANGUAGES)}"
        )
    settings: Settings = request.app.state.settings
    if len(body.code) > settings.max_response_chars:
        raise HTTPException(413, f"code: exceeds max_response_chars={settings.max_response_chars}")
    if body.memory_limit_MB > settings.max_memory_mb:
        raise HTTPException(422, f"memory_limit_MB: exceeds max_memory_mb={settings.max_memory_mb}")
    for field, seconds in (
        ("compile_timeout", body.compile_timeout),
        ("run_timeout", body.run_timeout),
    ):
        if seconds > settings.max_item_timeout_s:
            raise HTTPException(
                422, f"{field}: exceeds max_item_timeout_s={settings.max_item_timeout_s}"
            )
    payload = body.model_dump()
    if body.memory_limit_MB <= 0:
        payload["memory_limit_MB"] = min(DEFAULT_MEMORY_MB, settings.max_memory_mb)
    budget = body.compile_timeout + body.run_timeout + 5.0
    task = Task(RUN_CODE, None, "", payload, Context(), budget)
    result = await _engine(request).run_task(task)
    if result.payload is None:
        message = result.error.message if result.error else "the sandbox did not answer"
        return JSONResponse(sandbox_error(message))
    return JSONResponse(result.payload)


@router.get("/verifiers", response_model=VerifiersResponse)
async def list_verifiers() -> VerifiersResponse:
    """Every registered verifier with its version and params schema."""
    return VerifiersResponse(verifiers=[VerifierInfo(**info) for info in edge.verifier_infos()])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The server can score now: worker processes are running."""
    engine = _engine(request)
    workers = engine.pool.alive
    body: dict[str, Any] = {"status": "ready" if engine.ready else "not ready", "workers": workers}
    return JSONResponse(body, status_code=200 if engine.ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
