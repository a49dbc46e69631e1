"""POST /score end to end over HTTP against a real ``referee serve``."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
from support import Server


def score(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post("/score", json=body)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    assert len(results) == len(body["items"])
    return results


def metric(client: httpx.Client, name: str, **labels: str) -> float:
    text = client.get("/metrics").text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        m = re.match(r"([a-z_]+)(\{[^}]*\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


def wait_for_workers(client: httpx.Client, n: int) -> None:
    """Replacement workers start in the background; give them a moment."""
    deadline = time.monotonic() + 10
    while client.get("/readyz").json()["workers"] != n:
        assert time.monotonic() < deadline, "worker processes were not replaced"
        time.sleep(0.05)


# -- PROTOCOL.md examples --------------------------------------------------------------------


def test_protocol_example(client: httpx.Client) -> None:
    body = {
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
    }
    first, second = score(client, body)
    assert first["id"] == "q1-s0"
    assert first["reward"] == 1.0
    assert first["status"] == "ok"
    assert first["outcome"] == "correct"
    assert first["details"]["extracted"] == "\\frac{1}{2}"
    assert first["error"] is None
    assert "components" not in first
    assert isinstance(first["cached"], bool)
    assert first["verifier"]["name"] == "math" and second["verifier"] is None

    assert second["id"] == "q1-s1"
    assert second["reward"] == 0.1
    assert second["status"] == "ok"
    assert second["outcome"] == "incorrect"
    assert second["details"] == {}
    assert second["error"] is None
    math_c, think_c = second["components"]
    assert (math_c["name"], math_c["weight"], math_c["reward"], math_c["outcome"]) == (
        "math",
        1.0,
        0.0,
        "incorrect",
    )
    assert (think_c["name"], think_c["weight"], think_c["reward"], think_c["outcome"]) == (
        "think_format",
        0.1,
        1.0,
        "correct",
    )


def test_results_keep_request_order_and_ids(client: httpx.Client) -> None:
    items = [
        {"id": f"s{i}", "response": f"\\boxed{{{i}}}", "reference": str(i % 3)} for i in range(40)
    ]
    results = score(client, {"verifier": "math", "items": items})
    assert [r["id"] for r in results] == [f"s{i}" for i in range(40)]
    assert [r["reward"] for r in results] == [1.0 if i == i % 3 else 0.0 for i in range(40)]


def test_spec_forms_and_weights(client: httpx.Client) -> None:
    response = "<think>2+2</think>\nThe answer is \\boxed{4}."
    specs: list[Any] = [
        "math",
        {"name": "math", "weight": 0.5},
        [{"name": "math", "weight": 2.0}, "think_format"],
    ]
    rewards = [
        score(client, {"verifier": s, "items": [{"response": response, "reference": "4"}]})[0][
            "reward"
        ]
        for s in specs
    ]
    assert rewards == [1.0, 0.5, 3.0]


def test_item_spec_overrides_request_default(client: httpx.Client) -> None:
    results = score(
        client,
        {
            "verifier": "math",
            "items": [
                {"response": "\\boxed{B}", "reference": "B", "verifier": "multiple_choice"},
                {"response": "\\boxed{3}", "reference": "3"},
            ],
        },
    )
    assert [r["outcome"] for r in results] == ["correct", "correct"]


def test_params_change_the_judgement(client: httpx.Client) -> None:
    item = {"response": "We get 42 apples.", "reference": "42"}
    default = score(client, {"verifier": "math", "items": [item]})[0]
    boxed_only = score(
        client, {"verifier": {"name": "math", "params": {"fallback": "none"}}, "items": [item]}
    )[0]
    assert default["outcome"] == "correct"
    assert boxed_only["outcome"] == "no_answer"
    assert boxed_only["reward"] == 0.0


def test_bad_reference_is_an_error_not_a_zero(client: httpx.Client) -> None:
    (r,) = score(
        client, {"verifier": "math", "items": [{"response": "\\boxed{1}", "reference": "  "}]}
    )
    assert r["status"] == "error"
    assert r["reward"] is None
    assert r["error"]["kind"] == "invalid_reference"
    assert r["error"]["retryable"] is False


# -- validation ----------------------------------------------------------------------------


def detail_text(r: httpx.Response) -> str:
    assert "Traceback" not in r.text
    return json.dumps(r.json()["detail"])


def test_malformed_json_is_422(client: httpx.Client) -> None:
    r = client.post("/score", content=b'{"items": [', headers={"content-type": "application/json"})
    assert r.status_code == 422
    detail_text(r)


def test_wrong_types_name_the_field(client: httpx.Client) -> None:
    r = client.post("/score", json={"verifier": "math", "items": [{"response": 12}]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "items", 0, "response"]
    r = client.post("/score", json={"verifier": "math", "items": []})
    assert r.status_code == 422
    assert "items" in detail_text(r)
    r = client.post("/score", json={"verifier": "math"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "items"]


def test_validation_errors_do_not_echo_input(client: httpx.Client) -> None:
    r = client.post("/score", json={"items": [{"response": ["x" * 10_000]}]})
    assert r.status_code == 422
    assert len(r.text) < 2000


def test_unknown_verifier_lists_valid_names(client: httpx.Client) -> None:
    r = client.post("/score", json={"verifier": "maths", "items": [{"response": "1"}]})
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "verifier"]
    assert "'maths'" in detail["msg"]
    for name in ("math", "think_format", "multiple_choice", "regex"):
        assert name in detail["msg"]


def test_unknown_verifier_on_an_item_names_the_item(client: httpx.Client) -> None:
    r = client.post(
        "/score",
        json={
            "items": [
                {"response": "1", "reference": "1"},
                {"response": "1", "verifier": ["math", "nope"]},
            ],
            "verifier": "math",
        },
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "items", 1, "verifier"]


def test_unknown_and_invalid_params(client: httpx.Client) -> None:
    r = client.post(
        "/score",
        json={
            "verifier": {"name": "math", "params": {"rounding": 3}},
            "items": [{"response": "1", "reference": "1"}],
        },
    )
    assert r.status_code == 422
    msg = r.json()["detail"][0]["msg"]
    assert "'rounding'" in msg and "float_rounding" in msg
    r = client.post(
        "/score",
        json={
            "verifier": {"name": "math", "params": {"fallback": "guess"}},
            "items": [{"response": "1", "reference": "1"}],
        },
    )
    assert r.status_code == 422
    assert "fallback" in r.json()["detail"][0]["msg"]


def test_missing_spec_is_422(client: httpx.Client) -> None:
    r = client.post("/score", json={"items": [{"response": "1", "reference": "1"}]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "items", 0, "verifier"]


def test_math_reference_of_wrong_type(client: httpx.Client) -> None:
    r = client.post(
        "/score",
        json={
            "verifier": "math",
            "items": [
                {"response": "1", "reference": "1"},
                {"response": "1", "reference": {"a": 1}},
            ],
        },
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "items", 1, "reference"]


# -- limits --------------------------------------------------------------------------------


def test_too_many_items_is_413_naming_the_limit(client: httpx.Client) -> None:
    items = [{"response": "1", "reference": "1"}] * 201
    r = client.post("/score", json={"verifier": "math", "items": items})
    assert r.status_code == 413
    assert "max_batch_items=200" in r.json()["detail"]


def test_response_too_long_is_413(client: httpx.Client) -> None:
    items = [{"response": "1", "reference": "1"}, {"response": "x" * 1_100_001, "reference": "1"}]
    r = client.post("/score", json={"verifier": "math", "items": items})
    assert r.status_code == 413
    assert "items[1].response" in r.json()["detail"]
    assert "max_response_chars" in r.json()["detail"]


def test_body_too_large_is_413(client: httpx.Client) -> None:
    body = json.dumps({"verifier": "math", "items": [{"response": "y" * 1_000_000}] * 5})
    r = client.post("/score", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "max_body_bytes" in r.json()["detail"]


def test_body_too_large_without_content_length(client: httpx.Client) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"verifier": "math", "items": ['
        for _ in range(5):
            yield b'{"response": "' + b"z" * 1_000_000 + b'"},'
        yield b'{"response": "1"}]}'

    r = client.post("/score", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


# -- hostile input -------------------------------------------------------------------------


HOSTILE = [
    ("tower", "\\boxed{2^{2^{2^{2^{2^{2^{2}}}}}}}"),
    ("c_bigint", "\\boxed{9^{9^{9^{9}}}}"),
    ("braces", "{" * 10_000 + "}" * 10_000),
    ("boxed_braces", "\\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}"),
    ("megabyte", "lorem ipsum " * 87_000 + "\\boxed{7}"),
    ("factorial", "\\boxed{(10^{10})!}"),
]


def test_hostile_math_gets_outcomes_and_server_keeps_serving(client: httpx.Client) -> None:
    items = [{"id": name, "response": text, "reference": "7"} for name, text in HOSTILE]
    start = time.monotonic()
    results = score(client, {"verifier": "math", "items": items})
    elapsed = time.monotonic() - start
    # Two workers, 3 s soft + 1 s hard deadline each: well under the sum of hangs.
    assert elapsed < 30
    by_id = {r["id"]: r for r in results}
    for name, _ in HOSTILE:
        assert by_id[name]["status"] == "ok", by_id[name]
        assert by_id[name]["reward"] == (1.0 if name == "megabyte" else 0.0)
    assert by_id["megabyte"]["outcome"] == "correct"
    assert client.get("/healthz").status_code == 200
    (after,) = score(
        client, {"verifier": "math", "items": [{"response": "\\boxed{3}", "reference": "3"}]}
    )
    assert after["outcome"] == "correct"


def test_stuck_worker_is_killed_from_outside(client: httpx.Client) -> None:
    # Code stuck where no signal reaches: only the hard deadline (kill the
    # process from outside and replace it) ends it.
    before = metric(client, "referee_worker_restarts_total", reason="timeout")
    start = time.monotonic()
    results = score(
        client,
        {
            "verifier": "misbehave",
            "items": [
                {"id": "a", "response": "fine"},
                {"id": "b", "response": "hang_in_c"},
                {"id": "c", "response": "fine too"},
            ],
        },
    )
    assert time.monotonic() - start < 15
    assert [(r["status"], r["outcome"], r["reward"]) for r in results] == [
        ("ok", "correct", 1.0),
        ("ok", "timeout", 0.0),
        ("ok", "correct", 1.0),
    ]
    assert metric(client, "referee_worker_restarts_total", reason="timeout") == before + 1
    wait_for_workers(client, 2)


def test_python_level_hang_ends_at_the_soft_deadline(client: httpx.Client) -> None:
    before = metric(client, "referee_worker_restarts_total")
    (r,) = score(client, {"verifier": "misbehave", "items": [{"response": "sleep:30"}]})
    assert (r["status"], r["outcome"]) == ("ok", "timeout")
    assert metric(client, "referee_worker_restarts_total") == before  # no kill needed


def test_crashing_verifier_is_an_error_and_the_server_recovers(client: httpx.Client) -> None:
    results = score(
        client,
        {
            "verifier": "misbehave",
            "items": [{"response": "crash"}, {"response": "raise"}, {"response": "ok"}],
        },
    )
    crash, bug, fine = results
    assert (crash["status"], crash["reward"], crash["error"]["kind"]) == (
        "error",
        None,
        "worker_crashed",
    )
    assert (bug["status"], bug["reward"], bug["error"]["kind"]) == ("error", None, "verifier_error")
    assert "ZeroDivisionError" in bug["error"]["message"]
    assert "Traceback" not in bug["error"]["message"]
    assert fine["outcome"] == "correct"
    wait_for_workers(client, 2)


def test_memory_bomb_is_contained(client: httpx.Client) -> None:
    (r,) = score(client, {"verifier": "misbehave", "items": [{"response": "memory"}]})
    assert (r["status"], r["outcome"], r["reward"]) == ("ok", "memory_limit", 0.0)


# -- cache ---------------------------------------------------------------------------------


def test_cache_hits_within_and_across_requests(client: httpx.Client) -> None:
    # A GRPO group: 8 samples, different reasoning, two distinct final answers.
    items = [
        {
            "id": f"g{i}",
            "response": f"<think>path {i}</think> so \\boxed{{{12 + i % 2}}}",
            "reference": "12",
        }
        for i in range(8)
    ]
    hits_before = metric(client, "referee_cache_hits_total")
    first = score(client, {"verifier": "math", "items": items})
    assert [r["cached"] for r in first] == [False, False] + [True] * 6
    assert [r["reward"] for r in first] == [1.0, 0.0] * 4
    second = score(client, {"verifier": "math", "items": items})
    assert all(r["cached"] for r in second)
    assert [r["reward"] for r in second] == [r["reward"] for r in first]
    assert metric(client, "referee_cache_hits_total") - hits_before == 6 + 8


def test_different_params_do_not_share_cache(client: httpx.Client) -> None:
    item = {"response": "\\boxed{0.1234567}", "reference": "0.1234568"}
    loose = score(
        client, {"verifier": {"name": "math", "params": {"float_rounding": 3}}, "items": [item]}
    )[0]
    strict = score(
        client, {"verifier": {"name": "math", "params": {"float_rounding": 7}}, "items": [item]}
    )[0]
    assert loose["reward"] == 1.0
    assert strict["reward"] == 0.0
    assert strict["cached"] is False


# -- concurrency ---------------------------------------------------------------------------


def test_fifty_concurrent_requests(server: Server) -> None:
    async def one(client: httpx.AsyncClient, n: int) -> list[dict[str, Any]]:
        items = [
            {
                "id": f"{n}-{k}",
                "response": f"The answer is \\boxed{{{n * 10 + k}}}.",
                "reference": str(n * 10 + (k if k % 2 == 0 else 0)),
            }
            for k in range(4)
        ]
        r = await client.post("/score", json={"verifier": "math", "items": items})
        assert r.status_code == 200
        results: list[dict[str, Any]] = r.json()["results"]
        return results

    async def run() -> list[list[dict[str, Any]]]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(one(client, n) for n in range(50)))

    batches = asyncio.run(run())
    for n, results in enumerate(batches):
        assert [r["id"] for r in results] == [f"{n}-{k}" for k in range(4)]
        expected = [1.0, 1.0 if n * 10 + 1 == n * 10 else 0.0, 1.0, 0.0]
        assert [r["reward"] for r in results] == expected


# -- other routes --------------------------------------------------------------------------


def test_verifiers_route(client: httpx.Client) -> None:
    infos = {v["name"]: v for v in client.get("/verifiers").json()["verifiers"]}
    expected = {
        "math",
        "think_format",
        "tag_count",
        "soft_overlong",
        "repetition",
        "exact_match",
        "multiple_choice",
        "regex",
    }
    assert expected <= set(infos)
    assert "float_rounding" in infos["math"]["params_schema"]["properties"]
    assert "pattern" in infos["regex"]["params_schema"]["required"]
    assert all(v["version"] for v in infos.values())


def test_health_ready_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["workers"] == 2
    score(client, {"verifier": "math", "items": [{"response": "\\boxed{1}", "reference": "1"}]})
    text = client.get("/metrics").text
    for series in (
        "referee_http_request_duration_seconds_bucket",
        "referee_items_scored_total",
        "referee_cache_hits_total",
        "referee_verifier_duration_seconds_bucket",
        "referee_workers",
        "referee_errors_total",
    ):
        assert series in text, series
    assert metric(client, "referee_items_scored_total", verifier="math", outcome="correct") >= 1
    assert (
        metric(client, "referee_http_request_duration_seconds_count", route="/score", status="200")
        >= 1
    )


# -- edge values -----------------------------------------------------------------------------


def test_weights_are_bounded_so_rewards_stay_finite(client: httpx.Client) -> None:
    spec = [{"name": "math", "weight": 1e308}, {"name": "math", "weight": 1e308}]
    r = client.post(
        "/score", json={"verifier": spec, "items": [{"response": "\\boxed{1}", "reference": "1"}]}
    )
    assert r.status_code == 422
    assert "weight" in r.json()["detail"][0]["msg"]


def test_lone_surrogates_in_json_do_not_break_the_answer(client: httpx.Client) -> None:
    # "\ud800" is valid JSON but cannot be encoded as UTF-8 as is.
    raw = (
        b'{"verifier": "exact_match", "items": [{"response": "\\ud800 x", '
        b'"reference": "\\ud800 x"}]}'
    )
    r = client.post("/score", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 200
    (result,) = r.json()["results"]
    assert (result["status"], result["reward"]) == ("ok", 1.0)
    assert result["details"]["extracted"] == "\ud800 x"
