"""A generic client: no generated code, the service discovered by server reflection."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from support import Server

BODY: dict[str, Any] = {
    "verifier": "math",
    "items": [
        {"id": "r-0", "response": "so the answer is \\boxed{\\frac{2}{3}}", "reference": "4/6"},
        {
            "id": "r-1",
            "response": "<think>...</think> 7",
            "reference": "8",
            "verifier": [{"name": "math", "weight": 1.0}, {"name": "think_format", "weight": 0.1}],
        },
    ],
}


def test_reflection_lists_services_and_calls_score_dynamically(grpc_server: Server) -> None:
    assert grpc_server.grpc_target is not None
    with grpc.insecure_channel(grpc_server.grpc_target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {"referee.v1.Referee", "grpc.health.v1.Health"} <= services
        pool = descriptor_pool.DescriptorPool(database)
        service = pool.FindServiceByName("referee.v1.Referee")
        assert {m.name for m in service.methods} == {"Score", "ScoreStream", "ListVerifiers"}
        method = service.methods_by_name["Score"]
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        # The JSON body of POST /score is the request's proto3 JSON form.
        request = json_format.ParseDict(BODY, request_class())
        call = channel.unary_unary(
            f"/{service.full_name}/{method.name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        response = call(request, timeout=30)
        got = json_format.MessageToDict(response, preserving_proto_field_name=True)["results"]

        listing = channel.unary_unary(
            "/referee.v1.Referee/ListVerifiers",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=message_factory.GetMessageClass(
                service.methods_by_name["ListVerifiers"].output_type
            ).FromString,
        )
        list_request = message_factory.GetMessageClass(
            service.methods_by_name["ListVerifiers"].input_type
        )()
        names = [v.name for v in listing(list_request, timeout=10).verifiers]
        assert "math" in names and "code" in names

    want = httpx.post(grpc_server.url + "/score", json=BODY, timeout=30).json()["results"]
    assert [g["reward"] for g in got] == [w["reward"] for w in want] == [1.0, 0.1]
    assert [g["outcome"] for g in got] == [w["outcome"] for w in want]
    assert got[0]["details"] == want[0]["details"]
    assert [c["name"] for c in got[1]["components"]] == ["math", "think_format"]
