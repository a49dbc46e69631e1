"""Server-side conversion between messages and the engine's own types.

A ``ScoreRequest`` goes straight to the engine's inputs: the message is already
typed (strings, an optional integer); only its JSON values (``reference``,
``verifier``) are read out of ``google.protobuf.Value``, and specs are checked by
:func:`~referee.service.edge.check_spec`. No JSON body is built and no pydantic
model validated on the way: the checks are those of ``POST /score``, the work is a
fraction of it. A ``Result`` is built from the engine's result, not from its wire
dict, with ``details`` filled in place. ``convert`` (shared with clients) keeps the
dict-based conversions; both give equal messages (tests/service/grpc/test_messages.py).
"""

from __future__ import annotations

from typing import Any

from referee.service.edge import EdgeLimits, Kind, Refusal, Refused, check_sizes, check_spec
from referee.service.engine import ItemInput, ItemResult
from referee.service.grpc.convert import from_value
from referee.service.grpc.v1 import referee_pb2 as pb
from referee.verifiers.provenance import Provenance

__all__ = ["result_message", "score_inputs"]


def score_inputs(request: pb.ScoreRequest, limits: EdgeLimits) -> tuple[list[ItemInput], Any]:
    """The items and default spec of ``request``; raises Refused as ``POST /score``
    answers 413 or 422."""
    messages = request.items
    if not messages:
        raise Refused(Refusal(Kind.INVALID, "items: at least one item is required"))
    check_sizes([m.response for m in messages], limits, "items", "items[{}].response")
    items: list[ItemInput] = []
    for i, m in enumerate(messages):
        tokens: int | None = None
        if m.HasField("completion_tokens"):
            tokens = m.completion_tokens
            if tokens < 0:
                raise Refused(
                    Refusal(Kind.INVALID, f"items[{i}].completion_tokens: must be 0 or more")
                )
        items.append(
            ItemInput(
                response=m.response,
                reference=from_value(m.reference) if m.HasField("reference") else None,
                id=m.id or None,
                prompt=m.prompt or None,
                completion_tokens=tokens,
                verifier=_spec(m.verifier, f"items[{i}].verifier")
                if m.HasField("verifier")
                else None,
            )
        )
    default = _spec(request.verifier, "verifier") if request.HasField("verifier") else None
    return items, default


def _spec(value: Any, loc: str) -> Any:
    obj = from_value(value)
    return None if obj is None else check_spec(obj, loc)


def result_message(result: ItemResult) -> pb.Result:
    """The ``Result`` of one judged item (equal to ``convert.result_to_proto`` of its
    wire dict)."""
    out = pb.Result(
        id=result.id or "", status=result.status, outcome=result.outcome or "", cached=result.cached
    )
    if result.reward is not None:
        out.reward = result.reward
    if result.verifier is not None:
        out.verifier.CopyFrom(_ref(result.verifier))
    if result.details:
        out.details.update(result.details)
    else:
        out.details.SetInParent()
    for c in result.components or ():
        component = out.components.add(name=c.name, weight=c.weight, outcome=c.outcome or "")
        if c.reward is not None:
            component.reward = c.reward
        if c.details:
            component.details.update(c.details)
        else:
            component.details.SetInParent()
        if c.verifier is not None:
            component.verifier.CopyFrom(_ref(c.verifier))
    if result.error is not None:
        error = result.error
        out.error.CopyFrom(
            pb.Error(kind=error.kind, message=error.message, retryable=error.retryable)
        )
    return out


def _ref(provenance: Provenance) -> pb.VerifierRef:
    return pb.VerifierRef(
        name=provenance.name, version=provenance.version, params_digest=provenance.params_digest
    )
