"""Polite fetching of the Carrefour's sources: robots.txt, a rate limit, a name, limits.

A harvest reads files and pages that partners publish on their own servers. The 2018
build crawled them without asking; :class:`Fetcher` asks, as a well-behaved crawler:

- **robots.txt** is read once per site (with `protego`) and obeyed: a forbidden address
  is never requested. As RFC 9309 says, a missing robots.txt (HTTP 4xx) allows
  everything, and a site whose robots.txt cannot be read (HTTP 5xx, no answer) is
  treated as forbidding everything: when in doubt, nothing is read;
- **one request per second per host** by default (:data:`DEFAULT_INTERVAL`), longer
  when the site's robots.txt asks for a ``Crawl-delay``;
- a **User-Agent** that names Cohésion and where to learn about it (:data:`USER_AGENT`);
- **timeouts**, a **size cap** (:data:`DEFAULT_MAX_BYTES`), **retries** with
  exponential backoff on server errors (HTTP 5xx, 429) and network failures;
- only ``http``, ``https``, ``file`` addresses and local paths, redirects included.

Every failure is a :class:`FetchingError` with a French message naming the address.
Locations of a connector are given relative to a *root*, a local folder or a base
address (:func:`resolve`), so the same connector reads the samples of ``../shared/data``
or the producer's national files.

Examples
--------
>>> resolve("https://data.example.org/depot/", "postes/adulte-relais-2024.json")
'https://data.example.org/depot/postes/adulte-relais-2024.json'
>>> resolve("/srv/donnees", "transiscope/elements.csv")
'/srv/donnees/transiscope/elements.csv'
>>> resolve("/srv/donnees", "ftp://example.org/a.csv")
Traceback (most recent call last):
...
cohesion.innovations.fetching.FetchingError: ftp://example.org/a.csv : adresse refusée
(attendu une adresse http://, https://, file:// ou un chemin de fichier)
"""

from __future__ import annotations

import email.utils
import http.client
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

from protego import Protego

import cohesion
from cohesion.errors import CohesionError, ErrorKind
from cohesion.importers.fetch import looks_like_html

#: Seconds between two requests to the same host (a site's ``Crawl-delay`` may ask more).
DEFAULT_INTERVAL = 1.0
#: Seconds to wait for a connection, and for each read.
DEFAULT_TIMEOUT = 30.0
#: Largest file or page read, in bytes: the partners' inventories take a few megabytes.
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
#: Further attempts after a server error or a network failure.
DEFAULT_RETRIES = 3
#: Seconds before the first retry; doubled at each one.
DEFAULT_BACKOFF = 1.0
#: Longest wait a server's ``Retry-After`` may impose, in seconds.
MAX_RETRY_AFTER = 60.0
#: Where a site's administrator learns who is crawling and how to reach them.
CONTACT_URL = "https://agence-cohesion-territoires.gouv.fr"
#: The product token robots.txt rules name to address Cohésion (``User-agent: Cohesion``).
ROBOTS_TOKEN = "Cohesion"
USER_AGENT = (f"{ROBOTS_TOKEN}/{cohesion.__version__} (Carrefour des innovations sociales; "
              f"+{CONTACT_URL})")
#: Address schemes a connector may read.
SCHEMES = ("http", "https", "file")

_CHUNK = 1 << 16

Progress = Callable[[str, int, int | None], None]
"""Called as ``progress(step, done, total)``: a French step name, a count, its total."""


class FetchingError(CohesionError):
    """An address that could not, or may not, be read.

    Attributes
    ----------
    address : str
        What was asked for.
    kind : ErrorKind
        ``UNAVAILABLE`` (server error, no answer), ``NOT_FOUND`` (HTTP 404, missing
        file), ``CONFLICT`` (robots.txt forbids it), ``BAD_FILE`` (too large, a web page
        instead of data) or ``INVALID`` (an address that is not http, https or a file).
    """

    def __init__(self, address: str, message: str,
                 kind: ErrorKind = ErrorKind.UNAVAILABLE) -> None:
        self.address = address
        self.kind = kind
        super().__init__(f"{address} : {message}")


@dataclass
class Fetched:
    """A file or page read by :meth:`Fetcher.fetch`.

    Attributes
    ----------
    address : str
        What was asked for (the final address after redirects, for HTTP).
    path : Path
        A local file holding the content: the file itself for a local address, a
        temporary copy (removed by :meth:`Fetcher.close`) for HTTP.
    content_type : str or None
        The media type the server announced (``text/csv``), None for local files.
    size : int
        Bytes read.
    """

    address: str
    path: Path
    content_type: str | None
    size: int

    def looks_like_html(self) -> bool:
        """Whether the content is a web page (an error or login page instead of data)."""
        with self.path.open("rb") as handle:
            return looks_like_html(handle.read(4096))


def resolve(root: str | Path, location: str) -> str:
    """The address of ``location`` under ``root`` (a folder, or a base address).

    An absolute address in ``location`` is kept. Under a local folder, a location
    cannot climb out of it (``../``).

    Raises
    ------
    FetchingError
        For a scheme other than http, https and file, or a location outside ``root``.
    """
    scheme = urlsplit(location).scheme.lower()
    if len(scheme) > 1:  # one letter: a Windows drive, not a scheme
        return _checked(location)
    base = str(root)
    if len(urlsplit(base).scheme) > 1:
        _checked(base)
        return urljoin(base.rstrip("/") + "/", location.lstrip("/"))
    folder = Path(base).resolve()
    path = (folder / location).resolve()
    if not path.is_relative_to(folder):
        raise FetchingError(location, f"emplacement hors du dossier de données {folder}",
                            kind=ErrorKind.INVALID)
    return str(Path(base) / location)


def _checked(address: str) -> str:
    parts = urlsplit(address)
    if parts.scheme.lower() not in SCHEMES or (parts.scheme.lower() != "file"
                                               and not parts.hostname):
        raise FetchingError(address, "adresse refusée (attendu une adresse http://, "
                            "https://, file:// ou un chemin de fichier)", kind=ErrorKind.INVALID)
    return address


def _site_of(url: str) -> str:
    """``scheme://host:port`` of ``url``, lower case: a site has one robots.txt."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _size_in_words(size: int) -> str:
    return f"{size / (1 << 20):.1f} Mo".replace(".", ",")


class Fetcher:
    """Reads addresses politely; one instance per harvest run (or shared by several).

    Parameters
    ----------
    user_agent : str
        Sent with every request; :data:`USER_AGENT` names Cohésion and a contact page.
    interval : float
        Least seconds between two requests to one host (:data:`DEFAULT_INTERVAL`).
    timeout : float
        Seconds to wait for a connection and for each read.
    max_bytes : int
        Largest content accepted.
    retries : int
        Further attempts after an HTTP 5xx or 429, or a network failure.
    backoff : float
        Seconds before the first retry, doubled at each one (a ``Retry-After`` header
        is honoured up to :data:`MAX_RETRY_AFTER`).
    obey_robots : bool
        Read and obey each site's robots.txt. Only a test of a site's own rules, or an
        operator with the site's agreement, turns it off.
    sleep, clock : callable
        :func:`time.sleep` and :func:`time.monotonic`, replaceable by tests.

    Examples
    --------
    >>> with Fetcher() as fetcher:                                    # doctest: +SKIP
    ...     fetched = fetcher.fetch("https://example.org/initiatives.csv")
    """

    def __init__(self, *, user_agent: str = USER_AGENT, interval: float = DEFAULT_INTERVAL,
                 timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
                 retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF,
                 obey_robots: bool = True, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if interval < 0 or timeout <= 0 or max_bytes <= 0 or retries < 0 or backoff < 0:
            raise CohesionError("paramètres de téléchargement invalides : intervalle, délai, "
                                "taille maximale, essais et attente doivent être positifs")
        self.user_agent = user_agent
        self.interval = interval
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.obey_robots = obey_robots
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._robots: dict[str, Protego | bool] = {}
        self._unreadable: dict[str, str] = {}
        self._folder: Path | None = None
        self._opener = urllib.request.build_opener(_RedirectHandler(self))
        #: Every request sent, as ``(UTC instant, address)``: what the fetcher did, for
        #: a run report or a test.
        self.requests: list[tuple[str, str]] = []

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary copies of what was downloaded."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    # -- reading ----------------------------------------------------------------------

    def fetch(self, address: str | Path) -> Fetched:
        """Read a local file, a ``file://`` address or an HTTP(S) address.

        Raises
        ------
        FetchingError
            Forbidden by robots.txt, missing, too large, server error after the
            retries, no answer, refused scheme.
        """
        text = str(address)
        scheme = urlsplit(text).scheme.lower()
        if len(scheme) <= 1:
            return self._local(Path(text), text)
        _checked(text)
        if scheme == "file":
            return self._local(Path(url2pathname(urlsplit(text).path)), text)
        if not self.allowed(text):
            site = urlsplit(text).netloc
            unreadable = self._unreadable.get(_site_of(text))
            if unreadable is not None:
                raise FetchingError(text, f"le robots.txt de {site} est illisible "
                                    f"({unreadable}) : par prudence, rien n'est lu sur ce site")
            raise FetchingError(text, f"le robots.txt de {site} interdit cette adresse aux "
                                f"robots ({ROBOTS_TOKEN}) : elle n'est pas lue",
                                kind=ErrorKind.CONFLICT)
        return self._download(text)

    def _local(self, path: Path, address: str) -> Fetched:
        if not path.is_file():
            raise FetchingError(address, "fichier introuvable", kind=ErrorKind.NOT_FOUND)
        size = path.stat().st_size
        if size > self.max_bytes:
            raise FetchingError(address, f"fichier trop volumineux ({_size_in_words(size)}, "
                                f"au plus {_size_in_words(self.max_bytes)})",
                                kind=ErrorKind.BAD_FILE)
        return Fetched(address, path, None, size)

    def allowed(self, url: str) -> bool:
        """Whether the robots.txt of ``url``'s site lets Cohésion read it."""
        if not self.obey_robots:
            return True
        site = _site_of(url)
        if site not in self._robots:
            self._robots[site] = True  # while its robots.txt is read (it may redirect)
            self._robots[site] = self._read_robots(site)
        rules = self._robots[site]
        return rules if isinstance(rules, bool) else rules.can_fetch(url, ROBOTS_TOKEN)

    def _read_robots(self, site: str) -> Protego | bool:
        """The rules of ``site``: parsed, True (allow all) or False (forbid all).

        As RFC 9309 says: a robots.txt that does not exist (HTTP 4xx) allows all; one
        that cannot be read (HTTP 5xx once retried, no answer) forbids all, the reason
        kept for the message.
        """
        try:
            response = self._request(f"{site}/robots.txt")
        except urllib.error.HTTPError as error:
            error.close()
            if 400 <= error.code < 500:
                return True
            self._unreadable[site] = f"HTTP {error.code}"
            return False
        except FetchingError as error:
            self._unreadable[site] = str(error).split(" : ", 1)[-1]
            return False
        with response:
            body = response.read(self.max_bytes)
        return Protego.parse(body.decode("utf-8", errors="replace"))

    def _download(self, url: str) -> Fetched:
        try:
            response = self._request(url)
        except urllib.error.HTTPError as error:
            error.close()
            kind = ErrorKind.NOT_FOUND if error.code in (404, 410) else ErrorKind.UNAVAILABLE
            raise FetchingError(url, f"HTTP {error.code} {error.reason}"
                                + (" : l'adresse a changé ?" if error.code in (404, 410)
                                   else ""), kind=kind) from None
        with response:
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) > self.max_bytes:
                raise FetchingError(url, "fichier trop volumineux ("
                                    f"{_size_in_words(int(announced))} annoncés, au plus "
                                    f"{_size_in_words(self.max_bytes)})", kind=ErrorKind.BAD_FILE)
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="cohesion-moisson-"))
                # a fetcher dropped without close() still leaves nothing behind
                weakref.finalize(self, shutil.rmtree, self._folder, True)
            name = Path(urlsplit(response.url).path).name or "index.html"
            handle, raw = tempfile.mkstemp(dir=self._folder, suffix=f"-{name}")
            size = 0
            try:
                with os.fdopen(handle, "wb") as out:
                    while chunk := response.read(_CHUNK):
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise FetchingError(url, "fichier trop volumineux (plus de "
                                                f"{_size_in_words(self.max_bytes)})",
                                                kind=ErrorKind.BAD_FILE)
                        out.write(chunk)
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                raise FetchingError(url, f"transfert interrompu après {size} octets : "
                                    f"{error}") from None
            if announced.isdigit() and size != int(announced):
                raise FetchingError(url, f"transfert tronqué : {size} octets reçus sur "
                                    f"{announced} annoncés")
            return Fetched(response.url, Path(raw), response.headers.get_content_type(), size)

    # -- requests ---------------------------------------------------------------------

    def _request(self, url: str) -> Any:
        """An open HTTP response to ``url``, after the wait, with retries.

        Raises
        ------
        urllib.error.HTTPError
            For a final HTTP error status (4xx, or 5xx once the retries are spent).
        FetchingError
            When the server never answered.
        """
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent,
                                                       "Accept": "*/*"})
        for attempt in range(self.retries + 1):
            self._wait(url)
            try:
                return self._opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as error:
                if attempt == self.retries or not (error.code >= 500 or error.code == 429):
                    raise
                delay = self._retry_after(error.headers.get("Retry-After"), attempt)
                error.close()
            except FetchingError:
                raise
            except (urllib.error.URLError, TimeoutError, OSError,
                    http.client.HTTPException) as error:
                if attempt == self.retries:
                    raise FetchingError(url, _network_message(error, self.timeout)) from None
                delay = self.backoff * 2 ** attempt
            self._sleep(delay)
        raise AssertionError("the last attempt returns or raises")

    def _retry_after(self, header: str | None, attempt: int) -> float:
        """Seconds to wait before retrying: the server's ``Retry-After``, else the backoff."""
        default = self.backoff * 2 ** attempt
        if not header:
            return default
        if header.strip().isdigit():
            return min(float(header), MAX_RETRY_AFTER)
        when = email.utils.parsedate_to_datetime(header)
        if when is None:
            return default
        return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)

    def _wait(self, url: str) -> None:
        """Sleep until the host may be asked again, then note the request."""
        host = urlsplit(url).netloc.lower()
        interval = self.interval
        rules = self._robots.get(_site_of(url))
        if isinstance(rules, Protego):
            interval = max(interval, float(rules.crawl_delay(ROBOTS_TOKEN) or 0.0))
        with self._lock:
            now = self._clock()
            ready = self._last.get(host, now - interval) + interval
            self._last[host] = max(now, ready)
        if ready > now:
            self._sleep(ready - now)
        self.requests.append((datetime.now(UTC).isoformat(timespec="milliseconds"), url))


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to an http(s) address that robots.txt allows."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise FetchingError(newurl, f"redirection refusée depuis {req.full_url} (attendu "
                                "une adresse http:// ou https://)", kind=ErrorKind.INVALID)
        if not self.fetcher.allowed(newurl):
            raise FetchingError(newurl, f"redirection depuis {req.full_url} vers une adresse "
                                "que son robots.txt interdit", kind=ErrorKind.CONFLICT)
        self.fetcher._wait(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _network_message(error: BaseException, timeout: float) -> str:
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return f"pas de réponse en {timeout:g} s (délai dépassé)"
    if isinstance(reason, ConnectionRefusedError):
        return "connexion refusée : aucun serveur n'écoute à cette adresse"
    if isinstance(reason, socket.gaierror):
        return "hôte inconnu (hors ligne, ou adresse mal écrite ?)"
    return f"échec de la connexion : {reason}"
