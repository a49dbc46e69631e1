"""Patterns and schemas are checked off the event loop, bounded, and every bad one is a 422."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from support import Server


def slow_pattern(classes: int) -> str:
    """A pattern that compiles slowly (case-folding of wide ranges) and is never cached."""
    salt = uuid.uuid4().int
    ranges = "".join(f"[{chr(0x100 + (salt + i) % 4000)}-\U0010ffff]" for i in range(classes))
    return "(?i)" + ranges


def regex_item(pattern: str) -> dict[str, Any]:
    return {"response": "x", "verifier": {"name": "regex", "params": {"pattern": pattern}}}


def schema_item(schema: dict[str, Any]) -> dict[str, Any]:
    return {"response": '"x"', "verifier": "json_schema", "reference": {"schema": schema}}


def _healthz_while(client_url: str, body: dict[str, Any]) -> tuple[float, float, int]:
    """Send ``body`` to /score and probe /healthz until it is answered.

    Returns (seconds the /score call took, slowest /healthz, probes answered while
    /score was still open).
    """
    finished = threading.Event()
    took: list[float] = []

    def send() -> None:
        start = time.monotonic()
        with httpx.Client(base_url=client_url, timeout=120) as c:
            c.post("/score", json=body)
        took.append(time.monotonic() - start)
        finished.set()

    thread = threading.Thread(target=send)
    thread.start()
    slowest, during = 0.0, 0
    with httpx.Client(base_url=client_url, timeout=120) as probe:
        time.sleep(0.2)
        while not finished.is_set():
            start = time.monotonic()
            assert probe.get("/healthz").status_code == 200
            slowest = max(slowest, time.monotonic() - start)
            if not finished.is_set():
                during += 1
            time.sleep(0.05)
    thread.join()
    return took[0], slowest, during


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda: {"items": [regex_item(slow_pattern(390))]}, id="regex"),
        pytest.param(
            lambda: {
                "items": [schema_item({"anyOf": [{"pattern": slow_pattern(6)} for _ in range(80)]})]
            },
            id="schema",
        ),
    ],
)
def test_healthz_answers_while_a_costly_check_runs(server: Server, body: Any) -> None:
    took, slowest, during = _healthz_while(server.url, body())
    # The check holds /score open for `took`; the event loop must answer meanwhile,
    # each probe in a small fraction of that time (inline, a probe waits it all).
    assert during >= 1, (took, slowest)
    assert slowest < took / 3, (took, slowest)


RECURSION = "(" * 3000 + ")" * 3000
OVERFLOW = "a{4294967296}"


@pytest.mark.parametrize("pattern", [RECURSION, OVERFLOW, "(", "a" * 2001], ids=str.__len__)
def test_bad_pattern_is_422_naming_the_field(client: httpx.Client, pattern: str) -> None:
    spec = {"name": "regex", "params": {"pattern": pattern}}
    r = client.post("/score", json={"verifier": spec, "items": [{"response": "x"}]})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "verifier"]
    assert "pattern" in detail["msg"]
    r = client.post(
        "/score", json={"items": [{"response": "x"}, {"response": "y", "verifier": spec}]}
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "items", 1, "verifier"]


def test_oversized_pattern_names_the_limit(client: httpx.Client) -> None:
    r = client.post("/score", json={"items": [regex_item("a" * 2001)]})
    assert r.status_code == 422
    assert "max_pattern_chars=2000" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "schema",
    [
        {"pattern": RECURSION},
        {"properties": {"a": {"pattern": OVERFLOW}}},
        {"patternProperties": {RECURSION: {}}},
        {"type": "nope"},
    ],
    ids=["recursion", "overflow", "pattern-properties", "invalid"],
)
def test_bad_schema_is_422_naming_the_field(client: httpx.Client, schema: Any) -> None:
    r = client.post("/score", json={"items": [schema_item(schema)]})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "items", 0, "reference"]
    assert "reference.schema" in detail["msg"]


def test_oversized_schema_names_the_limit(client: httpx.Client) -> None:
    schema = {"enum": ["x" * 1000] * 300}
    r = client.post("/score", json={"items": [schema_item(schema)]})
    assert r.status_code == 422, r.text
    assert "max_schema_bytes=262144" in r.json()["detail"][0]["msg"]


def test_good_pattern_and_schema_still_score(client: httpx.Client) -> None:
    items = [regex_item(r"x+"), schema_item({"type": "string"})]
    r = client.post("/score", json={"items": items})
    assert r.status_code == 200, r.text
    assert [x["reward"] for x in r.json()["results"]] == [1.0, 1.0]
