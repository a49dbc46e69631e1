"""gRPC series, on the app's Prometheus registry beside the HTTP ones."""

from __future__ import annotations

from collections.abc import Callable, Collection

from prometheus_client import CollectorRegistry, Gauge, Histogram

from referee.service.metrics import _LATENCY_BUCKETS

__all__ = ["GrpcMetrics"]


class GrpcMetrics:
    """Per-RPC latency, and open streams with the items each has in flight.

    ``in_flight`` gives, for each open stream, its items read and not yet sent
    back; the gauges read it when scraped.
    """

    def __init__(
        self, registry: CollectorRegistry, in_flight: Callable[[], Collection[int]]
    ) -> None:
        self.rpc_seconds = Histogram(
            "referee_grpc_request_duration_seconds",
            "gRPC call latency (a stream: from open to close).",
            ["method", "code"],
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )
        Gauge(
            "referee_grpc_streams_open", "ScoreStream calls open.", registry=registry
        ).set_function(lambda: len(in_flight()))
        Gauge(
            "referee_grpc_stream_items_in_flight",
            "Items read from open ScoreStream calls and not yet sent back, over all streams.",
            registry=registry,
        ).set_function(lambda: sum(in_flight()))
        Gauge(
            "referee_grpc_stream_items_in_flight_max",
            "Items in flight of the open stream that has the most "
            "(at most stream_max_in_flight, or one request's items).",
            registry=registry,
        ).set_function(lambda: max(in_flight(), default=0))
