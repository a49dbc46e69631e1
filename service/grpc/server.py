"""The gRPC server beside the HTTP app: one process, one event loop, one engine.

Started from the app's lifespan after the worker pool (docs/architecture.md: gRPC's
threads and ``fork()`` do not mix; the pool forks from its forkserver, never from here).
Serves ``referee.v1.Referee``, ``grpc.health.v1.Health`` (SERVING only while the
engine can score) and server reflection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from referee.service.edge import Admission, KeyGate
from referee.service.engine import Engine
from referee.service.grpc.auth import KeyInterceptor
from referee.service.grpc.servicer import RefereeServicer
from referee.service.grpc.v1 import referee_pb2 as pb
from referee.service.grpc.v1 import referee_pb2_grpc as pb_grpc
from referee.service.settings import Settings

__all__ = ["SERVICE_NAME", "GrpcServer", "bind_address"]

log = logging.getLogger("referee.grpc")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Referee"].full_name
_HEALTH_POLL_S = 0.25
_STOP_GRACE_S = 5.0


def bind_address(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


class GrpcServer:
    """A started gRPC server; ``await stop()`` drains it (health says NOT_SERVING first)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        registry: CollectorRegistry,
        gate: KeyGate,
        admission: Admission,
    ) -> None:
        """``gate`` and ``admission``: the ones the HTTP app uses, so that a key's
        limits and the queue bound hold across both transports."""
        self.engine = engine
        self.settings = settings
        self.servicer = RefereeServicer(engine, settings, registry, admission)
        self.health = health_aio.HealthServicer()
        self.server = grpc.aio.server(
            interceptors=[KeyInterceptor(gate)],
            options=[
                ("grpc.max_receive_message_length", settings.max_body_bytes),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0),
            ],
        )
        pb_grpc.add_RefereeServicer_to_server(self.servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.port = 0
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Bind and serve; the port bound (useful with port 0)."""
        address = bind_address(self.settings.host, self.settings.grpc_port)
        try:
            self.port = self.server.add_insecure_port(address)
        except RuntimeError as exc:
            raise RuntimeError(
                f"cannot bind gRPC to {address} ({exc}); pick another --grpc-port "
                "(REFEREE_GRPC_PORT), or 0 to disable gRPC"
            ) from None
        await self.server.start()
        self._watch = asyncio.create_task(self._track_readiness())
        log.info("gRPC serving on %s", bind_address(self.settings.host, self.port))
        return self.port

    async def _track_readiness(self) -> None:
        serving = None
        while True:
            now = self.engine.ready
            if now != serving:
                status = (
                    health_pb2.HealthCheckResponse.SERVING
                    if now
                    else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                for name in ("", SERVICE_NAME):
                    await self.health.set(name, status)
                serving = now
            await asyncio.sleep(_HEALTH_POLL_S)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self.health.enter_graceful_shutdown()
        await self.server.stop(_STOP_GRACE_S)
