"""Pydantic models of the HTTP edge (PROTOCOL.md). Inside, the engine uses dataclasses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "CommandRunResult",
    "ComponentOut",
    "ComponentSpec",
    "ErrorOut",
    "ItemIn",
    "ResultOut",
    "RunCodeRequest",
    "RunCodeResponse",
    "ScoreRequest",
    "ScoreResponse",
    "VerifierInfo",
    "VerifierRef",
    "VerifiersResponse",
]


class ComponentSpec(BaseModel):
    """One verifier of a spec: ``{"name": "math", "weight": 1.0, "params": {...}}``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    weight: float = Field(1.0, allow_inf_nan=False)
    params: dict[str, JsonValue] = Field(default_factory=dict)


VerifierSpec = str | ComponentSpec | list[str | ComponentSpec]


class ItemIn(BaseModel):
    """One rollout to judge."""

    id: str | None = None
    response: str
    reference: JsonValue = None
    prompt: str | None = None
    completion_tokens: int | None = Field(None, ge=0)
    verifier: VerifierSpec | None = None


class ScoreRequest(BaseModel):
    """Body of ``POST /score``."""

    verifier: VerifierSpec | None = None
    items: list[ItemIn] = Field(min_length=1)


class ErrorOut(BaseModel):
    kind: str
    message: str
    retryable: bool


class VerifierRef(BaseModel):
    """Which verifier gave a verdict: its name, version and a digest of its params."""

    name: str
    version: str
    params_digest: str = Field(
        description="First 16 hex digits of the sha256 of the params as canonical JSON."
    )


class ComponentOut(BaseModel):
    name: str
    weight: float
    reward: float | None
    outcome: str | None
    details: dict[str, Any]
    verifier: VerifierRef | None = None


class ResultOut(BaseModel):
    id: str | None
    reward: float | None
    status: Literal["ok", "error"]
    outcome: str | None
    verifier: VerifierRef | None = Field(
        None,
        description="The verifier of a single-verifier spec; for a list, see each component.",
    )
    components: list[ComponentOut] | None = Field(
        None, description="Present only when the spec was a list of components."
    )
    details: dict[str, Any]
    cached: bool
    error: ErrorOut | None


class ScoreResponse(BaseModel):
    results: list[ResultOut]


class VerifierInfo(BaseModel):
    name: str
    version: str
    description: str
    params_schema: dict[str, Any]


class VerifiersResponse(BaseModel):
    verifiers: list[VerifierInfo]


def spec_to_json(spec: VerifierSpec | None) -> Any:
    """The plain JSON form of a validated spec, as the engine takes it."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, ComponentSpec):
        return spec.model_dump()
    return [spec_to_json(s) for s in spec]


class RunCodeRequest(BaseModel):
    """Body of ``POST /run_code`` (SandboxFusion's field names)."""

    code: str
    language: str
    compile_timeout: float = Field(10, gt=0, le=120)
    run_timeout: float = Field(10, gt=0, le=120)
    memory_limit_MB: int = Field(-1, ge=-1, le=16384)
    stdin: str | None = None
    files: dict[str, str] = Field(default_factory=dict, description="path -> base64 content")
    fetch_files: list[str] = Field(default_factory=list)


class CommandRunResult(BaseModel):
    status: Literal["Finished", "TimeLimitExceeded", "Error"]
    execution_time: float | None = None
    return_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None


class RunCodeResponse(BaseModel):
    status: Literal["Success", "Failed", "SandboxError"]
    message: str
    compile_result: CommandRunResult | None = None
    run_result: CommandRunResult | None = None
    executor_pod_name: str | None = None
    files: dict[str, str] = Field(default_factory=dict)
