"""The baromètre over HTTP: its endpoints, and its pages in a real browser.

A server runs the application on a copy of the loaded warehouse (référentiel,
Comparateur, Filosofi) with the 2018 baromètre tables imported by the table importer,
as ``cohesion data import-samples`` does. Screenshots go to ``artefacts/screenshots/``.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from cohesion.store import Warehouse
from conftest import open_page, screenshot, shared
from test_analysis_barometre import import_barometre_2018

CLICHY = "COM:93014@2026"
BORDEAUX = "EPCI:243300316@2026"
ARA = "REG:84@2026"
TABLES = "barometre/ba-coh-terr/data/csv/"


@pytest.fixture(scope="module")
def barometre_file(loaded_warehouse_file: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("barometre-web") / "barometre.duckdb"
    shutil.copy(loaded_warehouse_file, path)
    with Warehouse(path) as warehouse:
        import_barometre_2018(warehouse)
    return path


@pytest.fixture(scope="module")
def server(barometre_file: Path, serve_copy) -> Iterator[str]:
    yield from serve_copy(barometre_file)


@pytest.fixture(scope="module")
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:
    yield from open_page(browser, server)


def indicators_of(document: dict) -> dict[str, dict]:
    return {i["id"]: i for f in document["factors"] for i in f["indicators"]}


# -- the API --------------------------------------------------------------------------------


def test_definition_endpoint(api: httpx.Client) -> None:
    document = api.get("/api/barometre").raise_for_status().json()
    assert [f["label"] for f in document["factors"]] == [
        "Solidarité", "Qualité de vie", "Coopération entre les territoires",
        "Capital social des territoires", "Capacitation des territoires",
        "Transition socio-environnementale"]
    indicators = indicators_of(document)
    assert len(indicators) == document["indicator_count"] == 25
    assert indicators["part_neet"]["status"] == "loaded"
    assert indicators["cambriolages"]["status_label"] == "source non chargée"
    # the Comparateur is loaded: the catalogue's employment ratio serves the baromètre
    assert indicators["couverture_emploi"]["status"] == "loaded"
    assert sum(i["status"] == "not_loaded" for i in indicators.values()) == 12


def test_territory_endpoint_commune(api: httpx.Client) -> None:
    document = api.get(f"/api/barometre/{CLICHY}").raise_for_status().json()
    assert document["territory"]["name"] == "Clichy-sous-Bois"
    indicators = indicators_of(document)
    neet = indicators["part_neet"]
    epci = pd.read_csv(shared(TABLES + "carte_1_5.csv"), dtype={"codgeo": str}).set_index(
        "codgeo")
    assert neet["territory"]["code"] == "200054781"
    assert neet["value"] == epci.loc["200054781", "value1"]
    assert neet["france"] == 17.4 and neet["period"] == "2014" and neet["first_period"] == "2009"
    assert "CGET" in neet["producer"] and "carte_1_5.csv" in neet["source"]
    # population growth: the catalogue at commune level (RP 2013-2018 of the Comparateur)
    growth = indicators["croissance_population"]
    assert growth["status"] == "loaded" and growth["level"] == "COM"
    assert growth["territory"]["code"] == "93014" and growth["n"] > 30_000
    assert indicators["mortalite_prematuree"]["status_label"] == "source non chargée"
    scores = {f["id"]: f["score"] for f in document["factors"]}
    assert document["score_level"] == "EPCI"
    quality = scores["qualite_de_vie"]
    assert quality["rank_low"] <= quality["rank"] <= quality["rank_high"]


def test_fact_sheet_endpoint(api: httpx.Client) -> None:
    document = api.get("/api/barometre/fiche/11").raise_for_status().json()
    assert document["level"] == "ZE" and document["n_dropped"] == 10
    assert round(document["first"]["interdecile_ratio"], 2) == 1.19
    assert round(document["second"]["interdecile_ratio"], 2) == 1.18
    # 1 à 1,22 published; 1.225008 from the table, whose medians are rounded to the euro
    assert round(document["regional"]["first"]["ratio"], 3) == 1.225
    assert document["ranking_total"] == 322 and document["ranking"][0]["rank"] == 1
    excluded = api.get("/api/barometre/fiche/21", params={"exclude_region": "03"}).json()
    assert round(excluded["regional"]["first"]["gap"], 1) == 13.2
    regions = api.get("/api/barometre/fiche/revenu_median_uc", params={"level": "reg"}).json()
    assert regions["level"] == "REG" and regions["second"]["n"] == 13


@pytest.mark.parametrize(("url", "status", "words"), [
    ("/api/barometre/COM:99999@2026", 404, "introuvable"),
    ("/api/barometre/pas-un-territoire", 404, "aucun territoire ne correspond"),
    ("/api/barometre/EPT:200057867@2026", 400, "commune, un EPCI"),
    ("/api/barometre/fiche/inconnu", 404, "indicateur du baromètre inconnu"),
    ("/api/barometre/fiche/11?level=EPCI", 400, "publié à l'échelon"),
    ("/api/barometre/fiche/cambriolages", 400, "source non chargée"),
])
def test_errors_are_french_json_without_traceback(api: httpx.Client, url: str, status: int,
                                                  words: str) -> None:
    answer = api.get(url)
    assert answer.status_code == status
    body = answer.json()
    assert body["status"] == status and words in body["error"]
    assert "Traceback" not in answer.text


def test_csv_of_a_territory(api: httpx.Client) -> None:
    answer = api.get(f"/barometre/{ARA}/barometre.csv")
    assert answer.status_code == 200 and "barometre_REG_84_2026.csv" in answer.headers[
        "content-disposition"]
    table = pd.read_csv(io.StringIO(answer.text))
    assert list(table.columns[:3]) == ["facteur", "indicateur", "libelle"]
    assert len(table) == 25 and table["facteur"].nunique() == 6
    scores = pd.read_csv(io.StringIO(api.get(f"/barometre/{ARA}/scores.csv").text))
    assert len(scores) == 6 and scores["score"].between(0, 100).any()
    assert api.get(f"/barometre/{ARA}/autre.csv").status_code == 404


# -- the pages in a browser ------------------------------------------------------------------


@pytest.mark.parametrize(("territory", "name", "screenshot_name"), [
    (CLICHY, "Clichy-sous-Bois", "barometre-commune"),
    (BORDEAUX, "Bordeaux Métropole", "barometre-epci"),
    (ARA, "Auvergne-Rhône-Alpes", "barometre-region"),
])
def test_territory_page_renders(page, territory: str, name: str,
                                screenshot_name: str) -> None:
    page.goto(f"/barometre/{territory}")
    assert page.locator("h1").inner_text() == name
    rows = page.locator("tr[id^=indicateur-]")
    assert rows.count() == 25
    # nothing hidden: the indicators without a source say so
    missing = page.locator("tr[data-statut=non-charge]")
    assert missing.count() >= 12
    # (the DSFR badge is upper case on screen)
    assert "source non chargée" in missing.first.inner_text().lower()
    loaded = page.locator("tr[data-statut=charge]").first
    assert "Source :" in loaded.inner_text() and "Période :" in loaded.inner_text()
    # the chart of the factor scores' bands is drawn by Observable Plot
    page.wait_for_selector("#barometre-scores-graphique svg")
    assert page.locator("#barometre-scores tbody tr").count() == 6
    screenshot(page, screenshot_name)


def test_definition_page_and_search(page) -> None:
    page.goto("/barometre")
    assert page.locator("h1").inner_text() == "Baromètre de la cohésion des territoires"
    assert page.locator("tr[id^=indicateur-]").count() == 25
    assert page.locator(".barometre-non-charge").count() == 12
    screenshot(page, "barometre-definition")
    page.fill("#barometre-recherche", "Clichy-sous-B")
    page.wait_for_selector("#barometre-recherche + ul[role=listbox] li")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/barometre/{CLICHY}")
    assert page.locator("h1").inner_text() == "Clichy-sous-Bois"


def test_unknown_territory_page(page) -> None:
    answer = page.goto("/barometre/COM:99999@2026")
    assert answer.status == 404
    assert "introuvable" in page.locator("main").inner_text()


def test_fact_sheet_page(page) -> None:
    page.goto("/barometre")
    page.click("#indicateur-revenu_median_uc a[href='/barometre/fiche/revenu_median_uc']")
    page.wait_for_url("**/barometre/fiche/revenu_median_uc")
    assert page.locator("h1").inner_text().startswith("Revenu disponible médian par UC")
    figures = page.locator("#fiche-1").inner_text()
    # the CGET's « 1,19 à 1,18 », written the French way
    assert "1,19" in figures and "1,18" in figures
    assert "carte_1_1.csv" in page.locator("main").inner_text()
    assert page.locator("#classement tbody tr").count() == 322
    screenshot(page, "barometre-fiche")
