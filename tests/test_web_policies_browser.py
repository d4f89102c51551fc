"""The « Politique de la ville » section in Debian's Chromium, on real data.

A visitor opens a contrat de ville's page (the Métropole d'Aix-Marseille-Provence), follows
one of its QPV to the QPV's portrait, then opens the funding map, a programme zoning's
page and the evolution view; every page runs under the application's
Content-Security-Policy and asks nothing from outside (``conftest.open_page``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import open_page, screenshot, wait_until
from test_policies_indicators import funding_warehouse_file  # noqa: F401  (the fixture)
from test_policies_pages import MARSEILLE, programmes_warehouse_file  # noqa: F401

READY = "window.cohesionPolicyReady === true"
#: A QPV of 2024 in Marseille (13e-14e arrondissements), of the PACA sample.
QPV = "QPV:QN01301M@2024"


@pytest.fixture(scope="module")
def server(programmes_warehouse_file: Path, serve_copy) -> Iterator[str]:  # noqa: F811
    yield from serve_copy(programmes_warehouse_file, warm=False)


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:
    yield from open_page(browser, server)


def test_a_contrat_de_ville_leads_to_its_qpv_portrait(page) -> None:
    page.goto(f"/politique-de-la-ville/territoire/{MARSEILLE}?year=2024")
    wait_until(page, READY)
    assert "Aix-Marseille" in page.locator("h1").inner_text()
    assert page.locator("#contrat-qpv tbody tr").count() > 60
    assert "Aix-Marseille-Provence" in page.locator("#contrat-epci").inner_text()
    assert page.locator("#politique-dispositifs tbody tr").count() >= 6
    comparison = page.locator("#contrat-comparaison tr[data-indicateur='population']")
    # Marseille's QPV have contours but no statistics: the row says so, not a figure
    assert "n'est pas chargé pour 103 des 103 QPV" in comparison.inner_text()
    screenshot(page, "politique-contrat-de-ville")

    page.locator(f"#contrat-qpv a[href='/territoire/{QPV}']").click()
    page.wait_for_url(f"**/territoire/{QPV}")
    assert page.locator("h1").inner_text() == "Florida Parc"
    assert "quartier prioritaire" in page.content().lower()
    screenshot(page, "portrait-qpv")


def test_the_funding_map_programmes_and_evolution(page) -> None:
    page.goto("/politique-de-la-ville?level=DEP&year=2024")
    wait_until(page, READY)
    painted = page.evaluate("""() => window.cohesionPolicyMap.getFeatureState(
        {source: 'territoires', sourceLayer: 'territoires', id: '13'}).c""")
    assert painted and painted.startswith("#")
    assert "Bouches-du-Rhône" in page.locator("#politique-tableau").inner_text()

    page.goto("/politique-de-la-ville/programmes/ACV")
    wait_until(page, READY)
    assert "11,4" in page.locator("#programme-part").inner_text()
    assert page.locator("#programme-comparaison tbody tr").count() == 4
    screenshot(page, "politique-programme-acv")

    page.goto("/politique-de-la-ville/evolution?level=DEP&territory=DEP:13")
    wait_until(page, READY)
    assert page.locator("#evolution-serie rect").count() == 6
    assert page.locator("#evolution-tableau tbody tr").count() > 90
    screenshot(page, "politique-evolution")


def test_qpv_indicators_map_in_their_generation(page) -> None:
    # the QPV of 2015 hold the Occitanie table: the map offers its indicators there, in
    # that generation, at the table's periods (Filosofi 2017 for the poverty rate)
    page.goto("/carte?level=QPV&indicator=taux_pauvrete")
    wait_until(page, "window.cohesionMapReady === true")
    assert page.locator("#choix-echelon").input_value() == "QPV"
    assert page.locator("#choix-millesime").input_value() == "2015"
    assert page.locator("#choix-periode").input_value() == "2017"
    assert "105" in page.locator("#legende").inner_text()  # the QPV of the table
    # Coeur De Ville (Saint-Girons, 40.2 % in the raw file) is painted; a QPV of
    # Marseille, with contours but no statistics, is not
    painted = page.evaluate("""(code) => window.cohesionMap.getFeatureState(
        {source: 'territoires', sourceLayer: 'territoires', id: code}).c""", "QP009001")
    assert painted and painted.startswith("#")
    assert page.evaluate("""(code) => window.cohesionMap.getFeatureState(
        {source: 'territoires', sourceLayer: 'territoires', id: code}).c""", "QP013001") is None
    # an indicator the QPV tables do not publish is not offered at this level
    assert page.locator("#choix-indicateur option[value='taux_chomage_15_64']").is_disabled()
    screenshot(page, "carte-qpv", full_page=False)
    # back to the départements: the QPV's layers (their thick outline too) make way
    page.select_option("#choix-echelon", "DEP")
    wait_until(page, "window.cohesionMapReady === true")
    assert page.evaluate("window.cohesionMap.getLayer('choroplethe-contour')") is None
    assert page.locator("#carte-erreur").inner_text() == ""
