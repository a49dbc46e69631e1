"""Tables for ``json_schema``: schema-valid structured output and expected tool calls."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from referee.verifiers import InvalidReference, Outcome
from referee.verifiers.json_schema import JSON_SCHEMA, JsonSchemaParams

PERSON = {
    "schema": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "age"],
        "additionalProperties": False,
    }
}
WEATHER = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
DEFAULT = JsonSchemaParams()


def hermes(*calls: dict[str, Any]) -> str:
    blocks = "\n".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>" for c in calls)
    return f"<think>\nThe user wants the weather.\n</think>\n\n{blocks}"


SCHEMA_CASES = [
    ('{"name": "Ada", "age": 36}', Outcome.CORRECT, "bare-object"),
    ('```json\n{"name": "Ada", "age": 36, "tags": ["math"]}\n```', Outcome.CORRECT, "fenced"),
    ('Here it is:\n```json\n{"name": "Ada", "age": 36}\n```\nDone.', Outcome.CORRECT, "prose"),
    ('<think>\n{"name": 1}\n</think>\n{"name": "Ada", "age": 36}', Outcome.CORRECT, "after-think"),
    ('{"name": "Ada"}', Outcome.INCORRECT, "missing-required"),
    ('{"name": "Ada", "age": -1}', Outcome.INCORRECT, "minimum"),
    ('{"name": "Ada", "age": "36"}', Outcome.INCORRECT, "wrong-type"),
    ('{"name": "Ada", "age": 36, "x": 1}', Outcome.INCORRECT, "additional-property"),
    ('{"name": "Ada", "age": 36,}', Outcome.BAD_FORMAT, "trailing-comma"),
    ("name: Ada, age: 36", Outcome.BAD_FORMAT, "not-json"),
    ("", Outcome.NO_ANSWER, "empty"),
    ("<think>\nstill thinking", Outcome.NO_ANSWER, "truncated"),
]


@pytest.mark.parametrize(
    ("response", "outcome"), [pytest.param(*c[:2], id=c[2]) for c in SCHEMA_CASES]
)
def test_schema_table(response: str, outcome: Outcome) -> None:
    score = JSON_SCHEMA.verify(response, PERSON, DEFAULT)
    assert score.outcome == outcome, score.details
    assert score.reward == (1.0 if outcome == Outcome.CORRECT else 0.0)


def test_schema_violation_names_the_place() -> None:
    score = JSON_SCHEMA.verify('{"name": "Ada", "age": 36, "tags": [1]}', PERSON, DEFAULT)
    assert score.outcome == Outcome.INCORRECT
    assert "/tags/0" in score.details["reason"]


TOOL_CASES: list[tuple[str, Any, JsonSchemaParams, Outcome, str]] = [
    (hermes(WEATHER), WEATHER, DEFAULT, Outcome.CORRECT, "hermes"),
    (
        hermes({"name": "get_weather", "arguments": {"unit": "celsius", "city": "Paris"}}),
        WEATHER,
        DEFAULT,
        Outcome.CORRECT,
        "key-order",
    ),
    (
        json.dumps(
            {
                "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps(WEATHER["arguments"])},
            }
        ),
        WEATHER,
        DEFAULT,
        Outcome.CORRECT,
        "openai-string-arguments",
    ),
    (json.dumps(WEATHER), WEATHER, DEFAULT, Outcome.CORRECT, "bare-object"),
    (
        hermes({"name": "get_time", "arguments": WEATHER["arguments"]}),
        WEATHER,
        DEFAULT,
        Outcome.INCORRECT,
        "wrong-tool",
    ),
    (
        hermes({"name": "get_weather", "arguments": {"city": "Lyon", "unit": "celsius"}}),
        WEATHER,
        DEFAULT,
        Outcome.INCORRECT,
        "wrong-argument",
    ),
    (
        hermes({"name": "get_weather", "arguments": {"city": "Paris"}}),
        WEATHER,
        DEFAULT,
        Outcome.INCORRECT,
        "missing-argument",
    ),
    (
        hermes({"name": "get_weather", "arguments": {**WEATHER["arguments"], "days": 3}}),
        WEATHER,
        DEFAULT,
        Outcome.INCORRECT,
        "extra-argument",
    ),
    (
        hermes({"name": "get_weather", "arguments": {**WEATHER["arguments"], "days": 3}}),
        WEATHER,
        JsonSchemaParams(extra_arguments=True),
        Outcome.CORRECT,
        "extra-argument-allowed",
    ),
    (
        hermes({"name": "f", "arguments": {"n": True}}),
        {"name": "f", "arguments": {"n": 1}},
        DEFAULT,
        Outcome.INCORRECT,
        "bool-is-not-int",
    ),
    (
        hermes({"name": "f", "arguments": {"n": 1.0}}),
        {"name": "f", "arguments": {"n": 1}},
        DEFAULT,
        Outcome.CORRECT,
        "one-is-one-point-zero",
    ),
    (
        hermes(WEATHER, {"name": "get_time", "arguments": {}}),
        [WEATHER, {"name": "get_time", "arguments": {}}],
        DEFAULT,
        Outcome.CORRECT,
        "two-calls",
    ),
    (
        hermes({"name": "get_time", "arguments": {}}, WEATHER),
        [WEATHER, {"name": "get_time", "arguments": {}}],
        DEFAULT,
        Outcome.INCORRECT,
        "calls-order",
    ),
    (hermes(WEATHER, WEATHER), WEATHER, DEFAULT, Outcome.INCORRECT, "one-call-too-many"),
    (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}',
        WEATHER,
        DEFAULT,
        Outcome.CORRECT,
        "unclosed-block",
    ),
    (
        "<tool_call>{name: get_weather}</tool_call>",
        WEATHER,
        DEFAULT,
        Outcome.BAD_FORMAT,
        "broken-json",
    ),
    ("The weather in Paris is sunny.", WEATHER, DEFAULT, Outcome.BAD_FORMAT, "prose-no-call"),
]


@pytest.mark.parametrize(
    ("response", "reference", "params", "outcome"),
    [pytest.param(*c[:4], id=c[4]) for c in TOOL_CASES],
)
def test_tool_call_table(
    response: str, reference: Any, params: JsonSchemaParams, outcome: Outcome
) -> None:
    score = JSON_SCHEMA.verify(response, reference, params)
    assert score.outcome == outcome, score.details
    assert score.reward == (1.0 if outcome == Outcome.CORRECT else 0.0)


@pytest.mark.parametrize(
    ("reference", "field"),
    [
        ({"schema": {"type": "no-such-type"}}, "reference.schema"),
        ({"schema": "object"}, "reference.schema"),
        ({"name": ""}, "reference.name"),
        ({"name": "f", "arguments": [1]}, "reference.arguments"),
        ([{"name": "f"}, {"arguments": {}}], r"reference\[1\].name"),
        ([], "1 to"),
        ("get_weather", "reference must be"),
    ],
)
def test_malformed_reference_names_the_field(reference: Any, field: str) -> None:
    with pytest.raises(InvalidReference, match=field):
        JSON_SCHEMA.validate_reference(reference, DEFAULT)


def test_through_http(client: httpx.Client) -> None:
    items = [
        {"id": "valid", "response": '{"name": "Ada", "age": 36}', "reference": PERSON},
        {"id": "invalid", "response": '{"name": "Ada"}', "reference": PERSON},
        {"id": "call", "response": hermes(WEATHER), "reference": WEATHER},
    ]
    r = client.post("/score", json={"verifier": "json_schema", "items": items})
    assert r.status_code == 200, r.text
    got = {x["id"]: x["outcome"] for x in r.json()["results"]}
    assert got == {"valid": "correct", "invalid": "incorrect", "call": "correct"}
    bad = client.post(
        "/score",
        json={
            "verifier": "json_schema",
            "items": [{"response": "{}", "reference": {"schema": {"type": 5}}}],
        },
    )
    assert bad.status_code == 422
    assert "reference.schema" in bad.text
