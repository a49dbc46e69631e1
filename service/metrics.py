"""Prometheus metrics, on a registry per app so that several apps can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
    300,
)


class Metrics:
    """Every series Referee exports. Safe to update from any thread."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.request_seconds = Histogram(
            "referee_http_request_duration_seconds",
            "HTTP request latency.",
            ["method", "route", "status"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.items = Counter(
            "referee_items_scored",
            "Item judgements by verifier and outcome ('error' for errors).",
            ["verifier", "outcome"],
            registry=r,
        )
        self.errors = Counter(
            "referee_errors",
            "Items that could not be judged, by error kind.",
            ["kind"],
            registry=r,
        )
        self.verifier_seconds = Histogram(
            "referee_verifier_duration_seconds",
            "Time a worker spent grading one task.",
            ["verifier"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.cache_lookups = Counter(
            "referee_cache_lookups",
            "Result cache lookups (including in-batch duplicates).",
            registry=r,
        )
        self.cache_hits = Counter(
            "referee_cache_hits", "Result cache hits (including in-batch duplicates).", registry=r
        )
        self.worker_restarts = Counter(
            "referee_worker_restarts",
            "Worker processes replaced, by reason.",
            ["reason"],
            registry=r,
        )
        self.second_opinions = Counter(
            "referee_second_opinions",
            "Sampled items judged again by the independent grader, by its view: agree, "
            "undecided, primary_accepted / primary_rejected (the graders disagree).",
            ["verifier", "result"],
            registry=r,
        )
        self.workers = Gauge("referee_workers", "Worker processes alive.", registry=r)
        self.inflight = Gauge(
            "referee_items_in_flight",
            "Tasks dispatched to workers and not yet judged.",
            registry=r,
        )
        # Scaled out (Redis) and admission control.
        self.queue_depth = Gauge(
            "referee_queue_depth",
            "Tasks in the Redis task stream: queued and being judged (0 when embedded).",
            registry=r,
        )
        self.queue_lag = Gauge(
            "referee_queue_lag",
            "Tasks in the Redis stream that no worker has read yet.",
            registry=r,
        )
        self.queue_pending = Gauge(
            "referee_queue_pending",
            "Tasks read by a worker and not yet finished (Redis consumer group).",
            registry=r,
        )
        self.redis_up = Gauge("referee_redis_up", "1 when Redis is reachable.", registry=r)
        self.reclaimed = Counter(
            "referee_reclaimed_entries",
            "Task entries claimed from a worker that died or stalled.",
            registry=r,
        )
        self.poisoned = Counter(
            "referee_poisoned_entries",
            "Task entries given up after max_deliveries deliveries (status error).",
            registry=r,
        )
        self.expired = Counter(
            "referee_expired_entries",
            "Task entries dropped because their deadline passed.",
            registry=r,
        )
        self.malformed = Counter(
            "referee_malformed_entries",
            "Redis entries and values that did not decode and were never used, by where they "
            "were read: task (a task entry), result (a reply entry), cache (a cached result).",
            ["source"],
            registry=r,
        )
        self.handed_back = Counter(
            "referee_handed_back_entries",
            "Task entries a stopping worker put back on the stream.",
            registry=r,
        )
        self.rejected = Counter(
            "referee_rejected_requests",
            "Requests refused before judging, by status code and reason.",
            ["status", "reason"],
            registry=r,
        )
