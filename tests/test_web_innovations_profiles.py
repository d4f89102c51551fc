"""The Carrefour's matching profiles over HTTP: who supports, who seeks support, who fits.

On the real application (a copy of the built warehouse, the Carrefour's store and index
in temporary folders), through fastapi's TestClient, one client per person: an
accompagnant declares the Gironde, the domaine « solidarite » and « financement »; a
porteur in Bordeaux sees it with its reasons, a porteur in the Bouches-du-Rhône does not;
an unknown territory or domaine is refused field by field and nothing is saved; a forged
form token is refused; anonymous visitors are sent to sign in (pages) or answered 401
(API); the page of an innovation in Gironde lists the accompagnant; the API does the same
in JSON.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from carrefour_web import new_email, signed_up, token
from cohesion.core import Observatory
from cohesion.innovations.records import Harvest, Record
from cohesion.web import innovations_profiles

PAGE = "/innovations/profil"
FUND = {"kind": "accompagnant", "name": "Fonds solidaire girondin",
        "description": "Finance les initiatives solidaires de la Gironde.",
        "url": "https://fonds.example.org", "territories": "DEP:33",
        "domaines": ["solidarite"], "supports": ["financement"]}
FUND_REASONS = ("domaines en commun : Solidarité et action sociale",
                "intervient sur le département 33", "propose : financement")


def declared(client: TestClient, **fields: object) -> object:
    """Post the profile form with the page's token."""
    return client.post(PAGE, data={"csrf": token(client, PAGE), **fields})


def account_id(client: TestClient) -> int:
    return client.get("/api/innovations/me").json()["id"]


def section(page: str, section_id: str) -> str:
    """The text of the ``<section id=…>`` of ``page`` (unescaped)."""
    found = re.search(rf'<section[^>]* id="{section_id}">(.*?)</section>', page, re.DOTALL)
    assert found, f"no section {section_id}"
    return html.unescape(found.group(1))


def api_header(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/api/innovations/me").json()["csrf_token"]}


def with_fund(new_browser: Callable[[], TestClient], web_observatory: Observatory) -> None:
    """The fund of :data:`FUND` declared (once for the module, whichever test comes first)."""
    if not any(p.name == FUND["name"]
               for p in web_observatory.innovations.store.profiles("accompagnant")):
        client = signed_up(new_browser, new_email("profil"), "Dominique Profil")
        assert declared(client, **FUND).status_code == 303


# -- the page -------------------------------------------------------------------------


def test_a_porteur_in_gironde_sees_the_accompagnant_with_its_reasons(
        new_browser, web_observatory: Observatory) -> None:
    store = web_observatory.innovations.store
    fund = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    answer = declared(fund, **FUND)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"{PAGE}?type=accompagnant&message=profil"
    [stored] = store.profiles("accompagnant", account_id(fund))
    assert (stored.name, stored.territories, stored.domaines, stored.supports) == (
        FUND["name"], ("DEP:33",), ("solidarite",), ("financement",))
    shown = fund.get(answer.headers["location"]).text
    assert "Votre profil est enregistré" in shown
    assert 'id="profil-type-accompagnant" name="kind" value="accompagnant" checked' in shown
    assert 'id="c-domaines-solidarite" name="domaines" value="solidarite" checked' in shown
    assert 'id="c-supports-financement" name="supports" value="financement" checked' in shown
    assert 'id="profil-innovations"' in shown and 'id="profil-accompagnants"' not in shown

    # a porteur in Bordeaux, typed by its id: the fund fits, and the page says why
    bordeaux = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    answer = declared(bordeaux, kind="porteur", name="Épicerie du Grand Parc",
                      territories="COM:33063", domaines=["solidarite"])
    assert answer.status_code == 303, answer.text
    page = bordeaux.get(answer.headers["location"]).text
    listed = section(page, "profil-accompagnants")
    assert FUND["name"] in listed
    for reason in FUND_REASONS:
        assert reason in listed, reason
    fund_id = stored.id
    assert f'id="accompagnant-{fund_id}"' in page

    # a porteur named in words (the référentiel resolves it) fits too
    named = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    declared(named, kind="porteur", name="Tiers-lieu bordelais", territories="Bordeaux",
             domaines=["solidarite", "culture-medias"], supports=["financement"])
    [porteur] = store.profiles("porteur", account_id(named))
    assert porteur.territories == ("COM:33063",)
    assert FUND["name"] in section(named.get(f"{PAGE}?type=porteur").text,
                                   "profil-accompagnants")

    # a porteur in the Bouches-du-Rhône does not see it
    marseille = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    declared(marseille, kind="porteur", name="Jardin marseillais", territories="DEP:13",
             domaines=["solidarite"])
    listed = section(marseille.get(f"{PAGE}?type=porteur").text, "profil-accompagnants")
    assert FUND["name"] not in listed


def test_a_region_covers_its_communes_through_the_referentiel(
        new_browser, web_observatory: Observatory) -> None:
    with_fund(new_browser, web_observatory)
    region = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    assert declared(region, kind="accompagnant", name="Incubateur néo-aquitain",
                    territories="Nouvelle-Aquitaine", domaines=["solidarite"],
                    supports=["accompagnement"]).status_code == 303
    bordeaux = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    declared(bordeaux, kind="porteur", name="Atelier vélo", territories="33063",
             domaines=["solidarite"], supports=["accompagnement"])
    listed = section(bordeaux.get(f"{PAGE}?type=porteur").text, "profil-accompagnants")
    assert "Incubateur néo-aquitain" in listed and "intervient sur la région 75" in listed
    # the fund offers financement only: a porteur seeking accompagnement does not get it
    assert FUND["name"] not in listed


def test_one_profile_per_account_and_kind(new_browser, web_observatory: Observatory) -> None:
    store = web_observatory.innovations.store
    client = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    me = account_id(client)
    declared(client, **FUND | {"name": "Réseau d'abord"})
    declared(client, **FUND | {"name": "Réseau renommé", "territories": "REG:75, FRA:FR"})
    [profile] = store.profiles("accompagnant", me)
    assert (profile.name, profile.territories) == ("Réseau renommé", ("REG:75", "FRA:FR"))
    declared(client, kind="porteur", name="Projet du réseau", territories="DEP:33")
    assert {p.kind for p in store.profiles(account_id=me)} == {"accompagnant", "porteur"}
    # the page shows the asked kind, filled, and lists both profiles
    page = client.get(f"{PAGE}?type=accompagnant").text
    assert 'value="Réseau renommé"' in page and 'value="REG:75, FRA:FR"' in page
    assert 'id="profil-resume-accompagnant"' in page and 'id="profil-resume-porteur"' in page
    # a porteur does not see its own account's accompagnant profile
    listed = section(client.get(f"{PAGE}?type=porteur").text, "profil-accompagnants")
    assert "Réseau renommé" not in listed


def test_invalid_fields_are_refused_one_by_one_and_nothing_is_saved(
        new_browser, web_observatory: Observatory) -> None:
    store = web_observatory.innovations.store
    client = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    answer = declared(client, **FUND | {
        "name": "Fonds <b>imaginaire</b>", "territories": "DEP:33, Atlantide, DEP:999",
        "domaines": ["solidarite", "astrologie"], "supports": ["financement", "magie"],
        "url": "javascript:alert(1)"})
    assert answer.status_code == 400
    page = answer.text
    assert "4 champs à corriger" in page
    for anchor in ("champ-territoires", "facette-domaines", "facette-supports", "champ-url"):
        assert f'href="#{anchor}"' in page, anchor
    assert 'id="champ-territoires-erreur"' in page and "Atlantide" in page
    assert "domaine inconnu « astrologie »" in html.unescape(page)
    assert "type de soutien inconnu « magie »" in html.unescape(page)
    # the form comes back with what was typed (escaped)
    assert 'value="DEP:33, Atlantide, DEP:999"' in page
    assert 'value="Fonds &lt;b&gt;imaginaire&lt;/b&gt;"' in page
    assert 'id="c-domaines-solidarite" name="domaines" value="solidarite" checked' in page
    assert store.profiles(account_id=account_id(client)) == []

    for fields, name in (({"territories": ""}, "territories"), ({"name": "x"}, "name"),
                         ({"kind": "mecene"}, "kind"),
                         ({"territories": ", ".join(["DEP:33"] * 21)}, "territories")):
        refused = declared(client, **FUND | fields)
        assert refused.status_code == 400, fields
        assert f'id="{innovations_profiles.ANCHORS[name]}-erreur"' in refused.text, fields
    assert store.profiles(account_id=account_id(client)) == []


def test_a_forged_token_is_refused_and_anonymous_visitors_sign_in_first(
        new_browser, web_observatory: Observatory) -> None:
    store = web_observatory.innovations.store
    client = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    other = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    others_token = token(other, PAGE)
    for forged in ({"csrf": "0" * 64}, {}, {"csrf": others_token}):
        answer = client.post(PAGE, data=FUND | forged)
        assert answer.status_code == 403, forged
        assert "jeton de formulaire invalide" in answer.text
    assert client.put("/api/innovations/profiles/me", json=FUND | {
        "territories": ["DEP:33"]}).status_code == 403
    assert client.put("/api/innovations/profiles/me", json=FUND | {"territories": ["DEP:33"]},
                      headers={"X-CSRF-Token": others_token}).status_code == 403
    assert store.profiles(account_id=account_id(client)) == []

    anonymous = new_browser()
    answer = anonymous.get(f"{PAGE}?type=porteur")
    assert answer.status_code == 303
    assert answer.headers["location"] == \
        "/innovations/connexion?next=%2Finnovations%2Fprofil%3Ftype%3Dporteur"
    assert anonymous.get("/api/innovations/profiles/me").status_code == 401
    assert anonymous.put("/api/innovations/profiles/me",
                         json=FUND | {"territories": ["DEP:33"]}).status_code == 401
    form = anonymous.post(PAGE, data=FUND | {"csrf": token(anonymous, "/innovations/connexion")})
    assert form.status_code == 401
    assert anonymous.get("/api/innovations/supporters",
                         params={"territory": "DEP:33"}).status_code == 200


# -- the project page and the accompagnant's innovations --------------------------------


def test_an_innovation_in_gironde_lists_the_accompagnant(new_browser,
                                                         web_observatory: Observatory) -> None:
    carrefour = web_observatory.innovations
    fund = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    declared(fund, **FUND | {"name": "Fondation des Chartrons"})
    record = Record("essai-profils:1", "essai-profils", "1", "Bagagerie solidaire",
                    description="Une bagagerie pour les personnes sans domicile.",
                    commune="33063", commune_name="Bordeaux", departement="33",
                    domaines=["solidarite"])
    elsewhere = Record("essai-profils:2", "essai-profils", "2", "Laverie solidaire",
                       description="Une laverie solidaire à Marseille.", commune="13055",
                       commune_name="Marseille", departement="13", domaines=["solidarite"])
    carrefour.store.apply_harvest(Harvest("essai-profils", [record, elsewhere]))
    carrefour.dedupe()
    carrefour.reindex()
    entity = carrefour.store.entity_mapping()[record.id]

    project = new_browser().get(f"/innovations/projet/{entity}")
    assert project.status_code == 200
    listed = section(project.text, "projet-accompagnants")
    assert "Fondation des Chartrons" in listed and "intervient sur le département 33" in listed

    # the accompagnant's page lists the innovations of its territory and domaines
    page = fund.get(f"{PAGE}?type=accompagnant").text
    found = section(page, "profil-innovations")
    assert "Bagagerie solidaire" in found and "Laverie solidaire" not in found
    assert f'href="/innovations/projet/{entity}"' in found


# -- the API ------------------------------------------------------------------------------


def test_the_api_declares_reads_and_finds_supporters(new_browser,
                                                     web_observatory: Observatory) -> None:
    store = web_observatory.innovations.store
    with_fund(new_browser, web_observatory)
    client = signed_up(new_browser, new_email("profil"), "Dominique Profil")
    header = api_header(client)
    assert client.get("/api/innovations/profiles/me").json() == []
    invalid = client.put("/api/innovations/profiles/me", headers=header, json={
        "kind": "accompagnant", "name": "Réseau API", "territories": ["Atlantide"],
        "domaines": ["astrologie"]})
    assert invalid.status_code == 400
    assert set(invalid.json()["errors"]) == {"territories", "domaines"}
    assert client.put("/api/innovations/profiles/me", headers=header, json={
        "kind": "accompagnant", "name": "x", "territories": ["DEP:33"], "extra": 1}
                      ).status_code == 422
    assert store.profiles(account_id=account_id(client)) == []

    saved = client.put("/api/innovations/profiles/me", headers=header, json={
        "kind": "accompagnant", "name": "Réseau API", "territories": ["gironde", "REG:75"],
        "domaines": ["solidarite"], "supports": ["Mise en reseau"]})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert (body["territories"], body["supports"]) == (["DEP:33", "REG:75"],
                                                       ["mise en réseau"])
    again = client.put("/api/innovations/profiles/me", headers=header, json={
        "kind": "accompagnant", "name": "Réseau API bis", "territories": ["DEP:33"],
        "domaines": ["solidarite"], "supports": ["mise en réseau"]})
    assert again.json()["id"] == body["id"]
    porteur = client.put("/api/innovations/profiles/me", headers=header, json={
        "kind": "porteur", "name": "Porteur API", "territories": ["COM:33063"],
        "domaines": ["solidarite"], "supports": ["financement"]}).json()
    assert FUND["name"] in [s["name"] for s in porteur["supporters"]]
    assert "Réseau API bis" not in [s["name"] for s in porteur["supporters"]]
    mine = {p["kind"]: p for p in client.get("/api/innovations/profiles/me").json()}
    assert mine["accompagnant"]["name"] == "Réseau API bis"
    assert mine["porteur"]["id"] == porteur["id"]

    public = new_browser()
    found = public.get("/api/innovations/supporters",
                       params={"territory": "COM:33063", "domaine": "solidarite",
                               "support": "financement"})
    assert found.status_code == 200
    fund = next(s for s in found.json() if s["name"] == FUND["name"])
    assert fund["reasons"] == list(FUND_REASONS)
    assert (fund["territory"], fund["matched_supports"]) == ("DEP:33", ["financement"])
    assert "account_id" not in fund
    names = [s["name"] for s in public.get("/api/innovations/supporters",
                                           params={"territory": "DEP:13"}).json()]
    assert FUND["name"] not in names
    assert public.get("/api/innovations/supporters",
                      params={"territory": "DEP:33", "domaine": "astrologie"}
                      ).status_code == 400
    assert public.get("/api/innovations/supporters",
                      params={"territory": "Atlantide"}).status_code == 404
    assert public.get("/api/innovations/supporters").status_code == 422


def test_the_api_is_in_the_openapi_document(new_browser) -> None:
    paths = new_browser().get("/api/openapi.json").json()["paths"]
    assert {"get", "put"} <= set(paths["/api/innovations/profiles/me"])
    assert "get" in paths["/api/innovations/supporters"]
    assert PAGE not in paths
