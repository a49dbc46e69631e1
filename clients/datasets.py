"""Competitive-programming dataset rows as ``code`` references.

Each function takes one row as the Hugging Face ``datasets`` library yields it
(a dict) and returns the ``reference`` of a ``POST /score`` item; the prompt is
the caller's. No dataset is downloaded here.

- :func:`from_code_contests`: deepmind/code_contests, and its successors that
  add a testlib checker per problem (CodeContests+, CodeContests-O: a C++
  ``checker`` field). Public, private and generated tests, in that order,
  identical inputs once; the problem's time limit as CPU time and its memory
  limit; contest compile flags.
- :func:`from_taco` (also APPS: same ``input_output`` field): call-based
  (``fn_name``) or stdin/stdout.
- :func:`from_codeforces`: open-r1/codeforces style rows (``official_tests``,
  ``time_limit`` in seconds, ``memory_limit`` in MB), with a testlib checker or
  interactor passed in (for example CodeContests+'s for the same problem).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["from_code_contests", "from_codeforces", "from_taco"]

MAX_TESTS = 1000  # the code verifier's limit per item
_UNIT = re.compile(r"([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)")


def _limit_s(value: Any, default: float) -> float:
    """Seconds from ``{"seconds", "nanos"}``, a number, or text such as "2 seconds"/"500 ms"."""
    if isinstance(value, Mapping):
        total = float(value.get("seconds") or 0) + float(value.get("nanos") or 0) / 1e9
        return min(total, 60.0) if total > 0 else default
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return min(float(value), 60.0)
    if isinstance(value, str) and (match := _UNIT.search(value)):
        number, unit = float(match.group(1)), match.group(2).lower()
        seconds = number / 1000 if unit in ("ms", "millisecond", "milliseconds") else number
        return min(seconds, 60.0) if seconds > 0 else default
    return default


def _memory_mb(value: Any, default: int, *, unit: str = "mb") -> int:
    """MB from a number (``unit``: "mb" or "bytes") or text such as "256 megabytes"."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        mb = value / (1024 * 1024) if unit == "bytes" else value
        return max(16, min(int(mb), 8192))
    if isinstance(value, str) and (match := _UNIT.search(value)):
        number, suffix = float(match.group(1)), match.group(2).lower()
        mb = (
            number / 1024
            if suffix.startswith("k")
            else number * 1024
            if suffix.startswith("g")
            else number
        )
        return max(16, min(int(mb), 8192))
    return default


def _tests(pairs: Iterable[tuple[Any, Any]]) -> list[dict[str, str]]:
    seen: set[str] = set()
    tests = []
    for stdin, stdout in pairs:
        if not isinstance(stdin, str) or not isinstance(stdout, str) or stdin in seen:
            continue
        seen.add(stdin)
        tests.append({"stdin": stdin, "stdout": stdout})
        if len(tests) == MAX_TESTS:
            break
    return tests


def _program(source: Any, language: str = "cpp") -> dict[str, str] | None:
    if isinstance(source, str) and source.strip():
        return {"language": language, "source": source}
    return None


def from_code_contests(
    row: Mapping[str, Any],
    *,
    language: str = "python",
    splits: tuple[str, ...] = ("public_tests", "private_tests", "generated_tests"),
    checker: str | None = None,
) -> dict[str, Any]:
    """A CodeContests row (``public_tests``/``private_tests``/``generated_tests``: ``{input:
    [...], output: [...]}``; ``time_limit``: ``{seconds, nanos}``; ``memory_limit_bytes``).

    The checker is ``checker`` if given, else the row's ``checker`` field (CodeContests+
    and -O ship a testlib C++ checker), else none: outputs are compared by tokens.
    Without a checker, a problem that accepts several answers rejects correct programs
    whose output differs from the one recorded (generated tests' outputs came from one
    accepted solution): pass ``splits=("public_tests", "private_tests")`` to keep the
    official tests only, or give a checker. Rows with ``test_cases`` (a list of
    ``{input, output}``, as CodeContests+ stores them) use those tests.
    """
    pairs: list[tuple[Any, Any]] = []
    if isinstance(row.get("test_cases"), list):
        pairs = [(t.get("input"), t.get("output")) for t in row["test_cases"]]
    else:
        for split in splits:
            block = row.get(split) or {}
            pairs += list(zip(block.get("input") or [], block.get("output") or [], strict=False))
    tests = _tests(pairs)
    if not tests:
        raise ValueError("the row has no usable tests")
    reference: dict[str, Any] = {
        "language": language,
        "tests": tests,
        "time_limit_s": _limit_s(row.get("time_limit"), 2.0),
        "time_limit_mode": "cpu",
        "compile_flags": "contest",
    }
    if "memory_limit_bytes" in row:
        reference["memory_limit_mb"] = _memory_mb(row["memory_limit_bytes"], 256, unit="bytes")
    else:
        reference["memory_limit_mb"] = _memory_mb(row.get("memory_limit"), 256)
    program = _program(checker if checker is not None else row.get("checker"))
    if program is not None:
        reference["checker"] = program
    return reference


def from_taco(row: Mapping[str, Any], *, language: str = "python") -> dict[str, Any]:
    """A TACO or APPS row: ``input_output`` (JSON text: ``inputs``, ``outputs``, and
    ``fn_name`` for call-based problems); TACO's ``time_limit``/``memory_limit`` text."""
    raw = row.get("input_output")
    data = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, Mapping):
        raise ValueError("the row's input_output is not an object")
    inputs, outputs = list(data.get("inputs") or []), list(data.get("outputs") or [])
    common = {
        "time_limit_s": _limit_s(row.get("time_limit"), 4.0),
        "memory_limit_mb": _memory_mb(row.get("memory_limit"), 512),
    }
    if data.get("fn_name"):
        if language != "python":
            raise ValueError("call-based (fn_name) problems are judged in Python only")
        n = min(len(inputs), len(outputs), MAX_TESTS)
        return {
            "language": "python",
            "fn_name": data["fn_name"],
            "inputs": inputs[:n],
            "outputs": outputs[:n],
            **common,
        }

    def text(value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    tests = _tests((text(i), text(o)) for i, o in zip(inputs, outputs, strict=False))
    if not tests:
        raise ValueError("the row has no usable tests")
    return {"language": language, "tests": tests, **common}


def from_codeforces(
    row: Mapping[str, Any],
    *,
    language: str = "python",
    checker: str | None = None,
    interactor: str | None = None,
) -> dict[str, Any]:
    """An open-r1/codeforces style row: ``official_tests`` (``[{input, output}]``),
    ``time_limit`` (s), ``memory_limit`` (MB), ``input_mode``, ``interaction_format``.

    ``checker``/``interactor`` are testlib C++ sources. An interactive problem
    (``interaction_format`` set) needs ``interactor``; file input is refused.
    """
    if row.get("input_mode") not in (None, "stdio"):
        raise ValueError(f"input mode {row.get('input_mode')!r} is not supported (stdio only)")
    tests = row.get("official_tests") or row.get("examples") or []
    pairs = [(t.get("input"), t.get("output")) for t in tests]
    if row.get("interaction_format") and interactor is None:
        raise ValueError("an interactive problem needs its interactor")
    if interactor is not None:
        pairs = [(i, o if isinstance(o, str) else "") for i, o in pairs]
    reference: dict[str, Any] = {
        "language": language,
        "tests": _tests(pairs),
        "time_limit_s": _limit_s(row.get("time_limit"), 2.0),
        "memory_limit_mb": _memory_mb(row.get("memory_limit"), 256),
        "time_limit_mode": "cpu",
        "compile_flags": "contest",
    }
    if not reference["tests"]:
        raise ValueError("the row has no usable tests")
    if (program := _program(checker)) is not None:
        reference["checker"] = program
    if (program := _program(interactor)) is not None:
        reference["interactor"] = program
    return reference
