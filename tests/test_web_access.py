"""Accès aux services over HTTP: the API of the accessibility measures and the ``/acces`` page.

On the ``access_warehouse_file`` fixture (three measures computed on real data: the
médecins of the Gironde BPE on foot, crow-fly, from the Gironde 200 m cells; the
pharmacies of the Paris extract on its walking network; Gustavia by road from every
cell of Saint-Barthélemy), the API answers what the service and the command line
(``cohesion access show``) answer; a computation is launched by an administrator and
followed to its end; the page is opened in a real browser (Debian's Chromium) under
the application's Content-Security-Policy, and screenshots are kept in
``artefacts/screenshots/``.
"""

from __future__ import annotations

import html as html_module
import io
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from cohesion.cli import main
from cohesion.core import Observatory
from cohesion.web.pages import format_number
from conftest import OSM_SAINT_BARTHELEMY, open_page, screenshot, shared, wait_until

TOKEN = "access-test-token-not-a-secret"
GIRONDE = "d201_marche_vol_oiseau"
PARIS = "osm_amenity_pharmacy_marche"
SAINT_BARTHELEMY = "osm_place_town_voiture"
MEASURES = {GIRONDE, PARIS, SAINT_BARTHELEMY}
#: The legal population of Saint-Barthélemy (COG 2026), spread over the island's cells.
SAINT_BARTHELEMY_POPULATION = 10_660
READY = "window.cohesionAccessReady === true"
JOB_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def client(access_warehouse_file: Path, client_on_copy) -> Iterator[TestClient]:
    """The application in process, without an administrator token."""
    yield from client_on_copy(access_warehouse_file)


@pytest.fixture(scope="module")
def networks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A network folder: the Saint-Barthélemy extract and a file that is no network."""
    folder = tmp_path_factory.mktemp("networks")
    shutil.copy(shared(OSM_SAINT_BARTHELEMY), folder / "saint_barthelemy.osm.pbf")
    (folder / "LISEZMOI.txt").write_text("pas un réseau\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def admin(access_warehouse_file: Path, client_on_copy, networks: Path) -> Iterator[TestClient]:
    """The application with an administrator token and a network folder (its own copy)."""
    yield from client_on_copy(access_warehouse_file, admin_token=TOKEN, networks=networks)


@pytest.fixture(scope="module")
def service_copy(access_warehouse_file: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("access-cli") / "access.duckdb"
    shutil.copy(access_warehouse_file, path)
    return path


@pytest.fixture(scope="module")
def core(service_copy: Path) -> Iterator[Observatory]:
    """The service the command line asks, on a copy of its own."""
    opened = Observatory(service_copy)
    yield opened
    opened.close()


def get(client: TestClient | httpx.Client, url: str, **params: object) -> object:
    answer = client.get(url, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype={"code": str, "code_commune": str})


# -- measures -------------------------------------------------------------------------


def test_the_three_measures_and_their_provenance(client: TestClient, core: Observatory
                                                 ) -> None:
    measures = {m["measure"]: m for m in get(client, "/api/access/measures")}
    assert set(measures) == MEASURES
    assert measures == {m["measure"]: m for m in core.access.measures()}
    gironde = measures[GIRONDE]
    assert gironde["method"] == "vol_oiseau" and gironde["detour"] == 1.3
    assert gironde["network"] is None and "Filosofi" in gironde["population"]
    assert gironde["origins"] > 50_000 and gironde["equipment_count"] > 1000
    island = measures[SAINT_BARTHELEMY]
    assert island["method"] == "reseau" and island["network"] == "saint_barthelemy.osm.pbf"
    assert island["profile"] == "voiture" and "répartie" in island["population"]
    assert island["thresholds"] == [5, 10, 15, 20]

    one = get(client, f"/api/access/measures/{SAINT_BARTHELEMY}")
    assert one["indicators"]["shares"]["10"] == "acces_osm_place_town_voiture_10min"
    indicator = get(client, f"/api/indicators/{one['indicators']['shares']['10']}")
    assert indicator["unit"] == "%" and "OpenStreetMap" in indicator["source"]


def test_zones_of_saint_barthelemy_are_the_services(client: TestClient, core: Observatory
                                                    ) -> None:
    body = get(client, f"/api/access/measures/{SAINT_BARTHELEMY}/zones", threshold=10)
    assert body["measure"] == SAINT_BARTHELEMY and body["threshold"] == 10
    assert body["zones"] == core.access.zones(SAINT_BARTHELEMY, 10)
    zones = {z["zone"]: z for z in body["zones"]}
    everyone = zones["ensemble"]
    assert round(everyone["population"]) == SAINT_BARTHELEMY_POPULATION
    # no QPV in Saint-Barthélemy, and no contours of its collectivité: « non couvert »
    assert set(zones) == {"non_couvert", "ensemble"}
    assert 90 < everyone["share"] <= 100
    assert everyone["share"] == pytest.approx(100 * everyone["within"] / everyone["population"],
                                              abs=0.01)
    # more residents within a larger threshold
    wider = get(client, f"/api/access/measures/{SAINT_BARTHELEMY}/zones", threshold=20)
    assert {z["zone"]: z for z in wider["zones"]}["ensemble"]["within"] >= everyone["within"]

    csv = client.get(f"/api/access/measures/{SAINT_BARTHELEMY}/zones",
                     params={"threshold": 10, "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert read_csv(csv.text).set_index("zone")["share"].to_dict() == {
        z["zone"]: z["share"] for z in body["zones"]}


def test_table_of_the_gironde_communes(client: TestClient, service_copy: Path,
                                       tmp_path: Path) -> None:
    body = get(client, f"/api/access/measures/{GIRONDE}/table", level="COM", threshold=10)
    rows = pd.DataFrame(body["rows"])
    assert body["level"] == "COM" and body["vintage"] == 2026 and body["period"] == "2023"
    assert 520 <= len(rows) <= 540  # the Gironde's 535 communes, less those measured in part
    assert rows["code"].str.startswith("33").all() and rows["code"].is_unique
    assert rows["part"].between(0, 100).all() and rows["population_mesuree"].gt(0).all()
    assert rows["part"].min() < 20 and rows["part"].max() > 95
    bordeaux = rows.set_index("code").loc["33063"]
    assert bordeaux["nom"] == "Bordeaux" and bordeaux["part"] > 90
    # no QPV contour of the Gironde is loaded: the QPV columns are empty, not zero
    assert rows["part_qpv"].isna().all()

    answer = client.get(f"/api/access/measures/{GIRONDE}/table",
                        params={"level": "COM", "threshold": 10, "format": "csv"})
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    table = read_csv(answer.text)
    assert list(table.columns) == body["columns"]
    assert table["code"].tolist() == rows["code"].tolist()
    assert table["part_10min"].tolist() == rows["part"].tolist()
    pd.testing.assert_series_equal(table["temps_median"], rows["temps_median"],
                                   check_names=False)
    # the same file as `cohesion access show … -o`
    output = tmp_path / "show.csv"
    result = CliRunner().invoke(main, ["--warehouse", str(service_copy), "access", "show",
                                       GIRONDE, "--threshold", "10", "--level", "COM",
                                       "-o", str(output)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert output.read_text(encoding="utf-8") == answer.text


def test_the_departement_is_the_ratio_of_the_communes_sums(client: TestClient) -> None:
    communes = pd.DataFrame(get(client, f"/api/access/measures/{GIRONDE}/table",
                                level="COM", threshold=15)["rows"])
    departement = get(client, f"/api/access/measures/{GIRONDE}/table", level="DEP",
                      threshold=15)["rows"]
    assert [row["code"] for row in departement] == ["33"]
    within = (communes["part"] * communes["population_mesuree"]).sum()
    assert departement[0]["population_mesuree"] == pytest.approx(
        communes["population_mesuree"].sum(), rel=1e-6)
    assert departement[0]["part"] == pytest.approx(
        within / communes["population_mesuree"].sum(), abs=0.02)
    epci = get(client, f"/api/access/measures/{GIRONDE}/table", level="EPCI", threshold=15)
    assert len(epci["rows"]) >= 20 and "part_15min" in epci["columns"]
    # the crow-fly measure covers the Gironde, where no QPV contour is loaded
    assert get(client, f"/api/access/measures/{GIRONDE}/table", level="QPV",
               threshold=15)["rows"] == []


def test_origins_as_geojson(client: TestClient) -> None:
    for key in (SAINT_BARTHELEMY, GIRONDE):
        measure = get(client, f"/api/access/measures/{key}")
        answer = client.get(f"/api/access/measures/{key}/origins.geojson")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/geo+json"
        features = answer.json()["features"]
        assert len(features) == measure["origins"]
        assert sum(f["properties"]["population"] for f in features) == pytest.approx(
            measure["population_total"], rel=1e-3)
        minutes = [f["properties"]["minutes"] for f in features]
        assert all(m is None or 0 <= m <= 60 for m in minutes)
    island = client.get(
        f"/api/access/measures/{SAINT_BARTHELEMY}/origins.geojson").json()["features"]
    assert {f["properties"]["commune"] for f in island} == {"97701"}
    lon, lat = zip(*(f["geometry"]["coordinates"] for f in island), strict=True)
    assert -62.96 < min(lon) < max(lon) < -62.78 and 17.86 < min(lat) < max(lat) < 17.97

    # sent compressed, and revalidated through its ETag
    raw = client.get(f"/api/access/measures/{GIRONDE}/origins.geojson",
                     headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip" and raw.headers["etag"]
    assert int(raw.headers["content-length"]) < len(raw.content) / 3  # read inflated
    again = client.get(f"/api/access/measures/{GIRONDE}/origins.geojson",
                       headers={"If-None-Match": raw.headers["etag"]})
    assert again.status_code == 304 and not again.content


def test_refusals(client: TestClient) -> None:
    unknown = client.get("/api/access/measures/atlantide_marche/zones", params={"threshold": 10})
    assert unknown.status_code == 404
    assert "mesure d'accessibilité inconnue" in unknown.json()["error"]
    assert SAINT_BARTHELEMY in unknown.json()["error"]  # the known ones are listed
    for url in ("/api/access/measures/atlantide_marche",
                "/api/access/measures/atlantide_marche/origins.geojson",
                "/api/access/measures/atlantide_marche/table"):
        assert client.get(url).status_code == 404, url
    not_computed = client.get(f"/api/access/measures/{SAINT_BARTHELEMY}/zones",
                              params={"threshold": 12})
    assert not_computed.status_code == 400
    assert "seuil 12 min non calculé" in not_computed.json()["error"]
    assert client.get(f"/api/access/measures/{SAINT_BARTHELEMY}/table",
                      params={"threshold": 12}).status_code == 400
    for params in ({"level": "CANTON"}, {"threshold": 0}, {"threshold": 181},
                   {"threshold": "dix"}, {"format": "xlsx"}):
        answer = client.get(f"/api/access/measures/{SAINT_BARTHELEMY}/table", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["error"].startswith("paramètre invalide")
    assert client.get("/api/access/measures/D201_Marche").status_code == 422
    assert client.get("/api/access/measures/" + "a" * 81).status_code == 422
    assert client.get("/api/access/jobs/pas-un-identifiant").status_code == 422
    assert client.get("/api/access/jobs/" + "0" * 32).status_code == 404


def test_equipment_networks_and_bands(client: TestClient, admin: TestClient,
                                      core: Observatory) -> None:
    types = {t["type"]: t for t in get(client, "/api/access/equipment")}
    assert types["D201"]["label"] == "Médecin omnipraticien"
    assert types["D201"]["count"] == get(client, f"/api/access/measures/{GIRONDE}")[
        "equipment_count"]
    assert "osm_amenity_pharmacy" in types and "osm_place_town" in types
    assert get(client, "/api/access/networks") == []  # no folder configured
    assert get(admin, "/api/access/networks") == [{
        "name": "saint_barthelemy.osm.pbf",
        "size": shared(OSM_SAINT_BARTHELEMY).stat().st_size}]

    bands = get(client, "/api/access/bands/D201", generation=2024)
    assert bands["count"] == types["D201"]["count"]
    assert sum(b["count"] for b in bands["bands"]) == bands["count"]
    assert bands == {k: v for k, v in core.access.equipment_bands("D201", 2024).items()
                     if k != "points"}
    points = read_csv(client.get("/api/access/bands/D201",
                                 params={"generation": 2024, "format": "csv"}).text)
    assert len(points) == bands["count"] and "bande_2024" in points
    assert client.get("/api/access/bands/Z999").status_code == 404
    assert client.get("/api/access/bands/D201", params={"generation": 1999}).status_code == 422
    assert client.get("/api/access/bands/D201", params={"generation": 2030}).status_code == 404


# -- computations ---------------------------------------------------------------------


JOB = {"equipment": ["D201"], "profile": "marche", "network": None,
       "departements": ["33"], "thresholds": [10], "catchment": 10, "limit": 30}


def test_computations_need_the_administrator(client: TestClient, admin: TestClient) -> None:
    refused = client.post("/api/access/jobs", json=JOB)
    assert refused.status_code == 403 and "aucun jeton" in refused.json()["error"]
    for headers in ({}, {"Authorization": "Bearer mauvais-jeton"}, {"Authorization": TOKEN[:-1]}):
        answer = admin.post("/api/access/jobs", json=JOB, headers=headers)
        assert answer.status_code == 401, headers
        assert "jeton d'administration" in answer.json()["error"]


def test_a_computation_followed_to_its_end(admin: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = {m["measure"]: m for m in get(admin, "/api/access/measures")}
    # refused before it starts: unknown équipement or network, crow-fly without départements
    for change, status, words in (({"equipment": ["Z999"]}, 404, "Z999"),
                                  ({"network": "paris.osm.pbf"}, 404, "réseau inconnu"),
                                  ({"departements": []}, 400, "départements"),
                                  ({"thresholds": [10, 90]}, 400, "temps maximal"),
                                  ({"profile": "velo"}, 422, "profile"),
                                  ({"departements": ["330"]}, 422, "departements"),
                                  ({"vitesse": 4}, 422, "vitesse")):
        answer = admin.post("/api/access/jobs", json=JOB | change, headers=auth)
        assert answer.status_code == status, (change, answer.text)
        assert words in answer.json()["error"], answer.json()

    started = admin.post("/api/access/jobs", json=JOB, headers=auth)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] == "en cours" and re.fullmatch(r"[0-9a-f]{32}", job["id"])
    assert started.headers["location"] == f"/api/access/jobs/{job['id']}"
    # one computation at a time
    busy = admin.post("/api/access/jobs", json=JOB, headers=auth)
    assert busy.status_code == 503 and busy.headers["retry-after"]
    assert "déjà en cours" in busy.json()["error"]

    seen: list[str] = []
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        progress = get(admin, f"/api/access/jobs/{job['id']}")
        assert progress["state"] in ("en cours", "terminé"), progress
        assert progress["steps"][: len(seen)] == seen  # steps are only added
        seen = progress["steps"]
        if progress["state"] != "en cours":
            break
        assert time.monotonic() < deadline, progress
        time.sleep(1)
    assert progress["state"] == "terminé" and progress["error"] is None
    assert progress["step"] == seen[-1]
    assert "population des carreaux" in seen
    assert "temps d'accès : Médecin omnipraticien" in seen
    result = progress["result"]
    assert result["measures"] == [GIRONDE]
    after = {m["measure"]: m for m in get(admin, "/api/access/measures")}
    assert set(after) == set(before)
    if result["already_computed"]:
        assert after == before
    else:
        assert "enregistrement dans l'entrepôt" in seen and result["observations"] > 0
        assert len(after[GIRONDE]["computations"]) == len(before[GIRONDE]["computations"]) + 1
        assert after[GIRONDE]["computations"][0]["dataset_id"] == result["dataset_id"]
        assert after[GIRONDE]["thresholds"] == [10]
    # the new figures are those read at once
    table = get(admin, f"/api/access/measures/{GIRONDE}/table", level="COM", threshold=10)
    assert len(table["rows"]) > 500
    # and the next computation may start
    again = admin.post("/api/access/jobs", json=JOB, headers=auth)
    assert again.status_code == 202
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while get(admin, f"/api/access/jobs/{again.json()['id']}")["state"] == "en cours":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert get(admin, f"/api/access/jobs/{again.json()['id']}")["result"]["already_computed"]


def test_the_endpoints_are_in_the_openapi_document(client: TestClient) -> None:
    paths = get(client, "/api/openapi.json")["paths"]
    for path in ("/api/access/measures", "/api/access/measures/{key}",
                 "/api/access/measures/{key}/zones", "/api/access/measures/{key}/table",
                 "/api/access/measures/{key}/origins.geojson", "/api/access/equipment",
                 "/api/access/networks", "/api/access/bands/{equipment}",
                 "/api/access/jobs", "/api/access/jobs/{job_id}"):
        assert path in paths, path
    level = next(p for p in paths["/api/access/measures/{key}/table"]["get"]["parameters"]
                 if p["name"] == "level")
    assert level["schema"]["enum"] == ["COM", "EPCI", "DEP", "REG", "QPV"]
    assert "/acces" not in paths


# -- the page -------------------------------------------------------------------------


def test_the_page_without_a_browser(client: TestClient) -> None:
    page = client.get("/acces", params={"measure": GIRONDE, "threshold": 10, "level": "EPCI"})
    assert page.status_code == 200
    html = page.text
    assert 'aria-current="page">Accès aux services' in html
    assert "repli déclaré" in html and "Lancer un calcul" not in html  # no token configured
    assert f'<option value="{GIRONDE}" selected>' in html
    assert '<option value="EPCI" selected>' in html
    assert "/api/access/measures/d201_marche_vol_oiseau/table?level=EPCI&amp;threshold=10" \
           "&amp;format=csv" in html
    # a threshold not computed falls back to 15, an unknown level to the communes
    fallback = client.get("/acces", params={"measure": GIRONDE, "threshold": 12,
                                            "level": "CANTON"}).text
    assert '<option value="15" selected>' in fallback and '<option value="COM" selected>' \
        in fallback
    missing = client.get("/acces", params={"measure": "atlantide_marche"})
    assert missing.status_code == 404
    assert "mesure d'accessibilité inconnue" in html_module.unescape(missing.text)
    assert client.get("/acces", params={"measure": "<script>"}).status_code == 404


@pytest.fixture(scope="module")
def server(access_warehouse_file: Path, serve_copy) -> Iterator[str]:
    yield from serve_copy(access_warehouse_file, admin_token=TOKEN)


@pytest.fixture(scope="module")
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=120) as opened:
        yield opened


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:
    yield from open_page(browser, server)


def plain(text: str) -> str:
    return re.sub(r"[\s\u202f\xa0]+", " ", text).strip()


def test_the_page_of_saint_barthelemy(page, api: httpx.Client) -> None:
    zones = {z["zone"]: z for z in get(api, f"/api/access/measures/{SAINT_BARTHELEMY}/zones",
                                       threshold=10)["zones"]}
    row = get(api, f"/api/access/measures/{SAINT_BARTHELEMY}/table", level="COM",
              threshold=10)["rows"][0]
    page.goto(f"/acces?measure={SAINT_BARTHELEMY}&threshold=10")
    wait_until(page, READY)
    legend = plain(page.locator("#acces-legende").inner_text())
    for label in ("0 à 5 min", "5 à 10 min", "10 à 15 min", "15 à 20 min", "plus de 20 min"):
        assert label in legend
    origins = get(api, f"/api/access/measures/{SAINT_BARTHELEMY}")["origins"]
    assert f"{origins} carreaux habités" in legend
    assert "seuil choisi : 10 min" in legend and "OpenStreetMap" in legend
    assert page.locator(".legende-classes .legende-case").count() >= 5

    expected = plain(format_number(zones["ensemble"]["share"], "%"))
    assert expected.startswith("98")
    ensemble = page.locator("#acces-zones tr[data-zone=ensemble]")
    assert plain(ensemble.locator("td.part").inner_text()) == expected
    assert plain(format_number(SAINT_BARTHELEMY_POPULATION)) in plain(ensemble.inner_text())
    commune = page.locator("#acces-tableau tr[data-code='97701']")
    assert "Saint-Barthélemy" in commune.inner_text()
    assert plain(commune.locator("td.part").inner_text()) == plain(
        format_number(row["part"], "%"))
    # text_content: the DSFR badges are written in capitals by their style
    provenance = plain(page.locator("#acces-provenance").text_content())
    assert "saint_barthelemy.osm.pbf" in provenance and "4 janvier 2014" in provenance
    assert "estimation : population répartie" in provenance
    assert "repli déclaré" not in provenance
    assert "© les contributeurs d'OpenStreetMap" in provenance and "INSEE" in provenance

    # the map is fitted to the island, and a point tells its time
    center = page.evaluate("window.cohesionAccessMap.getCenter().toArray()")
    assert -62.96 < center[0] < -62.78 and 17.86 < center[1] < 17.97
    x, y = page.evaluate("""(() => {
      const map = window.cohesionAccessMap;
      const found = map.queryRenderedFeatures({ layers: ["origines"] });
      const point = map.project(found[Math.floor(found.length / 2)].geometry.coordinates);
      return [point.x, point.y]; })()""")
    box = page.locator("#acces-carte").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.wait_for_selector("#acces-infobulle:not([hidden])")
    tooltip = plain(page.locator("#acces-infobulle").inner_text())
    assert re.search(r"\d+,\d min|au-delà", tooltip) and "habitants" in tooltip
    assert "97701" in tooltip and "non couvert" in tooltip
    screenshot(page, "acces-saint-barthelemy")


def test_the_page_of_the_gironde_and_its_form(page, api: httpx.Client) -> None:
    page.goto(f"/acces?measure={GIRONDE}&threshold=10")
    wait_until(page, READY)
    assert page.evaluate("window.cohesionAccessMap.querySourceFeatures('origines').length") > 0
    provenance = plain(page.locator("#provenance-methode").text_content())
    assert "à vol d'oiseau × 1,3" in provenance and "repli déclaré" in provenance
    rows = get(api, f"/api/access/measures/{GIRONDE}/table", level="COM", threshold=10)["rows"]
    assert page.locator("#acces-tableau tbody tr").count() == len(rows)
    screenshot(page, "acces-gironde", full_page=False)

    # the form keeps its state in the address
    with page.expect_navigation():
        page.select_option("#choix-echelon", "DEP")
    assert "level=DEP" in page.url and f"measure={GIRONDE}" in page.url
    wait_until(page, READY)
    assert page.locator("#acces-tableau tbody tr").count() == 1
    assert "Gironde" in page.locator("#acces-tableau tbody tr").inner_text()
    download = page.request.get(page.locator("#tableau-csv").get_attribute("href"))
    assert download.ok and read_csv(download.text())["code"].tolist() == ["33"]


def test_an_administrator_launches_a_computation(page) -> None:
    page.goto(f"/acces?measure={SAINT_BARTHELEMY}")
    wait_until(page, READY)
    page.click("#acces-calcul .fr-accordion__btn")
    page.fill("#calcul-jeton", "mauvais")
    page.select_option("#calcul-equipement", ["D201"])
    page.fill("#calcul-departements", "33")
    page.fill("#calcul-seuils", "10, 15")
    page.click("#calcul-bouton")
    page.wait_for_selector("#calcul-etat .fr-alert--error")
    assert "jeton d'administration" in page.locator("#calcul-etat").inner_text()

    page.fill("#calcul-jeton", TOKEN)
    page.click("#calcul-bouton")
    page.wait_for_selector("#calcul-etat .acces-etapes li")
    assert "Calcul en cours" in page.locator("#calcul-etat").inner_text()
    screenshot(page, "acces-calcul-en-cours", full_page=False)
    wait_until(page, "window.cohesionAccessJobDone === true")
    done = page.locator("#calcul-etat").inner_text()
    assert "Calcul terminé" in done or "Déjà calculé" in done, done
    assert GIRONDE in done
    page.wait_for_selector("#calcul-mesures a")
    assert page.locator("#choix-mesure option").count() == 3
    screenshot(page, "acces-calcul-termine")
