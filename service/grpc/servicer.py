"""``referee.v1.Referee``: Score, ScoreStream and ListVerifiers on the shared engine.

Requests are checked by the request edge (``edge.py``) with the same limits and
rules as ``POST /score`` (``messages.py`` reads the message straight into the
engine's inputs), admission and per-key limits are the edge's objects the HTTP app
also uses, and results are built from the same wire dicts, so both transports
answer alike. Refusals map to statuses as ``status.py`` says.

ScoreStream reads requests as they come and judges each at once; results go out
in completion order. A stream holds at most ``stream_max_in_flight`` items read
and not yet sent back (a request larger than that is let in alone): when the
bound is reached it stops reading, so a client that sends without reading
results is held back by HTTP/2 flow control instead of filling the server's
memory. When the call ends (client cancel, disconnect, deadline, error), its
queued work is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

import grpc

from referee.service import config
from referee.service.edge import (
    Admission,
    BadRequest,
    EdgeLimits,
    Refused,
    check_costly,
    verifier_infos,
)
from referee.service.engine import Engine, ItemInput
from referee.service.grpc import convert
from referee.service.grpc.messages import result_message, score_inputs
from referee.service.grpc.metrics import GrpcMetrics
from referee.service.grpc.status import Status, abort, status_of
from referee.service.grpc.v1 import referee_pb2 as pb
from referee.service.grpc.v1 import referee_pb2_grpc as pb_grpc
from referee.service.settings import Settings

__all__ = ["RETRY_AFTER_MS", "RefereeServicer"]

log = logging.getLogger("referee.grpc")

RETRY_AFTER_MS = 1000  # suggested wait when the server refuses a stream for capacity

Context = grpc.aio.ServicerContext[Any, Any]


class _Refused(Exception):
    def __init__(self, status: Status) -> None:
        super().__init__(status.message)
        self.status = status


def _field(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """A BadRequest location as a field path: ``items[3].reference``."""
    out = ""
    for part in loc:
        if part == "body":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "request"


def parse(request: pb.ScoreRequest, limits: EdgeLimits) -> tuple[list[ItemInput], Any]:
    """The engine's inputs for ``request``; raises _Refused as POST /score answers 4xx."""
    try:
        return score_inputs(request, limits)
    except Refused as exc:
        raise _Refused(status_of(exc.refusal)) from None


def _bad_request(exc: BadRequest) -> _Refused:
    return _Refused(Status(grpc.StatusCode.INVALID_ARGUMENT, f"{_field(exc.loc)}: {exc.message}"))


class RefereeServicer(pb_grpc.RefereeServicer):
    """The gRPC face of one engine; created in the app's lifespan."""

    def __init__(
        self, engine: Engine, settings: Settings, registry: Any, admission: Admission
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.limits = config.edge_limits(settings)
        self.admission = admission
        self._streams: set[_Stream] = set()
        self.metrics = GrpcMetrics(registry, lambda: [s.in_flight for s in self._streams])

    @contextlib.contextmanager
    def _observe(self, method: str, context: Context) -> Iterator[None]:
        start = time.perf_counter()
        code = "OK"
        try:
            yield
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        except BaseException:
            got = context.code()
            code = got.name if isinstance(got, grpc.StatusCode) else "UNKNOWN"
            raise
        finally:
            self.metrics.rpc_seconds.labels(method, code).observe(time.perf_counter() - start)

    async def _admit(self, context: Context) -> None:
        """Refuse a scoring call the server cannot take now: the edge's admission (queue
        bound; scaled out, Redis and its workers), then this server's readiness."""
        refusal = self.admission.check(self.engine.pool)
        if refusal is not None:
            await abort(context, status_of(refusal))
        if not self.engine.ready:
            await abort(
                context,
                Status(grpc.StatusCode.UNAVAILABLE, "no worker process is running", RETRY_AFTER_MS),
            )

    async def Score(self, request: pb.ScoreRequest, context: Context) -> pb.ScoreResponse:
        with self._observe("Score", context):
            await self._admit(context)
            try:
                items, verifier = parse(request, self.limits)
                await check_costly(items, verifier, self.limits)
                results = await self.engine.score(items, verifier)
            except _Refused as exc:
                await abort(context, exc.status)
            except BadRequest as exc:
                await abort(context, _bad_request(exc).status)
            return pb.ScoreResponse(results=[result_message(r) for r in results])

    async def ListVerifiers(
        self, request: pb.ListVerifiersRequest, context: Context
    ) -> pb.ListVerifiersResponse:
        with self._observe("ListVerifiers", context):
            return pb.ListVerifiersResponse(
                verifiers=[
                    pb.VerifierInfo(
                        name=info["name"],
                        version=info["version"],
                        params_schema=convert.to_struct(info["params_schema"]),
                    )
                    for info in verifier_infos()
                ]
            )

    async def ScoreStream(
        self, request_iterator: AsyncIterator[pb.ScoreRequest], context: Context
    ) -> AsyncIterator[pb.StreamedResult]:
        with self._observe("ScoreStream", context):
            await self._admit(context)
            if len(self._streams) >= self.settings.grpc_max_streams:
                await abort(
                    context,
                    Status(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"{len(self._streams)} streams are open, the most allowed "
                        f"(grpc_max_streams, setting REFEREE_GRPC_MAX_STREAMS); retry later",
                        RETRY_AFTER_MS,
                    ),
                )
            stream = _Stream(self.engine, self.settings, self.limits)
            self._streams.add(stream)
            try:
                # Admitted: a client may wait for this before it sends anything, so that
                # a refused stream can be retried without losing requests.
                await context.send_initial_metadata(())
                async with contextlib.aclosing(stream.run(request_iterator)) as messages:
                    async for message in messages:
                        if isinstance(message, Status):
                            await abort(context, message)
                        yield message
                        stream.sent()
            finally:
                self._streams.discard(stream)


class _Stream:
    """One ScoreStream call: a reader task, a task per request, one writer (the call)."""

    def __init__(self, engine: Engine, settings: Settings, limits: EdgeLimits) -> None:
        self.engine = engine
        self.limits = limits
        self.bound = settings.stream_max_in_flight
        self.in_flight = 0
        self._waiting: asyncio.Event | None = None  # set when a result went out
        self._out: asyncio.Queue[pb.StreamedResult | Status | None] = asyncio.Queue()
        self._judging: set[asyncio.Task[None]] = set()

    async def run(
        self, requests: AsyncIterator[pb.ScoreRequest]
    ) -> AsyncGenerator[pb.StreamedResult | Status, None]:
        """Results in completion order, then the refusal that ends the call, if any."""
        reader = asyncio.create_task(self._read(requests))
        try:
            while True:
                message = await self._out.get()
                if message is None:
                    return
                yield message
                if isinstance(message, Status):
                    return
        finally:
            reader.cancel()
            for task in list(self._judging):
                task.cancel()
            await asyncio.gather(reader, *self._judging, return_exceptions=True)
            self.in_flight = 0

    def sent(self) -> None:
        """One result went out: make room for more requests."""
        self.in_flight -= 1
        if self._waiting:
            self._waiting.set()

    async def _read(self, requests: AsyncIterator[pb.ScoreRequest]) -> None:
        try:
            async for request in requests:
                items, verifier = parse(request, self.limits)
                try:
                    await check_costly(items, verifier, self.limits)
                except BadRequest as exc:
                    raise _bad_request(exc) from None
                n = len(items)
                while self.in_flight and self.in_flight + n > self.bound:
                    self._waiting = asyncio.Event()
                    await self._waiting.wait()
                self._waiting = None
                self.in_flight += n
                task = asyncio.create_task(self._judge(request.request_id, items, verifier))
                self._judging.add(task)
                task.add_done_callback(self._judging.discard)
            while self._judging:
                await asyncio.gather(*self._judging, return_exceptions=True)
            self._out.put_nowait(None)
        except _Refused as exc:
            self._out.put_nowait(exc.status)
        except Exception as exc:  # the call broke while reading (the client went away)
            log.debug("stream read ended: %r", exc)
            self._out.put_nowait(Status(grpc.StatusCode.CANCELLED, "the stream broke"))

    async def _judge(self, request_id: str, items: list[ItemInput], verifier: Any) -> None:
        try:
            async with contextlib.aclosing(self.engine.score_stream(items, verifier)) as results:
                async for index, result in results:
                    self._out.put_nowait(
                        pb.StreamedResult(
                            request_id=request_id,
                            index=index,
                            result=result_message(result),
                        )
                    )
        except BadRequest as exc:
            self._out.put_nowait(_bad_request(exc).status)
        except Exception:
            log.exception("a streamed request failed")
            self._out.put_nowait(Status(grpc.StatusCode.INTERNAL, "internal error"))
