"""What a worker process sends back to the pool: bytes that are parsed, never unpickled.

A worker judges hostile input and may be subverted by a library it calls; the
pool's process is the server. So the worker-to-pool direction carries only
checked data: a hello (``ready`` and its confinement report, JSON) and, per
task, ``<rss_kb>\\n<result>`` with the result in the wire format of
``_codec.py``. The pool-to-worker direction carries tasks the server built
itself (pickled by ``multiprocessing``): a worker trusts its server, not the
other way round.
"""

from __future__ import annotations

import json
from typing import Any

from referee.service.dispatch._codec import WireError, decode_result, encode_result
from referee.service.dispatch._task import TaskResult

__all__ = ["MAX_MESSAGE_BYTES", "WireError", "decode_hello", "decode_reply", "hello", "reply"]

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_MAX_RSS_DIGITS = 20


def hello(report: dict[str, Any]) -> bytes:
    return json.dumps({"ready": report}).encode()


def decode_hello(data: bytes) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"worker hello: {exc}") from None
    report = message.get("ready") if isinstance(message, dict) else None
    if not isinstance(report, dict):
        raise WireError("worker hello: no report")
    return report


def reply(result: TaskResult, rss_kb: int) -> bytes:
    """One task's answer; a result that cannot travel becomes an error that can."""
    try:
        body = encode_result(result)
    except WireError as exc:
        body = encode_result(
            TaskResult.fail(
                "verifier_error",
                f"the verifier's result cannot be sent: {exc}"[:300],
                retryable=False,
                elapsed_s=result.elapsed_s,
            )
        )
    return b"%d\n%s" % (rss_kb, body)


def decode_reply(data: bytes) -> tuple[TaskResult, int]:
    head, sep, body = data.partition(b"\n")
    if not sep or not 0 < len(head) <= _MAX_RSS_DIGITS:
        raise WireError("worker reply: no header")
    try:
        rss_kb = int(head)
    except ValueError:
        raise WireError("worker reply: bad header") from None
    return decode_result(body), rss_kb
