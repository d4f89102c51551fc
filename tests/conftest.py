"""Shared fixtures: a référentiel built once per test session from the real packages."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import Phase
from hypothesis import settings as hypothesis_settings

from cohesion.core import Observatory
from cohesion.settings import Settings
from cohesion.store import Warehouse
from cohesion.territory.build import build_referentiel

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# The Carrefour's store and index of the tests that do not choose theirs (the API fuzzing,
# servers started as processes): a folder of the test session, never the project's var/.
_CARREFOUR = Path(tempfile.mkdtemp(prefix="cohesion-tests-carrefour-"))
atexit.register(shutil.rmtree, _CARREFOUR, True)
os.environ.setdefault("COHESION_CARREFOUR", f"sqlite:///{_CARREFOUR / 'carrefour.sqlite'}")
os.environ.setdefault("COHESION_CARREFOUR_INDEX", str(_CARREFOUR / "index"))

# Property-based tests (tests/test_fuzz.py) draw their examples under a profile: `ci` by
# default, bounded and reproducible; `pytest tests/test_fuzz.py --hypothesis-profile=long`
# for a long run (docs/benchmarks.md, « Fuzzing »). Tests that set max_examples keep it.
# `ci` does not shrink a failing example (shrinking large files takes minutes): the
# printed blob replays it, and the long profile shrinks.
hypothesis_settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True,
                                     database=None, print_blob=True,
                                     phases=[Phase.explicit, Phase.generate])
# `long` tries COHESION_FUZZ_EXAMPLES examples per target (2,000 by default)
hypothesis_settings.register_profile(
    "long", max_examples=int(os.environ.get("COHESION_FUZZ_EXAMPLES", "2000")),
    deadline=None, database=None, print_blob=True)
hypothesis_settings.load_profile("ci")

#: Fuzz cases tried, by target and outcome, reported at the end of the session.
FUZZ_CASES: pytest.StashKey[dict[str, Counter[str]]] = pytest.StashKey()


@pytest.fixture(scope="session")
def fuzz_cases(pytestconfig: pytest.Config) -> dict[str, Counter[str]]:
    """Where fuzz tests count their cases (target → outcome → count)."""
    return pytestconfig.stash.setdefault(FUZZ_CASES, {})


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """Print the number of fuzz cases tried per target, when fuzz tests ran."""
    cases = config.stash.get(FUZZ_CASES, {})
    if not cases:
        return
    terminalreporter.section("fuzz cases tried")
    for target, outcomes in sorted(cases.items()):
        detail = ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
        terminalreporter.write_line(f"{target}: {outcomes.total()} ({detail})")
    total = sum(outcomes.total() for outcomes in cases.values())
    terminalreporter.write_line(f"total: {total} cases over {len(cases)} targets")


def shared(relative: str) -> Path:
    """Path of a real data file in ../shared/data (skip if the folder is absent)."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.fail(f"real data file missing: {path}")
    return path


@pytest.fixture(scope="session")
def built_warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse file holding the référentiel of every vintage (built once)."""
    path = tmp_path_factory.mktemp("warehouse") / "referentiel.duckdb"
    with Warehouse(path) as warehouse:
        build_referentiel(warehouse, Settings.from_environ().npm_folder())
    return path


@pytest.fixture
def warehouse(built_warehouse_file: Path, tmp_path: Path) -> Warehouse:
    """A private copy of the built warehouse, safe to write to."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse_file, copy)
    with Warehouse(copy) as opened:
        yield opened


def table_fingerprint(warehouse: Warehouse) -> dict[str, int]:
    """Row counts and a content hash of every table, to check nothing changed."""
    tables = warehouse.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    )["table_name"]
    return {
        name: warehouse.connection.execute(
            f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {name} t").fetchone()
        for name in tables
    }


COMPARATEUR = "commune_indicators/comparateur_rp2018_filo2019/base_cc_comparateur.CSV"
FILOSOFI_2019 = "commune_indicators/filosofi2019_com/cc_filosofi_2019_COM.CSV"
FILOSOFI_2020 = "commune_indicators/filosofi2020_com/cc_filosofi_2020_COM.csv"


@pytest.fixture(scope="session")
def loaded_warehouse_file(built_warehouse_file: Path,
                          tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The référentiel plus the Comparateur and Filosofi 2019/2020 commune files."""
    from cohesion.importers import run_import
    from cohesion.importers.insee import Comparateur, FilosofiCommunes

    path = tmp_path_factory.mktemp("loaded") / "loaded.duckdb"
    shutil.copy(built_warehouse_file, path)
    with Warehouse(path) as warehouse:
        run_import(warehouse, Comparateur(), shared(COMPARATEUR))
        run_import(warehouse, FilosofiCommunes(), shared(FILOSOFI_2019))
        run_import(warehouse, FilosofiCommunes(), shared(FILOSOFI_2020))
    return path


@pytest.fixture
def loaded(loaded_warehouse_file: Path) -> Warehouse:
    """The loaded warehouse, opened read-only (tests that write use a copy)."""
    with Warehouse(loaded_warehouse_file, read_only=True) as opened:
        yield opened


QPV_OCCITANIE = "qpv/hackaviz2021_occitanie/qp.geojson"
QPV_MARSEILLE = "qpv/icu_mediapart/marseille.gpkg"
QPV_PACA_2024 = "qpv/qpv2024_paca/qpv-paca.geojson"
QPV_LOOKUP_2024 = "qpv/qpv2024_communes/polygone-4326_qpv.geojson"
QPV_VINTAGE = 2026


@pytest.fixture(scope="session")
def qpv_warehouse_file(built_warehouse_file: Path,
                       tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The référentiel plus the QPV contours of the samples, imported by the importer."""
    from cohesion.importers import run_import
    from cohesion.importers.qpv import QpvContours

    path = tmp_path_factory.mktemp("qpv") / "qpv.duckdb"
    shutil.copy(built_warehouse_file, path)
    with Warehouse(path) as warehouse:
        for sample in (QPV_OCCITANIE, QPV_MARSEILLE, QPV_PACA_2024):
            run_import(warehouse, QpvContours(), shared(sample))
    return path


@pytest.fixture(scope="session")
def qpv_index(qpv_warehouse_file: Path):
    """The QPV index of both generations, with the 2024 commune → QPV lookup."""
    from cohesion.geo import QpvIndex

    with Warehouse(qpv_warehouse_file, read_only=True) as warehouse:
        return QpvIndex.from_warehouse(warehouse, vintage=QPV_VINTAGE,
                                       lookups=[shared(QPV_LOOKUP_2024)])


BPE_GIRONDE = "bpe/gironde_ds_immo/categorie_bpe.csv"
CELLS_GIRONDE = "filosofi_carreaux/gironde_33_pop/carreaux_33.gpkg"
OSM_PARIS = "osm/paris_map.osm"
OSM_SAINT_BARTHELEMY = "osm/saint_barthelemy.osm.pbf"


@pytest.fixture(scope="session")
def access_warehouse_file(qpv_warehouse_file: Path,
                          tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The QPV warehouse plus équipements, cells and three accessibility measures.

    - ``d201_marche_vol_oiseau``: the médecins of the Gironde BPE on foot from the Gironde
      200 m cells, crow-fly (no network of Gironde in the samples: the declared fallback);
    - ``osm_amenity_pharmacy_marche``: the pharmacies mapped in the Paris 9e/10e extract,
      on its walking network, from the arrondissements' population spread over cells;
    - ``osm_place_town_voiture``: Gustavia (the chef-lieu) by road from every cell of
      Saint-Barthélemy, on the island's complete network.
    """
    from cohesion.access.compute import AccessRequest
    from cohesion.core import Observatory
    from cohesion.importers import run_import
    from cohesion.importers.bpe import BpePoints
    from cohesion.importers.grid import FilosofiGrid
    from cohesion.importers.osm_points import OsmPoints

    path = tmp_path_factory.mktemp("access") / "access.duckdb"
    shutil.copy(qpv_warehouse_file, path)
    with Warehouse(path) as warehouse:
        run_import(warehouse, BpePoints(), shared(BPE_GIRONDE))
        run_import(warehouse, FilosofiGrid(), shared(CELLS_GIRONDE))
        run_import(warehouse, OsmPoints(), shared(OSM_PARIS))
        run_import(warehouse, OsmPoints(), shared(OSM_SAINT_BARTHELEMY))
    core = Observatory(path)
    try:
        core.access.compute(AccessRequest(("D201",), "marche", departements=("33",),
                                          period="2023"))
        core.access.compute(AccessRequest(("osm_amenity_pharmacy",), "marche",
                                          network=shared(OSM_PARIS)))
        core.access.compute(AccessRequest(("osm_place_town",), "voiture",
                                          network=shared(OSM_SAINT_BARTHELEMY),
                                          communes=("97701",)))
    finally:
        core.close()
    return path


# --- The application in a real browser (Playwright driving Debian's Chromium) ---

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artefacts" / "screenshots"
BROWSER_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def serve_copy(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Iterator[str]]:
    """Serve the application on a copy of a warehouse file, in a background thread.

    Use it as ``yield from serve_copy(path, admin_token=...)`` in a module fixture: it
    yields the base URL (a free port of 127.0.0.1) and stops the server afterwards.
    Keyword arguments other than ``warm`` change the :class:`~cohesion.settings.Settings`
    of the environment (``admin_token``, ``geocoder``, ``communes_qpv``…).
    """
    import uvicorn

    from cohesion.core import Observatory
    from cohesion.web.app import create_app

    def serve(warehouse_file: Path, warm: bool = True, **settings: object) -> Iterator[str]:
        copy = tmp_path_factory.mktemp("served") / "served.duckdb"
        shutil.copy(warehouse_file, copy)
        observatory = Observatory(copy, Settings.from_environ().but(**settings))
        app = create_app(observatory, warm=warm)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                               server_header=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail("the test server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        observatory.close()
        shutil.rmtree(copy.parent, ignore_errors=True)

    return serve


@pytest.fixture(scope="session")
def client_on_copy(tmp_path_factory: pytest.TempPathFactory
                   ) -> Callable[..., Iterator[object]]:
    """The application in-process (fastapi's TestClient) on a copy of a warehouse file.

    Use it as ``yield from client_on_copy(path, admin_token=...)`` in a module fixture.
    Keyword arguments change the :class:`~cohesion.settings.Settings` of the
    environment; an unexpected error is answered 500, as the server would, not raised.
    """
    from fastapi.testclient import TestClient

    from cohesion.core import Observatory
    from cohesion.web.app import create_app

    def client(warehouse_file: Path, **settings: object) -> Iterator[TestClient]:
        copy = tmp_path_factory.mktemp("client") / warehouse_file.name
        shutil.copy(warehouse_file, copy)
        observatory = Observatory(copy, Settings.from_environ().but(**settings))
        with TestClient(create_app(observatory, warm=False),
                        raise_server_exceptions=False) as opened:
            yield opened
        observatory.close()
        shutil.rmtree(copy.parent, ignore_errors=True)

    return client


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless; a missing browser fails the tests (CI installs it)."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install Debian's package "
                    "(apt-get install chromium); these tests never download a browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


#: Sends every ``securitypolicyviolation`` event of a document (frames included) to the
#: test, through the ``reportPolicyViolation`` binding, before the page's own scripts run.
REPORT_POLICY_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportPolicyViolation(`${event.effectiveDirective} refused ${event.blockedURI}`
    + ` (${event.sourceFile}:${event.lineNumber}) on ${document.location.pathname}`);
});
"""


def open_page(browser: object, server: str) -> Iterator[object]:
    """A fresh page on ``server``; outside requests, script errors and refusals fail the test.

    Refusals are what the pages' Content-Security-Policy blocks: ``securitypolicyviolation``
    events and the console's « Content Security Policy » messages.

    Use it as ``yield from open_page(browser, server)`` in a ``page`` fixture.
    """
    context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 900},
                                  locale="fr-FR", accept_downloads=True)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    outside: list[str] = []
    errors: list[str] = []
    refused: list[str] = []
    context.expose_function("reportPolicyViolation", lambda text: refused.append(text))
    context.add_init_script(REPORT_POLICY_VIOLATIONS)

    def only_local(route) -> None:
        url = route.request.url
        if url.startswith(server) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", only_local)
    opened = context.new_page()
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: refused.append(message.text)
              if "Content Security Policy" in message.text else None)
    yield opened
    context.close()
    assert outside == [], f"the pages asked for outside resources: {outside}"
    assert errors == [], f"script errors: {errors}"
    assert refused == [], f"the Content-Security-Policy refused: {refused}"


def wait_until(page: object, expression: str) -> None:
    """Wait until the JavaScript ``expression`` is true in ``page``.

    Playwright's ``page.wait_for_function`` evaluates its expression with ``eval`` from
    the page's own timers, which the pages' Content-Security-Policy refuses; an
    expression given to ``page.evaluate`` runs through the DevTools protocol, which
    the policy lets through. So this asks ``page.evaluate`` until the answer is true.
    """
    deadline = time.monotonic() + BROWSER_TIMEOUT_MS / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            pytest.fail(f"still false after {BROWSER_TIMEOUT_MS / 1000:.0f} s: {expression}")
        page.wait_for_timeout(50)


def screenshot(page: object, name: str, full_page: bool = True) -> None:
    """Keep a screenshot of ``page`` in artefacts/screenshots/ (not in git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A PostgreSQL server of our own on 127.0.0.1 for the session (server-mode tests).

    Started by the project (:mod:`cohesion.store.postgres`) in a temporary folder and
    stopped by its process id at the end; each test creates its own database.
    """
    from cohesion.store.postgres import running_postgres

    with running_postgres() as server:
        yield server


def carrefour_observatory(warehouse_file: Path, folder: Path) -> Observatory:
    """An observatory on a copy of ``warehouse_file``, its Carrefour kept in ``folder``.

    The store and the search index of each test module are its own.
    """
    copy = folder / "warehouse.duckdb"
    shutil.copy(warehouse_file, copy)
    return Observatory(copy, Settings.from_environ().but(
        warehouse=copy, carrefour=f"sqlite:///{folder}/carrefour.sqlite",
        carrefour_index=str(folder / "index")))


_browser_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def web_observatory(built_warehouse_file: Path,
                              tmp_path_factory: pytest.TempPathFactory,
                              request: pytest.FixtureRequest) -> Iterator[Observatory]:
    """An observatory of the test module, its Carrefour in a folder of its own."""
    folder = tmp_path_factory.mktemp(f"carrefour-{request.module.__name__}")
    opened = carrefour_observatory(built_warehouse_file, folder)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def carrefour_app(web_observatory: Observatory) -> object:
    """The web application of the test module's Carrefour."""
    from cohesion.web.app import create_app

    return create_app(web_observatory, warm=False)


@pytest.fixture
def new_browser(carrefour_app: object) -> Callable[[], object]:
    """Open a new browser (its own cookies and client address) on ``carrefour_app``.

    The rate limiters start each test empty.
    """
    from fastapi.testclient import TestClient

    for limiter in carrefour_app.state.rate_limits.values():
        limiter.reset()

    def opened() -> TestClient:
        number = next(_browser_addresses)
        return TestClient(carrefour_app, raise_server_exceptions=False,
                          follow_redirects=False,
                          client=(f"10.{number // 62_500 % 250}.{number // 250 % 250}."
                                  f"{number % 250 + 1}", 50000))

    return opened


QPV_STATISTICS = "qpv/hackaviz2021_occitanie/qp.csv"


@pytest.fixture(scope="session")
def qpv_statistics_warehouse_file(loaded_warehouse_file: Path,
                                  tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loaded warehouse (communes) plus the Occitanie QPV contours and statistics."""
    from cohesion.importers import run_import
    from cohesion.importers.base import ImportOptions
    from cohesion.importers.qpv import QpvContours
    from cohesion.importers.table import IndicatorTable
    from cohesion.samples import MAPPINGS

    path = tmp_path_factory.mktemp("qpv-statistics") / "qpv-statistics.duckdb"
    shutil.copy(loaded_warehouse_file, path)
    with Warehouse(path) as warehouse:
        run_import(warehouse, QpvContours(), shared(QPV_OCCITANIE))
        run_import(warehouse, IndicatorTable(), shared(QPV_STATISTICS), options=ImportOptions(
            extra={"mapping": str(MAPPINGS / "qpv-occitanie-2019.yaml")}))
    return path
