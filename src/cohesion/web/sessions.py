"""Who is asking, on the pages that people write through: session cookies, form tokens, rates.

The Carrefour des innovations sociales lets people sign in, submit projects, moderate
and review. Its pages and API share three guards, kept here so that every route uses
the same ones:

- **the session cookie** (:data:`SESSION_COOKIE`): an opaque random token that the
  relational store knows by its hash only; ``HttpOnly``, ``SameSite=Lax``, ``Secure``
  when the application is served over HTTPS (``COHESION_SECURE_COOKIES=1``);
- **the form token** (CSRF): every form carries ``csrf``, and every API write sent with
  the session cookie carries the header ``X-CSRF-Token``; its value is an HMAC of a
  random cookie of the browser (:data:`CSRF_COOKIE`, ``SameSite=Strict``) under the
  application's secret (:class:`FormTokens`). Another site can make a browser send the
  cookies, but can neither read them nor compute the token: a forged or missing token
  is refused with 403 (:class:`~cohesion.errors.PermissionDeniedError`) and changes
  nothing;
- **rates** (:class:`RateLimiter`): a sliding window per action and client address
  (sign-ins, account creations, submissions), in memory, on top of the store's own
  per-account lockout. Past the limit: 429 with ``Retry-After``.

Examples
--------
>>> tokens = FormTokens(b"secret")
>>> token = tokens.issue("browser-cookie")
>>> tokens.check("browser-cookie", token)
>>> tokens.check("another-cookie", token)
Traceback (most recent call last):
...
cohesion.errors.PermissionDeniedError: jeton de formulaire invalide ou expiré : ...
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import Response

from cohesion.errors import PermissionDeniedError, RateLimitedError

SESSION_COOKIE = "cohesion_session"
CSRF_COOKIE = "cohesion_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
#: How long a session cookie lives in the browser (the store decides its validity).
SESSION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class FormTokens:
    """Form tokens bound to a browser's :data:`CSRF_COOKIE` by an HMAC under ``secret``."""

    secret: bytes

    def issue(self, browser: str) -> str:
        """The token of the browser whose CSRF cookie is ``browser``."""
        return hmac.new(self.secret, browser.encode(), hashlib.sha256).hexdigest()

    def check(self, browser: str | None, token: str | None) -> None:
        """Refuse a missing or forged token (compared in constant time).

        Raises
        ------
        PermissionDeniedError
        """
        expected = self.issue(browser) if browser else ""
        if not (browser and token and hmac.compare_digest(expected, token)):
            raise PermissionDeniedError("jeton de formulaire invalide ou expiré : recharger "
                                        "la page et recommencer")


def browser_cookie(request: Request) -> str:
    """The browser's CSRF cookie, or a new random one (set by :func:`set_browser_cookie`)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if len(current) == 43 and current.replace("-", "").replace("_", "").isalnum():
        return current
    state = request.state
    if not getattr(state, "new_browser_cookie", None):
        state.new_browser_cookie = secrets.token_urlsafe(32)
    return state.new_browser_cookie


def set_cookies(request: Request, response: Response, secure: bool) -> None:
    """Send the browser cookie chosen while answering, if it is new."""
    new = getattr(request.state, "new_browser_cookie", None)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict",
                            secure=secure, path="/")


def set_session(response: Response, token: str, secure: bool) -> None:
    """Send the session cookie of a new session."""
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, httponly=True,
                        samesite="lax", secure=secure, path="/")


def clear_session(response: Response) -> None:
    """Remove the session cookie (sign-out)."""
    response.delete_cookie(SESSION_COOKIE, path="/")


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
