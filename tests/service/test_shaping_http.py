"""cosine_length and language_consistency end to end through a real ``referee serve``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from language_corpus import CASES

LONG_THINK = "Let me verify: 6 times 7 is 7 added six times, 7, 14, 21, 28, 35, 42. " * 40


def _score(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post("/score", json=body)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def test_math_plus_cosine_length_composition(client: httpx.Client) -> None:
    items = [
        {"id": "short-right", "response": "<think>6*7=42</think> $\\boxed{42}$"},
        {"id": "long-right", "response": f"<think>{LONG_THINK}</think> $\\boxed{{42}}$"},
        {"id": "short-wrong", "response": "<think>6*7=48</think> $\\boxed{48}$"},
        {"id": "long-wrong", "response": f"<think>{LONG_THINK} or 48?</think> $\\boxed{{48}}$"},
        {
            "id": "tokens",
            "response": "<think>6*7=42</think> $\\boxed{42}$",
            "completion_tokens": 500,
        },
    ]
    body = {
        "verifier": [{"name": "math"}, {"name": "cosine_length", "weight": 0.5}],
        "items": [{**item, "reference": "42"} for item in items],
    }
    results = {r["id"]: r for r in _score(client, body)}
    assert all(r["status"] == "ok" for r in results.values())
    cosine = {k: r["components"][1] for k, r in results.items()}
    assert cosine["short-right"]["outcome"] == "correct"
    assert cosine["short-wrong"]["outcome"] == "incorrect"
    assert 1.0 >= cosine["short-right"]["reward"] > cosine["long-right"]["reward"] >= 0.5
    assert -1.0 <= cosine["short-wrong"]["reward"] < cosine["long-wrong"]["reward"] <= -0.5
    assert cosine["tokens"]["details"] == {**cosine["tokens"]["details"], "tokens": 500}
    assert cosine["tokens"]["reward"] == pytest.approx(0.75)
    # The total is the weighted sum: math's 1 plus half the cosine reward.
    right = results["short-right"]
    assert right["reward"] == pytest.approx(1.0 + 0.5 * cosine["short-right"]["reward"])


def test_cosine_length_with_another_inner_verifier(client: httpx.Client) -> None:
    spec = {
        "name": "cosine_length",
        "params": {"verifier": "multiple_choice", "verifier_params": {"choices": "ABCD"}},
    }
    body = {
        "verifier": spec,
        "items": [
            {"response": "<think>Option C fits.</think> Answer: C", "reference": "C"},
            {"response": "<think>Option B fits.</think> Answer: B", "reference": "C"},
        ],
    }
    right, wrong = _score(client, body)
    assert right["outcome"] == "correct" and right["reward"] > 0.99
    assert wrong["outcome"] == "incorrect" and wrong["reward"] < -0.99


def test_cosine_length_bad_params_are_422(client: httpx.Client) -> None:
    body = {
        "verifier": {"name": "cosine_length", "params": {"verifier": "code"}},
        "items": [{"response": "x", "reference": "1"}],
    }
    r = client.post("/score", json=body)
    assert r.status_code == 422 and "cannot be nested" in r.text


def test_language_consistency_on_mixed_chains_of_thought(client: httpx.Client) -> None:
    items = [{"id": c.name, "response": c.response()} for c in CASES]
    for target in ("en", "zh"):
        body = {"verifier": {"name": "language_consistency", "params": {"target": target}}}
        results = _score(client, {**body, "items": items})
        for case, result in zip(CASES, results, strict=True):
            assert result["status"] == "ok"
            assert result["reward"] == pytest.approx(case.share(target)), case.name


def test_r1_style_reward_with_language_consistency(client: httpx.Client) -> None:
    body = {
        "verifier": [
            {"name": "math"},
            {"name": "think_format", "weight": 0.1},
            {"name": "language_consistency", "weight": 0.1},
        ],
        "items": [
            {"response": "<think>Two plus three is five.</think> $\\boxed{5}$", "reference": "5"},
            {"response": "<think>二加三等于五。</think> $\\boxed{5}$", "reference": "5"},
        ],
    }
    english, chinese = _score(client, body)
    assert english["reward"] == pytest.approx(1.2)
    assert chinese["reward"] == pytest.approx(1.1)


def test_listed_with_their_params(client: httpx.Client) -> None:
    infos = {v["name"]: v for v in client.get("/verifiers").json()["verifiers"]}
    cosine = infos["cosine_length"]["params_schema"]["properties"]
    assert {"max_len", "min_value_wrong", "verifier", "verifier_params"} <= set(cosine)
    assert "inner_params" not in cosine
    assert "target" in infos["language_consistency"]["params_schema"]["properties"]
