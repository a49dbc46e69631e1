"""``json_schema`` never retrieves: outside references are refused, nothing is fetched or read."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from referee.verifiers import NO_CONTEXT, CannotJudge
from referee.verifiers.json_schema import JSON_SCHEMA, JsonSchemaParams, grade

SECRET = "the-secret-content-7f3a"
DEFAULT = JsonSchemaParams()


class Counting(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Counting.hits.append(self.path)
        body = b'{"type": "string", "description": "' + SECRET.encode() + b'"}'
        self.send_response(200)
        self.send_header("content-type", "application/schema+json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def remote() -> Iterator[str]:
    """A real HTTP server that serves a schema and counts every request it gets."""
    Counting.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.json"
    path.write_text('{"type": "string", "description": "' + SECRET + '"}')
    return path


def outside_schemas(url: str, file: Path) -> list[dict[str, Any]]:
    return [
        {"$ref": f"{url}/plain.json"},
        {"type": "object", "properties": {"a": {"items": {"$ref": f"{url}/nested.json#/x"}}}},
        {"$id": f"{url}/root.json", "properties": {"a": {"$ref": "relative.json"}}},
        {"$defs": {"d": {"$id": f"{url}/dir/", "$ref": "sub.json"}}, "$ref": "#/$defs/d"},
        {"$dynamicRef": f"{url}/dynamic.json"},
        {"$schema": "https://json-schema.org/draft/2019-09/schema", "$ref": f"{url}/a.json"},
        {"$schema": "http://json-schema.org/draft-07/schema#", "$ref": f"{url}/d7.json"},
        {"$schema": "http://json-schema.org/draft-04/schema#", "id": f"{url}/", "$ref": "x"},
        {"$schema": f"{url}/meta.json"},
        {"$ref": file.as_uri()},
        {"properties": {"a": {"$ref": f"{file.as_uri()}#/description"}}},
        {"$id": file.parent.as_uri() + "/", "$ref": "secret.json"},
    ]


def test_outside_references_are_422_and_nothing_is_fetched(
    client: httpx.Client, remote: str, secret_file: Path
) -> None:
    for schema in outside_schemas(remote, secret_file):
        item = {"response": '"x"', "reference": {"schema": schema}}
        r = client.post("/score", json={"verifier": "json_schema", "items": [item]})
        assert r.status_code == 422, (schema, r.text)
        assert r.json()["detail"][0]["loc"] == ["body", "items", 0, "reference"], r.text
        assert SECRET not in r.text
    assert Counting.hits == []


def test_grading_refuses_to_retrieve_even_unchecked(remote: str, secret_file: Path) -> None:
    """Grading a schema that skipped the check still fetches and reads nothing."""
    refused = 0
    for schema in outside_schemas(remote, secret_file):
        if "$schema" in schema and "json-schema.org" not in schema["$schema"]:
            continue
        for answer in ('"x"', '{"a": ["x"]}'):
            try:
                score = grade(f"whole\x1e{answer}", {"schema": schema}, DEFAULT, NO_CONTEXT)
            except CannotJudge as exc:
                assert exc.kind == "invalid_reference"
                assert SECRET not in str(exc)
                refused += 1
            else:
                assert SECRET not in str(score.details)
    assert refused >= 8
    assert Counting.hits == []


@pytest.mark.parametrize(
    "schema",
    [
        {"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}},
        {
            "$id": "https://example.com/root",
            "$defs": {"s": {"$id": "s.json", "type": "string"}},
            "properties": {"a": {"$ref": "s.json"}},
        },
        {
            "$defs": {"s": {"$anchor": "str", "type": "string"}},
            "properties": {"a": {"$ref": "#str"}},
        },
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "definitions": {"s": {"type": "string"}},
            "properties": {"a": {"$ref": "#/definitions/s"}},
        },
        {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "definitions": {"s": {"type": "string"}},
            "properties": {"a": {"$ref": "#/definitions/s"}},
        },
        {"$dynamicAnchor": "node", "properties": {"a": {"$dynamicRef": "#node"}}, "type": "object"},
        {"const": {"$ref": "http://127.0.0.1:9/data-not-a-reference"}},
    ],
)
def test_inside_references_still_work(schema: dict[str, Any]) -> None:
    JSON_SCHEMA.validate_reference({"schema": schema}, DEFAULT)


def test_inside_reference_grades() -> None:
    schema = {"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}}
    good = JSON_SCHEMA.verify('{"a": "x"}', {"schema": schema}, JsonSchemaParams())
    bad = JSON_SCHEMA.verify('{"a": 1}', {"schema": schema}, JsonSchemaParams())
    assert (good.reward, bad.reward) == (1.0, 0.0)
