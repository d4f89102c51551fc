"""The HTTP API, in-process, on the loaded warehouse."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cohesion.geo.tiles import tiles_covering
from cohesion.settings import Settings
from test_web_tiles import decode

TOKEN = "test-token-not-a-secret"


@pytest.fixture(scope="module")
def client(loaded_warehouse_file: Path, client_on_copy) -> Iterator[TestClient]:
    yield from client_on_copy(loaded_warehouse_file, admin_token=TOKEN)


def test_search_and_territory(client: TestClient) -> None:
    found = client.get("/api/territories", params={"q": "clichy sous bois"}).json()
    assert found[0]["id"] == "COM:93014@2026"
    assert (found[0]["departement"], found[0]["departement_name"]) == \
        ("93", "Seine-Saint-Denis")
    namesakes = client.get("/api/territories", params={"q": "saint-denis", "level": "COM",
                                                       "limit": 4}).json()
    assert {t["departement"] for t in namesakes} == {"974", "93", "11", "30"}
    by_postcode = client.get("/api/territories", params={"q": "93390"}).json()
    assert by_postcode[0]["name"] == "Clichy-sous-Bois"
    detail = client.get("/api/territories/COM:93014@2026").json()
    assert {p["id"] for p in detail["parents"]} >= {"DEP:93@2026", "REG:11@2026"}
    members = client.get("/api/territories/DEP:93@2026/members").json()
    assert len(members) == 39


def test_values_json_csv_and_within(client: TestClient) -> None:
    page = client.get("/api/values", params={"indicator": "taux_chomage_15_64",
                                             "level": "COM", "within": "DEP:93@2026"}).json()
    assert page["total"] == 39 and page["period"] == "2018"
    assert all(row["value"] > 0 for row in page["values"])
    csv = client.get("/api/values", params={"indicator": "taux_chomage_15_64", "level": "DEP",
                                            "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.count("\n") >= 102 and "INSEE" in csv.text
    paged = client.get("/api/values", params={"indicator": "population", "level": "COM",
                                              "limit": 10, "offset": 20}).json()
    assert len(paged["values"]) == 10 and paged["offset"] == 20
    # by column (what the map reads): the same answer, one list per field
    columns = client.get("/api/values", params={"indicator": "population", "level": "COM",
                                                "limit": 10, "offset": 20,
                                                "format": "columns"}).json()
    assert {key: value for key, value in columns.items() if key != "values"} == \
        {key: value for key, value in paged.items() if key != "values"}
    assert [dict(zip(columns["values"], row, strict=True))
            for row in zip(*columns["values"].values(), strict=True)] == paged["values"]


def test_portrait_and_compare(client: TestClient) -> None:
    portrait = client.get("/api/portrait/COM:93014@2026").json()
    chomage = next(f for f in portrait["figures"] if f["indicator"] == "taux_chomage_15_64")
    assert chomage["producer"] == "INSEE" and chomage["period"] == "2018"
    # Clichy-sous-Bois did not change since the 2021 geography of the Comparateur
    assert chomage["value"] == pytest.approx(100 * 2215.50561315533 / 11006.1563225313)
    assert chomage["comparisons"]["DEP"]["value"] > chomage["comparisons"]["FRA"]["value"]
    assert 1 <= chomage["rank"] <= chomage["count"] and len(chomage["deciles"]) == 11
    assert [s["period"] for s in next(f for f in portrait["figures"]
                                      if f["indicator"] == "population")["series"]] == \
        ["2013", "2018"]
    assert not next(f for f in portrait["figures"]
                    if f["indicator"] == "part_65_ans_et_plus")["loaded"]
    compared = client.get("/api/compare", params={
        "ids": "COM:93014@2026,COM:93005@2026", "indicators": "population"}).json()
    assert set(compared["indicators"][0]["values"]) == {"COM:93014@2026", "COM:93005@2026"}


def test_geometry_is_compressed_geojson(client: TestClient) -> None:
    response = client.get("/api/geometry/DEP", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    body = response.content
    document = json.loads(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
    assert len(document["features"]) == 101


def test_levels_say_how_many_territories_have_a_contour(client: TestClient) -> None:
    levels = {level["id"]: level for level in client.get("/api/levels").json()}
    assert list(levels)[:2] == ["COM", "ARM"]
    communes = {v["vintage"]: v for v in levels["COM"]["vintages"]}
    assert sorted(communes) == [2021, 2022, 2023, 2024, 2025, 2026]
    assert communes[2026]["territories"] == 34969
    assert 34_800 < communes[2026]["with_contours"] <= communes[2026]["territories"]
    departements = {v["vintage"]: v for v in levels["DEP"]["vintages"]}
    # 101 départements have a contour; the collectivités d'outre-mer (975, 977…) have none
    assert departements[2026] == {"vintage": 2026, "territories": 109, "with_contours": 101}


def test_vector_tiles_hold_the_territories_they_cover(client: TestClient) -> None:
    (x, y), = tiles_covering(2.55, 48.90, 2.56, 48.91, 10)  # Clichy-sous-Bois
    response = client.get(f"/api/tiles/COM/2026/10/{x}/{y}.pbf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    body = response.content  # sent gzip-compressed; the client may have inflated it
    codes = set(decode(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body))
    assert {"93014", "93005"} <= codes and all(len(code) == 5 for code in codes)
    assert client.get("/api/tiles/COM/2026/3/8/0.pbf").status_code == 404
    assert client.get("/api/tiles/COM/2026/15/0/0.pbf").status_code == 422
    assert client.get("/api/tiles/XYZ/2026/5/16/11.pbf").status_code == 404


def test_the_first_maps_are_prepared_before_the_application_answers(
        loaded_warehouse_file: Path, tmp_path: Path) -> None:
    from cohesion.core import Observatory
    from cohesion.web import pages
    from cohesion.web.app import create_app

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(loaded_warehouse_file, copy)
    observatory = Observatory(copy, Settings.from_environ())
    try:
        create_app(observatory, warm=True)
        config = pages.map_config(observatory)
        for level in ("COM", "DEP"):
            state = pages.map_state(config, {"level": level})
            assert observatory.values_json(state["indicator"], level, state["vintage"],
                                           state["period"], columns=True,
                                           compute=False) is not None
            for x, y in tiles_covering(*pages.FIRST_VIEW, pages.FIRST_ZOOM):
                assert observatory.tile(level, state["vintage"], pages.FIRST_ZOOM, x, y,
                                        compute=False) is not None, (level, x, y)
        # the map library is compressed already: its first visitor does not wait for it
        with TestClient(create_app(observatory, warm=False)) as opened:
            before = pages._gzipped.cache_info().misses
            library = opened.get("/static/vendor/maplibre/maplibre-gl.mjs",
                                 headers={"Accept-Encoding": "gzip"})
            assert library.headers["content-encoding"] == "gzip"
            assert pages._gzipped.cache_info().misses == before
    finally:
        observatory.close()


def test_large_answers_are_gzipped_when_the_client_accepts_it(client: TestClient) -> None:
    url = "/api/values?indicator=population&level=COM"
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.json() == plain.json() and plain.json()["total"] > 30_000
    for refusing in ("gzip;q=0", "br, deflate", "*;q=0, identity"):
        answer = client.get(url, headers={"Accept-Encoding": refusing})
        assert "content-encoding" not in answer.headers, refusing
        assert answer.content == plain.content
    portrait = client.head("/api/portrait/COM:93014@2026",
                           headers={"Accept-Encoding": "gzip;q=0"})
    assert portrait.status_code == 200 and portrait.content == b""
    assert "content-encoding" not in portrait.headers


@pytest.mark.parametrize(("url", "status"), [
    ("/api/territories/COM:99999@2026", 404),
    ("/api/territories/not-an-id", 422),
    ("/api/territories/COM:93014@2019", 400),
    ("/api/values?indicator=taux_chomage_1564", 404),
    ("/api/values?indicator=population&level=dep", 422),
    ("/api/values?indicator=population&format=xml", 422),
    ("/api/territories?q=", 422),
    ("/api/compare?ids=COM:93014@2026,COM:93005@2021", 400),
])
def test_invalid_requests_get_clear_4xx(client: TestClient, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status and body["error"]
    assert "Traceback" not in response.text


def test_invalid_parameters_are_explained_in_french(client: TestClient) -> None:
    wrong = client.get("/api/values", params={"indicator": "population", "level": "dep"})
    assert wrong.json()["error"].startswith("paramètre invalide « level » dans l'adresse : "
                                            "ne respecte pas la forme attendue")
    assert wrong.json()["error"].endswith("(reçu : 'dep')")
    assert client.get("/api/territories").json()["error"] == \
        "paramètre invalide « q » dans l'adresse : obligatoire, absent de la demande"
    assert "doit être inférieur ou égal à 14" in \
        client.get("/api/tiles/COM/2026/15/0/0.pbf").json()["error"]


def test_uploads_need_the_token_and_respect_limits(client: TestClient, tmp_path: Path) -> None:
    bad = b"CODGEO;P18_POP\n01001;douze\n"
    files = {"file": ("base.csv", bad, "text/csv")}
    assert client.post("/api/datasets", files=files, data={"importer": "comparateur"}
                       ).status_code == 401
    before = len(client.get("/api/datasets").json())
    refused = client.post("/api/datasets", files=files, data={"importer": "comparateur"},
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("base.csv, ligne 2")
    assert "/tmp" not in refused.text and "tmp" not in refused.json()["error"]
    assert len(client.get("/api/datasets").json()) == before
    wrong_type = client.post("/api/datasets", files={"file": ("x.exe", b"MZ", "x")},
                             data={"importer": "comparateur"},
                             headers={"Authorization": f"Bearer {TOKEN}"})
    assert wrong_type.status_code == 415
    too_large = client.post("/api/datasets", content=b"x" * 10,
                            headers={"Authorization": f"Bearer {TOKEN}",
                                     "Content-Length": str(2 * 1024**3),
                                     "Content-Type": "multipart/form-data; boundary=x"})
    assert too_large.status_code == 413


def test_text_assets_are_sent_compressed(client: TestClient) -> None:

    url = "/static/vendor/maplibre/maplibre-gl.mjs"
    vendor = Settings.from_environ().npm_folder() / "maplibre-gl/dist"
    original = (vendor / "maplibre-gl.mjs").read_bytes()
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["content-type"].startswith("text/javascript")
    assert packed.content == original  # inflated by the client
    assert int(packed.num_bytes_downloaded) < len(original) / 3
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == original
    font = client.get("/static/vendor/dsfr/fonts/Marianne-Regular.woff2",
                      headers={"Accept-Encoding": "gzip"})
    assert font.status_code == 200 and "content-encoding" not in font.headers
