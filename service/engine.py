"""The scoring engine: plan → cache lookup → dispatch → gather → compose.

The engine is what every front end (HTTP, the ``referee score`` CLI) calls. It
resolves each item's verifier spec, extracts answers (cheap, in this process),
de-duplicates identical tasks within the request, serves what it can from the
cache, sends the rest to the worker pool in chunks, and waits no longer than
the request's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import threading
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from referee.service.cache import ResultCache, cache_key
from referee.service.dispatch._task import ErrorInfo, Task, TaskResult
from referee.service.dispatch.base import Dispatcher, Entry
from referee.service.metrics import Metrics
from referee.verifiers import (
    Context,
    InvalidParams,
    InvalidReference,
    UnknownVerifier,
    Verifier,
)
from referee.verifiers.compose import Spec, combine, resolve
from referee.verifiers.provenance import Provenance

__all__ = ["BadRequest", "ComponentResult", "Engine", "ItemInput", "ItemResult"]

log = logging.getLogger("referee.engine")

_TASKS_PER_WORKER = 4  # chunks per worker for one batch, for balance across workers
_INLINE_PLAN_CHARS = 256 * 1024  # larger requests are planned in a thread


class BadRequest(Exception):
    """The request cannot be scored as sent; ``loc`` names the field (a 422)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


@dataclass(frozen=True, slots=True)
class ItemInput:
    """One rollout to judge, as the engine sees it."""

    response: str
    reference: Any = None
    id: str | None = None
    prompt: str | None = None
    completion_tokens: int | None = None
    verifier: Any = None


@dataclass(frozen=True, slots=True)
class ComponentResult:
    name: str
    weight: float
    reward: float | None
    outcome: str | None
    details: Mapping[str, Any]
    verifier: Provenance | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weight": self.weight,
            "reward": self.reward,
            "outcome": self.outcome,
            "details": dict(self.details),
            "verifier": None if self.verifier is None else self.verifier.to_wire(),
        }


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The judgement of one item, in the shape of PROTOCOL.md's result object.

    ``verifier`` is the provenance of a single-verifier spec; for a list, each
    component states its own and ``verifier`` is None.
    """

    id: str | None
    status: str
    reward: float | None
    outcome: str | None
    details: Mapping[str, Any]
    cached: bool
    error: ErrorInfo | None = None
    components: tuple[ComponentResult, ...] | None = None
    verifier: Provenance | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "reward": self.reward,
            "status": self.status,
            "outcome": self.outcome,
            "verifier": None if self.verifier is None else self.verifier.to_wire(),
        }
        if self.components is not None:
            out["components"] = [c.to_wire() for c in self.components]
        out["details"] = dict(self.details)
        out["cached"] = self.cached
        out["error"] = (
            None
            if self.error is None
            else {
                "kind": self.error.kind,
                "message": self.error.message,
                "retryable": self.error.retryable,
            }
        )
        return out


@dataclass(slots=True)
class _Plan:
    """Unique tasks of one request and, per item, which of them it needs."""

    tasks: list[Task] = field(default_factory=list)
    verifiers: list[Verifier[Any]] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    results: list[TaskResult | None] = field(default_factory=list)
    cached: list[bool] = field(default_factory=list)
    items: list[tuple[Spec, list[int], list[bool]]] = field(default_factory=list)

    def add(
        self, task: Task, verifier: Verifier[Any], key: bytes, result: TaskResult | None = None
    ) -> int:
        """Append a unique task (with its result when already known); its index."""
        self.tasks.append(task)
        self.verifiers.append(verifier)
        self.keys.append(key)
        self.results.append(result)
        return len(self.tasks) - 1


class Engine:
    """Judges batches of items with a worker pool and a result cache."""

    def __init__(
        self,
        pool: Dispatcher,
        cache: ResultCache,
        metrics: Metrics,
        *,
        request_timeout_s: float,
        chunk_size: int,
        max_item_timeout_s: float = 600.0,
        default_verifier: Any = None,
    ) -> None:
        self.pool = pool
        self.cache = cache
        self.metrics = metrics
        self.request_timeout_s = request_timeout_s
        self.chunk_size = chunk_size
        self.max_item_timeout_s = max_item_timeout_s
        self.default_verifier = default_verifier

    @property
    def ready(self) -> bool:
        return self.pool.alive > 0

    def close(self) -> None:
        """Stop the dispatcher (blocks while worker processes stop)."""
        self.pool.close()

    async def score(self, items: Sequence[ItemInput], verifier: Any = None) -> list[ItemResult]:
        """Judge ``items``; raise BadRequest for a request that cannot be scored as sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.request_timeout_s
        plan = await self._planned(items, verifier)
        done = threading.Event()  # set when the caller stops waiting: queued work is dropped
        try:
            await self._dispatch(plan, deadline, done.is_set)
        finally:
            done.set()
        return [self._compose(items[i], i, plan) for i in range(len(items))]

    async def score_stream(
        self, items: Sequence[ItemInput], verifier: Any = None
    ) -> AsyncGenerator[tuple[int, ItemResult], None]:
        """Judge ``items``, yielding ``(index, result)`` as each is judged (completion order).

        Cache hits and in-batch duplicates of finished items come out at once. Raises
        BadRequest before the first yield. Closing the iterator early (``aclose``, or
        cancelling its consumer) drops the work still queued for it.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.request_timeout_s
        plan = await self._planned(items, verifier)
        misses = self._lookup(plan)
        self._count_lookups(plan)
        waiting: dict[int, list[int]] = {}  # unique task -> items that need it
        left = [0] * len(items)  # per item: unique tasks without a result yet
        for i, (_spec, uniques, _dups) in enumerate(plan.items):
            for u in set(uniques):
                if plan.results[u] is None:
                    waiting.setdefault(u, []).append(i)
                    left[i] += 1
        finished: asyncio.Queue[tuple[int, TaskResult]] = asyncio.Queue()
        done = threading.Event()
        entries = [Entry(plan.tasks[u], _queuer(loop, finished, u), done.is_set) for u in misses]
        outstanding = len(entries)
        self.metrics.inflight.inc(outstanding)
        try:
            self._submit(entries, isolate_budgeted=True)
            for i in range(len(items)):
                if left[i] == 0:
                    yield i, self._compose(items[i], i, plan)
            while outstanding:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    u, result = await asyncio.wait_for(finished.get(), remaining)
                except TimeoutError:
                    break
                if plan.results[u] is not None:  # pragma: no cover - one delivery per entry
                    continue
                outstanding -= 1
                self.metrics.inflight.dec()
                self._record(plan, u, result)
                for i in waiting.pop(u, ()):
                    left[i] -= 1
                    if left[i] == 0:
                        yield i, self._compose(items[i], i, plan)
            for u in waiting:
                plan.results[u] = _deadline_passed()
            for i in range(len(items)):
                if left[i] > 0:
                    yield i, self._compose(items[i], i, plan)
        finally:
            done.set()
            self.metrics.inflight.dec(outstanding)

    async def run_task(self, task: Task) -> TaskResult:
        """Run one task on a worker, outside the cache (``/run_code``)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[TaskResult] = loop.create_future()
        done = threading.Event()
        self.pool.submit([Entry(task, _deliverer(loop, fut), done.is_set)])
        timeout = (task.timeout_s or self.request_timeout_s) + 5.0
        try:
            return await asyncio.wait_for(fut, timeout=min(timeout, self.request_timeout_s))
        except TimeoutError:
            return TaskResult.fail("deadline", "the request's deadline passed", retryable=True)
        finally:
            done.set()

    # -- planning ----------------------------------------------------------------------------

    async def _planned(self, items: Sequence[ItemInput], verifier: Any) -> _Plan:
        if sum(len(item.response) for item in items) > _INLINE_PLAN_CHARS:
            # Extraction is linear but not free: keep the event loop answering.
            return await asyncio.to_thread(self._plan, items, verifier)
        return self._plan(items, verifier)

    def _plan(self, items: Sequence[ItemInput], default: Any) -> _Plan:
        plan = _Plan()
        seen: dict[bytes, int] = {}
        specs: dict[str, Spec] = {}
        if default is None:
            default = self.default_verifier
        for i, item in enumerate(items):
            raw = item.verifier if item.verifier is not None else default
            if raw is None:
                raise BadRequest(
                    ("items", i, "verifier"),
                    "no verifier: give one on the item or the request; valid names are "
                    "listed at GET /verifiers",
                )
            loc: tuple[str | int, ...] = (
                ("items", i, "verifier") if item.verifier is not None else ("verifier",)
            )
            spec = self._resolve(raw, specs, loc)
            context = Context(item.prompt, item.completion_tokens)
            uniques: list[int] = []
            dup_flags: list[bool] = []
            for component in spec.components:
                v = component.verifier
                try:
                    v.validate_reference(item.reference, component.params)
                except InvalidReference as exc:
                    raise BadRequest(("items", i, "reference"), f"{v.name}: {exc}") from None
                try:
                    extracted = v.extract(item.response, item.reference, component.params, context)
                except Exception as exc:  # a bug of ours: this item errors, the batch goes on
                    log.exception("extract of %s failed", v.name)
                    failed = TaskResult.fail(
                        "verifier_error",
                        f"{v.name}: extract failed: {type(exc).__name__}",
                        retryable=False,
                    )
                    task = Task(v.name, component.params, "", item.reference, context)
                    uniques.append(plan.add(task, v, b"", failed))
                    dup_flags.append(False)
                    continue
                timeout = None
                budget = (
                    None
                    if v.time_budget is None
                    else v.time_budget(item.reference, component.params)
                )
                if budget is not None:
                    timeout = min(budget, self.max_item_timeout_s)
                task = Task(v.name, component.params, extracted, item.reference, context, timeout)
                key = cache_key(v, task)
                index = seen.get(key)
                if index is None:
                    index = seen[key] = plan.add(task, v, key)
                    dup_flags.append(False)
                else:
                    dup_flags.append(True)
                uniques.append(index)
            plan.items.append((spec, uniques, dup_flags))
        return plan

    @staticmethod
    def _resolve(raw: Any, memo: dict[str, Spec], loc: tuple[str | int, ...]) -> Spec:
        memo_key = json.dumps(raw, sort_keys=True)
        spec = memo.get(memo_key)
        if spec is None:
            try:
                spec = memo[memo_key] = resolve(raw)
            except (UnknownVerifier, InvalidParams) as exc:
                raise BadRequest(loc, str(exc)) from None
        return spec

    # -- dispatch ----------------------------------------------------------------------------

    async def _dispatch(
        self, plan: _Plan, deadline: float, is_cancelled: Callable[[], bool]
    ) -> None:
        loop = asyncio.get_running_loop()
        misses = self._lookup(plan)
        futures: dict[int, asyncio.Future[TaskResult]] = {}
        entries: list[Entry] = []
        for u in misses:
            fut: asyncio.Future[TaskResult] = loop.create_future()
            futures[u] = fut
            entries.append(Entry(plan.tasks[u], _deliverer(loop, fut), is_cancelled))
        if entries:
            self.metrics.inflight.inc(len(entries))
            try:
                self._submit(entries)
                await asyncio.wait(futures.values(), timeout=max(0.0, deadline - loop.time()))
            finally:
                self.metrics.inflight.dec(len(entries))
        for u, fut in futures.items():
            if fut.done():
                self._record(plan, u, fut.result())
            else:
                plan.results[u] = _deadline_passed()
        self._count_lookups(plan)

    def _lookup(self, plan: _Plan) -> list[int]:
        """Fill ``plan`` from the cache and verifiers' shortcuts; the unique tasks left to judge."""
        plan.cached = [False] * len(plan.tasks)
        misses: list[int] = []
        for u, key in enumerate(plan.keys):
            if plan.results[u] is not None:
                continue
            hit = self.cache.get(key)
            if hit is not None:
                plan.results[u] = hit
                plan.cached[u] = True
                continue
            decided = _shortcut(plan.verifiers[u], plan.tasks[u])
            if decided is not None:  # judged here, cached like a worker's verdict
                self.cache.put(key, decided)
                plan.results[u] = decided
            else:
                misses.append(u)
        return misses

    def _submit(self, entries: list[Entry], *, isolate_budgeted: bool = False) -> None:
        """Send ``entries`` to the pool in chunks balanced across its workers.

        With ``isolate_budgeted``, a task with its own time budget (a program to run)
        travels alone, so that quick items never wait behind it in one chunk.
        """
        if isolate_budgeted:
            for entry in entries:
                if entry.task.timeout_s is not None:
                    self.pool.submit([entry])
            entries = [e for e in entries if e.task.timeout_s is None]
        if not entries:
            return
        size = max(
            1,
            min(
                self.chunk_size,
                math.ceil(len(entries) / (self.pool.config.workers * _TASKS_PER_WORKER)),
            ),
        )
        for start in range(0, len(entries), size):
            self.pool.submit(entries[start : start + size])

    def _record(self, plan: _Plan, u: int, result: TaskResult) -> None:
        """Keep a worker's judgement of unique task ``u``: in the plan, the cache, metrics."""
        if result.cached:  # a shared (Redis) cache answered for the workers
            plan.cached[u] = True
        if result.second_opinion is not None:
            self._second_opinion(plan.tasks[u], result.second_opinion)
        self.cache.put(plan.keys[u], result)
        if result.elapsed_s:
            self.metrics.verifier_seconds.labels(plan.tasks[u].verifier).observe(result.elapsed_s)
        plan.results[u] = result

    def _count_lookups(self, plan: _Plan) -> None:
        lookups = hits = 0
        for _spec, uniques, dup_flags in plan.items:
            for u, dup in zip(uniques, dup_flags, strict=True):
                lookups += 1
                hits += dup or plan.cached[u]
        self.metrics.cache_lookups.inc(lookups)
        self.metrics.cache_hits.inc(hits)

    def _second_opinion(self, task: Task, label: str) -> None:
        self.metrics.second_opinions.labels(task.verifier, label).inc()
        if label.startswith("primary_"):
            log.warning(
                "second opinion disagrees with %s (%s): answer %r, reference %r",
                task.verifier,
                label,
                task.extracted.replace("\x1f", " | ")[:200],
                json.dumps(task.reference)[:200],
            )

    # -- composition -------------------------------------------------------------------------

    def _compose(self, item: ItemInput, i: int, plan: _Plan) -> ItemResult:
        spec, uniques, dup_flags = plan.items[i]
        results: list[TaskResult] = []
        cached = True
        for u, dup in zip(uniques, dup_flags, strict=True):
            result = plan.results[u]
            if result is None:  # pragma: no cover - every unique task gets a result
                raise RuntimeError("task without a result")
            results.append(result)
            cached = cached and (dup or plan.cached[u])
        components = tuple(
            ComponentResult(
                c.name,
                c.weight,
                None if r.score is None else r.score.reward,
                None if r.score is None else r.score.outcome.value,
                {} if r.score is None else r.score.details,
                c.provenance,
            )
            for c, r in zip(spec.components, results, strict=True)
        )
        for c, r in zip(spec.components, results, strict=True):
            outcome = "error" if r.score is None else r.score.outcome.value
            self.metrics.items.labels(c.name, outcome).inc()
            if r.error is not None:
                self.metrics.errors.labels(r.error.kind).inc()
        scores = [r.score for r in results if r.score is not None]
        single = None if spec.composite else spec.components[0].provenance
        if len(scores) < len(results):
            error = next(r.error for r in results if r.error is not None)
            return ItemResult(
                item.id,
                "error",
                None,
                None,
                {},
                cached,
                error,
                components if spec.composite else None,
                single,
            )
        reward = combine(spec, scores)
        if spec.composite:
            return ItemResult(
                item.id, "ok", reward, scores[0].outcome.value, {}, cached, None, components
            )
        return ItemResult(
            item.id,
            "ok",
            reward,
            scores[0].outcome.value,
            scores[0].details,
            cached,
            verifier=single,
        )


def _deliverer(
    loop: asyncio.AbstractEventLoop, fut: asyncio.Future[TaskResult]
) -> Callable[[TaskResult], None]:
    def set_result(result: TaskResult) -> None:
        if not fut.done():
            fut.set_result(result)

    def deliver(result: TaskResult) -> None:
        # RuntimeError: the loop is gone, so nobody waits for this result any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(set_result, result)

    return deliver


def _queuer(
    loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[tuple[int, TaskResult]], u: int
) -> Callable[[TaskResult], None]:
    def deliver(result: TaskResult) -> None:
        # RuntimeError: the loop is gone, so nobody waits for this result any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, (u, result))

    return deliver


def _shortcut(verifier: Verifier[Any], task: Task) -> TaskResult | None:
    """The verifier's own verdict from the extraction alone, when it has one."""
    if verifier.shortcut is None:
        return None
    try:
        score = verifier.shortcut(task.extracted, task.reference, task.params)
    except Exception:  # a bug of ours: the worker judges the item instead
        log.exception("shortcut of %s failed", verifier.name)
        return None
    return None if score is None else TaskResult.ok(score)


def _deadline_passed() -> TaskResult:
    return TaskResult.fail(
        "deadline", "the request's deadline passed before this item was judged", retryable=True
    )
