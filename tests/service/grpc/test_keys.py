"""API keys on gRPC: the same keys as HTTP, from the same settings."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from conftest import SERVER_ENV
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import request
from support import Server, start_server, stop_server

from referee.service.grpc.v1 import referee_pb2_grpc as pb_grpc

KEY = "grpc-key-1"
BODY = {"verifier": "math", "items": [{"response": "\\boxed{2}", "reference": "2"}]}


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {**SERVER_ENV, "REFEREE_API_KEY_HASHES": hashlib.sha256(KEY.encode()).hexdigest()}
    srv = start_server(Path(tmp_path_factory.mktemp("keys")), env, workers=1, grpc=True)
    yield srv
    stop_server(srv)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [((), "missing API key"), ((("authorization", "Bearer wrong"),), "invalid API key")],
)
async def test_without_a_valid_key_is_unauthenticated(
    keyed_server: Server, metadata: tuple[tuple[str, str], ...], message: str
) -> None:
    assert keyed_server.grpc_target is not None
    async with grpc.aio.insecure_channel(keyed_server.grpc_target) as channel:
        stub = pb_grpc.RefereeStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.Score(request(BODY), metadata=metadata, timeout=30)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert message in (e.value.details() or "")


async def test_with_the_key_scores_and_health_is_open(keyed_server: Server) -> None:
    assert keyed_server.grpc_target is not None
    async with grpc.aio.insecure_channel(keyed_server.grpc_target) as channel:
        stub = pb_grpc.RefereeStub(channel)
        response = await stub.Score(
            request(BODY), metadata=(("authorization", f"Bearer {KEY}"),), timeout=30
        )
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
    assert [r.reward for r in response.results] == [1.0]
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    # The same key on HTTP.
    r = httpx.post(
        keyed_server.url + "/score", json=BODY, headers={"authorization": f"Bearer {KEY}"}
    )
    assert r.status_code == 200
