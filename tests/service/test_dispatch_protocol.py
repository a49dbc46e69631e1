"""The dispatch protocol on the embedded pool: capacity() and queued() as admission reads them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from referee import verifiers
from referee.service.app import build_pool
from referee.service.dispatch._task import Task, TaskResult
from referee.service.dispatch.base import Capacity, Dispatcher, Entry
from referee.service.dispatch.pool import WorkerPool
from referee.service.metrics import Metrics
from referee.service.settings import Settings
from referee.verifiers import Context

PLUGIN = "referee_test_verifiers"


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    settings = Settings(workers=1, code_workers=0, plugins=PLUGIN, item_timeout_s=5)
    verifiers.load_builtin(settings.plugin_modules)
    started = build_pool(settings, Metrics())
    yield started
    started.close()


def sleeper(seconds: float) -> Task:
    params = verifiers.REGISTRY["misbehave"].params_type()
    return Task("misbehave", params, f"sleep:{seconds}", None, Context())


def test_queued_counts_until_delivered_or_given_up(pool: WorkerPool) -> None:
    dispatcher: Dispatcher = pool  # the protocol is all admission sees
    assert dispatcher.capacity() == Capacity(1)
    delivered: list[TaskResult] = []
    first_done = threading.Event()

    def deliver_first(result: TaskResult) -> None:
        delivered.append(result)
        first_done.set()

    given_up = threading.Event()
    first = Entry(sleeper(1.0), deliver_first)
    rest = [Entry(sleeper(0.0), delivered.append, given_up.is_set) for _ in range(3)]
    dispatcher.submit([first])
    dispatcher.submit(rest)
    # The only worker holds the first task for a second: nothing can be delivered yet.
    assert dispatcher.queued() == 4
    given_up.set()  # their caller stopped waiting: they no longer count
    assert dispatcher.queued() == 1
    assert first_done.wait(30)
    assert dispatcher.queued() == 0
    assert [r.status for r in delivered] == ["ok"]
    assert dispatcher.completed >= 1


def test_a_closed_pool_is_unavailable(pool: WorkerPool) -> None:
    pool.close()
    capacity = pool.capacity()
    assert capacity.workers == 0 and capacity.unavailable == "the worker pool is closed"
