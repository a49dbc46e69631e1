"""Between protobuf messages and the JSON shapes of PROTOCOL.md.

The server builds every gRPC result from the same wire dict that ``POST /score``
sends, and clients turn a gRPC result back into that dict, so both transports
carry the same values. ``google.protobuf.Value`` holds numbers as doubles: a
whole number comes back as an ``int``, as it was in JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

from referee.service.grpc.v1 import referee_pb2 as pb

__all__ = [
    "from_struct",
    "from_value",
    "item_to_dict",
    "item_to_proto",
    "request_to_dict",
    "result_from_proto",
    "result_to_proto",
    "to_struct",
    "to_value",
]

_EXACT_DOUBLE = 2**53


def from_value(value: struct_pb2.Value) -> Any:
    """The JSON value a ``Value`` carries (``None`` when unset)."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) <= _EXACT_DOUBLE:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return from_struct(value.struct_value)
    return [from_value(v) for v in value.list_value.values]


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return {key: from_value(v) for key, v in struct.fields.items()}


def to_value(obj: Any) -> struct_pb2.Value:
    """A ``Value`` holding a JSON value (dict, list, str, number, bool, None)."""
    value = struct_pb2.Value()
    if obj is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):
        value.bool_value = obj
    elif isinstance(obj, int | float):
        if isinstance(obj, float) and not math.isfinite(obj):
            raise ValueError("a JSON number must be finite")
        value.number_value = obj
    elif isinstance(obj, str):
        value.string_value = obj
    elif isinstance(obj, Mapping):
        value.struct_value.CopyFrom(to_struct(obj))
    elif isinstance(obj, list | tuple):
        value.list_value.values.extend(to_value(v) for v in obj)
    else:
        raise TypeError(f"not a JSON value: {type(obj).__name__}")
    return value


def to_struct(obj: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    for key, v in obj.items():
        struct.fields[str(key)].CopyFrom(to_value(v))
    return struct


# -- requests --------------------------------------------------------------------------------


def item_to_dict(item: pb.Item) -> dict[str, Any]:
    """An item as its JSON body would be (proto3's empty strings read as absent)."""
    out: dict[str, Any] = {"response": item.response}
    if item.id:
        out["id"] = item.id
    if item.HasField("reference"):
        out["reference"] = from_value(item.reference)
    if item.HasField("verifier"):
        out["verifier"] = from_value(item.verifier)
    if item.prompt:
        out["prompt"] = item.prompt
    if item.HasField("completion_tokens"):
        out["completion_tokens"] = item.completion_tokens
    return out


def request_to_dict(request: pb.ScoreRequest) -> dict[str, Any]:
    """The ``POST /score`` body a ``ScoreRequest`` stands for."""
    body: dict[str, Any] = {"items": [item_to_dict(it) for it in request.items]}
    if request.HasField("verifier"):
        body["verifier"] = from_value(request.verifier)
    return body


def item_to_proto(item: Mapping[str, Any]) -> pb.Item:
    """An ``Item`` from the fields of a JSON item."""
    out = pb.Item(response=item["response"])
    if item.get("id") is not None:
        out.id = str(item["id"])
    if item.get("reference") is not None:
        out.reference.CopyFrom(to_value(item["reference"]))
    if item.get("verifier") is not None:
        out.verifier.CopyFrom(to_value(item["verifier"]))
    if item.get("prompt") is not None:
        out.prompt = item["prompt"]
    if item.get("completion_tokens") is not None:
        out.completion_tokens = int(item["completion_tokens"])
    return out


# -- results ---------------------------------------------------------------------------------


def result_to_proto(wire: Mapping[str, Any]) -> pb.Result:
    """A ``Result`` from the wire dict of one ``POST /score`` result."""
    out = pb.Result(
        id=wire.get("id") or "",
        status=wire["status"],
        outcome=wire.get("outcome") or "",
        cached=bool(wire.get("cached")),
        details=to_struct(wire.get("details") or {}),
    )
    if wire.get("reward") is not None:
        out.reward = wire["reward"]
    if wire.get("verifier") is not None:
        out.verifier.CopyFrom(pb.VerifierRef(**wire["verifier"]))
    for c in wire.get("components") or ():
        component = out.components.add(
            name=c["name"], weight=c["weight"], outcome=c.get("outcome") or ""
        )
        if c.get("reward") is not None:
            component.reward = c["reward"]
        component.details.CopyFrom(to_struct(c.get("details") or {}))
        if c.get("verifier") is not None:
            component.verifier.CopyFrom(pb.VerifierRef(**c["verifier"]))
    error = wire.get("error")
    if error is not None:
        out.error.CopyFrom(
            pb.Error(kind=error["kind"], message=error["message"], retryable=error["retryable"])
        )
    return out


def result_from_proto(result: pb.Result) -> dict[str, Any]:
    """The wire dict of ``POST /score`` for a ``Result`` (``components`` only when sent)."""
    out: dict[str, Any] = {
        "id": result.id or None,
        "reward": result.reward if result.HasField("reward") else None,
        "status": result.status,
        "outcome": result.outcome or None,
        "verifier": _ref(result.verifier) if result.HasField("verifier") else None,
    }
    if result.components:
        out["components"] = [
            {
                "name": c.name,
                "weight": c.weight,
                "reward": c.reward if c.HasField("reward") else None,
                "outcome": c.outcome or None,
                "details": from_struct(c.details),
                "verifier": _ref(c.verifier) if c.HasField("verifier") else None,
            }
            for c in result.components
        ]
    out["details"] = from_struct(result.details)
    out["cached"] = result.cached
    out["error"] = (
        {
            "kind": result.error.kind,
            "message": result.error.message,
            "retryable": result.error.retryable,
        }
        if result.HasField("error")
        else None
    )
    return out


def _ref(ref: pb.VerifierRef) -> dict[str, str]:
    return {"name": ref.name, "version": ref.version, "params_digest": ref.params_digest}
