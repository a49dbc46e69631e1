"""gRPC clients of ``referee.v1.Referee``: ``AsyncGrpcRefereeClient`` and ``GrpcRefereeClient``.

Needs only grpcio and protobuf at import time (plus the generated modules that
ship with Referee). Same items, results, exceptions, keys and retry policy as
the HTTP clients: UNAVAILABLE, and RESOURCE_EXHAUSTED carrying
``retry-after-ms``, are retried with backoff; other refusals raise
``RequestRejected`` with the HTTP status they stand for (INVALID_ARGUMENT 422,
UNAUTHENTICATED 401, RESOURCE_EXHAUSTED without a delay 413).

``stream`` sends groups of items (one ``ScoreRequest`` each, ``request_id`` =
the group's number) as the caller produces them and yields each result as soon
as it is judged. A stream is retried only when the server refused it before
reading anything (it answers with its headers once it admits a stream).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import grpc

from referee.clients._exceptions import (
    DeadlineExceeded,
    RefereeError,
    RequestRejected,
)
from referee.clients._options import ClientOptions
from referee.clients._retry import Attempts
from referee.clients._types import Item, Result, item_to_wire
from referee.service.grpc import convert
from referee.service.grpc.v1 import referee_pb2 as pb
from referee.service.grpc.v1 import referee_pb2_grpc as pb_grpc

__all__ = ["DEFAULT_TARGET", "AsyncGrpcRefereeClient", "GrpcRefereeClient", "StreamedResult"]

DEFAULT_TARGET = "127.0.0.1:50051"

ItemLike = Item | Mapping[str, Any]

_AS_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNIMPLEMENTED: 501,
}
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


@dataclass(frozen=True, slots=True)
class StreamedResult:
    """One result of ``stream``: item ``index`` of group number ``group``."""

    group: int
    index: int
    result: Result


def _request(items: Sequence[ItemLike], verifier: Any, request_id: str) -> pb.ScoreRequest:
    request = pb.ScoreRequest(
        request_id=request_id, items=[convert.item_to_proto(item_to_wire(it)) for it in items]
    )
    if verifier is not None:
        request.verifier.CopyFrom(convert.to_value(verifier))
    return request


def _result(message: pb.Result) -> Result:
    return Result.from_wire(convert.result_from_proto(message))


class _Retry(Attempts):
    """Retry state of one call: the HTTP clients' ``Attempts``, read from gRPC status codes."""

    def wait(self, code: grpc.StatusCode, details: str, trailing: Iterable[Any]) -> float:
        """Seconds to wait before retrying a call that failed with ``code``; else raise."""
        retry_after_ms = next((v for k, v in trailing if k == "retry-after-ms"), None)
        self.last = f"{code.name}: {details}"
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise DeadlineExceeded(self.last)
        retryable = code == grpc.StatusCode.UNAVAILABLE or (
            code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry_after_ms is not None
        )
        if not retryable:
            if code in _AS_HTTP:
                raise RequestRejected(_AS_HTTP[code], details)
            raise RefereeError(self.last)
        return self._next(None if retry_after_ms is None else float(retry_after_ms) / 1000)


class _Base(ClientOptions):
    def __init__(
        self,
        target: str | None = None,
        *,
        batch_size: int = 256,
        credentials: grpc.ChannelCredentials | None = None,
        **options: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, **options)
        self.target = target or os.environ.get("REFEREE_GRPC_TARGET") or DEFAULT_TARGET
        self.credentials = credentials
        self.metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {self.api_key}"),) if self.api_key else ()
        )

    def _retry(self, deadline_s: float | None) -> _Retry:
        return _Retry(self.policy, self._deadline(deadline_s), self.timeout_s)

    def _batches(self, items: Sequence[ItemLike]) -> list[Sequence[ItemLike]]:
        return [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]


class AsyncGrpcRefereeClient(_Base):
    """Scores items over gRPC from asyncio code. Use as ``async with`` or call ``aclose()``.

    ``target`` defaults to ``$REFEREE_GRPC_TARGET`` (else 127.0.0.1:50051) and
    ``api_key`` to ``$REFEREE_API_KEY``; ``credentials`` makes the channel secure.
    """

    def __init__(self, target: str | None = None, **options: Any) -> None:
        super().__init__(target, **options)
        if self.credentials is not None:
            self._channel = grpc.aio.secure_channel(
                self.target, self.credentials, options=_CHANNEL_OPTIONS
            )
        else:
            self._channel = grpc.aio.insecure_channel(self.target, options=_CHANNEL_OPTIONS)
        self._stub = pb_grpc.RefereeStub(self._channel)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._channel.close(None)

    async def score(
        self, items: Sequence[ItemLike], verifier: Any = None, *, deadline_s: float | None = None
    ) -> list[Result]:
        """Judge ``items`` (unary ``Score`` calls of ``batch_size``); same order as ``items``."""
        semaphore = asyncio.Semaphore(self.concurrency)
        retry = self._retry(deadline_s)

        async def one(batch: Sequence[ItemLike]) -> list[Result]:
            request = _request(batch, verifier, "")
            async with semaphore:
                while True:
                    try:
                        response = await self._stub.Score(
                            request, metadata=self.metadata, timeout=retry.timeout()
                        )
                    except grpc.aio.AioRpcError as exc:
                        wait = retry.wait(
                            exc.code(), exc.details() or "", exc.trailing_metadata() or ()
                        )
                        await asyncio.sleep(wait)
                        continue
                    return [_result(r) for r in response.results]

        batches = self._batches(items)
        if len(batches) <= 1:
            return await one(batches[0]) if batches else []
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(b)) for b in batches]
        return [r for task in tasks for r in task.result()]

    async def stream(
        self,
        groups: AsyncIterable[Sequence[ItemLike]] | Iterable[Sequence[ItemLike]],
        verifier: Any = None,
        *,
        deadline_s: float | None = None,
    ) -> AsyncIterator[StreamedResult]:
        """Send each group as it comes (one ``ScoreRequest``); yield results as judged."""
        retry = self._retry(deadline_s)
        while True:
            call = self._stub.ScoreStream(  # type: ignore[call-arg]
                metadata=self.metadata, timeout=retry.timeout()
            )
            await call.initial_metadata()  # the server admitted the stream, or refused it
            if call.done():
                code = await call.code()
                if code != grpc.StatusCode.OK:
                    details = await call.details()
                    await asyncio.sleep(
                        retry.wait(code, details or "", await call.trailing_metadata() or ())
                    )
                    continue
            break
        writer = asyncio.create_task(self._write(call, groups, verifier))
        try:
            while True:
                try:
                    message = await call.read()
                except grpc.aio.AioRpcError as exc:
                    retry.attempt = retry.policy.retries  # a broken stream is not retried
                    retry.wait(exc.code(), exc.details() or "", exc.trailing_metadata() or ())
                    raise RefereeError(f"{exc.code().name}: {exc.details()}") from exc
                if message is grpc.aio.EOF:  # type: ignore[attr-defined]
                    break
                assert isinstance(message, pb.StreamedResult)
                yield StreamedResult(
                    int(message.request_id), message.index, _result(message.result)
                )
            await writer
        finally:
            if not writer.done():
                writer.cancel()
            call.cancel()

    @staticmethod
    async def _write(
        call: Any,
        groups: AsyncIterable[Sequence[ItemLike]] | Iterable[Sequence[ItemLike]],
        verifier: Any,
    ) -> None:
        n = 0
        if isinstance(groups, AsyncIterable):
            async for group in groups:
                await call.write(_request(group, verifier, str(n)))
                n += 1
        else:
            for group in groups:
                await call.write(_request(group, verifier, str(n)))
                n += 1
        await call.done_writing()


class GrpcRefereeClient(_Base):
    """The blocking twin of ``AsyncGrpcRefereeClient``: same options, ``score`` and ``stream``."""

    def __init__(self, target: str | None = None, **options: Any) -> None:
        super().__init__(target, **options)
        if self.credentials is not None:
            self._channel = grpc.secure_channel(
                self.target, self.credentials, options=_CHANNEL_OPTIONS
            )
        else:
            self._channel = grpc.insecure_channel(self.target, options=_CHANNEL_OPTIONS)
        self._stub = pb_grpc.RefereeStub(self._channel)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def score(
        self, items: Sequence[ItemLike], verifier: Any = None, *, deadline_s: float | None = None
    ) -> list[Result]:
        """Judge ``items`` (unary ``Score`` calls of ``batch_size``, one at a time)."""
        retry = self._retry(deadline_s)
        out: list[Result] = []
        for batch in self._batches(items):
            request = _request(batch, verifier, "")
            while True:
                try:
                    response = self._stub.Score(
                        request, metadata=self.metadata, timeout=retry.timeout()
                    )
                except grpc.RpcError as exc:
                    call: Any = exc
                    time.sleep(
                        retry.wait(
                            call.code(), call.details() or "", call.trailing_metadata() or ()
                        )
                    )
                    continue
                out.extend(_result(r) for r in response.results)
                break
        return out

    def stream(
        self,
        groups: Iterable[Sequence[ItemLike]],
        verifier: Any = None,
        *,
        deadline_s: float | None = None,
    ) -> Iterator[StreamedResult]:
        """Send each group as it comes (one ``ScoreRequest``); yield results as judged."""
        retry = self._retry(deadline_s)
        while True:
            admitted = threading.Event()
            go = [False]

            def requests(admitted: threading.Event = admitted, go: list[bool] = go) -> Any:
                admitted.wait()
                if go[0]:
                    for n, group in enumerate(groups):
                        yield _request(group, verifier, str(n))

            call: Any = self._stub.ScoreStream(
                requests(), metadata=self.metadata, timeout=retry.timeout()
            )
            call.initial_metadata()
            if call.done() and call.code() != grpc.StatusCode.OK:
                admitted.set()
                time.sleep(
                    retry.wait(call.code(), call.details() or "", call.trailing_metadata() or ())
                )
                continue
            go[0] = True
            admitted.set()
            break
        try:
            for message in call:
                yield StreamedResult(
                    int(message.request_id), message.index, _result(message.result)
                )
        except grpc.RpcError as exc:
            failed: Any = exc
            retry.attempt = retry.policy.retries  # a broken stream is not retried
            retry.wait(failed.code(), failed.details() or "", failed.trailing_metadata() or ())
            raise RefereeError(f"{failed.code().name}: {failed.details()}") from exc
        finally:
            call.cancel()
