"""HTTP routes. Each validates, calls one engine function, returns a response."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from referee import sandbox
from referee.sandbox.run_code import sandbox_error
from referee.service.dispatch._task import Task
from referee.service.dispatch.worker import RUN_CODE
from referee.service.engine import BadRequest, Engine, ItemInput
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

__all__ = ["router"]

router = APIRouter()


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _check_limits(body: ScoreRequest, settings: Settings) -> None:
    if len(body.items) > settings.max_batch_items:
        raise HTTPException(
            413,
            f"items: {len(body.items)} items exceed max_batch_items={settings.max_batch_items} "
            "(setting REFEREE_MAX_BATCH_ITEMS); split the batch",
        )
    for i, item in enumerate(body.items):
        if len(item.response) > settings.max_response_chars:
            raise HTTPException(
                413,
                f"items[{i}].response: {len(item.response)} characters exceed "
                f"max_response_chars={settings.max_response_chars} "
                "(setting REFEREE_MAX_RESPONSE_CHARS)",
            )


@router.post("/score", response_model=ScoreResponse)
async def score(body: ScoreRequest, request: Request) -> Response:
    """Judge a batch of rollouts; results come back in the order of ``items``."""
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
        results = await _engine(request).score(items, spec_to_json(body.verifier))
    except BadRequest as exc:
        return JSONResponse(
            {"detail": [{"loc": ["body", *exc.loc], "msg": exc.message, "type": "value_error"}]},
            status_code=422,
        )
    payload = {"results": [r.to_wire() for r in results]}
    # backslashreplace: a lone surrogate in a response (valid in JSON input) goes back
    # out as its \uXXXX escape instead of failing to encode.
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    return Response(text.encode("utf-8", "backslashreplace"), media_type="application/json")


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
    budget = body.compile_timeout + body.run_timeout + 5.0
    task = Task(RUN_CODE, None, "", body.model_dump(), Context(), budget)
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
