"""The engine in-process: worker-count independence, recycling, request deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from referee.service.app import build_engine
from referee.service.engine import BadRequest, Engine, ItemInput
from referee.service.metrics import Metrics
from referee.service.settings import Settings

PLUGIN = "referee_test_verifiers"


def make_engine(**overrides: Any) -> tuple[Engine, Metrics]:
    metrics = Metrics()
    values: dict[str, Any] = {"plugins": PLUGIN, "item_timeout_s": 3, "hard_grace_s": 1}
    settings = Settings(**{**values, **overrides})
    return build_engine(settings, metrics), metrics


@pytest.fixture
def engine_factory() -> Iterator[Any]:
    engines: list[Engine] = []

    def make(**overrides: Any) -> tuple[Engine, Metrics]:
        engine, metrics = make_engine(**overrides)
        engines.append(engine)
        return engine, metrics

    yield make
    for engine in engines:
        engine.close()


def mixed_batch() -> list[ItemInput]:
    items = []
    for q in range(12):
        ref = f"\\frac{{{q + 1}}}{{{q + 2}}}"
        for s in range(5):
            answer = ref if s % 2 == 0 else f"{q + s}"
            response = f"<think>step {s} of question {q}</think>\nThus $\\boxed{{{answer}}}$."
            spec: Any = None
            if s == 4:
                spec = [
                    {"name": "math", "weight": 1.0},
                    {"name": "think_format", "weight": 0.2},
                    {"name": "soft_overlong", "params": {"max_length": 20, "buffer": 10}},
                ]
            items.append(
                ItemInput(response, ref, id=f"{q}-{s}", completion_tokens=s * 4, verifier=spec)
            )
    items.append(ItemInput("no box here", "1", id="none"))
    items.append(ItemInput("\\boxed{B}", "B", id="mc", verifier="multiple_choice"))
    return items


def test_results_do_not_depend_on_worker_count(engine_factory: Any) -> None:
    one, _ = engine_factory(workers=1, chunk_size=3)
    two, _ = engine_factory(workers=2)
    batch = mixed_batch()
    a = [r.to_wire() for r in asyncio.run(one.score(batch, "math"))]
    b = [r.to_wire() for r in asyncio.run(two.score(batch, "math"))]
    assert a == b
    rewards = [r["reward"] for r in a]
    assert rewards.count(1.0) >= 12  # the correct samples really were judged correct
    assert {r["outcome"] for r in a} >= {"correct", "incorrect"}


def test_workers_recycle_after_max_tasks(engine_factory: Any) -> None:
    engine, metrics = engine_factory(workers=1, worker_max_tasks=5, chunk_size=4)
    # Radicals: plain numbers would be judged by the fast path, never reaching a worker.
    items = [ItemInput(f"\\boxed{{\\sqrt{{{n}}}}}", f"\\sqrt{{{n}}}") for n in range(30)]
    results = asyncio.run(engine.score(items, "math"))
    assert all(r.reward == 1.0 for r in results)
    restarts = metrics.registry.get_sample_value(
        "referee_worker_restarts_total", {"reason": "max_tasks"}
    )
    # Recycling waits for the end of a chunk: chunks of 4, so every 8 tasks.
    assert restarts == 3
    assert engine.pool.alive == 1


def test_plain_numbers_are_judged_without_a_worker_and_cached(engine_factory: Any) -> None:
    engine, _ = engine_factory(workers=1)
    items = [ItemInput("\\boxed{12}", "12"), ItemInput("\\boxed{0.5}", "\\frac{1}{2}")]
    items += [ItemInput("\\boxed{13}", "12"), ItemInput("\\boxed{\\sqrt{4}}", "2")]
    first = asyncio.run(engine.score(items, "math"))
    assert [(r.reward, r.details.get("stage")) for r in first] == [
        (1.0, "plain"),
        (1.0, "plain"),
        (0.0, None),
        (1.0, "math_verify"),
    ]
    assert engine.pool.completed == 1  # only the radical went to the worker
    again = asyncio.run(engine.score(items, "math"))
    assert [r.cached for r in again] == [True] * 4
    assert [r.reward for r in again] == [r.reward for r in first]


def test_worker_pids_change_after_recycling(engine_factory: Any) -> None:
    engine, _ = engine_factory(workers=1, worker_max_tasks=2, chunk_size=1, cache_size=0)
    items = [ItemInput(f"ok {n}", None) for n in range(6)]
    results = asyncio.run(engine.score(items, "misbehave"))
    pids = [r.details["pid"] for r in results]
    assert len(set(pids)) == 3


def test_request_deadline_turns_unfinished_items_into_retryable_errors(
    engine_factory: Any,
) -> None:
    engine, metrics = engine_factory(workers=2, request_timeout_s=1.0, item_timeout_s=10)
    items = [ItemInput("sleep:5", None, id="slow"), ItemInput("fast", None, id="fast")]
    slow, fast = asyncio.run(engine.score(items, "misbehave"))
    assert (fast.status, fast.outcome) == ("ok", "correct")
    assert slow.status == "error" and slow.reward is None
    assert slow.error is not None
    assert (slow.error.kind, slow.error.retryable) == ("deadline", True)
    assert metrics.registry.get_sample_value("referee_errors_total", {"kind": "deadline"}) == 1


def test_queued_work_of_an_expired_request_is_dropped(engine_factory: Any) -> None:
    engine, _ = engine_factory(workers=1, request_timeout_s=0.5, item_timeout_s=10, chunk_size=1)
    slow = [ItemInput(f"sleep:0.{n + 3}", None) for n in range(6)]
    results = asyncio.run(engine.score(slow, "misbehave"))
    assert all(r.error is not None and r.error.kind == "deadline" for r in results[1:])
    (after,) = asyncio.run(engine.score([ItemInput("fast", None)], "misbehave"))
    assert after.outcome == "correct"
    # The worker finished what was in progress at the deadline (the 0.3 s item, and
    # the 0.4 s one unless the machine was slow), skipped the queued ones and went on
    # to the new request: 7 would mean it slept through all of them.
    assert engine.pool.completed <= 3


def test_cache_disabled_still_dedupes_within_a_batch(engine_factory: Any) -> None:
    engine, _ = engine_factory(workers=1, cache_size=0)
    items = [ItemInput("\\boxed{4}", "4")] * 3
    results = asyncio.run(engine.score(items, "math"))
    assert [r.cached for r in results] == [False, True, True]
    again = asyncio.run(engine.score(items[:1], "math"))
    assert again[0].cached is False


# -- score_stream --------------------------------------------------------------------------


async def _collect(engine: Engine, items: list[ItemInput], spec: Any) -> list[tuple[int, Any]]:
    return [(i, r) async for i, r in engine.score_stream(items, spec)]


def test_stream_yields_every_item_once_as_score_answers(engine_factory: Any) -> None:
    engine, _ = engine_factory(workers=2, cache_size=0)
    batch = mixed_batch()
    streamed = asyncio.run(_collect(engine, batch, "math"))
    assert sorted(i for i, _ in streamed) == list(range(len(batch)))
    by_index = {i: r.to_wire() for i, r in streamed}
    unary = [r.to_wire() for r in asyncio.run(engine.score(batch, "math"))]
    assert [by_index[i] for i in range(len(batch))] == unary


def test_stream_gives_quick_and_cached_items_first(engine_factory: Any) -> None:
    engine, _ = engine_factory(workers=2)
    asyncio.run(engine.score([ItemInput("cached-one", None)], "misbehave"))
    items = [
        ItemInput("sleep:1", None, id="slow"),
        ItemInput("quick", None, id="quick"),
        ItemInput("cached-one", None, id="cached"),
        ItemInput("sleep:1", None, id="twin"),  # the same task as "slow": judged once
    ]
    order = [items[i].id for i, _ in asyncio.run(_collect(engine, items, "misbehave"))]
    assert order[0] == "cached"
    assert order[1] == "quick"
    assert set(order[-2:]) == {"slow", "twin"}


def test_stream_raises_bad_request_before_any_result(engine_factory: Any) -> None:
    engine, _ = engine_factory(workers=1)
    items = [ItemInput("\\boxed{1}", "1"), ItemInput("x", None, verifier="nope")]
    with pytest.raises(BadRequest) as info:
        asyncio.run(_collect(engine, items, "math"))
    assert info.value.loc == ("items", 1, "verifier")


def test_stream_deadline_and_early_close_leave_nothing_in_flight(engine_factory: Any) -> None:
    engine, metrics = engine_factory(workers=2, request_timeout_s=1.0, item_timeout_s=10)
    items = [ItemInput("sleep:3", None, id="slow"), ItemInput("fast", None, id="fast")]
    results = dict(asyncio.run(_collect(engine, items, "misbehave")))
    assert results[1].outcome == "correct"
    assert results[0].error is not None and results[0].error.kind == "deadline"
    assert metrics.registry.get_sample_value("referee_items_in_flight") == 0

    async def first_then_close() -> None:
        stream = engine.score_stream(
            [ItemInput(f"sleep:0.{n + 2}", None) for n in range(5)], "misbehave"
        )
        await anext(stream)
        assert metrics.registry.get_sample_value("referee_items_in_flight") == 4
        await stream.aclose()
        assert metrics.registry.get_sample_value("referee_items_in_flight") == 0

    asyncio.run(first_then_close())
