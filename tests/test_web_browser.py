"""The web application in a real browser: Playwright driving Debian's Chromium.

A uvicorn server runs the application on a copy of the loaded warehouse (référentiel,
Comparateur, Filosofi 2019 and 2020) in a background thread; the scenario is the one of
the issue: open the map, switch indicator and level, search "Clichy-sous-Bois", open
its portrait, compare two territories through a shared URL, download a CSV, and see an
upload refused with its message. A screenshot of each page is kept in
``artefacts/screenshots/`` (not in git).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import open_page, screenshot, wait_until

TOKEN = "browser-test-token-not-a-secret"
CLICHY = "COM:93014@2026"
AULNAY = "COM:93005@2026"
READY = "window.cohesionMapReady === true"


@pytest.fixture(scope="module")
def server(loaded_warehouse_file: Path, serve_copy) -> Iterator[str]:
    """The application on a copy of the loaded warehouse, with an admin token."""
    yield from serve_copy(loaded_warehouse_file, admin_token=TOKEN)


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:
    yield from open_page(browser, server)


def legend(page) -> str:
    return page.locator("#legende").inner_text()


def test_map_switch_indicator_and_level_then_open_a_portrait(page) -> None:
    page.goto("/carte")
    wait_until(page, READY)
    assert "Taux de chômage" in legend(page)
    assert page.locator("#choix-echelon").input_value() == "DEP"
    assert "départements sur" in legend(page)
    screenshot(page, "carte-departements", full_page=False)

    page.select_option("#choix-indicateur", "taux_pauvrete")
    wait_until(page, READY)
    assert "Taux de pauvreté" in legend(page)
    # medians and poverty rates are published by INSEE for communes only
    assert "non agrégeable" in legend(page).lower() or "Aucune valeur" in legend(page)

    page.select_option("#choix-echelon", "COM")
    wait_until(page, READY)
    text = legend(page)
    assert "communes sur" in text and "secret statistique" in text.lower()
    assert re.search(r"level=COM", page.url) and "indicator=taux_pauvrete" in page.url
    assert page.locator("#choix-periode").input_value() == "2020"

    page.click("label[for=methode-jenks]")
    wait_until(page, READY)
    assert "method=jenks" in page.url
    classes = page.locator(".legende-classes li").count()
    assert classes >= 5  # five classes and the missing values
    screenshot(page, "carte-communes", full_page=False)

    # the state lives in the address: reopening it gives the same map
    page.goto(page.url)
    wait_until(page, READY)
    assert page.locator("#methode-jenks").is_checked()
    assert page.locator("#choix-echelon").input_value() == "COM"

    # hover shows a commune, click opens its portrait
    box = page.locator("#carte").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45)
    page.wait_for_selector("#infobulle:not([hidden])")
    tooltip = page.locator("#infobulle").inner_text()
    assert re.search(r"\d{5}|2A\d{3}|2B\d{3}", tooltip)
    assert "%" in tooltip or "secret" in tooltip or "pas de donnée" in tooltip
    page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45)
    page.wait_for_url(re.compile(r"/territoire/COM:\w{5}@2026"))
    assert page.locator("h1").count() == 1


def test_search_clichy_sous_bois_and_its_portrait(page) -> None:
    page.goto("/donnees")
    search = page.locator("#recherche-input")
    search.press_sequentially("clichy sous bois", delay=20)
    option = page.locator("#suggestions-1 [role=option]", has_text="Clichy-sous-Bois")
    option.wait_for()
    assert search.get_attribute("aria-expanded") == "true"
    options = page.locator("#suggestions-1 [role=option]")
    position = next(i for i in range(options.count())
                    if "Clichy-sous-Bois" in options.nth(i).inner_text())
    for _ in range(position + 1):
        search.press("ArrowDown")
    assert search.get_attribute("aria-activedescendant") == f"suggestions-1-{position}"
    search.press("Enter")
    page.wait_for_url(f"**/territoire/{CLICHY}")

    assert page.locator("h1").inner_text() == "Clichy-sous-Bois"
    chomage = page.locator("#fiche-taux_chomage_15_64")
    text = chomage.inner_text()
    assert "20,1" in text and "Seine-Saint-Denis" in text and "Île-de-France" in text
    assert "valeur la plus élevée sur" in text and "communes" in text
    assert "Source" in text and "INSEE" in text and "2018" in text and "COG 2026" in text
    # evolution charts over all periods (population: 2013 and 2018)
    wait_until(page, "document.body.dataset.chartsReady === 'true'")
    assert page.locator("#fiche-population .fiche-graphique svg").count() == 1
    screenshot(page, "portrait")

    page.emulate_media(media="print")
    assert not page.locator("#telecharger-csv").is_visible()
    assert not page.locator("#recherche-input").is_visible()
    screenshot(page, "portrait-impression")


def test_portrait_of_an_epci_lists_its_communes(page) -> None:
    page.goto("/territoire/DEP:93@2026")
    heading = page.locator("#membres-COM")
    assert "39 communes" in heading.inner_text()
    assert page.locator("section.membres a", has_text="Clichy-sous-Bois").count() == 1
    screenshot(page, "portrait-departement")
    page.goto("/territoire/COM:99999@2026")
    assert "introuvable" in page.locator("h1").inner_text().lower()


def test_portrait_csv_download(page) -> None:
    page.goto(f"/territoire/{CLICHY}")
    with page.expect_download() as info:
        page.click("#telecharger-csv")
    download = info.value
    assert download.suggested_filename == "portrait_COM_93014_2026.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8"))))
    chomage = [r for r in rows if r["indicateur"] == "taux_chomage_15_64"]
    assert len(chomage) == 1
    row = chomage[0]
    assert row["territoire"] == CLICHY and row["periode"] == "2018"
    assert float(row["valeur"]) == pytest.approx(100 * 2215.50561315533 / 11006.1563225313)
    assert float(row["departement"]) < float(row["valeur"])
    assert int(row["rang"]) >= 1 and int(row["nombre"]) > 30_000
    assert "INSEE" in row["source"]
    population = [r for r in rows if r["indicateur"] == "population"]
    assert {r["periode"] for r in population} == {"2013", "2018"}


def test_compare_through_a_shared_url(page) -> None:
    page.goto(f"/comparer?ids={CLICHY},{AULNAY}")
    headers = page.locator("#comparaison thead th")
    assert "Clichy-sous-Bois" in headers.nth(1).inner_text()
    assert "Aulnay-sous-Bois" in headers.nth(2).inner_text()
    chomage = page.locator("#comparaison tbody tr", has_text="Taux de chômage")
    assert "20,1" in chomage.inner_text() and "Source" in chomage.inner_text()

    # add a territory with the search box: the address changes, so it can be shared
    search = page.locator("#ajout-territoire")
    search.press_sequentially("montfermeil", delay=20)
    page.locator("#suggestions-2 [role=option]", has_text="Montfermeil").first.wait_for()
    search.press("ArrowDown")
    search.press("Enter")
    page.wait_for_url(re.compile(r"ids=COM:93014@2026,COM:93005@2026,COM:93047@2026"))
    assert page.locator("#comparaison thead th").count() == 4
    screenshot(page, "comparateur")

    page.click("a[aria-label='Retirer Aulnay-sous-Bois de la comparaison']")
    page.wait_for_url(re.compile(r"ids=COM:93014@2026,COM:93047@2026$"))
    assert "Aulnay-sous-Bois" not in page.locator("#comparaison thead").inner_text()

    page.goto(f"/comparer?ids={CLICHY},COM:93014@2021")
    assert "Comparaison impossible" in page.locator(".fr-alert").inner_text()


def test_upload_refused_with_its_message(page, tmp_path: Path) -> None:
    page.goto("/donnees")
    table = page.locator("#jeux").inner_text()
    assert "comparateur" in table.lower() and "Licence Ouverte" in table
    bad = tmp_path / "base_cc_comparateur.CSV"
    bad.write_text("CODGEO;P18_POP\n93014;pas un nombre\n", encoding="utf-8")

    page.set_input_files("#import-fichier", str(bad))
    page.select_option("#import-importeur", "comparateur")
    page.fill("#import-jeton", "wrong-token")
    page.click("#import-bouton")
    alert = page.locator("#import-resultat .fr-alert")
    alert.wait_for()
    assert "Import refusé (401)" in alert.inner_text()
    assert "jeton d'administration" in alert.inner_text()

    page.fill("#import-jeton", TOKEN)
    page.click("#import-bouton")
    page.locator("#import-resultat .fr-alert", has_text="422").wait_for()
    message = page.locator("#import-resultat .fr-alert").inner_text()
    assert "Import refusé (422)" in message and "base_cc_comparateur.CSV" in message
    assert page.locator("#import-progression").is_hidden()
    screenshot(page, "donnees")


def test_classifications_in_the_browser(page) -> None:
    page.goto("/carte")
    result = page.evaluate("""async () => {
        const c = await import('/static/classify.js');
        const data = Float64Array.from([1, 1, 2, 2, 3, 10, 11, 12, 30, 31, 32, 33]);
        return { jenks: c.jenksBreaks(data, 3), quantiles: c.quantileBreaks(data, 3),
                 equal: c.equalBreaks(data, 4), classes: [0, 10, 29.9, 30, 99].map(
                   (v) => c.classOf(v, [10, 30])) };
    }""")
    assert result["jenks"] == [10, 30]
    assert result["quantiles"] == [3, 30]
    assert result["equal"] == [9, 17, 25]
    assert result["classes"] == [0, 1, 1, 2, 2]


def test_every_asset_is_served_by_the_application(page, server: str) -> None:
    for path in ("/static/vendor/dsfr/dsfr.min.css", "/static/vendor/maplibre/maplibre-gl.mjs",
                 "/static/vendor/maplibre/maplibre-gl-worker.mjs",
                 "/static/vendor/plot/plot.umd.min.js", "/static/vendor/d3/d3.min.js",
                 "/static/vendor/dsfr/fonts/Marianne-Regular.woff2",
                 "/static/vendor/dsfr/icons/system/search-line.svg"):
        assert page.request.get(server + path).ok, path
    # only the files the pages use: not the rest of node_modules
    assert page.request.get(server + "/static/vendor/dsfr/package.json").status == 404
    assert page.request.get(server + "/static/vendor/maplibre/../../x").status == 404
