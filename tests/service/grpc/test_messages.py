"""The server's direct message conversion against the JSON-shaped path it replaced.

A ``ScoreRequest`` read straight into the engine's inputs must give what the
``POST /score`` body it stands for gives through pydantic, and refuse what that
refuses, naming the field; a ``Result`` built from the engine's result must equal
the one built from its wire dict.
"""

from __future__ import annotations

from typing import Any

import pytest
from grpc_support import request
from pydantic import ValidationError

from referee.service.dispatch._task import ErrorInfo
from referee.service.edge import EdgeLimits, Kind, Refused, items_of
from referee.service.engine import ComponentResult, ItemResult
from referee.service.grpc import convert
from referee.service.grpc.messages import result_message, score_inputs
from referee.service.schemas import ScoreRequest
from referee.verifiers.provenance import Provenance

LIMITS = EdgeLimits(
    max_batch_items=4,
    max_response_chars=100,
    max_pattern_chars=2000,
    max_schema_bytes=1024,
    validation_timeout_s=5.0,
    max_queued_items=100,
    default_verifier=None,
)

GOOD: list[dict[str, Any]] = [
    {"verifier": "math", "items": [{"response": "\\boxed{2}", "reference": "2"}]},
    {"items": [{"response": "x", "verifier": "think_format"}]},
    {
        "verifier": [{"name": "math", "weight": 1}, {"name": "think_format", "weight": 0.1}],
        "items": [
            {
                "id": "a-1",
                "response": "<think>t</think> 7",
                "reference": {"answer": 7, "tolerance": 0.5, "alts": ["7.0", None, True]},
                "prompt": "What is 3 + 4?",
                "completion_tokens": 12,
            },
            {"response": "", "reference": None, "completion_tokens": 0},
        ],
    },
    {
        "verifier": {"name": "regex", "params": {"pattern": "^a+$", "flags": ["i"]}},
        "items": [{"response": "aaa", "verifier": ["math", {"name": "length"}]}],
    },
    {"verifier": {"name": "math", "weight": 2.5, "params": {}}, "items": [{"response": "1"}]},
]

BAD: list[tuple[dict[str, Any], Kind, str]] = [
    ({"items": []}, Kind.INVALID, "items"),
    ({"verifier": 3, "items": [{"response": "1"}]}, Kind.INVALID, "verifier"),
    ({"verifier": [3], "items": [{"response": "1"}]}, Kind.INVALID, "verifier[0]"),
    ({"items": [{"response": "1", "verifier": {"weight": 1}}]}, Kind.INVALID, "items[0].verifier"),
    (
        {"items": [{"response": "1", "verifier": {"name": "math", "bogus": 1}}]},
        Kind.INVALID,
        "items[0].verifier.bogus",
    ),
    (
        {"items": [{"response": "1", "verifier": {"name": "math", "weight": "x"}}]},
        Kind.INVALID,
        "items[0].verifier.weight",
    ),
    (
        {"items": [{"response": "1", "verifier": {"name": "math", "params": [1]}}]},
        Kind.INVALID,
        "items[0].verifier.params",
    ),
    (
        {"items": [{"response": "1", "completion_tokens": -1}]},
        Kind.INVALID,
        "items[0].completion_tokens",
    ),
    ({"items": [{"response": "1"}] * 5}, Kind.TOO_LARGE, "max_batch_items=4"),
    ({"items": [{"response": "1"}, {"response": "x" * 101}]}, Kind.TOO_LARGE, "items[1].response"),
]


def former(body: dict[str, Any]) -> Any:
    """The path replaced: message -> JSON-shaped dict -> pydantic -> inputs."""
    validated = ScoreRequest.model_validate(convert.request_to_dict(request(body)))
    return items_of(validated, LIMITS)


@pytest.mark.parametrize("body", GOOD)
def test_direct_conversion_equals_the_pydantic_path(body: dict[str, Any]) -> None:
    assert score_inputs(request(body), LIMITS) == former(body)


@pytest.mark.parametrize(("body", "kind", "where"), BAD)
def test_both_paths_refuse_naming_the_field(body: dict[str, Any], kind: Kind, where: str) -> None:
    with pytest.raises(Refused) as info:
        score_inputs(request(body), LIMITS)
    assert info.value.refusal.kind is kind
    assert where in info.value.refusal.message
    with pytest.raises((Refused, ValidationError)):
        former(body)


RESULTS = [
    ItemResult("r-1", "ok", 1.0, "correct", {"extracted": "2", "n": 3, "x": [1, None]}, False),
    ItemResult(
        "r-p",
        "ok",
        0.0,
        "incorrect",
        {},
        False,
        verifier=Provenance("math", "3", "0123456789abcdef"),
    ),
    ItemResult(None, "ok", 0.0, "incorrect", {}, True),
    ItemResult(
        "r-3",
        "error",
        None,
        None,
        {},
        False,
        error=ErrorInfo("deadline", "the request's deadline passed", True),
    ),
    ItemResult(
        "r-4",
        "ok",
        0.55,
        "correct",
        {"nested": {"a": {"b": 1.5}}},
        False,
        components=(
            ComponentResult(
                "math", 0.5, 1.0, "correct", {"extracted": "7"}, Provenance("math", "3", "ab" * 8)
            ),
            ComponentResult("think_format", 0.5, None, None, {}),
        ),
    ),
]


@pytest.mark.parametrize("result", RESULTS)
def test_result_message_equals_the_wire_dict_path(result: ItemResult) -> None:
    direct = result_message(result)
    assert direct == convert.result_to_proto(result.to_wire())
    assert convert.result_from_proto(direct) == result.to_wire()
