"""``POST /openrlhf``: OpenRLHF's remote reward-model protocol."""

from __future__ import annotations

import json

import httpx
import pytest

from referee.service.dispatch._task import TaskResult
from referee.service.engine import ItemResult
from referee.service.openrlhf import _failure, response_text

STOPS = ("<|im_end|>", "<|endoftext|>", "</s>")


@pytest.mark.parametrize(
    ("query", "prompt", "expected"),
    [
        ("<|im_start|>user\n1+1?<|im_end|>\nThe answer is 2<|im_end|>", None, None),
        ("Q: 1+1?\nA: 2<|im_end|><|endoftext|><|endoftext|>", "Q: 1+1?\n", "A: 2"),
        ("Q: 1+1?\nA: 2 </s>\n", "Q: 1+1?\n", "A: 2"),
        ("<s> Q: hi A: 2</s>", "Q: hi", " A: 2"),  # a BOS before the prompt
        ("no prompt inside", "elsewhere", "no prompt inside"),
        ("Q?A<|im_end|>", "", "Q?A"),
    ],
)
def test_response_text(query: str, prompt: str | None, expected: str | None) -> None:
    if expected is None:  # no prompt given: only the trailing tokens go
        expected = query[: -len("<|im_end|>")]
    assert response_text(query, prompt, STOPS) == expected


def _body(queries: list[str], prompts: list[str], labels: list[object]) -> dict[str, object]:
    return {"query": queries, "prompts": prompts, "labels": labels}


def test_scores_openrlhf_batch(client: httpx.Client) -> None:
    prompt = "<|im_start|>user\nWhat is 1/2 + 1/2?<|im_end|>\n<|im_start|>assistant\n"
    queries = [
        prompt + "It is \\boxed{1}.<|im_end|><|endoftext|>",
        prompt + "It is \\boxed{2}.<|im_end|>",
    ]
    r = client.post("/openrlhf?verifier=math", json=_body(queries, [prompt, prompt], ["1", "1"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rewards"] == [1.0, 0.0]
    assert body["scores"] == [1.0, 0.0]
    assert body["extra_logs"]["referee_correct"] == [1.0, 0.0]
    assert body["extra_logs"]["referee_error"] == [0.0, 0.0]
    assert set(body["extra_logs"]) == {"referee_correct", "referee_cached", "referee_error"}


def test_empty_lists(client: httpx.Client) -> None:
    # OpenRLHF shards a batch across servers; some get nothing.
    r = client.post("/openrlhf?verifier=math", json=_body([], [], []))
    assert r.status_code == 200
    assert r.json() == {
        "rewards": [],
        "scores": [],
        "extra_logs": {"referee_correct": [], "referee_cached": [], "referee_error": []},
    }


def test_json_spec_in_query_string(client: httpx.Client) -> None:
    spec = json.dumps(
        [
            {"name": "math", "weight": 0.9},
            {"name": "regex", "weight": 0.1, "params": {"pattern": ".*boxed.*"}},
        ]
    )
    r = client.post("/openrlhf", params={"verifier": spec}, json=_body(["\\boxed{3}"], [], ["3"]))
    assert r.status_code == 200, r.text
    assert r.json()["rewards"] == [pytest.approx(1.0)]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/openrlhf?verifier=math", {"prompts": [], "labels": []}, "query"),
        ("/openrlhf?verifier=math", _body(["a", "b"], ["a"], ["1", "2"]), "prompts"),
        ("/openrlhf?verifier=math", _body(["a"], [], ["1", "2"]), "labels"),
        ("/openrlhf?verifier=nope", _body(["a"], [], ["1"]), "verifier"),
        ("/openrlhf?verifier=%7Bbad", _body(["a"], [], ["1"]), "verifier"),
        ("/openrlhf", _body(["a"], [], ["1"]), "verifier"),  # no default on this server
    ],
)
def test_bad_requests_name_the_field(
    client: httpx.Client, path: str, body: dict[str, object], field: str
) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert field in r.text


def test_an_error_fails_the_batch_instead_of_a_fake_reward(client: httpx.Client) -> None:
    body = _body(["fine", "raise"], [], [None, None])
    r = client.post("/openrlhf?verifier=misbehave", json=body)
    assert r.status_code == 500
    assert r.json()["errors"] == [
        {
            "index": 1,
            "kind": "verifier_error",
            "message": r.json()["errors"][0]["message"],
            "retryable": False,
        }
    ]
    r = client.post("/openrlhf?verifier=misbehave&error_reward=-1", json=body)
    assert r.status_code == 200
    assert r.json()["rewards"] == [1.0, -1.0]
    assert r.json()["extra_logs"]["referee_error"] == [0.0, 1.0]


def test_worker_crash_fails_the_batch(client: httpx.Client) -> None:
    r = client.post("/openrlhf?verifier=misbehave", json=_body(["crash", "fine"], [], [None, None]))
    assert r.status_code == 500
    assert [(e["index"], e["kind"]) for e in r.json()["errors"]] == [(0, "worker_crashed")]


def test_retryable_errors_answer_503_with_retry_after() -> None:
    deadline = TaskResult.fail("deadline", "too late", retryable=True).error
    crashed = TaskResult.fail("worker_crashed", "died", retryable=False).error

    def failed(error: object) -> ItemResult:
        return ItemResult(None, "error", None, None, {}, False, error)  # type: ignore[arg-type]

    response = _failure([(0, failed(deadline)), (3, failed(deadline))])
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert _failure([(0, failed(deadline)), (1, failed(crashed))]).status_code == 500
