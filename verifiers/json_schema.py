"""``json_schema``: structured output valid against a JSON Schema, or the expected tool call.

Two kinds of reference:

- ``{"schema": {...}}``: the answer must be JSON valid against this JSON Schema
  (any draft the ``jsonschema`` library knows; ``$schema`` picks it, else 2020-12).
- ``{"name": "get_weather", "arguments": {...}}`` (or a list of them): the answer
  must call that tool with exactly these arguments, in Hermes / Qwen style
  (``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``, one block per
  call, in order) or as a bare JSON object (or list) of that shape. Arguments given
  as a JSON string (OpenAI style) are decoded. JSON types are compared strictly:
  ``true`` is not ``1``; ``1`` equals ``1.0``.

Extraction (API process) takes, in the answer region (after ``</think>``), the
``<tool_call>`` blocks, else the last fenced code block, else the whole region;
grading (worker) parses and checks it.

Nothing is ever retrieved: ``$ref``, ``$dynamicRef`` and ``$recursiveRef`` resolve
only inside the schema itself (and to the bundled meta-schemas). A reference to
any other URI (``http://…``, ``file://…``, a relative one against an outside
``$id``) makes the reference invalid (a 422), and grading runs with a registry
whose retrieve function refuses. ``format`` is an annotation only (no format
checker runs on answers), and an unknown ``$schema`` is refused rather than
guessed.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import jsonschema
import referencing.jsonschema
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from jsonschema_specifications import REGISTRY as SPECIFICATIONS  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable

from referee.verifiers._extract import answer_region
from referee.verifiers._types import CannotJudge, Context, InvalidReference, Outcome, Score
from referee.verifiers.registry import Verifier, register

__all__ = ["JSON_SCHEMA", "JsonSchemaParams", "check_schema", "extract", "grade", "schema_size"]

_TOOL_OPEN, _TOOL_CLOSE = "<tool_call>", "</tool_call>"
_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n(.*?)```", re.DOTALL)
_SEP = "\x1e"  # between tool-call blocks in the extraction
MAX_TOOL_CALLS = 32
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
# Keywords whose values are data, not subschemas: a "$ref" key inside them is not a reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "examples", "default"})
_CHECKED_MAX = 65_536  # digests of schemas already checked (32 bytes each)


@dataclass(frozen=True)
class JsonSchemaParams:
    """Parameters of ``json_schema``.

    - ``extra_arguments``: for tool calls, whether arguments not in the reference are
      allowed (false: the arguments must be exactly the reference's).
    """

    extra_arguments: bool = False


def _tool_blocks(region: str) -> list[str]:
    blocks: list[str] = []
    start = region.find(_TOOL_OPEN)
    while start >= 0 and len(blocks) < MAX_TOOL_CALLS:
        body = start + len(_TOOL_OPEN)
        close = region.find(_TOOL_CLOSE, body)
        blocks.append(region[body : close if close >= 0 else len(region)].strip())
        if close < 0:
            break
        start = region.find(_TOOL_OPEN, close)
    return blocks


def extract(response: str, reference: Any, params: JsonSchemaParams, context: Context) -> str:
    """``tool<RS>block<RS>block…``, ``fence<RS>text`` or ``whole<RS>text``; ``""`` when empty."""
    region = answer_region(response)
    blocks = _tool_blocks(region)
    if blocks:
        return _SEP.join(["tool", *blocks])
    fences = _FENCE.findall(region)
    if fences and fences[-1].strip():
        return f"fence{_SEP}{fences[-1].strip()}"
    region = region.strip()
    return f"whole{_SEP}{region}" if region else ""


def _same(a: Any, b: Any) -> bool:
    """JSON equality: bool is not a number, 1 == 1.0, objects by keys, arrays in order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _as_call(value: Any) -> tuple[Any, Any]:
    if isinstance(value, dict) and "function" in value and isinstance(value["function"], dict):
        value = value["function"]  # OpenAI: {"type": "function", "function": {...}}
    if not isinstance(value, dict):
        return None, None
    arguments = value.get("arguments", value.get("parameters"))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return value.get("name"), None
    return value.get("name"), arguments


def _grade_calls(
    answers: list[Any],
    expected: list[dict[str, Any]],
    params: JsonSchemaParams,
    details: dict[str, Any],
) -> Score:
    calls = [_as_call(a) for a in answers]
    details["calls"] = [name for name, _ in calls][:MAX_TOOL_CALLS]
    if len(calls) != len(expected):
        details["reason"] = f"{len(calls)} tool call(s), expected {len(expected)}"
        return Score(0.0, Outcome.INCORRECT, details)
    for i, ((name, arguments), want) in enumerate(zip(calls, expected, strict=True)):
        if name != want["name"]:
            details["reason"] = f"call {i}: tool {str(name)[:60]!r}, expected {want['name']!r}"
            return Score(0.0, Outcome.INCORRECT, details)
        wanted = want.get("arguments", {})
        if not isinstance(arguments, dict):
            details["reason"] = f"call {i}: arguments are not a JSON object"
            return Score(0.0, Outcome.INCORRECT, details)
        if params.extra_arguments:
            arguments = {k: v for k, v in arguments.items() if k in wanted}
        if not _same(arguments, wanted):
            details["reason"] = f"call {i}: arguments differ"
            return Score(0.0, Outcome.INCORRECT, details)
    return Score(1.0, Outcome.CORRECT, details)


def grade(extracted: str, reference: Any, params: JsonSchemaParams, context: Context) -> Score:
    """Parse the extracted JSON and check it against the schema or the expected calls."""
    if not extracted:
        return Score(0.0, Outcome.NO_ANSWER, {"extracted": None})
    source, *texts = extracted.split(_SEP)
    details: dict[str, Any] = {"source": source, "extracted": texts[-1][:200]}
    try:
        values = [json.loads(t) for t in texts]
    except ValueError as exc:
        details["reason"] = f"not JSON: {str(exc)[:120]}"
        return Score(0.0, Outcome.BAD_FORMAT, details)
    if "schema" in reference:
        value = values[-1]
        try:
            validator = _validator(reference["schema"])
            error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        except (Unresolvable, InvalidReference) as exc:
            raise CannotJudge("invalid_reference", f"reference.schema: {str(exc)[:200]}") from None
        except (RecursionError, MemoryError, OverflowError, re.error) as exc:
            raise CannotJudge(
                "invalid_reference",
                f"reference.schema could not be applied: {type(exc).__name__}",
            ) from None
        if error is not None:
            path = "/".join(str(p) for p in error.absolute_path)
            details["reason"] = f"at /{path}: {error.message[:160]}"
            return Score(0.0, Outcome.INCORRECT, details)
        return Score(1.0, Outcome.CORRECT, details)
    expected = reference if isinstance(reference, list) else [reference]
    if source != "tool" and len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    return _grade_calls(values, expected, params, details)


def _refuse(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


# Only the schema itself and the bundled meta-schemas (jsonschema adds those).
_NO_RETRIEVAL: Registry[Any] = Registry(retrieve=_refuse)  # type: ignore[call-arg]


def _validator_class(schema: dict[str, Any]) -> type[Validator]:
    dialect = schema.get("$schema")
    if dialect is None:
        latest: type[Validator] = validator_for({})
        return latest
    if not isinstance(dialect, str):
        raise InvalidReference("reference.schema.$schema must be a string")
    cls: type[Validator] | None = validator_for(schema, default=None)  # type: ignore[arg-type]
    if cls is None:
        raise InvalidReference(
            f"reference.schema.$schema: unknown dialect {str(dialect)[:100]!r} "
            "(use a JSON Schema draft's meta-schema URI; nothing is retrieved)"
        )
    return cls


def _validator(schema: dict[str, Any]) -> Validator:
    return _validator_class(schema)(schema, registry=_NO_RETRIEVAL)


def _check_refs(schema: dict[str, Any], cls: type[Validator]) -> None:
    """Every reference must resolve inside the schema (or to a bundled meta-schema)."""
    spec = referencing.jsonschema.specification_with(cls.META_SCHEMA["$schema"])
    root = spec.create_resource(schema)
    root_uri = root.id() or ""
    registry = _NO_RETRIEVAL.with_resource(root_uri, root)
    registry = SPECIFICATIONS.combine(registry).crawl()
    stack: list[tuple[Any, str, str]] = [(schema, root_uri, "reference.schema")]
    while stack:
        node, base, where = stack.pop()
        if isinstance(node, list):
            stack.extend((v, base, f"{where}[{i}]") for i, v in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        try:
            own_id = spec.id_of(node)
        except Exception:  # a malformed $id: the meta-schema check reports it
            own_id = None
        if isinstance(own_id, str):
            base = urljoin(base, own_id)
        for key in _REF_KEYWORDS:
            ref = node.get(key)
            if not isinstance(ref, str):
                continue
            try:
                registry.resolver(base_uri=base).lookup(ref)
            except Unresolvable:
                raise InvalidReference(
                    f"{where}.{key}: {ref[:100]!r} does not resolve inside the schema "
                    "(references to other documents, URLs or files are not followed)"
                ) from None
            except Exception as exc:  # a malformed URI
                raise InvalidReference(
                    f"{where}.{key}: {ref[:100]!r} is not a usable reference: {type(exc).__name__}"
                ) from None
        stack.extend((v, base, f"{where}.{k}") for k, v in node.items() if k not in _DATA_KEYWORDS)


_checked: OrderedDict[bytes, None] = OrderedDict()
_checked_lock = threading.Lock()


def schema_size(schema: Any) -> int:
    """Bytes of the schema as compact JSON (what a size limit applies to)."""
    try:
        return len(json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode())
    except (RecursionError, ValueError, TypeError):
        raise InvalidReference("reference.schema is nested too deeply") from None


def check_schema(schema: dict[str, Any]) -> None:
    """Raise InvalidReference unless ``schema`` is a usable, self-contained JSON Schema.

    The full check (meta-schema validation, which compiles every ``pattern``, and
    reference resolution) can take seconds on a large schema; the service runs it
    off the event loop first, and a schema seen valid before is remembered by digest.
    """
    try:
        text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (RecursionError, ValueError, TypeError):
        raise InvalidReference("reference.schema is nested too deeply") from None
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    with _checked_lock:
        if digest in _checked:
            _checked.move_to_end(digest)
            return
    cls = _validator_class(schema)
    try:
        cls.check_schema(schema)
        _check_refs(schema, cls)
    except SchemaError as exc:
        where = "".join(f"[{p!r}]" for p in exc.path)
        raise InvalidReference(
            f"reference.schema{where} is not a valid JSON Schema: {exc.message[:200]}"
        ) from None
    except (RecursionError, MemoryError, OverflowError, re.error) as exc:
        raise InvalidReference(
            f"reference.schema is not a usable JSON Schema ({type(exc).__name__}: "
            f"{str(exc)[:100]}); patterns must compile, nesting must stay shallow"
        ) from None
    with _checked_lock:
        _checked[digest] = None
        if len(_checked) > _CHECKED_MAX:
            _checked.popitem(last=False)


def _schema_bytes(reference: Any) -> int:
    if isinstance(reference, dict) and "schema" in reference:
        return schema_size(reference["schema"])
    return 0


def _check_call(call: Any, where: str) -> None:
    if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"]:
        raise InvalidReference(f"{where}.name must be a non-empty string")
    if not isinstance(call.get("arguments", {}), dict):
        raise InvalidReference(f"{where}.arguments must be an object")


def check_reference(reference: Any, params: JsonSchemaParams) -> None:
    if isinstance(reference, dict) and "schema" in reference:
        schema = reference["schema"]
        if not isinstance(schema, dict):
            raise InvalidReference("reference.schema must be a JSON Schema (an object)")
        check_schema(schema)
        return
    if isinstance(reference, list):
        if not 0 < len(reference) <= MAX_TOOL_CALLS:
            raise InvalidReference(f"reference must list 1 to {MAX_TOOL_CALLS} tool calls")
        for i, call in enumerate(reference):
            _check_call(call, f"reference[{i}]")
        return
    if isinstance(reference, dict) and "name" in reference:
        _check_call(reference, "reference")
        return
    raise InvalidReference(
        'reference must be {"schema": {...}} or a tool call {"name": ..., "arguments": {...}}'
    )


JSON_SCHEMA = register(
    Verifier(
        name="json_schema",
        version="1",
        params_type=JsonSchemaParams,
        extract=extract,
        grade=grade,
        description="JSON valid against a JSON Schema, or the expected tool call(s); 1 or 0.",
        check_reference=check_reference,
        costly_reference_size=_schema_bytes,
    )
)
