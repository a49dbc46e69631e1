"""Every component's configuration, built from :class:`Settings` here and nowhere else.

Components take frozen dataclasses (no pydantic inside); this module is the one
place that knows which setting feeds which field, so a default lives in
``Settings`` alone and every field is passed by name.
"""

from __future__ import annotations

from referee.service.dispatch.pool import PoolConfig
from referee.service.dispatch.redis_streams import RedisConfig
from referee.service.dispatch.redis_worker import WorkerOptions
from referee.service.edge import EdgeLimits, KeyLimits
from referee.service.settings import Settings

__all__ = ["edge_limits", "key_limits", "pool_config", "redis_config", "worker_options"]


def pool_config(settings: Settings) -> PoolConfig:
    """The embedded worker pool's (``referee serve`` and ``referee worker`` alike)."""
    return PoolConfig(
        workers=settings.workers,
        code_workers=settings.code_workers,
        confine=settings.confine_workers,
        item_timeout_s=settings.item_timeout_s,
        hard_grace_s=settings.hard_grace_s,
        max_tasks=settings.worker_max_tasks,
        max_rss_mb=settings.worker_max_rss_mb,
        memory_limit_mb=settings.worker_memory_limit_mb,
        plugins=settings.plugin_modules,
        sandbox=settings.sandbox,
        sandbox_uid_base=settings.sandbox_uid_base,
        second_opinion_rate=settings.second_opinion_rate,
        coalesce_items=settings.chunk_size,
    )


def redis_config(settings: Settings) -> RedisConfig:
    """An API replica's dispatcher (requires ``redis_url``)."""
    if not settings.redis_url:
        raise ValueError("redis_url is not set")
    return RedisConfig(
        url=settings.redis_url,
        prefix=settings.redis_prefix,
        request_timeout_s=settings.request_timeout_s,
        cache_ttl_s=settings.redis_cache_ttl_s,
        chunk_items=settings.chunk_size,
    )


def worker_options(settings: Settings) -> WorkerOptions:
    """A ``referee worker``'s consumer (requires ``redis_url``)."""
    if not settings.redis_url:
        raise ValueError("redis_url is not set")
    return WorkerOptions(
        url=settings.redis_url,
        prefix=settings.redis_prefix,
        concurrency=settings.workers,
        reclaim_idle_s=settings.reclaim_idle_s,
        max_deliveries=settings.max_deliveries,
        cache_ttl_s=settings.redis_cache_ttl_s,
        shutdown_grace_s=settings.shutdown_grace_s,
    )


def key_limits(settings: Settings) -> KeyLimits:
    """Each API key's request rate and concurrency, per replica."""
    return KeyLimits(
        requests_per_s=settings.key_requests_per_s,
        burst=settings.key_burst,
        max_inflight=settings.key_max_inflight,
    )


def edge_limits(settings: Settings) -> EdgeLimits:
    """What the request edge accepts, whatever the transport."""
    return EdgeLimits(
        max_batch_items=settings.max_batch_items,
        max_response_chars=settings.max_response_chars,
        max_pattern_chars=settings.max_pattern_chars,
        max_schema_bytes=settings.max_schema_bytes,
        validation_timeout_s=settings.validation_timeout_s,
        max_queued_items=settings.max_queued_items,
        default_verifier=settings.default_verifier,
    )
