"""Saved results files: what a user keeps of ``POST /score`` calls, read back to re-score.

A saved results file is JSON Lines (or one JSON document holding one object or a
list of them). Each object is either

- an **exchange**, one ``/score`` call as sent and answered::

      {"request": <POST /score body>, "response": {"results": [...]}}

  ``response`` may also be the list of NDJSON lines of a streamed answer (each a
  result with its ``index``; a final ``{"error": ...}`` line is skipped, and items
  without a line count as not judged);
- a **record**, one item with its result (what ``referee score --with-items`` and
  ``referee score --rescore`` write)::

      {"item": <item>, "verifier": <default spec, optional>, "result": <result>}

Results may predate provenance (no ``verifier``); only ``status``, ``reward``,
``outcome`` and, for list specs, ``components`` are needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from referee.service.schemas import ItemIn, ScoreRequest, spec_to_json

__all__ = ["Record", "SavedFileError", "read_saved", "record_line"]


class SavedFileError(ValueError):
    """The file is not a saved results file; the message names the line and field."""


class _SavedComponent(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    weight: float = 1.0
    reward: float | None = None
    outcome: str | None = None
    verifier: dict[str, Any] | None = None


class _SavedResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "error"]
    reward: float | None = None
    outcome: str | None = None
    components: list[_SavedComponent] | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    error: dict[str, Any] | None = None
    verifier: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """One saved item: as sent, its default spec, and the result saved for it."""

    item: dict[str, Any]  # the item's JSON as saved
    verifier: Any  # the request's default spec (JSON), or None
    result: dict[str, Any] | None  # None: the saved answer has no result for it
    where: str  # "path:line" or "path:line items[i]", for messages

    def fields(self) -> dict[str, Any]:
        """The item's validated fields (those of ``ItemIn``)."""
        return ItemIn.model_validate(self.item).model_dump()


def _objects(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, object) of each saved object: JSON Lines, else one JSON document."""
    text = path.read_text(encoding="utf-8")
    parsed: list[tuple[int, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            parsed.append((n, json.loads(line)))
        except ValueError as exc:
            try:  # a pretty-printed document
                parsed = [(1, json.loads(text))]
            except ValueError:
                raise SavedFileError(f"{path}:{n}: not JSON ({exc})") from None
            break
    for n, obj in parsed:
        if isinstance(obj, list):  # a list of exchanges or records
            for each in obj:
                yield n, each
        else:
            yield n, obj


def _result(obj: Any, where: str) -> dict[str, Any]:
    try:
        _SavedResult.model_validate(obj)
    except ValidationError as exc:
        raise SavedFileError(f"{where}: not a result: {_first(exc)}") from None
    result: dict[str, Any] = obj
    return result


def _first(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    return f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}"


def _exchange(obj: dict[str, Any], where: str) -> list[Record]:
    try:
        request = ScoreRequest.model_validate(obj["request"])
    except ValidationError as exc:
        raise SavedFileError(f"{where}: request: {_first(exc)}") from None
    raw_items = obj["request"]["items"]
    default = spec_to_json(request.verifier)
    response = obj.get("response")
    results: list[dict[str, Any] | None] = [None] * len(raw_items)
    if isinstance(response, dict) and isinstance(response.get("results"), list):
        saved = response["results"]
        if len(saved) != len(raw_items):
            raise SavedFileError(
                f"{where}: response has {len(saved)} results for {len(raw_items)} items"
            )
        for i, r in enumerate(saved):
            results[i] = _result(r, f"{where} results[{i}]")
    elif isinstance(response, list):  # the lines of a streamed (NDJSON) answer
        for k, line in enumerate(response):
            if isinstance(line, dict) and set(line) == {"error"}:
                continue
            index = line.get("index") if isinstance(line, dict) else None
            if not isinstance(index, int) or not 0 <= index < len(raw_items):
                raise SavedFileError(f"{where}: response[{k}]: no valid index")
            results[index] = _result(line, f"{where} response[{k}]")
    else:
        raise SavedFileError(
            f"{where}: response must be a /score answer {{'results': [...]}} or its NDJSON lines"
        )
    return [
        Record(raw_items[i], default, results[i], f"{where} items[{i}]")
        for i in range(len(raw_items))
    ]


def _record(obj: dict[str, Any], where: str) -> Record:
    try:
        ItemIn.model_validate(obj["item"])
        default = ScoreRequest.model_validate(
            {"verifier": obj.get("verifier"), "items": [obj["item"]]}
        ).verifier
    except ValidationError as exc:
        raise SavedFileError(f"{where}: item: {_first(exc)}") from None
    result = obj.get("result")
    return Record(
        obj["item"],
        spec_to_json(default),
        None if result is None else _result(result, f"{where} result"),
        where,
    )


def read_saved(path: Path) -> list[Record]:
    """Every saved item of ``path``, in file order; raises SavedFileError."""
    records: list[Record] = []
    for n, obj in _objects(path):
        where = f"{path}:{n}"
        if isinstance(obj, dict) and "request" in obj:
            records.extend(_exchange(obj, where))
        elif isinstance(obj, dict) and "item" in obj:
            records.append(_record(obj, where))
        else:
            raise SavedFileError(
                f"{where}: expected an exchange {{'request', 'response'}} or a record "
                "{'item', 'result'}"
            )
    if not records:
        raise SavedFileError(f"{path}: no saved items")
    return records


def record_line(item: dict[str, Any], verifier: Any, result: dict[str, Any]) -> str:
    """One record of a saved results file, as a JSON line (with its newline)."""
    obj: dict[str, Any] = {"item": item}
    if verifier is not None:
        obj["verifier"] = verifier
    obj["result"] = result
    return json.dumps(obj, ensure_ascii=False) + "\n"
