"""HTTP clients of ``POST /score``: ``AsyncRefereeClient`` and its blocking twin ``RefereeClient``.

Both split large batches into requests of at most ``batch_size`` items, keep at
most ``concurrency`` requests in flight over one pooled connection set, retry
connection errors, 429 and 502/503/504 with exponential backoff and jitter
(honouring Retry-After), and give up at an overall deadline. A 4xx that the
caller caused raises ``RequestRejected`` at once.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self

import httpx

from referee.clients._exceptions import RefereeError
from referee.clients._options import ClientOptions
from referee.clients._retry import Attempts
from referee.clients._stream import stream_body
from referee.clients._types import Item, Result, item_to_wire

__all__ = ["DEFAULT_URL", "AsyncRefereeClient", "RefereeClient"]

DEFAULT_URL = "http://127.0.0.1:8000"

ItemLike = Item | Mapping[str, Any]


class _Base(ClientOptions):
    def __init__(
        self,
        url: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.url = (url or os.environ.get("REFEREE_URL") or DEFAULT_URL).rstrip("/")
        self.headers = {"user-agent": "referee-client", **(headers or {})}
        if self.api_key:
            self.headers["authorization"] = f"Bearer {self.api_key}"

    def _attempts(self, deadline_s: float | None) -> Attempts:
        return Attempts(self.policy, self._deadline(deadline_s), self.timeout_s)

    def _bodies(self, items: Sequence[ItemLike], verifier: Any) -> list[dict[str, Any]]:
        wire = [item_to_wire(item) for item in items]
        bodies = []
        for start in range(0, len(wire), self.batch_size):
            body: dict[str, Any] = {"items": wire[start : start + self.batch_size]}
            if verifier is not None:
                body["verifier"] = verifier
            bodies.append(body)
        return bodies


def _results(response: httpx.Response, expected: int) -> list[Result]:
    try:
        data = response.json()
        results = [Result.from_wire(r) for r in data["results"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise RefereeError(f"the server's answer is not a score response: {exc}") from exc
    if len(results) != expected:
        raise RefereeError(f"the server answered {len(results)} results for {expected} items")
    return results


class AsyncRefereeClient(_Base):
    """Scores items with a Referee server from asyncio code.

    ``url`` defaults to ``$REFEREE_URL`` (else http://127.0.0.1:8000) and
    ``api_key`` to ``$REFEREE_API_KEY``. Use as ``async with`` or call ``aclose()``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(url, **options)
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=self.headers, limits=limits, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def score(
        self, items: Sequence[ItemLike], verifier: Any = None, *, deadline_s: float | None = None
    ) -> list[Result]:
        """Judge ``items``; results come back in the same order."""
        bodies = self._bodies(items, verifier)
        if not bodies:
            return []
        deadline = self._deadline(deadline_s)
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(body: dict[str, Any]) -> list[Result]:
            async with semaphore:
                attempts = Attempts(self.policy, deadline, self.timeout_s)
                response = await self._request("POST", "/score", body, attempts)
                return _results(response, len(body["items"]))

        if len(bodies) == 1:
            return await one(bodies[0])
        tasks = [asyncio.ensure_future(one(body)) for body in bodies]
        try:
            chunks = await asyncio.gather(*tasks)
        except BaseException:
            # The first failure is the caller's (not an ExceptionGroup): stop the rest.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return [result for chunk in chunks for result in chunk]

    async def score_stream(
        self, items: Sequence[ItemLike], verifier: Any = None, *, deadline_s: float | None = None
    ) -> AsyncIterator[tuple[int, Result]]:
        """Judge ``items``; yield ``(index, result)`` as each is judged (completion order).

        Uses ``POST /score`` with NDJSON answers, ``batch_size`` items a request and
        ``concurrency`` requests at once. A request that breaks off mid-stream is sent
        again with only the items whose results did not arrive.
        """
        bodies = self._bodies(items, verifier)
        deadline = self._deadline(deadline_s)
        semaphore = asyncio.Semaphore(self.concurrency)
        results: asyncio.Queue[tuple[int, Result] | BaseException | None] = asyncio.Queue()

        async def one(body: dict[str, Any], offset: int) -> None:
            try:
                async with semaphore:
                    attempts = Attempts(self.policy, deadline, self.timeout_s)
                    async for pair in stream_body(self._http, body, offset, attempts):
                        results.put_nowait(pair)
            except Exception as exc:  # handed to the consumer, which re-raises it
                results.put_nowait(exc)
            else:
                results.put_nowait(None)

        tasks = [
            asyncio.create_task(one(body, n * self.batch_size)) for n, body in enumerate(bodies)
        ]
        try:
            open_requests = len(tasks)
            while open_requests:
                got = await results.get()
                if got is None:
                    open_requests -= 1
                elif isinstance(got, BaseException):
                    raise got
                else:
                    yield got
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def verifiers(self) -> list[dict[str, Any]]:
        """The server's verifiers: name, version, description and params schema."""
        response = await self._request("GET", "/verifiers", None, self._attempts(None))
        verifiers: list[dict[str, Any]] = response.json()["verifiers"]
        return verifiers

    async def post(
        self, path: str, body: Any, *, deadline_s: float | None = None
    ) -> httpx.Response:
        """POST ``body`` as JSON to ``path`` with this client's retries; the final 2xx answer."""
        return await self._request("POST", path, body, self._attempts(deadline_s))

    async def _request(
        self, method: str, path: str, body: Any, attempts: Attempts
    ) -> httpx.Response:
        while True:
            try:
                response = await self._http.request(
                    method, path, json=body, timeout=attempts.timeout()
                )
            except httpx.TransportError as exc:
                wait = attempts.failed(exc)
            else:
                retry = attempts.check(response)
                if retry is None:
                    return response
                wait = retry
            await asyncio.sleep(wait)


class RefereeClient(_Base):
    """The blocking twin of ``AsyncRefereeClient``: same options, same ``score``.

    Concurrent requests of a split batch run on a small thread pool.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(url, **options)
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        self._http = httpx.Client(
            base_url=self.url, headers=self.headers, limits=limits, transport=transport
        )
        self._threads: ThreadPoolExecutor | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def score(
        self, items: Sequence[ItemLike], verifier: Any = None, *, deadline_s: float | None = None
    ) -> list[Result]:
        """Judge ``items``; results come back in the same order."""
        bodies = self._bodies(items, verifier)
        deadline = self._deadline(deadline_s)

        def one(body: dict[str, Any]) -> list[Result]:
            attempts = Attempts(self.policy, deadline, self.timeout_s)
            response = self._request("POST", "/score", body, attempts)
            return _results(response, len(body["items"]))

        if len(bodies) <= 1:
            return one(bodies[0]) if bodies else []
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="referee")
        futures = [self._threads.submit(one, body) for body in bodies]
        try:
            return [result for future in futures for result in future.result()]
        finally:
            for future in futures:
                future.cancel()

    def verifiers(self) -> list[dict[str, Any]]:
        """The server's verifiers: name, version, description and params schema."""
        response = self._request("GET", "/verifiers", None, self._attempts(None))
        verifiers: list[dict[str, Any]] = response.json()["verifiers"]
        return verifiers

    def post(self, path: str, body: Any, *, deadline_s: float | None = None) -> httpx.Response:
        """POST ``body`` as JSON to ``path`` with this client's retries; the final 2xx answer."""
        return self._request("POST", path, body, self._attempts(deadline_s))

    def _request(self, method: str, path: str, body: Any, attempts: Attempts) -> httpx.Response:
        while True:
            try:
                response = self._http.request(method, path, json=body, timeout=attempts.timeout())
            except httpx.TransportError as exc:
                wait = attempts.failed(exc)
            else:
                retry = attempts.check(response)
                if retry is None:
                    return response
                wait = retry
            time.sleep(wait)
