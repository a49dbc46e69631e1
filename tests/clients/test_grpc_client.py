"""The gRPC clients and the HTTP client's NDJSON stream, against a real server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from grpc_support import math_items, slow_program
from support import Server

from referee.clients import AsyncRefereeClient, RefereeClient, RequestRejected, ServerUnavailable
from referee.clients.grpc import AsyncGrpcRefereeClient, GrpcRefereeClient


async def test_async_score_matches_http(grpc_server: Server) -> None:
    items = [*math_items(5), {"response": "\\boxed{3}", "reference": "4"}]
    async with AsyncGrpcRefereeClient(grpc_server.grpc_target, batch_size=2) as client:
        got = await client.score(items, verifier="math")
    with RefereeClient(grpc_server.url) as http:
        want = http.score(items, verifier="math")
    assert [(r.reward, r.outcome, r.id, r.details) for r in got] == [
        (r.reward, r.outcome, r.id, r.details) for r in want
    ]
    assert [r.reward for r in got] == [1.0] * 5 + [0.0]


async def test_async_stream_in_completion_order(grpc_server: Server) -> None:
    async def groups() -> AsyncIterator[list[dict[str, Any]]]:
        yield [slow_program(1.5)]
        for _ in range(3):
            await asyncio.sleep(0.05)
            yield math_items(4)

    async with AsyncGrpcRefereeClient(grpc_server.grpc_target) as client:
        seen = [(s.group, s.index, s.result.reward) async for s in client.stream(groups(), "math")]
    assert len(seen) == 13
    assert seen[-1] == (0, 0, 1.0)
    assert sorted(seen[:-1]) == [(g, i, 1.0) for g in (1, 2, 3) for i in range(4)]


def test_blocking_client_score_and_stream(grpc_server: Server) -> None:
    with GrpcRefereeClient(grpc_server.grpc_target) as client:
        results = client.score(math_items(3), verifier="math")
        assert [r.reward for r in results] == [1.0, 1.0, 1.0]
        seen = list(client.stream([math_items(2), math_items(3)], verifier="math"))
        assert sorted((s.group, s.index) for s in seen) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]
        with pytest.raises(RequestRejected) as info:
            client.score([{"response": "x"}])
        assert info.value.status_code == 422
        assert "items[0].verifier" in str(info.value.detail)


async def test_refused_requests_raise_request_rejected(grpc_server: Server) -> None:
    async with AsyncGrpcRefereeClient(grpc_server.grpc_target) as client:
        with pytest.raises(RequestRejected) as info:
            await client.score([{"response": "1", "reference": {"no": 1}}], verifier="math")
        assert info.value.status_code == 422
        with pytest.raises(RequestRejected) as info:
            async for _ in client.stream([[{"response": "x"}]]):
                pass
        assert info.value.status_code == 422


async def test_unreachable_server_is_retried_then_unavailable() -> None:
    from support import free_port

    client = AsyncGrpcRefereeClient(f"127.0.0.1:{free_port()}", retries=2, backoff_s=0.01)
    async with client:
        with pytest.raises(ServerUnavailable):
            await client.score(math_items(1), verifier="math")


async def test_stream_waits_for_admission_and_retries(grpc_server: Server) -> None:
    """Streams refused for capacity are retried and lose no items."""
    release = asyncio.Event()
    target = grpc_server.grpc_target
    assert target is not None

    async def idle() -> AsyncIterator[list[dict[str, Any]]]:
        await release.wait()
        yield math_items(1)

    holders = [AsyncGrpcRefereeClient(target) for _ in range(4)]
    held = [h.stream(idle(), "math") for h in holders]
    firsts = [asyncio.create_task(anext(h)) for h in held]  # hold all 4 stream slots
    await asyncio.sleep(0.5)
    asyncio.get_running_loop().call_later(1.0, release.set)
    async with AsyncGrpcRefereeClient(target, retries=10, backoff_s=0.05) as client:
        got = [s async for s in client.stream([math_items(3)], "math")]
    assert sorted(s.index for s in got) == [0, 1, 2]
    for task, stream, holder in zip(firsts, held, holders, strict=True):
        assert (await task).result.reward == 1.0
        await stream.aclose()
        await holder.aclose()


async def test_http_score_stream(grpc_server: Server) -> None:
    items = [slow_program(1.5), *math_items(10)]
    async with AsyncRefereeClient(grpc_server.url, batch_size=4) as client:
        seen = [(i, r) async for i, r in client.score_stream(items, verifier="math")]
    assert sorted(i for i, _ in seen) == list(range(11))
    assert seen[-1][0] == 0 and seen[-1][1].reward == 1.0
    assert all(r.reward == 1.0 for _, r in seen)
    async with AsyncRefereeClient(grpc_server.url) as client:
        with pytest.raises(RequestRejected):
            async for _ in client.score_stream([{"response": "x"}]):
                pass


def test_grpc_client_imports_no_server_dependency() -> None:
    code = (
        "import sys\n"
        "import referee.clients.grpc\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    server_side = {"fastapi", "starlette", "pydantic", "uvicorn", "math_verify", "sympy"}
    others = {"prometheus_client", "docker", "typer", "torch"}
    assert not (set(out) & (server_side | others))
    assert {"grpc", "google"} <= set(out)
