"""Framing and value encoding shared by the fork server, the harness and the client.

Messages are a 4-byte big-endian length and UTF-8 JSON. Values returned by a
candidate program are encoded by exact type (a subclass of ``int`` with a rigged
``__eq__`` is refused), so the harness compares plain builtins it built itself.
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Any

MAX_MESSAGE = 64 * 1024 * 1024
_HEADER = struct.Struct(">I")


def read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv(fd: int, limit: int = MAX_MESSAGE) -> Any:
    """The next message on ``fd``, or None at end of file."""
    header = read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > limit:
        raise ValueError(f"message of {size} bytes exceeds {limit}")
    body = read_exact(fd, size)
    if body is None:
        return None
    return json.loads(body)


def send(fd: int, message: Any) -> None:
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    data = _HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def encode(value: Any, depth: int = 0) -> Any:
    """Plain builtins to tagged JSON; anything else is refused with TypeError."""
    if depth > 100:
        raise TypeError("value nested too deeply")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if abs(value) < 2**53 else {"i": str(value)}
    if t is float:
        return value if math.isfinite(value) else {"f": repr(value)}
    if t is list:
        return {"l": [encode(v, depth + 1) for v in value]}
    if t is tuple:
        return {"t": [encode(v, depth + 1) for v in value]}
    if t is dict:
        return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if t is set or t is frozenset:
        return {"s" if t is set else "fs": [encode(v, depth + 1) for v in value]}
    if t is bytes:
        return {"b": value.hex()}
    if t is complex:
        return {"c": [encode(value.real), encode(value.imag)]}
    raise TypeError(f"cannot pass a value of type {t.__name__}")


def decode(data: Any) -> Any:
    """Tagged JSON back to builtins (the inverse of :func:`encode`)."""
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):  # plain JSON lists come from test specifications
        return [decode(v) for v in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise ValueError("malformed value")
    ((tag, inner),) = data.items()
    if tag == "i":
        return int(inner)
    if tag == "f":
        return float(inner)
    if tag == "l":
        return [decode(v) for v in inner]
    if tag == "t":
        return tuple(decode(v) for v in inner)
    if tag == "d":
        return {decode(k): decode(v) for k, v in inner}
    if tag == "s":
        return {decode(v) for v in inner}
    if tag == "fs":
        return frozenset(decode(v) for v in inner)
    if tag == "b":
        return bytes.fromhex(inner)
    if tag == "c":
        return complex(decode(inner[0]), decode(inner[1]))
    raise ValueError(f"unknown value tag {tag!r}")
