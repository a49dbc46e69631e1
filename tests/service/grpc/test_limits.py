"""Per-key limits and admission control on gRPC, through a real `referee serve`.

The key gate and the admission controller are the request edge's, shared with HTTP:
where HTTP answers 429 with Retry-After, gRPC answers RESOURCE_EXHAUSTED with
``retry-after-ms`` and ``retry-after`` in the trailing metadata.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from conftest import SERVER_ENV
from grpc_support import math_items, request
from support import Server, start_server, stop_server

from referee.service.grpc.v1 import referee_pb2 as pb
from referee.service.grpc.v1 import referee_pb2_grpc as pb_grpc

KEYS = ("rate-key", "inflight-key", "verifiers-key")


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def auth(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        **SERVER_ENV,
        "REFEREE_API_KEY_HASHES": ",".join(sha(k) for k in KEYS),
        # One request per 5 s after a burst of 2: three calls in a row cannot all pass
        # unless the first two took 5 s.
        "REFEREE_KEY_REQUESTS_PER_S": "0.2",
        "REFEREE_KEY_BURST": "2",
        "REFEREE_KEY_MAX_INFLIGHT": "1",
    }
    srv = start_server(tmp_path_factory.mktemp("limits"), env, workers=1, grpc=True)
    yield srv
    stop_server(srv)


def retry_info(error: grpc.aio.AioRpcError) -> tuple[int, int]:
    trailing = dict(error.trailing_metadata() or ())
    return int(trailing["retry-after"]), int(trailing["retry-after-ms"])


async def test_third_call_past_the_rate_is_resource_exhausted_and_http_shares_it(
    limited: Server,
) -> None:
    assert limited.grpc_target is not None
    body = {"verifier": "math", "items": math_items(1)}
    async with grpc.aio.insecure_channel(limited.grpc_target) as channel:
        stub = pb_grpc.RefereeStub(channel)
        for _ in range(2):
            response = await stub.Score(request(body), metadata=auth("rate-key"), timeout=30)
            assert [r.reward for r in response.results] == [1.0]
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Score(request(body), metadata=auth("rate-key"), timeout=30)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "REFEREE_KEY_REQUESTS_PER_S" in (info.value.details() or "")
    seconds, ms = retry_info(info.value)
    assert seconds >= 1 and ms >= 1000
    # The same key on HTTP: its budget is spent whichever transport spent it.
    r = httpx.post(limited.url + "/score", json=body, headers={"authorization": "Bearer rate-key"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    metrics = httpx.get(limited.url + "/metrics", headers={"authorization": "Bearer rate-key"})
    assert metrics.status_code == 429  # every path but health counts against the key


async def test_list_verifiers_counts_against_the_key(limited: Server) -> None:
    assert limited.grpc_target is not None
    async with grpc.aio.insecure_channel(limited.grpc_target) as channel:
        stub = pb_grpc.RefereeStub(channel)
        codes = []
        for _ in range(3):
            try:
                await stub.ListVerifiers(
                    pb.ListVerifiersRequest(), metadata=auth("verifiers-key"), timeout=30
                )
                codes.append(grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code())
    assert codes == [grpc.StatusCode.OK, grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED]


async def test_an_open_stream_holds_the_keys_in_flight_slot(limited: Server) -> None:
    assert limited.grpc_target is not None
    release = asyncio.Event()

    async def requests() -> AsyncIterator[pb.ScoreRequest]:
        yield request({"verifier": "math", "items": math_items(1)}, "first")
        await release.wait()

    async with grpc.aio.insecure_channel(limited.grpc_target) as channel:
        stub = pb_grpc.RefereeStub(channel)
        stream = stub.ScoreStream(requests(), metadata=auth("inflight-key"), timeout=30)
        first = await stream.read()  # the stream runs: it holds the key's one slot
        assert isinstance(first, pb.StreamedResult) and first.result.reward == 1.0
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Score(
                request({"verifier": "math", "items": math_items(1)}),
                metadata=auth("inflight-key"),
                timeout=30,
            )
        release.set()
        assert await stream.read() == grpc.aio.EOF
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "REFEREE_KEY_MAX_INFLIGHT" in (info.value.details() or "")
    assert retry_info(info.value) == (1, 1000)


async def test_over_max_queued_items_is_resource_exhausted(tmp_path: Path) -> None:
    env = {**SERVER_ENV, "REFEREE_MAX_QUEUED_ITEMS": "5", "REFEREE_CACHE_SIZE": "0"}
    srv = start_server(tmp_path, env, workers=1, grpc=True)
    try:
        assert srv.grpc_target is not None
        # 20 distinct items of 0.3 s on one worker: more than 5 queued for seconds,
        # many times the admission controller's sampling interval (0.25 s).
        slow = {
            "verifier": "misbehave",
            "items": [{"response": f"sleep:0.3000{i:02d}"} for i in range(20)],
        }
        probe = {"verifier": "misbehave", "items": [{"response": "sleep:0"}]}
        async with grpc.aio.insecure_channel(srv.grpc_target) as channel:
            stub = pb_grpc.RefereeStub(channel)
            flood = stub.Score(request(slow), timeout=60)  # under way as soon as made
            refusal: grpc.aio.AioRpcError | None = None
            for _ in range(20):
                try:
                    await stub.Score(request(probe), timeout=0.5)
                except grpc.aio.AioRpcError as exc:
                    if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        refusal = exc
                        break
                    assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED, exc
                await asyncio.sleep(0.1)
            assert refusal is not None, "gRPC was never refused over max_queued_items"
            assert "max_queued_items=5" in (refusal.details() or "")
            seconds, ms = retry_info(refusal)
            assert 1 <= seconds <= 60 and ms == seconds * 1000
            # HTTP sees the same queue.
            r = httpx.post(srv.url + "/score", json=probe, timeout=30)
            assert r.status_code == 429 and "max_queued_items=5" in r.json()["detail"]
            done: Any = await flood
            assert [x.status for x in done.results] == ["ok"] * 20
        text = httpx.get(srv.url + "/metrics").text
        assert 'referee_rejected_requests_total{reason="queue_full",status="429"}' in text
    finally:
        stop_server(srv)
