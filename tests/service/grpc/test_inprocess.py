"""The gRPC server in-process on a real engine: the API-key hook and readiness."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import math_items, request

from referee.service import config
from referee.service.app import build_engine
from referee.service.edge import Admission, KeyGate, hash_key
from referee.service.grpc.server import GrpcServer
from referee.service.grpc.v1 import referee_pb2_grpc as pb_grpc
from referee.service.metrics import Metrics
from referee.service.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


async def test_keys_and_health_follow_the_engine() -> None:
    settings = Settings(workers=1, grpc_port=0)
    metrics = Metrics()
    engine = await asyncio.to_thread(build_engine, settings, metrics)
    gate = KeyGate(frozenset({hash_key("k-1")}), config.key_limits(settings), metrics)
    admission = Admission(settings.max_queued_items, metrics)
    server = GrpcServer(engine, settings, metrics.registry, gate, admission)
    try:
        port = await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.RefereeStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            body = {"verifier": "math", "items": math_items(2)}
            for metadata in [(), (("authorization", "Bearer nope"),)]:
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.Score(request(body), metadata=metadata, timeout=10)
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    async for _ in stub.ScoreStream(
                        iter([request(body)]), metadata=metadata, timeout=10
                    ):
                        pass
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            key = (("authorization", "Bearer k-1"),)
            response = await stub.Score(request(body), metadata=key, timeout=30)
            assert [r.reward for r in response.results] == [1.0, 1.0]
            # Probes carry no key.
            check = health_pb2.HealthCheckRequest(service="referee.v1.Referee")
            reply = await health.Check(check, timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING

            await asyncio.to_thread(engine.close)  # no worker left: cannot score
            deadline = time.monotonic() + 5
            while (await health.Check(check, timeout=5)).status != (
                health_pb2.HealthCheckResponse.NOT_SERVING
            ):
                assert time.monotonic() < deadline, "health still SERVING with no workers"
                await asyncio.sleep(0.05)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Score(request(body), metadata=key, timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop()
        await asyncio.to_thread(engine.close)


def test_generated_modules_match_the_proto(tmp_path: Path) -> None:
    """`make proto` is reproducible and its output is what is checked in."""
    subprocess.run(
        ["bash", "service/grpc/gen.sh", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={"BIN": str(Path(sys.executable).parent), "PATH": "/usr/bin:/bin"},
    )
    checked_in = ROOT / "service" / "grpc" / "v1"
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == sorted(
        p.name
        for p in checked_in.iterdir()
        if p.suffix in (".py", ".pyi") and p.name != "__init__.py"
    )
    for name in generated:
        assert (tmp_path / name).read_text() == (checked_in / name).read_text(), name


async def test_unreachable_redis_is_unavailable_with_retry_info() -> None:
    """Scaled out with no Redis to reach: the edge refuses at once, naming why."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(workers=1, grpc_port=0, redis_url=f"redis://127.0.0.1:{port}/0")
    metrics = Metrics()
    engine = await asyncio.to_thread(build_engine, settings, metrics)
    gate = KeyGate(frozenset(), config.key_limits(settings), metrics)
    server = GrpcServer(
        engine, settings, metrics.registry, gate, Admission(settings.max_queued_items, metrics)
    )
    try:
        grpc_port = await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = pb_grpc.RefereeStub(channel)
            body = {"verifier": "math", "items": math_items(1)}
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Score(request(body), timeout=10)
    finally:
        await server.stop()
        await asyncio.to_thread(engine.close)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert info.value.details() == "backend unavailable: redis is unreachable; retry"
    trailing = dict(info.value.trailing_metadata() or ())
    assert (trailing["retry-after"], trailing["retry-after-ms"]) == ("1", "1000")
