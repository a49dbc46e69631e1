"""Coalescing: small chunks of many requests queued behind a busy worker go to it as one.

A real pool with one judge worker. The worker is held by a task that sleeps; what is
submitted meanwhile queues, and the pool's ``on_chunk`` hook reports how many tasks
each message to the worker carried. The sleeper is long against the few
microseconds it takes to submit what follows, so the queue is complete when the
worker frees.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from referee import verifiers
from referee.service.cache import ResultCache
from referee.service.config import pool_config
from referee.service.dispatch._task import Task, TaskResult
from referee.service.dispatch.base import Entry
from referee.service.dispatch.pool import PoolEvents, WorkerPool
from referee.service.engine import Engine, ItemInput
from referee.service.metrics import Metrics
from referee.service.settings import Settings
from referee.verifiers import Context

PLUGIN = "referee_test_verifiers"
HOLD_S = 2.0


class Sizes:
    """What ``on_chunk`` reported, and a way to wait for the first report."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.started = threading.Event()

    def __call__(self, n: int) -> None:
        self.sizes.append(n)
        self.started.set()


@pytest.fixture
def pool_and_sizes() -> Iterator[tuple[WorkerPool, Sizes]]:
    settings = Settings(workers=1, code_workers=0, plugins=PLUGIN, item_timeout_s=10, chunk_size=32)
    verifiers.load_builtin(settings.plugin_modules)
    sizes = Sizes()
    pool = WorkerPool(pool_config(settings), PoolEvents(on_chunk=sizes))
    pool.start()
    yield pool, sizes
    pool.close()


def task(response: str) -> Task:
    params = verifiers.REGISTRY["misbehave"].params_type()
    return Task("misbehave", params, response, None, Context())


def hold(pool: WorkerPool, sizes: Sizes) -> threading.Event:
    """Occupy the only worker; returns an event set when the sleeper is judged."""
    done = threading.Event()
    pool.submit([Entry(task(f"sleep:{HOLD_S}"), lambda r: done.set())])
    assert sizes.started.wait(30)
    return done


class Request:
    """One caller: its own ``is_cancelled`` (as the engine gives each request)."""

    def __init__(self) -> None:
        self.gone = threading.Event()
        self.results: list[TaskResult] = []
        self.delivered = threading.Event()

    def entry(self, response: str) -> Entry:
        def deliver(result: TaskResult) -> None:
            self.results.append(result)
            self.delivered.set()

        return Entry(task(response), deliver, self.gone.is_set)


def test_one_task_requests_share_one_message(pool_and_sizes: tuple[WorkerPool, Sizes]) -> None:
    pool, sizes = pool_and_sizes
    held = hold(pool, sizes)
    requests = [Request() for _ in range(20)]
    for i, req in enumerate(requests):
        pool.submit([req.entry(f"fine-{i}")])
    assert held.wait(30)
    for req in requests:
        assert req.delivered.wait(30)
        assert [(r.status, r.score and r.score.reward) for r in req.results] == [("ok", 1.0)]
    assert sizes.sizes == [1, 20]


def test_at_most_chunk_size_tasks_per_message(pool_and_sizes: tuple[WorkerPool, Sizes]) -> None:
    pool, sizes = pool_and_sizes
    held = hold(pool, sizes)
    requests = [Request() for _ in range(40)]
    for i, req in enumerate(requests):
        pool.submit([req.entry(f"fine-{i}")])
    assert held.wait(30)
    for req in requests:
        assert req.delivered.wait(30)
    assert sizes.sizes == [1, 32, 8]


def test_cancelled_requests_are_dropped_from_a_coalesced_chunk(
    pool_and_sizes: tuple[WorkerPool, Sizes],
) -> None:
    pool, sizes = pool_and_sizes
    held = hold(pool, sizes)
    requests = [Request() for _ in range(20)]
    for i, req in enumerate(requests):
        pool.submit([req.entry(f"fine-{i}")])
    for req in requests[::4]:  # 5 callers stop waiting while their tasks are queued
        req.gone.set()
    assert held.wait(30)
    for req in requests:
        if not req.gone.is_set():
            assert req.delivered.wait(30)
            assert [r.status for r in req.results] == ["ok"]
    assert sizes.sizes == [1, 15]
    assert all(not req.results for req in requests[::4])  # never judged, never answered


def test_chunks_of_one_request_stay_apart(pool_and_sizes: tuple[WorkerPool, Sizes]) -> None:
    """The engine splits a batch to spread it over workers: a worker does not undo that."""
    pool, sizes = pool_and_sizes
    held = hold(pool, sizes)
    one = Request()
    for c in range(4):
        pool.submit([one.entry(f"fine-{c}-{k}") for k in range(2)])
    other = Request()
    pool.submit([other.entry("other")])
    assert held.wait(30)
    assert other.delivered.wait(30)  # the last in line
    assert len(one.results) == 8
    # The head chunk takes the other request's chunk only if it is next in line: here
    # it is behind three more chunks of the first request, so nothing merges but it.
    assert sizes.sizes == [1, 2, 2, 2, 3]


def test_requests_past_their_deadline_are_never_judged(
    pool_and_sizes: tuple[WorkerPool, Sizes],
) -> None:
    """One-item requests that time out while queued: deadline errors, and no judging."""
    pool, sizes = pool_and_sizes
    verifiers.load_builtin((PLUGIN,))
    engine = Engine(pool, ResultCache(0), Metrics(), request_timeout_s=0.5, chunk_size=32)

    async def run() -> list[list[str]]:
        held = hold(pool, sizes)
        calls = [
            engine.score([ItemInput(f"late-{i}", None)], verifier="misbehave") for i in range(10)
        ]
        results = await asyncio.gather(*calls)
        assert await asyncio.to_thread(held.wait, 30)
        return [[r.status + ":" + (r.error.kind if r.error else "") for r in rs] for rs in results]

    kinds = asyncio.run(run())
    assert kinds == [["error:deadline"]] * 10
    # The worker went on to the next request with none of the expired tasks.
    after = asyncio.run(engine.score([ItemInput("after", None)], verifier="misbehave"))
    assert [(r.status, r.reward) for r in after] == [("ok", 1.0)]
    assert sizes.sizes == [1, 1]


def test_replica_merges_small_chunks_of_different_requests_into_one_entry() -> None:
    """Redis mode: what one outbox read holds becomes entries of up to chunk_items tasks."""
    from referee.service.dispatch.redis_streams import RedisConfig, RedisDispatcher

    verifiers.load_builtin((PLUGIN,))
    dispatcher = RedisDispatcher(RedisConfig(url="redis://127.0.0.1:1", chunk_items=4))
    a, b, c, gone = Request(), Request(), Request(), Request()
    gone.gone.set()
    batch = [
        ([a.entry("a1")], "ra", 10.0, False),
        ([gone.entry("g1")], "rg", 11.0, False),  # its caller left: not sent at all
        ([b.entry("b1"), b.entry("b2")], "rb", 12.0, False),
        ([a.entry("a2")], "ra", 10.0, False),  # a's second chunk: a new entry
        ([c.entry("c1"), c.entry("c2"), c.entry("c3"), c.entry("c4")], "rc", 9.0, False),
        ([b.entry("b3")], "rb", 12.0, True),  # a fresh re-send travels alone
    ]
    chunks = dispatcher._chunks(batch)
    shapes = [([e.task.extracted for e in group], rid, d, f) for group, rid, d, f in chunks]
    assert shapes == [
        (["a1", "b1", "b2"], "ra", 12.0, False),  # the latest deadline of the three
        (["a2"], "ra", 10.0, False),
        (["b3"], "rb", 12.0, True),
        (["c1", "c2", "c3", "c4"], "rc", 9.0, False),  # would not fit with a2
    ]
