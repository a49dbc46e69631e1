"""Property-based requests from the served OpenAPI schema (schemathesis), bounded.

No 5xx and no response that contradicts the schema, for whatever the schema allows
a client to send. ``/run_code`` is left out: its generated programs would only
measure the sandbox, which has its own hostile-input suite.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from support import Server

pytestmark = pytest.mark.slow


def test_api_conforms_to_its_schema(server: Server) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    tested = []
    for operation in operations:
        if operation.path == "/run_code":
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                timeout=60,
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
            )

        check()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /score" in tested and "GET /verifiers" in tested
