"""Admission control on HTTP: the edge's :class:`~referee.service.edge.Admission` as ASGI.

A scoring request (any POST) is admitted while the queued work is under
``max_queued_items``: tasks dispatched and not yet judged by this server's pool,
or, scaled out, the entries of the shared Redis task stream. Over it the answer is
429 with a ``Retry-After`` from the observed drain rate. Scaled out, a replica
that cannot reach Redis, or sees no worker, answers 503 (retryable) at once.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from referee.service.auth import send_refusal
from referee.service.edge import Admission

__all__ = ["AdmissionMiddleware"]


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        engine = getattr(scope["app"].state, "engine", None)
        if engine is None:
            await self.app(scope, receive, send)
            return
        refusal = self.admission.check(engine.pool)
        if refusal is not None:
            await send_refusal(send, refusal)
            return
        await self.app(scope, receive, send)
