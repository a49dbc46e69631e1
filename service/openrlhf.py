"""``POST /openrlhf``: OpenRLHF's remote reward-model protocol in front of the engine.

OpenRLHF (``--remote_rm_url``) posts ``{"query": [...], "prompts": [...],
"labels": [...]}`` and reads ``rewards`` (advantages), ``scores`` (dynamic
filtering) and ``extra_logs`` (per-sample numbers it turns into tensors). Each
``query`` is the decoded prompt *and* response with special tokens kept
(``decode(..., skip_special_tokens=False)`` in ``openrlhf/utils/agent.py``), so
the response is what follows the prompt, less trailing end/pad tokens. It shards
a batch across servers and may send empty lists to some of them.

The protocol has no way to say "no reward" for one sample: if any item ends in
``status: "error"``, the whole request fails with 503 (retryable) or 500, which
OpenRLHF retries and then records as a missing reward, never as a fake 0.
``?error_reward=X`` opts in to a fixed reward for errored items instead, counted
in ``extra_logs.referee_error``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, JsonValue

from referee.service import edge
from referee.service.engine import BadRequest, Engine, ItemInput, ItemResult
from referee.service.settings import Settings

__all__ = ["OpenRLHFRequest", "response_text", "router"]

router = APIRouter()


class OpenRLHFRequest(BaseModel):
    """Body of ``POST /openrlhf`` (OpenRLHF's remote reward-model request)."""

    query: list[str]
    prompts: list[str] = Field(default_factory=list)
    labels: list[JsonValue] = Field(default_factory=list)


def response_text(query: str, prompt: str | None, stop_tokens: tuple[str, ...]) -> str:
    """The model's response inside ``query``: after ``prompt``, without trailing special tokens."""
    text = query
    if prompt:
        if text.startswith(prompt):
            text = text[len(prompt) :]
        else:
            # Detokenising can add a leading BOS or normalise the text before the prompt.
            at = text.find(prompt)
            if at >= 0:
                text = text[at + len(prompt) :]
    stripped = True
    while stripped:  # a response can end in several pad tokens, possibly with whitespace
        stripped = False
        text = text.rstrip()
        for token in stop_tokens:
            if token and text.endswith(token):
                text = text[: -len(token)]
                stripped = True
    return text


def _parse_verifier(raw: str | None) -> Any:
    try:
        return edge.parse_spec(raw)
    except edge.SpecError as exc:
        raise _invalid(["query", "verifier"], str(exc)) from None


def _invalid(loc: list[str | int], message: str) -> RequestValidationError:
    """A 422 in FastAPI's own shape, ``{"detail": [{"loc", "msg", "type"}]}``."""
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


def _check(body: OpenRLHFRequest, limits: edge.EdgeLimits) -> None:
    n = len(body.query)
    for name, values in (("prompts", body.prompts), ("labels", body.labels)):
        if values and len(values) != n:
            raise _invalid(
                ["body", name], f"{len(values)} entries for {n} queries; give one per query or none"
            )
    edge.check_sizes(body.query, limits, "query", "query[{}]")


def _loc(loc: tuple[str | int, ...]) -> list[str | int]:
    """Where an engine complaint about ``items[i]`` lies in OpenRLHF's request."""
    if loc[0] == "items" and loc[-1] == "reference":
        return ["body", "labels", loc[1]]
    if loc[0] == "items":
        return ["body", "query", loc[1]]
    return ["query", "verifier"]  # the URL's query string


def _failure(errors: list[tuple[int, ItemResult]]) -> JSONResponse:
    retryable = all(r.error is not None and r.error.retryable for _, r in errors)
    detail = [
        {
            "index": i,
            "kind": r.error.kind if r.error else "unknown",
            "message": r.error.message if r.error else "",
            "retryable": bool(r.error and r.error.retryable),
        }
        for i, r in errors[:20]
    ]
    message = f"{len(errors)} item(s) could not be judged; no reward is given for this batch"
    if retryable:
        return JSONResponse(
            {"detail": message, "errors": detail}, status_code=503, headers={"retry-after": "1"}
        )
    return JSONResponse({"detail": message, "errors": detail}, status_code=500)


@router.post("/openrlhf")
async def openrlhf(
    body: OpenRLHFRequest,
    request: Request,
    verifier: str | None = Query(None, description="Spec: a name, or JSON for a component/list."),
    error_reward: float | None = Query(
        None, allow_inf_nan=False, description="Reward for errored items instead of failing."
    ),
) -> JSONResponse:
    """Score OpenRLHF rollouts; answers ``{"rewards", "scores", "extra_logs"}``."""
    settings: Settings = request.app.state.settings
    limits: edge.EdgeLimits = request.app.state.limits
    _check(body, limits)
    spec = _parse_verifier(verifier)
    stop_tokens = settings.openrlhf_stop_token_list
    items = [
        ItemInput(
            response=response_text(q, body.prompts[i] if body.prompts else None, stop_tokens),
            reference=body.labels[i] if body.labels else None,
            prompt=body.prompts[i] if body.prompts else None,
        )
        for i, q in enumerate(body.query)
    ]
    engine: Engine = request.app.state.engine
    try:
        await edge.check_costly(items, spec, limits)
        results = await engine.score(items, spec) if items else []
    except BadRequest as exc:
        return JSONResponse(
            {"detail": [{"loc": _loc(exc.loc), "msg": exc.message, "type": "value_error"}]},
            status_code=422,
        )
    errors = [(i, r) for i, r in enumerate(results) if r.status == "error"]
    if errors and error_reward is None:
        return _failure(errors)
    rewards = [error_reward if r.reward is None else r.reward for r in results]
    return JSONResponse(
        {
            "rewards": rewards,
            "scores": rewards,
            "extra_logs": {
                "referee_correct": [float(r.outcome == "correct") for r in results],
                "referee_cached": [float(r.cached) for r in results],
                "referee_error": [float(r.status == "error") for r in results],
            },
        }
    )
