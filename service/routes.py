"""HTTP routes. Each validates, calls one engine function, returns a response."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from referee import sandbox
from referee.sandbox.run_code import DEFAULT_MEMORY_MB, sandbox_error
from referee.service.dispatch._task import Task
from referee.service.dispatch.worker import RUN_CODE
from referee.service.engine import BadRequest, Engine, ItemInput, ItemResult
from referee.service.schemas import (
    RunCodeRequest,
    RunCodeResponse,
    ScoreRequest,
    ScoreResponse,
    VerifierInfo,
    VerifiersResponse,
    spec_to_json,
)
from referee.service.settings import Settings
from referee.verifiers import REGISTRY, Context
from referee.verifiers.validation import Limits, RequestCheckFailed, precheck_off_loop

__all__ = ["router"]

log = logging.getLogger("referee.routes")

router = APIRouter()

NDJSON = "application/x-ndjson"


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def check_sizes(texts: Sequence[str], settings: Settings, field: str, text_loc: str) -> None:
    """413 for a batch over ``max_batch_items`` or a text over ``max_response_chars``.

    ``field`` names the list in messages, ``text_loc`` (with ``{}`` for the index) each text.
    """
    if len(texts) > settings.max_batch_items:
        raise HTTPException(
            413,
            f"{field}: {len(texts)} items exceed max_batch_items={settings.max_batch_items} "
            "(setting REFEREE_MAX_BATCH_ITEMS); split the batch",
        )
    for i, text in enumerate(texts):
        if len(text) > settings.max_response_chars:
            raise HTTPException(
                413,
                f"{text_loc.format(i)}: {len(text)} characters exceed "
                f"max_response_chars={settings.max_response_chars} "
                "(setting REFEREE_MAX_RESPONSE_CHARS)",
            )


def _check_limits(body: ScoreRequest, settings: Settings) -> None:
    check_sizes([item.response for item in body.items], settings, "items", "items[{}].response")


async def check_costly(items: Sequence[ItemInput], default: Any, settings: Settings) -> None:
    """Compile the request's patterns and check its schemas off the event loop.

    Raises BadRequest (a 422 naming the field) for an invalid or oversized pattern or
    schema, or one that takes longer than ``validation_timeout_s`` to check.
    """
    limits = Limits(
        max_pattern_chars=settings.max_pattern_chars,
        max_schema_bytes=settings.max_schema_bytes,
        timeout_s=settings.validation_timeout_s,
    )
    pairs = [(item.verifier, item.reference) for item in items]
    try:
        await precheck_off_loop(
            pairs, default if default is not None else settings.default_verifier, limits
        )
    except RequestCheckFailed as exc:
        raise BadRequest(exc.loc, exc.message) from None


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
    settings: Settings = request.app.state.settings
    _check_limits(body, settings)
    items = [
        ItemInput(
            response=it.response,
            reference=it.reference,
            id=it.id,
            prompt=it.prompt,
            completion_tokens=it.completion_tokens,
            verifier=spec_to_json(it.verifier),
        )
        for it in body.items
    ]
    try:
        await check_costly(items, spec_to_json(body.verifier), settings)
        if NDJSON in request.headers.get("accept", ""):
            return await _score_ndjson(_engine(request), items, spec_to_json(body.verifier))
        results = await _engine(request).score(items, spec_to_json(body.verifier))
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
    return VerifiersResponse(
        verifiers=[
            VerifierInfo(
                name=v.name,
                version=v.version,
                description=v.description,
                params_schema=v.params_schema(),
            )
            for _, v in sorted(REGISTRY.items())
        ]
    )


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
