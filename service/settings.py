"""Settings: one pydantic-settings class, read from ``REFEREE_*`` environment variables."""

from __future__ import annotations

import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


# End-of-sequence and padding tokens of the model families RLVR runs use most
# (Qwen, Llama 3, Llama 2/Mistral, DeepSeek, Gemma, Phi, GPT-2).
_STOP_TOKENS = (
    "<|endoftext|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "</s>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",  # DeepSeek: fullwidth bars, not |
    "<end_of_turn>",
    "<eos>",
    "<|end|>",
    "<pad>",
)


def _default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class Settings(BaseSettings):
    """Everything an operator can set. Each field is ``REFEREE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="REFEREE_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, ge=0, le=65535, description="HTTP port.")
    workers: int = Field(
        default_factory=_default_workers, ge=1, description="Verifier worker processes."
    )
    default_verifier: str | None = Field(
        None, description="Spec used when neither the request nor the item names one."
    )
    item_timeout_s: float = Field(
        10.0, gt=0, description="Soft deadline per item; past it the outcome is timeout."
    )
    hard_grace_s: float = Field(
        2.0, gt=0, description="Extra time before a stuck worker is killed from outside."
    )
    max_item_timeout_s: float = Field(
        600.0,
        gt=0,
        description="Cap on an item's deadline when its verifier asks for more "
        "(code with many tests).",
    )
    max_memory_mb: int = Field(
        4096,
        ge=16,
        description="Cap on a program's memory limit: /run_code's memory_limit_MB above it "
        "is refused (422); its default (1024) is lowered to it.",
    )
    sandbox: str = Field(
        "auto",
        description="Sandbox backend for code: auto (bwrap if it works here), bwrap, "
        "docker, local-unsafe (no isolation: only if you mean it), or none (code refused).",
    )
    sandbox_uid_base: int | None = Field(
        None,
        ge=1000,
        description="First of the 256 uids this server's worker processes judge and run "
        "jails as (worker i: jail base + i, judge base + 128 + i); unset: the first free "
        "block from 60000 on this host.",
    )
    code_workers: int | None = Field(
        None,
        ge=0,
        description="Worker processes of the code lane (programs in the sandbox), beside "
        "`workers` for every other verifier; unset: as many as `workers`; 0: one shared lane.",
    )
    confine_workers: bool = Field(
        True,
        description="Worker processes judge with least privilege (own uid, no network, "
        "read-only filesystem, seccomp); turn off only to debug a verifier.",
    )
    request_timeout_s: float = Field(
        300.0, gt=0, description="Deadline of a whole request; unfinished items get error deadline."
    )
    max_body_bytes: int = Field(64 * 1024 * 1024, gt=0, description="Largest request body.")
    max_batch_items: int = Field(4096, gt=0, description="Most items in one request.")
    max_response_chars: int = Field(
        2_000_000, gt=0, description="Longest response text of one item, in characters."
    )
    max_pattern_chars: int = Field(
        2000, gt=0, description="Longest regular expression in verifier params, in characters."
    )
    max_schema_bytes: int = Field(
        256 * 1024,
        gt=0,
        description="Largest JSON Schema in a json_schema reference (compact JSON, bytes).",
    )
    validation_timeout_s: float = Field(
        5.0,
        gt=0,
        description="Time allowed to compile a request's patterns and check its schemas "
        "(off the event loop); past it the request is a 422.",
    )
    cache_size: int = Field(
        100_000, ge=0, description="Results kept in the in-process LRU cache (0 disables)."
    )
    chunk_size: int = Field(
        32, ge=1, description="Most items sent to a worker process in one message."
    )
    worker_max_tasks: int = Field(2000, ge=1, description="Tasks before a worker is recycled.")
    worker_max_rss_mb: int = Field(1024, ge=64, description="RSS that makes a worker recycle.")
    worker_memory_limit_mb: int = Field(
        4096, ge=0, description="Address-space limit of a worker process (0: none)."
    )
    second_opinion_rate: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of math items also judged by an independent sympy grader; "
        "disagreements are counted and logged, the reward stays the primary verdict.",
    )
    plugins: str = Field(
        "",
        description="Comma-separated modules that register extra verifiers, imported by "
        "the server and by every worker process.",
    )
    grpc_port: int = Field(
        50051, ge=0, le=65535, description="gRPC port, on the same host (0 disables gRPC)."
    )
    stream_max_in_flight: int = Field(
        4096,
        ge=1,
        description="Items of one gRPC stream being judged or waiting to be sent back; "
        "past it the stream stops reading requests until results are read.",
    )
    grpc_max_streams: int = Field(
        256, ge=1, description="Open ScoreStream calls; past it RESOURCE_EXHAUSTED."
    )
    log_level: str = Field("info", description="Log level.")
    log_format: str = Field("text", pattern="^(text|json)$", description="Logs: text or json.")
    # Scaled out: API replicas and `referee worker` processes share a Redis.
    redis_url: str | None = Field(
        None, description="redis://[:password@]host:port/db; unset: judge in-process."
    )
    redis_prefix: str = Field("referee", description="Prefix of every Redis key Referee uses.")
    reclaim_idle_s: float = Field(
        30.0, gt=0, description="A task held this long by a silent worker is given to another."
    )
    max_deliveries: int = Field(
        3, ge=1, description="Deliveries of a task whose workers keep dying before it is an error."
    )
    redis_cache_ttl_s: int = Field(
        86400, ge=0, description="Lifetime of shared cache entries in Redis (0: no shared cache)."
    )
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="`referee worker`: serve /metrics on this port."
    )
    # Hardening.
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="An HTTP connection that has not sent a whole request's headers this "
        "long after opening (or after its first byte) is closed.",
    )
    keep_alive_s: int = Field(
        5, ge=1, description="An idle kept-alive HTTP connection is closed after this long."
    )
    api_key_hashes: str = Field(
        "", description="Comma-separated sha256 hex digests of accepted API keys."
    )
    api_key_file: str | None = Field(
        None, description="File of sha256 hex digests of API keys, one a line (# comments)."
    )
    key_requests_per_s: float = Field(
        50.0, ge=0, description="Requests per second per API key (0: no limit)."
    )
    key_burst: int = Field(100, ge=1, description="Requests an API key may burst above its rate.")
    key_max_inflight: int = Field(
        32, ge=0, description="Concurrent requests per API key (0: no limit)."
    )
    max_queued_items: int = Field(
        100_000, ge=1, description="Queued work (items) beyond which requests get 429."
    )
    shutdown_grace_s: float = Field(
        30.0, ge=0, description="On SIGTERM, time given to in-flight work before stopping."
    )
    openrlhf_stop_tokens: str = Field(
        ",".join(_STOP_TOKENS),
        description="Comma-separated special tokens stripped from the end of an OpenRLHF "
        "query (end-of-sequence and padding tokens of common model families).",
    )

    @property
    def openrlhf_stop_token_list(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.openrlhf_stop_tokens.split(",") if t.strip())

    @property
    def plugin_modules(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.plugins.split(",") if m.strip())
