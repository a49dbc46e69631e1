"""The second-opinion sampler through a real server: counted, logged, never the reward."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import SERVER_ENV
from support import Server, start_server, stop_server


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {**SERVER_ENV, "REFEREE_SECOND_OPINION_RATE": "1.0"}
    server = start_server(tmp_path_factory.mktemp("second-opinion"), env, workers=1)
    yield server
    stop_server(server)


def counts(metrics: str) -> dict[str, float]:
    found = re.findall(
        r'^referee_second_opinions_total\{result="(\w+)",verifier="math"\} (\S+)$',
        metrics,
        flags=re.MULTILINE,
    )
    return {label: float(value) for label, value in found}


def test_disagreements_are_counted_and_logged_and_the_reward_is_the_primary(
    sampled: Server,
) -> None:
    items = [
        # both graders accept
        {"id": "agree", "response": "\\boxed{2\\sqrt{2}}", "reference": "\\sqrt{8}"},
        # the primary rounds to 6 decimals; the independent grader wants 1/3 exactly
        {"id": "accepted", "response": "\\boxed{0.333333}", "reference": "\\frac{1}{3}"},
        # the primary refuses digits beyond the reference's; the other rounds to them
        {"id": "rejected", "response": "\\boxed{3.141592653}", "reference": "3.14159"},
        # the independent grader does not read inequalities
        {"id": "undecided", "response": "\\boxed{m \\geq 2}", "reference": "[2,\\infty)"},
        # not sampled: nothing to compare
        {"id": "none", "response": "<think>\nstill", "reference": "5"},
    ]
    with sampled.client() as client:
        r = client.post("/score", json={"verifier": "math", "items": items})
        assert r.status_code == 200, r.text
        rewards = {x["id"]: x["reward"] for x in r.json()["results"]}
        assert rewards == {
            "agree": 1.0,
            "accepted": 1.0,
            "rejected": 0.0,
            "undecided": 0.0,
            "none": 0.0,
        }
        metrics = client.get("/metrics").text
    assert counts(metrics) == {
        "agree": 1.0,
        "primary_accepted": 1.0,
        "primary_rejected": 1.0,
        "undecided": 1.0,
    }
    log = Path(sampled.log).read_text()
    assert "second opinion disagrees with math (primary_rejected)" in log
    assert "3.141592653" in log
    assert "second opinion disagrees with math (primary_accepted)" in log


def test_off_by_default(client: httpx.Client) -> None:
    r = client.post(
        "/score",
        json={"verifier": "math", "items": [{"response": "\\boxed{0.333333}", "reference": "1/3"}]},
    )
    assert r.status_code == 200
    assert counts(client.get("/metrics").text) == {}
