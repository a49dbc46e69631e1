"""The task/result wire codec: exact round trips, and nothing foreign ever decodes."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from referee import verifiers
from referee.service.dispatch._codec import (
    INTERNAL_TASKS,
    WireError,
    decode_result,
    decode_task,
    encode_result,
    encode_task,
)
from referee.service.dispatch._redis_wire import BadEntry, Keys, TaskEntry, TaskItem
from referee.service.dispatch._task import Task, TaskResult
from referee.verifiers import NO_CONTEXT, Context, Outcome, Score

verifiers.load_builtin(("referee_test_verifiers",))

# Params a verifier cannot do without (every other one has a default).
REQUIRED = {"regex": {"pattern": r"\d+"}}

NON_DEFAULT: list[tuple[str, dict[str, Any]]] = [
    ("math", {"extract": ["answer_tag"], "fallback": "last_number", "float_rounding": 3}),
    ("math", {"mode": "math_verify", "strict": False, "numeric_precision": 30}),
    ("code", {"checker": "lines", "float_tolerance": 0.25}),
    ("tag_count", {"tags": ["<reasoning>", "</reasoning>"]}),
    ("think_format", {"open_tag": "<r>", "close_tag": "</r>", "require_open_tag": False}),
    ("soft_overlong", {"max_length": 100, "buffer": 10, "chars_per_token": 3.5}),
    ("repetition", {"ngram_size": 5, "max_penalty": -0.5}),
    ("countdown", {"format_score": 0.0, "use_all_numbers": False}),
    ("exact_match", {"case_sensitive": True, "extract": "none"}),
    ("multiple_choice", {"choices": "ABCD"}),
    ("regex", {"pattern": "(?i)yes|no", "dotall": False, "answer_region_only": True}),
    ("ifeval", {"scoring": "fraction", "loose": True}),
    ("reasoning_gym", {"extract": "answer_region"}),
]


class Exploit:
    """Unpickling this runs a shell command: what a crafted entry would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def _task(name: str, raw: dict[str, Any], **kw: Any) -> Task:
    params = verifiers.get(name).parse_params(raw)
    return Task(name, params, kw.get("extracted", "42"), kw.get("reference", "42"), **_rest(kw))


def _rest(kw: dict[str, Any]) -> dict[str, Any]:
    return {"context": kw.get("context", NO_CONTEXT), "timeout_s": kw.get("timeout_s")}


@pytest.mark.parametrize("name", sorted(verifiers.REGISTRY))
def test_default_params_of_every_verifier_round_trip(name: str) -> None:
    task = _task(name, REQUIRED.get(name, {}))
    decoded = decode_task(encode_task(task))
    assert decoded == task
    assert type(decoded.params) is type(task.params)


@pytest.mark.parametrize(("name", "raw"), NON_DEFAULT)
def test_non_default_params_round_trip(name: str, raw: dict[str, Any]) -> None:
    task = _task(name, raw)
    assert task.params != verifiers.get(name).parse_params(REQUIRED.get(name, {}))
    decoded = decode_task(encode_task(task))
    assert decoded == task
    assert hash(decoded.params) == hash(task.params)  # still usable as a cache key


@pytest.mark.parametrize(
    "task",
    [
        _task("math", {}, context=Context("What is 6 x 7?", 512), timeout_s=12.5),
        _task("math", {}, context=Context(None, 0)),
        _task("exact_match", {}, reference=["yes", "oui"], extracted="\ud800 lone surrogate"),
        _task(
            "code",
            {},
            extracted="print(input())",
            reference={"language": "python", "tests": [{"input": "é\n", "output": "é\n"}]},
            timeout_s=30.0,
        ),
        _task("json_schema", {}, reference={"type": "object", "x": [1, 2.5, None, True]}),
        _task("misbehave", {}, reference=None),
        Task("sandbox.run_code", None, "", {"code": "print(1)", "language": "python"}, Context()),
    ],
)
def test_tasks_round_trip(task: Task) -> None:
    assert decode_task(encode_task(task)) == task


def test_internal_tasks_are_the_workers() -> None:
    from referee.service.dispatch.worker import RUN_CODE

    assert RUN_CODE in INTERNAL_TASKS


@pytest.mark.parametrize(
    "result",
    [
        TaskResult.ok(Score(1.0, Outcome.CORRECT, {"extracted": "42", "source": "boxed"}), 0.01),
        TaskResult.ok(Score(0.25, Outcome.PARTIAL, {"followed": [True, False, None]}), 2.0),
        TaskResult.ok(
            Score(0.0, Outcome.RUNTIME_ERROR, {"first_failure": {"got": "x", "n": 3}}),
            killed=True,
        ),
        TaskResult("ok", Score(-1.0, Outcome.INCORRECT, {}), second_opinion="agree", cached=True),
        TaskResult.fail("deadline", "took longer than 3 s", retryable=True, elapsed_s=3.2),
        TaskResult.fail("worker_crashed", "died", retryable=False),
        TaskResult.answer({"status": "Success", "run_result": {"stdout": "1\n"}}, 0.05),
    ],
)
def test_results_round_trip(result: TaskResult) -> None:
    assert decode_result(encode_result(result)) == result


def test_tuples_in_details_come_back_as_lists() -> None:
    # As in the HTTP and gRPC answers, which are JSON.
    result = TaskResult.ok(Score(1.0, Outcome.CORRECT, {"pair": (1, 2)}))
    assert decode_result(encode_result(result)).score == Score(
        1.0, Outcome.CORRECT, {"pair": [1, 2]}
    )


@pytest.mark.parametrize(
    "result",
    [
        TaskResult.ok(Score(1.0, Outcome.CORRECT, {"seen": {1, 2}})),
        TaskResult.ok(Score(1.0, Outcome.CORRECT, {"raw": b"bytes"})),
        TaskResult.answer(object()),
    ],
)
def test_what_json_cannot_hold_is_refused_at_the_sender(result: TaskResult) -> None:
    with pytest.raises(WireError):
        encode_result(result)


def test_params_that_are_not_a_dataclass_are_refused() -> None:
    with pytest.raises(WireError):
        encode_task(Task("math", {"extract": ["boxed"]}, "42", "42", NO_CONTEXT))


def _good_task() -> dict[str, Any]:
    return json.loads(encode_task(_task("math", {}, context=Context("p", 3), timeout_s=5.0)))


def _good_result() -> dict[str, Any]:
    return json.loads(encode_result(TaskResult.ok(Score(1.0, Outcome.CORRECT, {"a": 1}))))


def _with(base: dict[str, Any], path: str, value: Any) -> bytes:
    obj = base
    *parents, last = path.split(".")
    for p in parents:
        obj = obj[p]
    if value is _DELETE:
        del obj[last]
    else:
        obj[last] = value
    return json.dumps(base).encode()


_DELETE = object()

BAD_TASKS: list[tuple[str, Any]] = [
    ("v", 2),
    ("v", "1"),
    ("v", True),
    ("v", _DELETE),
    ("extra", "field"),
    ("verifier", "no_such_verifier"),
    ("verifier", 7),
    ("params", {"extract": ["boxed"]}),
    ("params", "not json"),
    ("params", "[]"),
    ("params", '{"float_rounding": 99}'),
    ("params", '{"unknown": 1}'),
    ("params", None),
    ("extracted", 42),
    ("extracted", _DELETE),
    ("context", None),
    ("context", ["p", 3]),
    ("context.completion_tokens", True),
    ("context.completion_tokens", "3"),
    ("context.prompt", 3),
    ("context.extra", 1),
    ("timeout_s", -1.0),
    ("timeout_s", 0),
    ("timeout_s", True),
    ("timeout_s", "5"),
]


@pytest.mark.parametrize(("path", "value"), BAD_TASKS)
def test_malformed_tasks_are_refused(path: str, value: Any) -> None:
    with pytest.raises(WireError):
        decode_task(_with(_good_task(), path, value))


BAD_RESULTS: list[tuple[str, Any]] = [
    ("v", 0),
    ("status", "maybe"),
    ("status", "error"),  # without an error
    ("error", {"kind": "x", "message": "y", "retryable": False}),  # status "ok"
    ("error", {"kind": "x", "message": "y"}),
    ("score", {"reward": 1.0, "outcome": "correct"}),
    ("score.outcome", "excellent"),
    ("score.reward", "1.0"),
    ("score.reward", True),
    ("score.reward", None),
    ("score.details", [1, 2]),
    ("elapsed_s", None),
    ("killed", 1),
    ("cached", "false"),
    ("second_opinion", 3),
    ("payload", _DELETE),
]


@pytest.mark.parametrize(("path", "value"), BAD_RESULTS)
def test_malformed_results_are_refused(path: str, value: Any) -> None:
    with pytest.raises(WireError):
        decode_result(_with(_good_result(), path, value))


def test_error_result_with_an_error_field_is_refused() -> None:
    bad = json.loads(encode_result(TaskResult.fail("k", "m", retryable=False)))
    bad["error"]["retryable"] = "no"
    with pytest.raises(WireError):
        decode_result(json.dumps(bad).encode())


FOREIGN: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"\xff\xfe\x00garbage",
    b"[" * 100_000,
    b'{"v": 1}',
    pickle.dumps(_task("math", {})),  # a task as the old wire carried it
    pickle.dumps(TaskResult.fail("k", "m", retryable=False)),
]


@pytest.mark.parametrize("data", FOREIGN, ids=range(len(FOREIGN)))
def test_foreign_bytes_never_decode(data: bytes) -> None:
    with pytest.raises(WireError):
        decode_task(data)
    with pytest.raises(WireError):
        decode_result(data)


def test_pickle_payload_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    data = pickle.dumps(Exploit(marker))
    for decode in (decode_task, decode_result):
        with pytest.raises(WireError):
            decode(data)  # type: ignore[operator]
    assert not marker.exists()
    pickle.loads(data)  # the payload is real: pickle would have run it
    assert marker.exists()


# -- task entries as a worker reads them --------------------------------------------------

KEYS = Keys("t-codec")
REPLY = KEYS.reply("0123456789ab")


def _fields(**over: Any) -> dict[bytes, bytes]:
    items = (TaskItem("1f", "ab" * 20, _task("math", {})),)
    entry = TaskEntry("", 1e10, REPLY, "rid-1", 2, items)
    raw = {**entry.fields(), **over}
    return {k.encode(): v if isinstance(v, bytes) else str(v).encode() for k, v in raw.items()}


def test_entry_round_trip() -> None:
    entry = TaskEntry.parse(b"1-0", _fields(), KEYS)
    assert (entry.id, entry.reply, entry.handbacks) == ("1-0", REPLY, 2)
    assert entry.items == (TaskItem("1f", "ab" * 20, _task("math", {})),)


def test_chunk_round_trip() -> None:
    """A chunk of tasks: one entry, each task with its id and key, in order."""
    items = (
        TaskItem("1f", "ab" * 20, _task("math", {})),
        TaskItem("20", "", _task("exact_match", {"case_sensitive": True})),
        TaskItem("21", "cd" * 20, _task("math", {"float_rounding": 3})),
    )
    entry = TaskEntry("", 1e10, REPLY, "rid-1", 0, items)
    raw = {
        k.encode(): v if isinstance(v, bytes) else str(v).encode()
        for k, v in entry.fields().items()
    }
    assert raw[b"t"] == b"1f,20,21" and raw[b"k"] == b"ab" * 20 + b",," + b"cd" * 20
    assert TaskEntry.parse(b"2-0", raw, KEYS).items == items


@pytest.mark.parametrize(
    "over",
    [
        {"t": "1f,20,21", "k": ",,"},  # more ids than tasks
        {"k": ""},  # no key for the second task
        {"p": b"[]"},
        {"p": b'{"v":1}'},
    ],
)
def test_chunk_that_does_not_add_up_is_bad(over: dict[str, Any]) -> None:
    items = (TaskItem("1f", "", _task("math", {})), TaskItem("20", "", _task("math", {})))
    raw = {**TaskEntry("", 1e10, REPLY, "", 0, items).fields(), **over}
    fields = {k.encode(): v if isinstance(v, bytes) else str(v).encode() for k, v in raw.items()}
    with pytest.raises(BadEntry):
        TaskEntry.parse(b"1-0", fields, KEYS)


@pytest.mark.parametrize(
    ("over", "answerable"),
    [
        ({"p": b"\x80\x05garbage"}, True),
        ({"d": "soon"}, True),
        ({"d": "nan"}, True),
        ({"h": "-1"}, True),
        ({"k": "../../etc"}, True),
        ({"rid": b"\xff"}, True),
        ({"x": "extra"}, True),
        ({"rp": "t-codec:tasks"}, False),  # must not answer into any other key
        ({"rp": "other:reply:0123456789ab"}, False),
        ({"t": "not a tid"}, False),
    ],
)
def test_bad_entries_say_where_to_answer(over: dict[str, Any], answerable: bool) -> None:
    with pytest.raises(BadEntry) as info:
        TaskEntry.parse(b"1-0", _fields(**over), KEYS)
    if answerable:
        assert (info.value.reply, info.value.tids) == (REPLY, ("1f",))
    else:
        assert (info.value.reply, info.value.tids) == ("", ())
