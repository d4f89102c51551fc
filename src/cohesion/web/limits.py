"""The application's ASGI middlewares: body limits, HEAD requests, the shared warehouse.

One middleware guards every upload of the application: a general limit, and lower ones
for some paths (the QPV geo-referencing of a CSV) with a hint of what to do instead.
The declared ``Content-Length`` is checked before anything is read; a body sent without
one (chunked) is counted as it arrives and cut at the limit. Either way the answer is
the same 413, in the API's one error shape.

:class:`HeadAsGet` answers ``HEAD`` on every ``GET`` route (uptime monitors and
``curl -I`` use it); :class:`AdmitRequests` marks the requests under way for the shared
warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse


class BodyTooLarge(Exception):
    """Raised inside a request whose body passed its limit (answered with 413)."""


def megabytes(size: int) -> str:
    """A size in MB, French style (``1 024``)."""
    return f"{size / 2**20:,.0f}".replace(",", "\u202f")


@dataclass
class BodyLimits:
    """The general limit and the limits of some paths, in bytes.

    Parts of the application register their paths with :meth:`set` when they are
    installed; the middleware reads them at each request.
    """

    default: int
    paths: dict[str, tuple[int, str]] = field(default_factory=dict)

    def set(self, path: str, limit: int, hint: str = "") -> None:
        """Limit the bodies sent to ``path``; ``hint`` ends the 413 message."""
        self.paths[path] = (limit, hint)

    def of(self, path: str) -> tuple[int, str]:
        """The limit of ``path`` and its hint."""
        return self.paths.get(path, (self.default, ""))

    def answer(self, path: str, declared: int | None = None) -> JSONResponse:
        """The 413 answer for a body sent to ``path`` that is too large."""
        limit, hint = self.of(path)
        sent = f" ({megabytes(declared)} Mo annoncés)" if declared else ""
        return JSONResponse(
            {"error": f"envoi trop volumineux{sent} : {megabytes(limit)} Mo au plus"
                      + (f" ; {hint}" if hint else ""), "status": 413},
            status_code=413, headers={"Connection": "close"})


class BodySizeLimit:
    """ASGI middleware applying :class:`BodyLimits` to POST and PUT requests."""

    def __init__(self, app: Any, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in {"POST", "PUT"}:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit, _ = self.limits.of(path)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self.limits.answer(path, int(declared))(scope, receive, send)
            return
        received = 0
        cut = False
        started = False

        async def counting_receive() -> dict:
            nonlocal received, cut
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                cut = True
                raise BodyTooLarge
            return message

        async def unless_cut(message: dict) -> None:
            # after the cut, the application's own answer (FastAPI answers a body it could
            # not read with a 400 in English) gives way to the 413
            nonlocal started
            if cut and not started:
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, unless_cut)
        except Exception:
            # a handler may wrap our exception (the form parser does): still a 413
            if not cut or started:
                raise
        if cut and not started:
            await self.limits.answer(path)(scope, receive, send)


class HeadAsGet:
    """ASGI middleware answering ``HEAD`` as ``GET`` would, without the body.

    The headers (``Content-Length``, ``Content-Type``, ``Content-Encoding``…) are those
    of the ``GET`` answer; a path without a ``GET`` route answers 405 or 404, as ``GET``
    does.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: dict) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class AdmitRequests:
    """ASGI middleware marking each HTTP request as under way for the shared warehouse.

    A release of the warehouse (:meth:`cohesion.store.sharing.SharedWarehouse.released`)
    waits for the requests admitted before it; requests that arrive during it are
    answered from the caches, or « busy ».
    """

    def __init__(self, app: Any, shared: Any) -> None:
        self.app = app
        self.shared = shared

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.shared.admit():
            await self.app(scope, receive, send)
