"""Security headers on every answer, no server banner, CSVs that a spreadsheet cannot run.

The headers come from :mod:`cohesion.web.security`; the pages keep to the policy
(browser tests fail on anything it refuses: ``open_page`` in ``conftest.py``). CSV
downloads neutralise text cells read as formulas (:mod:`cohesion.spreadsheet`).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from cohesion.cli import main
from cohesion.core import Observatory
from cohesion.geo.geocoding import free_port, wait_for_port
from cohesion.importers.base import ImportOptions, run_import
from cohesion.importers.table import IndicatorTable
from cohesion.store import Warehouse
from cohesion.web.app import create_app
from cohesion.web.security import CONTENT_SECURITY_POLICY

#: How long httpx keeps an idle connection (its ``keepalive_expiry``), as many clients.
CLIENT_KEEP_ALIVE_S = 5.0

SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}
CLICHY = "COM:93014@2026"
#: Zones named by the file's author: two names a spreadsheet would run as formulas.
ZONES = ("code;nom;part_test_2019\n"
         "0050;=1+2;-12,5\n"
         "0051;@SUM(A1:A9);3\n"
         "0052;Mont-de-Marsan;-0,5\n")


def assert_secured(headers: list[tuple[str, str]]) -> None:
    """Each security header once with its value, and no ``server`` header."""
    sent = [(name.lower(), value) for name, value in headers]
    for name, value in SECURITY_HEADERS.items():
        assert [v for n, v in sent if n == name] == [value], name
    assert "server" not in {name for name, _ in sent}


@pytest.fixture(scope="module")
def served_file(built_warehouse_file: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the référentiel with a table of zones named by its author."""
    path = tmp_path_factory.mktemp("security") / "cohesion.duckdb"
    shutil.copy(built_warehouse_file, path)
    table = path.parent / "zones.csv"
    table.write_text(ZONES, encoding="utf-8")
    with Warehouse(path) as warehouse:
        run_import(warehouse, IndicatorTable(), table, options=ImportOptions(extra={
            "code_column": "code", "name_column": "nom", "level": "ZE", "vintage": 2026,
            "variable": "part_test"}))
    return path


@pytest.fixture(scope="module")
def client(served_file: Path) -> Iterator[TestClient]:
    observatory = Observatory(served_file)
    app = create_app(observatory, warm=False)

    @app.get("/api/panne")
    def failing() -> None:
        raise RuntimeError("panne voulue par le test")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    observatory.close()


@pytest.mark.parametrize("url", ["/", f"/territoire/{CLICHY}", "/api/levels",
                                 "/static/cohesion.css",
                                 "/static/vendor/maplibre/maplibre-gl-worker.mjs"])
def test_pages_api_and_static_files_carry_the_headers(client: TestClient, url: str) -> None:
    answer = client.get(url)
    assert answer.status_code == 200
    assert_secured(answer.headers.multi_items())


def test_cached_portrait_carries_the_headers(client: TestClient) -> None:
    first, cached = (client.get(f"/api/portrait/{CLICHY}") for _ in range(2))
    assert first.status_code == cached.status_code == 200
    assert cached.content == first.content
    assert_secured(first.headers.multi_items())
    assert_secured(cached.headers.multi_items())


@pytest.mark.parametrize(("url", "status"), [("/page-absente", 404),
                                             ("/api/territories/COM:00000@2026", 404),
                                             ("/api/panne", 500)])
def test_errors_carry_the_headers(client: TestClient, url: str, status: int) -> None:
    answer = client.get(url)
    assert answer.status_code == status
    assert "panne voulue" not in answer.text
    assert_secured(answer.headers.multi_items())


def test_pages_carry_no_inline_script_or_style(client: TestClient) -> None:
    for url in ("/", "/carte", "/recherche?q=clichy", f"/territoire/{CLICHY}",
                f"/comparer?ids={CLICHY}", "/donnees", "/qpv", "/analyse",
                "/analyse/lisa", "/analyse/typologie", "/barometre"):
        page = client.get(url)
        assert page.status_code == 200, url
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
        assert all("src=" in attributes or 'type="application/json"' in attributes
                   for attributes, _ in scripts), url
        assert all(not body.strip() for attributes, body in scripts
                   if "src=" in attributes), url
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", page.text), url


def test_api_documentation_allows_its_own_script_only(client: TestClient) -> None:
    answer = client.get("/api/docs")
    policy = answer.headers["content-security-policy"]
    inline = re.findall(r"<script>(.*?)</script>", answer.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"


def test_values_csv_neutralises_formulas_in_names(client: TestClient,
                                                   served_file: Path,
                                                   tmp_path: Path) -> None:
    answer = client.get("/api/values", params={"indicator": "part_test", "level": "ZE",
                                               "vintage": 2026, "format": "csv"})
    assert answer.status_code == 200, answer.text
    assert_secured(answer.headers.multi_items())
    output = tmp_path / "export.csv"
    exported = CliRunner().invoke(main, ["--warehouse", str(served_file), "export",
                                         "part_test", "--level", "ZE", "--vintage", "2026",
                                         "-o", str(output)])
    assert exported.exit_code == 0, exported.output
    for text in (answer.text, output.read_text(encoding="utf-8")):
        table = pd.read_csv(io.StringIO(text), dtype={"code": str}).set_index("code")
        assert table["nom"].to_dict() == {"0050": "'=1+2", "0051": "'@SUM(A1:A9)",
                                          "0052": "Mont-de-Marsan"}
        assert table["part_test"].to_dict() == {"0050": -12.5, "0051": 3.0, "0052": -0.5}
        assert "\n0050,'=1+2,-12.5," in text


@pytest.fixture(scope="module")
def served_port(built_warehouse_file: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The port of a real ``cohesion serve`` on a copy of the built warehouse."""
    folder = tmp_path_factory.mktemp("serve")
    copy = folder / "cohesion.duckdb"
    shutil.copy(built_warehouse_file, copy)
    port = free_port()
    with (folder / "serve.log").open("wb") as log:
        serving = subprocess.Popen(
            [sys.executable, "-m", "cohesion", "--warehouse", str(copy), "serve",
             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, 120, serving, "cohesion serve")
        yield port
    finally:
        serving.terminate()
        serving.wait(timeout=30)


def test_cohesion_serve_sends_no_server_banner(served_port: int) -> None:
    for path in ("/", "/api/levels", "/absente"):
        try:
            answer = urllib.request.urlopen(f"http://127.0.0.1:{served_port}{path}", timeout=30)
        except urllib.error.HTTPError as error:
            answer = error
        assert_secured(answer.headers.items())


def test_cohesion_serve_keeps_an_idle_connection_longer_than_clients_do(
        served_port: int) -> None:
    """A connection left idle as long as a client keeps it (httpx: 5 s) still answers.

    Closed by the server at the moment the client sends its next request on it, the
    request would fail (« server disconnected without sending a response »).
    """
    connection = http.client.HTTPConnection("127.0.0.1", served_port, timeout=30)
    try:
        for _ in range(2):
            connection.request("GET", "/api/levels")
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200
            time.sleep(CLIENT_KEEP_ALIVE_S + 1)
    finally:
        connection.close()
