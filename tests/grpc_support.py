"""Helpers of the gRPC tests: requests from JSON bodies, metrics, slow items."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from referee.service.grpc import convert
from referee.service.grpc.v1 import referee_pb2 as pb


def request(body: dict[str, Any], request_id: str = "") -> pb.ScoreRequest:
    """The ``ScoreRequest`` of a ``POST /score`` body."""
    out = pb.ScoreRequest(
        request_id=request_id, items=[convert.item_to_proto(it) for it in body["items"]]
    )
    if body.get("verifier") is not None:
        out.verifier.CopyFrom(convert.to_value(body["verifier"]))
    return out


def metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"([a-z_]+)(\{[^}]*\})? (\S+)", line)
        if m and m.group(1) == name:
            total += float(m.group(3))
    return total


def math_items(n: int) -> list[dict[str, Any]]:
    """``n`` math items no cache has seen."""
    salt = uuid.uuid4().int % 10**9
    return [
        {"id": f"m{i}", "response": f"\\boxed{{{salt + i}}}", "reference": str(salt + i)}
        for i in range(n)
    ]


def slow_program(seconds: float) -> dict[str, Any]:
    """A code item whose program sleeps ``seconds`` and then passes."""
    program = (
        f"# {uuid.uuid4()}\nimport time\ntime.sleep({seconds})\n"
        "print(sum(map(int, input().split())))\n"
    )
    return {
        "id": "slow",
        "response": f"```python\n{program}```",
        "reference": {
            "language": "python",
            "time_limit_s": seconds + 3,
            "tests": [{"stdin": "2 3\n", "stdout": "5\n"}],
        },
        "verifier": "code",
    }
