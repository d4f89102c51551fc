"""The Carrefour des innovations sociales in a real browser (Debian's Chromium, Playwright).

A contribution goes from submission through moderation to the search results, with the
accounts and roles of the real application; the harvested Transiscope sample is
searched with its facets and drawn on the clustered map. The store is a SQLite file and
the index the embedded tantivy index of the test's own folder; pages are checked for
script errors, outside requests and Content-Security-Policy refusals (``open_page``).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cohesion.core import Observatory
from cohesion.innovations.accounts import create_first_administrator
from cohesion.settings import Settings
from conftest import SHARED_DATA, open_page, screenshot, wait_until

PASSWORD = "un mot de passe assez long"
#: A word no source uses: the contribution is the only innovation it finds.
UNIQUE = "Zéphyrinothèque"


@pytest.fixture(scope="module")
def carrefour(qpv_warehouse_file: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> dict[str, str]:
    """A Carrefour with the Transiscope sample harvested, and a moderator."""
    folder = tmp_path_factory.mktemp("carrefour-navigateur")
    settings = {"carrefour": f"sqlite:///{folder / 'carrefour.sqlite'}",
                "carrefour_index": str(folder / "index")}
    copy = folder / "entrepot.duckdb"
    shutil.copy(qpv_warehouse_file, copy)
    core = Observatory(copy, Settings.from_environ().but(**settings))
    try:
        outcome = core.innovations.harvest(["transiscope"], SHARED_DATA)
        assert outcome.reports[0][1].new > 600 and outcome.indexed > 600
        store = core.innovations.store
        admin = create_first_administrator(store, "admin@exemple.fr", "Administratrice",
                                           PASSWORD)
        core.innovations.accounts.create("moderation@exemple.fr", "Modérateur", PASSWORD,
                                         role="moderateur", by=admin)
    finally:
        core.close()
    return settings


@pytest.fixture(scope="module")
def server(qpv_warehouse_file: Path, carrefour: dict[str, str], serve_copy) -> Iterator[str]:
    yield from serve_copy(qpv_warehouse_file, warm=False, **carrefour)


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:
    yield from open_page(browser, server)


@pytest.fixture
def moderator_page(browser, server: str) -> Iterator[object]:
    yield from open_page(browser, server)


def sign_in(page: object, email: str) -> None:
    page.goto("/innovations/connexion")
    page.fill("#champ-courriel", email)
    page.fill("#champ-mot-de-passe", PASSWORD)
    page.click("#bouton-valider")
    page.wait_for_selector("#bouton-deconnexion")


def found(page: object, text: str) -> int:
    page.goto(f"/innovations?q={text}")
    heading = page.inner_text("#innovations-total")
    return int(re.sub(r"\D", "", heading.split(" ")[0]) or 0) if heading[0].isdigit() else 0


def test_search_facets_and_the_clustered_map(page: object) -> None:
    page.goto("/innovations")
    wait_until(page, "window.cohesionInnovationsReady === true")
    total = int(re.sub(r"\D", "", page.inner_text("#innovations-total").split("innovation")[0]))
    assert total > 600
    drawn = page.inner_text("#innovations-carte-etat")
    assert "localisée" in drawn
    assert page.evaluate("window.cohesionInnovationsDrawn") > 600
    assert page.evaluate("window.cohesionInnovationsMap.queryRenderedFeatures("
                         "{layers: ['grappes', 'projets']}).length") > 0
    domaines = page.locator("#facette-domaines input")
    assert domaines.count() >= 5
    label = page.locator("#facette-domaines label").first
    count = int(re.sub(r"\D", "", label.locator(".innovations-compte").inner_text()))
    label.click()
    page.wait_for_url(re.compile(r"domaines="))
    filtered = int(re.sub(r"\D", "",
                          page.inner_text("#innovations-total").split("innovation")[0]))
    assert filtered == count < total
    screenshot(page, "innovations-recherche")
    page.goto("/innovations?q=epicerie%20solidiare")  # a typo
    assert page.locator("#innovations-resultats li").count() > 0
    first = page.locator("#innovations-resultats li h3 a").first
    first.click()
    page.wait_for_selector("#projet-provenance")
    assert "Transiscope" in page.inner_text("#projet-provenance")


def test_a_contribution_goes_through_moderation_to_the_search(page: object,
                                                               moderator_page: object) -> None:
    page.goto("/innovations/inscription")
    page.fill("#champ-nom", "Camille")
    page.fill("#champ-courriel", "camille@exemple.fr")
    page.fill("#champ-mot-de-passe", PASSWORD)
    page.click("#bouton-valider")
    page.wait_for_selector("#bouton-deconnexion")

    page.goto("/innovations/contribuer")
    page.fill("#champ-titre", f"{UNIQUE} de quartier")
    page.fill("#champ-resume", "Une bibliothèque d'outils partagés entre voisins.")
    page.fill("#champ-description", f"La {UNIQUE} prête des outils. <script>alert(1)</script>")
    page.fill("#champ-cp", "33000")
    page.locator("label[for=c-domaines-lien-social]").click()
    page.click("#bouton-proposer")
    page.wait_for_selector("#innovations-message")
    assert found(page, UNIQUE) == 0  # pending: not searchable yet

    sign_in(moderator_page, "moderation@exemple.fr")
    moderator_page.goto("/innovations/moderation")
    publish = moderator_page.locator("button[id^=bouton-publier-contribution-]")
    assert publish.count() == 1
    publish.click()
    moderator_page.wait_for_selector("#innovations-message")

    assert found(page, UNIQUE) == 1
    page.locator("#innovations-resultats li h3 a").first.click()
    page.wait_for_selector("#projet-titre")
    assert UNIQUE in page.inner_text("#projet-titre")
    assert "<script>" not in page.content().split("projet-titre")[1]
    assert "Contributions au Carrefour" in page.inner_text("#projet-provenance")
    screenshot(page, "innovations-projet-contribue")
    page.goto("/innovations/mes-contributions")
    assert "publiée" in page.inner_text("main").lower()
