"""Who is asking, on the pages that people write through: session cookies, form tokens, rates.

The Carrefour des innovations sociales lets people sign in, submit projects, moderate
and review. Its pages and API share three guards, kept here so that every route uses
the same ones:

- **the session cookie** (:data:`SESSION_COOKIE`): an opaque random token that the
  relational store knows by its hash only; ``HttpOnly``, ``SameSite=Lax``, ``Secure``
  when the application is served over HTTPS (``COHESION_SECURE_COOKIES=1``);
- **the form token** (CSRF): every form carries ``csrf``, and every API write sent with
  the session cookie carries the header ``X-CSRF-Token``; its value is an HMAC, under
  the application's secret, of a random cookie of the browser (:data:`CSRF_COOKIE`,
  ``SameSite=Strict``) and of the session cookie (:class:`FormTokens`). Another site can
  make a browser send the cookies, but can neither read them nor compute the token: a
  forged or missing token is refused with 403
  (:class:`~cohesion.errors.PermissionDeniedError`) and changes nothing. Binding the
  token to the session too means that a token seen before signing in is worthless
  after, and that a browser cookie planted by someone else is not enough;
- **rates** (:class:`RateLimiter`): a sliding window per action and client address
  (sign-ins, account creations), in memory, on top of the store's own per-account
  lockout. Past the limit: 429 with ``Retry-After``.

:func:`install_sessions` puts them on an application (once, whoever calls it first):
the form tokens' secret, the rate limiters, the middleware that sends a new browser
cookie, and the answer to :class:`SignInRequired` (pages: to the sign-in page; API:
401). Routes then use the FastAPI dependencies :func:`current_account`,
:func:`require_account`, :func:`require_role` and :func:`check_csrf_header`, the
helpers :func:`read_form` (a form read and its token checked), :func:`page_context`
(what every page of the Carrefour shows: who is signed in, the form token, the notice)
and :func:`see_other` (post-redirect-get with a notice).

The secret of the form tokens is drawn at random when the application is built
(:func:`secrets.token_bytes`), unless ``app.state.form_secret`` holds one already: the
server is a single process (it holds the DuckDB warehouse), sessions live in the store
and survive a restart, and a restart only voids the forms open at that moment (the
page says to reload).

Examples
--------
>>> tokens = FormTokens(b"secret")
>>> token = tokens.issue("browser-cookie")
>>> tokens.check("browser-cookie", token)
>>> tokens.check("another-cookie", token)
Traceback (most recent call last):
...
cohesion.errors.PermissionDeniedError: jeton de formulaire invalide ou expiré : ...
>>> tokens.check("browser-cookie", token, session="signed-in-since")
Traceback (most recent call last):
...
cohesion.errors.PermissionDeniedError: jeton de formulaire invalide ou expiré : ...
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from cohesion.errors import (
    AuthenticationError,
    CohesionError,
    PermissionDeniedError,
    RateLimitedError,
)
from cohesion.innovations.accounts import ROLE_LABELS, Accounts, has_role
from cohesion.innovations.store import Account

SESSION_COOKIE = "cohesion_session"
CSRF_COOKIE = "cohesion_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
#: How long a session cookie lives in the browser (the store decides its validity).
SESSION_SECONDS = 14 * 24 * 3600
#: The sign-in page, where pages send who must sign in first.
SIGN_IN_PAGE = "/innovations/connexion"
#: Where to go when ``next`` is missing or not a local path.
HOME = "/innovations"
#: Sign-in attempts of one client address: ``(attempts, seconds)``. Each attempt costs an
#: argon2 check (tens of milliseconds and 64 MiB): this bounds what one address can ask,
#: above the store's lockout of an account after ten wrong passwords (whose message,
#: which names the account's lock, comes first).
SIGN_IN_RATE = (20, 300)
#: Account creations of one client address: ``(attempts, seconds)`` (a training session
#: in a town hall creates a few accounts from one address, a robot creates hundreds).
SIGN_UP_RATE = (10, 600)
#: The limited actions, in words.
RATE_LABELS = {"connexion": "de connexion", "inscription": "de création de compte"}
#: Largest form body read (a 10,000-character description percent-encoded fits).
MAX_FORM_BYTES = 256 * 1024
#: Most fields of a form (the project form has about 60 checkboxes).
MAX_FORM_FIELDS = 300
#: Notices shown after a redirect (``?message=…``): fixed texts, so that an address
#: cannot make a page say something of its own.
NOTICES = {
    "compte-cree": "Votre compte est créé et vous êtes connecté.",
    "connecte": "Vous êtes connecté.",
    "deconnecte": "Vous êtes déconnecté.",
    "contribution": "Votre proposition est en attente de modération.",
    "proposition": "Votre proposition de modification est en attente de modération.",
    "signalement": "Merci : votre signalement est transmis aux modérateurs.",
    "publiee": "La contribution est publiée.",
    "refusee": "La contribution est refusée ; son auteur lit le motif dans « Mes "
               "contributions ».",
    "proposition-acceptee": "La proposition est appliquée à la fiche.",
    "proposition-refusee": "La proposition est refusée.",
    "retablie": "La fiche est de nouveau publiée ; ses signalements sont clos.",
    "retiree": "La fiche est retirée ; ses signalements sont clos.",
    "decision": "Votre décision est enregistrée : elle l'emporte sur le modèle.",
}

_BROWSER_COOKIE = re.compile(r"[A-Za-z0-9_-]{43}")
_FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class FormTokens:
    """Form tokens bound to a browser's :data:`CSRF_COOKIE` and session, by an HMAC."""

    secret: bytes

    def issue(self, browser: str, session: str = "") -> str:
        """The token of the browser whose CSRF cookie is ``browser``, signed in as ``session``.

        ``session`` is the value of the session cookie (empty when signed out).
        """
        message = f"{browser}\n{session}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def check(self, browser: str | None, token: str | None, session: str = "") -> None:
        """Refuse a missing or forged token (compared in constant time).

        Raises
        ------
        PermissionDeniedError
        """
        expected = self.issue(browser, session) if browser else ""
        if not (browser and token and hmac.compare_digest(expected, str(token))):
            raise PermissionDeniedError("jeton de formulaire invalide ou expiré : recharger "
                                        "la page et recommencer")


def _browser_of(request: Request) -> str | None:
    """The browser's CSRF cookie, when it has the form of one we issue."""
    current = request.cookies.get(CSRF_COOKIE, "")
    return current if _BROWSER_COOKIE.fullmatch(current) else None


def browser_cookie(request: Request) -> str:
    """The browser's CSRF cookie, or a new random one (sent by :func:`set_cookies`)."""
    current = _browser_of(request)
    if current:
        return current
    state = request.state
    if not getattr(state, "new_browser_cookie", None):
        state.new_browser_cookie = secrets.token_urlsafe(32)
    return state.new_browser_cookie


def set_cookies(request: Request, response: Response, secure: bool) -> None:
    """Send the browser cookie chosen while answering, if it is new.

    :class:`BrowserCookie` does it for every answer of an application with
    :func:`install_sessions`; this is for an answer built outside of one.
    """
    new = getattr(request.state, "new_browser_cookie", None)
    if new and not getattr(request.state, "browser_cookie_sent", False):
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict",
                            secure=secure, path="/")
        request.state.browser_cookie_sent = True


def set_session(response: Response, token: str, secure: bool) -> None:
    """Send the session cookie of a new session."""
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, httponly=True,
                        samesite="lax", secure=secure, path="/")


def clear_session(response: Response, secure: bool = False) -> None:
    """Remove the session cookie (sign-out)."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=secure)


def client_address(request: Request) -> str:
    """The client's address as the server sees it (no proxy header is trusted)."""
    return request.client.host if request.client else "inconnu"


@dataclass
class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key, in memory.

    Examples
    --------
    >>> limiter = RateLimiter(limit=2, window=60)
    >>> limiter.hit("connexion", "127.0.0.1", now=0.0)
    >>> limiter.hit("connexion", "127.0.0.1", now=1.0)
    >>> limiter.hit("connexion", "127.0.0.1", now=2.0)
    Traceback (most recent call last):
    ...
    cohesion.errors.RateLimitedError: trop de tentatives (connexion) : réessayer dans 58 s
    >>> limiter.hit("connexion", "127.0.0.1", now=61.0)
    """

    limit: int
    window: float
    _events: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, action: str, who: str, now: float | None = None) -> None:
        """Count one event of ``who`` for ``action``; refuse it past the limit.

        Raises
        ------
        RateLimitedError
            With the seconds to wait.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            events = self._events.setdefault((action, who), deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                wait = max(int(events[0] + self.window - now), 1)
                raise RateLimitedError(f"trop de tentatives ({action}) : réessayer dans "
                                       f"{wait} s", retry_after=wait)
            events.append(now)
            if len(self._events) > 100_000:  # bounded memory under address spraying
                self._events = {key: queue for key, queue in self._events.items()
                                if queue and queue[-1] > now - self.window}

    def reset(self) -> None:
        """Forget every event (tests, or an operator lifting a block)."""
        with self._lock:
            self._events.clear()


# -- who is signed in -----------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """The signed-in account as pages show it (``user`` in the templates)."""

    account: Account

    @property
    def id(self) -> int:
        """The account's number."""
        return self.account.id

    @property
    def display_name(self) -> str:
        """The name shown in the menu."""
        return self.account.display_name

    @property
    def role_label(self) -> str:
        """The role in words."""
        return ROLE_LABELS[self.account.role]

    @property
    def can_moderate(self) -> bool:
        """Whether the moderation, review and audit pages are open to the account."""
        return has_role(self.account, "moderateur")


class SignInRequired(AuthenticationError):
    """A page or an API route that needs a signed-in account, asked without one.

    Pages answer it with a redirect to the sign-in page (coming back afterwards), the
    API with 401.
    """

    def __init__(self, message: str = "connexion nécessaire : connectez-vous au Carrefour "
                                      "des innovations sociales") -> None:
        super().__init__(message)


def accounts_of(request: Request) -> Accounts:
    """The Carrefour's accounts service (opened at the first request that needs it)."""
    return request.app.state.observatory.innovations.accounts


def current_account(request: Request) -> Account | None:
    """The account signed in with the request's session cookie, or None (a dependency).

    Read once per request: the store is asked at the first call only.
    """
    state = request.state
    if not hasattr(state, "carrefour_account"):
        token = request.cookies.get(SESSION_COOKIE)
        state.carrefour_account = accounts_of(request).session_account(token) \
            if token else None
    return state.carrefour_account


def require_account(request: Request) -> Account:
    """The signed-in account (a dependency).

    Raises
    ------
    SignInRequired
        Without a live session.
    """
    account = current_account(request)
    if account is None:
        raise SignInRequired
    return account


def check_role(account: Account, role: str) -> Account:
    """``account`` if its role gives the rights of ``role``.

    The services check the role again in their transaction; checking it here first
    refuses a page before anything is read, with the same words.

    Raises
    ------
    PermissionDeniedError
    """
    if not has_role(account, role):
        raise PermissionDeniedError(f"réservé aux comptes {ROLE_LABELS[role]} "
                                    f"(votre rôle : {ROLE_LABELS[account.role]})")
    return account


def require_role(role: str) -> Callable[[Request], Account]:
    """A dependency giving the signed-in account if its role gives the rights of ``role``."""
    def dependency(request: Request) -> Account:
        return check_role(require_account(request), role)

    return dependency


# -- form tokens ----------------------------------------------------------------------


def form_tokens(request: Request) -> FormTokens:
    """The application's form tokens (:func:`install_sessions`)."""
    return request.app.state.form_tokens


def form_token(request: Request, session: str | None = None) -> str:
    """The form token of this browser, for the session of the request (or ``session``)."""
    signed_in = request.cookies.get(SESSION_COOKIE, "") if session is None else session
    return form_tokens(request).issue(browser_cookie(request), signed_in)


def check_token(request: Request, token: str | None) -> None:
    """Refuse a request whose form token is not the one of its cookies.

    Raises
    ------
    PermissionDeniedError
    """
    form_tokens(request).check(_browser_of(request), token,
                               request.cookies.get(SESSION_COOKIE, ""))


def check_csrf_header(request: Request) -> None:
    """Refuse an API write without the right ``X-CSRF-Token`` header (a dependency)."""
    check_token(request, request.headers.get(CSRF_HEADER))


async def read_form(request: Request) -> FormData:
    """The form of a POST, its token (field ``csrf``) checked.

    The body is read up to :data:`MAX_FORM_BYTES` (the application's general limit is
    made for uploads); only ``application/x-www-form-urlencoded`` is read, which is what
    the pages' forms send.

    Raises
    ------
    HTTPException
        A body of another type (415) or too large (413).
    CohesionError
        Too many fields.
    PermissionDeniedError
        A missing or forged token: nothing is done.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != _FORM_TYPE:
        raise HTTPException(415, f"formulaire attendu ({_FORM_TYPE}), reçu « "
                                 f"{kind[:60] or 'rien'} »")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, f"formulaire trop volumineux : {MAX_FORM_BYTES // 1024} "
                                     "Ko au plus")
    try:
        fields = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True,
                           max_num_fields=MAX_FORM_FIELDS, errors="replace")
    except ValueError:
        raise CohesionError(f"formulaire trop long : {MAX_FORM_FIELDS} champs au "
                            "plus") from None
    form = FormData(fields)
    check_token(request, form.get(CSRF_FIELD))
    return form


# -- rates ------------------------------------------------------------------------------


def limit_rate(request: Request, action: str) -> None:
    """Count one ``action`` (``connexion``, ``inscription``) of the client's address.

    Raises
    ------
    RateLimitedError
        Past the limit of the action, with the seconds to wait.
    """
    try:
        request.app.state.rate_limits[action].hit(action, client_address(request))
    except RateLimitedError as error:
        raise RateLimitedError(
            f"trop de tentatives {RATE_LABELS.get(action, action)} depuis votre adresse : "
            f"réessayez dans {error.retry_after} s", retry_after=error.retry_after) from None


# -- pages --------------------------------------------------------------------------------


def safe_next(value: str | None, default: str = HOME) -> str:
    r"""``value`` if it is a path of this site, else ``default`` (no open redirect).

    Examples
    --------
    >>> safe_next("/innovations/contribuer?x=1")
    '/innovations/contribuer?x=1'
    >>> [safe_next(v) for v in ("https://ailleurs.example", "//ailleurs.example",
    ...                         "/\\ailleurs.example", "javascript:alert(1)", None)]
    ['/innovations', '/innovations', '/innovations', '/innovations', '/innovations']
    """
    text = (value or "").strip()
    if not text.startswith("/") or text.startswith(("//", "/\\")) or len(text) > 500 \
            or any(character in text for character in "\\\r\n\t\x00"):
        return default
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        return default
    return text


def with_notice(path: str, notice: str | None) -> str:
    """``path`` with ``?message=notice`` (one of :data:`NOTICES`)."""
    if not notice:
        return path
    return f"{path}{'&' if '?' in path else '?'}{urlencode({'message': notice})}"


def see_other(path: str, notice: str | None = None) -> RedirectResponse:
    """A 303 to a local ``path`` (post-redirect-get), with a notice to show there."""
    return RedirectResponse(with_notice(safe_next(path), notice), status_code=303)


def page_context(request: Request) -> dict[str, Any]:
    """What every page of the Carrefour shows in its menu and notice.

    ``user`` (a :class:`User` or None), ``csrf`` (the form token of the page's forms)
    and ``notice`` (the text of ``?message=``, one of :data:`NOTICES`).
    """
    account = current_account(request)
    return {"user": User(account) if account else None, "csrf": form_token(request),
            "notice": NOTICES.get(request.query_params.get("message", ""))}


# -- installation -----------------------------------------------------------------------


class BrowserCookie:
    """ASGI middleware sending the browser cookie a route chose (:func:`browser_cookie`).

    A route that renders a form token for a browser without a CSRF cookie draws one; the
    cookie goes out with whatever answer the route gives (a page, a redirect, an
    error). Other answers pass untouched (one lookup).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # the state shared with the request objects below (copies of the scope share it)
        state = scope.setdefault("state", {})

        async def with_cookie(message: dict) -> None:
            new = state.get("new_browser_cookie")
            if message["type"] == "http.response.start" and new \
                    and not state.get("browser_cookie_sent"):
                cookie = Response()
                secure = scope["app"].state.settings.secure_cookies
                cookie.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict",
                                  secure=secure, path="/")
                message["headers"] = [*message.get("headers", ()),
                                      *((name, value) for name, value in cookie.raw_headers
                                        if name == b"set-cookie")]
            await send(message)

        await self.app(scope, receive, with_cookie)


def install_sessions(app: FastAPI) -> None:
    """Give ``app`` its form tokens, rate limiters, cookie middleware and sign-in answer.

    Idempotent: every part of the application that has forms may call it.
    """
    if getattr(app.state, "sessions_installed", False):
        return
    app.state.sessions_installed = True
    if not getattr(app.state, "form_secret", None):
        app.state.form_secret = secrets.token_bytes(32)
    app.state.form_tokens = FormTokens(app.state.form_secret)
    app.state.rate_limits = {"connexion": RateLimiter(*SIGN_IN_RATE),
                             "inscription": RateLimiter(*SIGN_UP_RATE)}
    app.add_middleware(BrowserCookie)

    async def sign_in_first(request: Request, error: SignInRequired) -> Response:
        if request.url.path.startswith("/api") or request.method != "GET":
            from cohesion.web.errors import error_response

            return error_response(request, 401, str(error))
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{SIGN_IN_PAGE}?{urlencode({'next': here})}",
                                status_code=303)

    app.add_exception_handler(SignInRequired, sign_in_first)
