"""Security headers on every answer: what a browser may load, frame and send.

:func:`install_security_headers` wraps the whole application in
:class:`SecurityHeaders`, a pure ASGI middleware that adds the same few headers to the
start of every answer (pages, JSON, cached JSON, static files, errors, 500s included):

- ``Content-Security-Policy`` (:data:`CONTENT_SECURITY_POLICY`): scripts, styles, fonts,
  images, workers and requests from the application itself only. The pages carry no
  inline script (their data travels in ``<script type="application/json">`` blocks,
  which are not run) and no ``style`` attribute; the vendored libraries are served from
  ``/static/vendor/``. MapLibre GL 6 starts its worker from
  ``/static/vendor/maplibre/maplibre-gl-worker.mjs`` on the same origin (it builds a
  ``blob:`` worker only for a library served from another origin, so workers need no
  ``blob:``), and decodes its images through ``blob:`` addresses; the DSFR and MapLibre
  style sheets draw their icons from ``data:`` SVG. The map has no basemap: its
  contours are the application's own vector tiles (``/api/tiles/…``).
- ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` (older browsers): no page
  is shown inside another site's frame;
- ``X-Content-Type-Options: nosniff``: a file is only what its media type says;
- ``Referrer-Policy: strict-origin-when-cross-origin``: another site learns our origin,
  never a page's address (territory, search words).

The API documentation (``/api/docs``) is FastAPI's Swagger UI page, which loads its
script and styles from the jsDelivr CDN and starts with an inline script: it gets its
own policy (:func:`swagger_policy`), which allows that CDN and that one script by its
hash, nothing else inline.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html

#: What the pages may load: everything from the application itself, nothing inline.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "child-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
#: Where FastAPI's Swagger UI page takes its script, styles and icon.
SWAGGER_CDN = "https://cdn.jsdelivr.net"
SWAGGER_ICON = "https://fastapi.tiangolo.com"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

Headers = list[tuple[bytes, bytes]]


def security_headers(policy: str = CONTENT_SECURITY_POLICY) -> Headers:
    """The headers added to every answer, as ASGI sends them.

    Examples
    --------
    >>> dict(security_headers())[b"x-frame-options"]
    b'DENY'
    >>> b"frame-ancestors 'none'" in dict(security_headers())[b"content-security-policy"]
    True
    """
    return [(b"content-security-policy", policy.encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin")]


def swagger_policy(app: FastAPI) -> str:
    """The policy of ``app``'s Swagger UI page: its CDN, and its inline script by hash.

    The page is rebuilt here as FastAPI builds it (same address of the OpenAPI
    document, title and Swagger parameters), so that the hash is the one of the script
    it sends.
    """
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "", title=f"{app.title} - Swagger UI",
        oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters=app.swagger_ui_parameters).body.decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        + "'" for script in _INLINE_SCRIPT.findall(page))
    return CONTENT_SECURITY_POLICY.replace(
        "script-src 'self'", f"script-src 'self' {SWAGGER_CDN} {hashes}").replace(
        "style-src 'self'", f"style-src 'self' {SWAGGER_CDN}").replace(
        "img-src 'self' data: blob:", f"img-src 'self' data: blob: {SWAGGER_ICON}")


class SecurityHeaders:
    """ASGI middleware adding :func:`security_headers` to every HTTP answer.

    It only extends the headers of the ``http.response.start`` message (one list
    concatenation per answer), so that the cached-JSON fast paths stay fast.

    Parameters
    ----------
    app : ASGI application
    special : dict, optional
        Headers of some paths (exact match) instead of the default ones.
    """

    def __init__(self, app: Any, special: dict[str, Headers] | None = None) -> None:
        self.app = app
        self.headers = security_headers()
        self.special = special or {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.special.get(scope["path"], self.headers) if self.special \
            else self.headers

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                # a new list: a response object may send its own list more than once
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security_headers(app: FastAPI) -> None:
    """Wrap ``app``, error handling included, in :class:`SecurityHeaders`.

    ``app.add_middleware`` would put the middleware inside Starlette's
    ``ServerErrorMiddleware``, whose 500 answers would then go out without the headers:
    the middleware goes around the whole stack instead.
    """
    special = {app.docs_url: security_headers(swagger_policy(app))} \
        if app.docs_url and app.openapi_url else {}
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build_stack(), special)


def require_admin(request: Request,
                  authorization: Annotated[str | None, Header()] = None) -> None:
    """The administrator's token (``Authorization: Bearer …``): a FastAPI dependency.

    It guards what writes to the warehouse (uploads, accessibility computations). No
    token configured: 403, nothing can be written through the web; a wrong or missing
    token: 401. The comparison takes the same time whatever the token given.
    """
    token = request.app.state.settings.admin_token
    if not token:
        raise HTTPException(403, "les opérations d'administration sont désactivées : aucun "
                                 "jeton d'administration n'est configuré")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise HTTPException(401, "jeton d'administration manquant ou invalide")
