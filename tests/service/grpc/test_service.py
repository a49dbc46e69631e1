"""referee.v1.Referee over loopback against a real ``referee serve``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from conftest import SERVER_ENV
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import math_items, metric, request, slow_program
from support import Server, start_server, stop_server

from referee.service.grpc import convert
from referee.service.grpc.v1 import referee_pb2 as pb
from referee.service.grpc.v1 import referee_pb2_grpc as pb_grpc

CODE_REF = {"language": "python", "tests": [{"stdin": "2 3\n", "stdout": "5\n"}]}

# The examples of PROTOCOL.md: the POST /score body, and each form of code reference.
EXAMPLES: list[dict[str, Any]] = [
    {
        "verifier": "math",
        "items": [
            {
                "id": "q1-s0",
                "response": "... so the answer is \\boxed{\\frac{1}{2}}",
                "reference": "0.5",
            },
            {
                "id": "q1-s1",
                "response": "<think>...</think> 1/3",
                "reference": "\\frac12",
                "verifier": [
                    {"name": "math", "weight": 1.0},
                    {"name": "think_format", "weight": 0.1},
                ],
            },
        ],
    },
    {
        "verifier": "code",
        "items": [
            {
                "response": "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
                "reference": CODE_REF,
            },
            {"response": "```python\nprint(6)\n```", "reference": CODE_REF},
            {
                "response": "```python\ndef f(a, b):\n    return a + b\n```",
                "reference": {
                    "language": "python",
                    "test_code": "def check(candidate):\n    assert candidate(1, 2) == 3\n",
                    "entry_point": "f",
                },
            },
            {
                "response": "```python\ndef f(a, b):\n    return a * b\n```",
                "reference": {
                    "language": "python",
                    "fn_name": "f",
                    "inputs": [[1, 2], [2, 2]],
                    "outputs": [3, 4],
                    "scoring": "fraction",
                },
            },
        ],
    },
]


def _same(a: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in a.items() if k not in ("cached", "index")}


@pytest.fixture
async def channel(grpc_server: Server) -> AsyncIterator[grpc.aio.Channel]:
    assert grpc_server.grpc_target is not None
    async with grpc.aio.insecure_channel(grpc_server.grpc_target) as ch:
        yield ch


def ndjson(url: str, body: dict[str, Any], timeout: float = 60) -> list[dict[str, Any]]:
    with httpx.stream(
        "POST",
        url + "/score",
        json=body,
        headers={"accept": "application/x-ndjson"},
        timeout=timeout,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in r.iter_lines() if line]


# -- same answers as POST /score -------------------------------------------------------------


@pytest.mark.parametrize("body", EXAMPLES, ids=["score", "code"])
async def test_score_and_ndjson_answer_as_post_score(
    grpc_server: Server, channel: grpc.aio.Channel, body: dict[str, Any]
) -> None:
    want = httpx.post(grpc_server.url + "/score", json=body, timeout=60).json()["results"]
    response = await pb_grpc.RefereeStub(channel).Score(request(body), timeout=60)
    got = [convert.result_from_proto(r) for r in response.results]
    assert [_same(g) for g in got] == [_same(w) for w in want]
    lines = ndjson(grpc_server.url, body)
    assert sorted(line["index"] for line in lines) == list(range(len(want)))
    by_index = {line["index"]: line for line in lines}
    assert [_same(by_index[i]) for i in range(len(want))] == [_same(w) for w in want]
    assert {w["outcome"] for w in want} >= {"correct"}


async def test_list_verifiers(channel: grpc.aio.Channel) -> None:
    listing = await pb_grpc.RefereeStub(channel).ListVerifiers(pb.ListVerifiersRequest())
    by_name = {v.name: v for v in listing.verifiers}
    assert {"math", "code", "think_format"} <= set(by_name)
    assert "properties" in convert.from_struct(by_name["math"].params_schema)


async def test_health_serving(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "referee.v1.Referee"):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


# -- streaming: order, cancellation, flow control ----------------------------------------------


async def test_stream_results_come_in_completion_order(
    grpc_server: Server, channel: grpc.aio.Channel
) -> None:
    slow = slow_program(2.0)
    maths = math_items(20)

    async def requests() -> AsyncIterator[pb.ScoreRequest]:
        yield request({"items": [slow]}, "code")
        for i in range(0, 20, 5):
            yield request({"verifier": "math", "items": maths[i : i + 5]}, f"math-{i}")

    order = []
    async for streamed in pb_grpc.RefereeStub(channel).ScoreStream(requests(), timeout=60):
        order.append((streamed.request_id, streamed.index))
        assert streamed.result.status == "ok"
        assert streamed.result.reward == 1.0, streamed.result
    assert len(order) == 21
    assert order[-1] == ("code", 0)
    assert sorted(order[:-1]) == sorted((f"math-{i}", j) for i in range(0, 20, 5) for j in range(5))

    # The same over NDJSON: one request, the slow program first.
    lines = ndjson(
        grpc_server.url, {"verifier": "math", "items": [slow_program(2.0), *math_items(20)]}
    )
    assert [line["index"] for line in lines][-1] == 0
    assert sorted(line["index"] for line in lines) == list(range(21))
    assert all(line["reward"] == 1.0 for line in lines), lines


async def test_cancel_drops_the_streams_work(
    grpc_server: Server, channel: grpc.aio.Channel
) -> None:
    url = grpc_server.url

    async def requests() -> AsyncIterator[pb.ScoreRequest]:
        # 500 items that take 50 ms each: 12 s of work for 2 workers.
        salt = time.time_ns() % 10**9
        for r in range(50):
            items = [{"response": f"sleep:0.05{salt:09d}{r:02d}{i}"} for i in range(10)]
            yield request({"verifier": "misbehave", "items": items}, str(r))

    call = pb_grpc.RefereeStub(channel).ScoreStream(requests(), timeout=60)
    first = await call.read()
    assert isinstance(first, pb.StreamedResult)
    assert metric(url, "referee_grpc_streams_open") == 1
    assert metric(url, "referee_grpc_stream_items_in_flight") > 0
    call.cancel()
    cancelled_at = time.monotonic()
    while (
        metric(url, "referee_grpc_stream_items_in_flight")
        or metric(url, "referee_grpc_streams_open")
        or metric(url, "referee_items_in_flight")
    ):
        assert time.monotonic() - cancelled_at < 1.0, "in-flight work left after cancel"
        await asyncio.sleep(0.02)
    # Queued work was dropped: the workers soon stop judging this stream's items.
    await asyncio.sleep(0.5)
    judged = metric(url, "referee_verifier_duration_seconds_count")
    await asyncio.sleep(1.0)
    assert metric(url, "referee_verifier_duration_seconds_count") == judged


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_client_that_does_not_read_is_held_back(
    grpc_server: Server, channel: grpc.aio.Channel
) -> None:
    """The stream stops reading once its results cannot be written.

    What the server reads ahead of a client that reads nothing is its in-flight cap
    plus what the transport accepts of results (HTTP/2 windows, socket buffers:
    megabytes, varying by machine). The request stream here is far longer than any
    such buffering could absorb (a million items, ~250 MB of results), so the bound
    holds by construction: the stream stalls well before its end, with at most
    ``STREAM_MAX_IN_FLIGHT`` items being judged and bounded server memory.
    """
    pid = grpc_server.process.pid
    before = _rss_kb(pid)
    sent = 0
    per_request = 100
    total = 1_000_000
    response = "x" * 200 + "\\boxed{7}"  # judged once, then cached: results come at once

    async def requests() -> AsyncIterator[pb.ScoreRequest]:
        nonlocal sent
        for r in range(total // per_request):
            yield request(
                {
                    "verifier": "math",
                    "items": [{"response": response, "reference": "7"}] * per_request,
                },
                str(r),
            )
            sent += per_request

    call = pb_grpc.RefereeStub(channel).ScoreStream(requests(), timeout=120)
    peak = before
    history: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        peak = max(peak, _rss_kb(pid))
        history.append(sent)
        if len(history) > 4 and len(set(history[-5:])) == 1:
            break  # nothing more read for a second: the client is held back
    in_flight = metric(grpc_server.url, "referee_grpc_stream_items_in_flight_max")
    call.cancel()
    print(f"sent {history[-8:]}, in flight {in_flight}, RSS {before} -> {peak} kB")
    assert len(set(history[-5:])) == 1, f"the server kept reading: {history[-8:]}"
    assert sent < total / 2, f"the server read {sent} items from a client that reads nothing"
    assert in_flight <= 256
    assert peak - before < 100 * 1024, f"server RSS grew by {(peak - before) // 1024} MiB"


# -- errors ----------------------------------------------------------------------------------


async def test_bad_input_is_invalid_argument_naming_the_field(channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.RefereeStub(channel)
    bad = {
        "verifier": "math",
        "items": [{"response": "1", "reference": "1"}, {"response": "2", "reference": {"x": 1}}],
    }
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Score(request(bad), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "items[1].reference" in (info.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Score(request({"verifier": "nope", "items": [{"response": "1"}]}), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith("verifier:")
    assert "math" in (info.value.details() or "")

    # In a stream, the bad request ends that stream only.
    good = asyncio.create_task(_stream_slowly(stub))
    await asyncio.sleep(0.3)

    async def requests() -> AsyncIterator[pb.ScoreRequest]:
        yield request({"verifier": "math", "items": math_items(2)}, "ok")
        yield request({"items": [{"response": "x"}]}, "bad")

    call = stub.ScoreStream(requests(), timeout=30)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in call:
            pass
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "items[0].verifier" in (info.value.details() or "")
    assert await good == 6


async def _stream_slowly(stub: pb_grpc.RefereeStub) -> int:
    async def requests() -> AsyncIterator[pb.ScoreRequest]:
        for r in range(3):
            yield request({"verifier": "math", "items": math_items(2)}, str(r))
            await asyncio.sleep(0.3)

    return len([m async for m in stub.ScoreStream(requests(), timeout=30)])


async def test_over_capacity_is_resource_exhausted_with_retry_after(
    grpc_server: Server, channel: grpc.aio.Channel
) -> None:
    stub = pb_grpc.RefereeStub(channel)
    while metric(grpc_server.url, "referee_grpc_streams_open"):  # earlier tests' streams
        await asyncio.sleep(0.05)
    release = asyncio.Event()

    async def idle() -> AsyncIterator[pb.ScoreRequest]:
        await release.wait()
        yield request({"verifier": "math", "items": math_items(1)})

    held = [stub.ScoreStream(idle(), timeout=30) for _ in range(4)]
    for call in held:
        await call.initial_metadata()  # admitted
    refused = stub.ScoreStream(idle(), timeout=30)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await refused.read()
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "REFEREE_GRPC_MAX_STREAMS" in (info.value.details() or "")
    trailing = dict(info.value.trailing_metadata() or ())
    assert int(trailing["retry-after-ms"]) > 0
    release.set()
    for call in held:
        assert len([m async for m in call]) == 1

    # A request over a size limit (413 on HTTP) is RESOURCE_EXHAUSTED naming the limit.
    too_many = {"verifier": "math", "items": [{"response": "1"}] * 201}
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Score(request(too_many), timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_batch_items" in (info.value.details() or "")


async def test_client_deadline_is_honoured(grpc_server: Server, channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.RefereeStub(channel)
    body = {
        "verifier": "misbehave",
        "items": [{"response": f"sleep:2.{time.time_ns() % 10**9:09d}"}],
    }
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Score(request(body), timeout=0.5)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 1.5
    deadline = time.monotonic() + 1.0
    while metric(grpc_server.url, "referee_items_in_flight"):
        assert time.monotonic() < deadline, "the abandoned call's work is still in flight"
        await asyncio.sleep(0.02)


def test_ndjson_errors_come_before_the_stream(grpc_server: Server) -> None:
    headers = {"accept": "application/x-ndjson"}
    r = httpx.post(grpc_server.url + "/score", json={"items": [{"response": "x"}]}, headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "items", 0, "verifier"]
    r = httpx.post(grpc_server.url + "/score", json={"items": []}, headers=headers)
    assert r.status_code == 422
    too_many = {"verifier": "math", "items": [{"response": "1"}] * 201}
    r = httpx.post(grpc_server.url + "/score", json=too_many, headers=headers)
    assert r.status_code == 413 and "max_batch_items" in r.json()["detail"]


def test_health_goes_not_serving_when_the_server_drains(tmp_path: Path) -> None:
    server = start_server(tmp_path, SERVER_ENV, grpc=True)
    try:
        assert server.grpc_target is not None
        with grpc.insecure_channel(server.grpc_target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            server.process.terminate()
            assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        stop_server(server)
