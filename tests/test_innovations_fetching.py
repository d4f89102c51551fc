"""Polite fetching, against a loopback HTTP server serving the real files of ../shared/data.

:class:`LocalSite` is a web site on 127.0.0.1: ``/donnees/`` serves ``../shared/data``,
``/interdit/`` serves it too but its robots.txt forbids that path, ``/pages/`` serves
what a test writes there, ``/instable/`` answers HTTP 503 a given number of times before
serving. It records every request with its User-Agent. The other innovation tests
import it.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cohesion.errors import ErrorKind
from cohesion.innovations.fetching import (
    CONTACT_URL,
    ROBOTS_TOKEN,
    Fetcher,
    FetchingError,
    resolve,
)
from conftest import SHARED_DATA, shared

TRANSISCOPE = "social_innovation/gogocarto_transiscope_sample/elements_pwa_alternatives.csv"
ROBOTS = (f"User-agent: *\nDisallow: /interdit/\n\n"
          f"User-agent: {ROBOTS_TOKEN}\nDisallow: /interdit/\n")


class LocalSite:
    """A loopback web site serving the real data, with a robots.txt (see the module)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "pages").mkdir()
        (root / "donnees").symlink_to(SHARED_DATA)
        (root / "interdit").symlink_to(SHARED_DATA)
        (root / "robots.txt").write_text(ROBOTS, encoding="utf-8")
        self.requests: list[tuple[str, str]] = []
        self.failures_left: dict[str, int] = {}
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

            def do_GET(self) -> None:
                site.requests.append((self.path, self.headers.get("User-Agent", "")))
                if self.path.startswith("/instable/"):
                    left = site.failures_left.get(self.path, 0)
                    if left:
                        site.failures_left[self.path] = left - 1
                        self.send_error(503, "Service Unavailable")
                        return
                    self.path = "/donnees/" + self.path.removeprefix("/instable/")
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def data(self) -> str:
        """The data root of the real files: ``/donnees/``."""
        return f"{self.url}/donnees/"

    def page(self, name: str, content: str | bytes) -> str:
        """Write a page under ``/pages/`` and return its address."""
        path = self.root / "pages" / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return f"{self.url}/pages/{name}"

    def requested(self, prefix: str) -> list[str]:
        return [path for path, _ in self.requests if path.startswith(prefix)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_site(factory: pytest.TempPathFactory) -> Iterator[LocalSite]:
    """A :class:`LocalSite` for a module's tests (``yield from`` it in a fixture)."""
    served = LocalSite(factory.mktemp("site"))
    yield served
    served.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSite]:
    yield from serve_site(tmp_path_factory)


def quick(**options: object) -> Fetcher:
    """A fetcher without waits between requests (the rate limit is tested on its own)."""
    return Fetcher(interval=0, backoff=0, **options)  # type: ignore[arg-type]


def test_a_real_file_is_read_with_cohesions_name(site: LocalSite) -> None:
    with quick() as fetcher:
        fetched = fetcher.fetch(site.data + TRANSISCOPE)
        assert fetched.path.read_bytes() == shared(TRANSISCOPE).read_bytes()
        assert fetched.size == shared(TRANSISCOPE).stat().st_size
        assert fetched.content_type == "text/csv"
        copy = fetched.path
    assert not copy.exists()  # closing the fetcher removes its copies
    agents = {agent for path, agent in site.requests if path.endswith(".csv")}
    assert agents and all(ROBOTS_TOKEN in a and CONTACT_URL in a for a in agents)
    assert "/robots.txt" in site.requested("/robots.txt")


def test_robots_txt_forbids_a_path_and_it_is_never_requested(site: LocalSite) -> None:
    with quick() as fetcher:
        assert fetcher.allowed(site.data + TRANSISCOPE)
        assert not fetcher.allowed(f"{site.url}/interdit/{TRANSISCOPE}")
        with pytest.raises(FetchingError, match=r"robots\.txt .* interdit") as caught:
            fetcher.fetch(f"{site.url}/interdit/{TRANSISCOPE}")
    assert caught.value.kind is ErrorKind.CONFLICT
    assert site.requested("/interdit/") == []


def test_requests_to_one_host_are_spaced(site: LocalSite) -> None:
    slept: list[float] = []
    with Fetcher(interval=0.5, clock=lambda: 100.0, sleep=slept.append) as fetcher:
        for _ in range(3):
            fetcher.fetch(site.data + TRANSISCOPE)
    # robots.txt, then three files: each request waits the interval after the previous one
    assert slept == [0.5, 1.0, 1.5]
    assert len(fetcher.requests) == 4


def test_server_errors_are_retried_with_backoff(site: LocalSite) -> None:
    address = f"{site.url}/instable/{TRANSISCOPE}"
    site.failures_left["/instable/" + TRANSISCOPE] = 2
    slept: list[float] = []
    with Fetcher(interval=0, backoff=0.25, sleep=slept.append) as fetcher:
        assert fetcher.fetch(address).size == shared(TRANSISCOPE).stat().st_size
    assert slept == [0.25, 0.5]
    site.failures_left["/instable/" + TRANSISCOPE] = 5
    with Fetcher(interval=0, backoff=0, retries=2) as fetcher, \
            pytest.raises(FetchingError, match="HTTP 503") as caught:
        fetcher.fetch(address)
    assert caught.value.kind is ErrorKind.UNAVAILABLE


def test_missing_page_too_large_file_and_refused_addresses(site: LocalSite) -> None:
    with quick() as fetcher:
        with pytest.raises(FetchingError, match="HTTP 404") as caught:
            fetcher.fetch(site.data + "nulle/part.csv")
        assert caught.value.kind is ErrorKind.NOT_FOUND
    with quick(max_bytes=1000) as fetcher:
        with pytest.raises(FetchingError, match="trop volumineux"):
            fetcher.fetch(site.data + TRANSISCOPE)
        with pytest.raises(FetchingError, match="trop volumineux"):
            fetcher.fetch(shared(TRANSISCOPE))
    with quick() as fetcher, pytest.raises(FetchingError, match="adresse refusée"):
        fetcher.fetch("ftp://127.0.0.1/a.csv")


def test_locations_are_resolved_under_a_folder_or_an_address(tmp_path: Path) -> None:
    assert resolve("http://127.0.0.1:8000/donnees", "a/b.csv") == \
        "http://127.0.0.1:8000/donnees/a/b.csv"
    assert resolve(str(SHARED_DATA), TRANSISCOPE) == str(SHARED_DATA / TRANSISCOPE)
    assert resolve("file:///srv/donnees/", "a.csv") == "file:///srv/donnees/a.csv"
    with pytest.raises(FetchingError, match="hors du dossier"):
        resolve(tmp_path, "../../etc/passwd")
    with pytest.raises(FetchingError, match="adresse refusée"):
        resolve(tmp_path, "javascript:alert(1)")
    with quick() as fetcher:
        assert fetcher.fetch((SHARED_DATA / TRANSISCOPE).as_uri()).path == \
            SHARED_DATA / TRANSISCOPE


def test_an_unreachable_server_is_a_clear_error() -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with quick(retries=1, obey_robots=False) as fetcher, \
            pytest.raises(FetchingError, match="connexion refusée") as caught:
        fetcher.fetch(f"http://127.0.0.1:{port}/a.csv")
    assert caught.value.kind is ErrorKind.UNAVAILABLE


def test_a_site_whose_robots_txt_cannot_be_read_is_not_read() -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with quick(retries=0) as fetcher, \
            pytest.raises(FetchingError, match=r"robots\.txt .* illisible .*connexion refusée"):
        fetcher.fetch(f"http://127.0.0.1:{port}/a.csv")
