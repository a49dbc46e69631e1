"""Every result states which verifier judged it: name, version, params digest.

Through a real ``referee serve``, over JSON, NDJSON and gRPC.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import httpx
import pytest
from grpc_support import request
from support import Server

from referee import verifiers
from referee.clients import Item, RefereeClient
from referee.service.grpc import convert
from referee.service.grpc.v1 import referee_pb2_grpc as pb_grpc
from referee.verifiers.compose import resolve
from referee.verifiers.provenance import canonical_params, params_digest

MATH_ITEM = {"id": "m", "response": "so \\boxed{4417}", "reference": "4417"}


def score(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post("/score", json=body)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def versions(client: httpx.Client) -> dict[str, str]:
    return {v["name"]: v["version"] for v in client.get("/verifiers").json()["verifiers"]}


def test_a_result_names_its_verifier_version_and_params(client: httpx.Client) -> None:
    (result,) = score(client, {"verifier": "math", "items": [MATH_ITEM]})
    assert result["outcome"] == "correct"
    ref = result["verifier"]
    assert ref["name"] == "math"
    assert ref["version"] == versions(client)["math"]
    assert len(ref["params_digest"]) == 16
    int(ref["params_digest"], 16)


def test_the_digest_follows_the_params_not_their_spelling(client: httpx.Client) -> None:
    def digest(spec: Any) -> str:
        (result,) = score(client, {"verifier": spec, "items": [MATH_ITEM]})
        value: str = result["verifier"]["params_digest"]
        return value

    default = digest("math")
    assert digest({"name": "math"}) == default
    # Defaults written out, in another order: the same configuration.
    assert digest({"name": "math", "params": {"strict": True, "mode": "cascade"}}) == default
    other = digest({"name": "math", "params": {"mode": "math_verify"}})
    assert other != default
    assert digest({"name": "math", "params": {"float_rounding": 3}}) not in {default, other}


def test_composite_results_state_each_component(client: httpx.Client) -> None:
    spec = [{"name": "math"}, {"name": "think_format", "weight": 0.5}]
    item = {"response": "<think>a</think> \\boxed{4417}", "reference": "4417"}
    (result,) = score(client, {"verifier": spec, "items": [item]})
    assert result["reward"] == 1.5
    assert result["verifier"] is None
    refs = [c["verifier"] for c in result["components"]]
    assert [r["name"] for r in refs] == ["math", "think_format"]
    known = versions(client)
    assert [r["version"] for r in refs] == [known["math"], known["think_format"]]
    (single,) = score(client, {"verifier": "math", "items": [item]})
    assert refs[0] == single["verifier"]


def test_error_results_state_their_verifier(client: httpx.Client) -> None:
    # A verifier that raises (the test plugin): status "error", provenance still stated.
    (result,) = score(client, {"verifier": "misbehave", "items": [{"response": "raise"}]})
    assert result["status"] == "error", result
    assert result["verifier"]["name"] == "misbehave"
    spec = [{"name": "misbehave"}, {"name": "think_format"}]
    (result,) = score(client, {"verifier": spec, "items": [{"response": "raise"}]})
    assert result["status"] == "error"
    assert [c["verifier"]["name"] for c in result["components"]] == ["misbehave", "think_format"]


def test_ndjson_lines_carry_the_provenance(client: httpx.Client) -> None:
    body = {"verifier": "math", "items": [MATH_ITEM, {**MATH_ITEM, "id": "n", "reference": "4418"}]}
    (want_a, want_b) = score(client, body)
    with client.stream(
        "POST", "/score", json=body, headers={"accept": "application/x-ndjson"}
    ) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert {line["index"]: line["verifier"] for line in lines} == {
        0: want_a["verifier"],
        1: want_b["verifier"],
    }


async def test_grpc_results_carry_the_same_provenance(grpc_server: Server) -> None:
    body = {
        "verifier": "math",
        "items": [
            MATH_ITEM,
            {**MATH_ITEM, "verifier": [{"name": "math"}, {"name": "think_format"}]},
        ],
    }
    want = httpx.post(grpc_server.url + "/score", json=body, timeout=60).json()["results"]
    assert grpc_server.grpc_target is not None
    async with grpc.aio.insecure_channel(grpc_server.grpc_target) as channel:
        response = await pb_grpc.RefereeStub(channel).Score(request(body), timeout=60)
    got = [convert.result_from_proto(r) for r in response.results]
    assert [g["verifier"] for g in got] == [w["verifier"] for w in want]
    assert got[0]["verifier"]["name"] == "math"
    assert [c["verifier"] for c in got[1]["components"]] == [
        c["verifier"] for c in want[1]["components"]
    ]


@pytest.mark.parametrize("name", ["math", "code", "think_format", "cosine_length", "countdown"])
def test_digest_is_of_canonical_json_of_settable_params(name: str) -> None:
    verifiers.load_builtin()
    (component,) = resolve(name).components
    text = canonical_params(component.verifier, component.params)
    assert json.loads(text) == dict(sorted(json.loads(text).items()))
    # Fields outside __init__ (derived values) are not part of the configuration.
    assert "inner_params" not in json.loads(text)
    assert component.provenance.params_digest == params_digest(component.verifier, component.params)


def test_the_python_client_reads_the_provenance(server: Server) -> None:
    with RefereeClient(server.url) as referee:
        single, composite = referee.score(
            [
                Item(MATH_ITEM["response"], MATH_ITEM["reference"]),
                Item("\\boxed{4417}", "4417", verifier=["math", "think_format"]),
            ],
            verifier="math",
        )
    assert single.verifier is not None and single.verifier.name == "math"
    assert composite.verifier is None and composite.components is not None
    assert [c.verifier.name for c in composite.components if c.verifier] == [
        "math",
        "think_format",
    ]
    assert composite.components[0].verifier == single.verifier
