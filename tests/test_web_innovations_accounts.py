"""The Carrefour's accounts, contributions, moderation and review over HTTP.

On the real application (a copy of the built warehouse, the Carrefour's store in a
temporary SQLite file), through fastapi's TestClient, one client per person so that
each keeps its own cookies: accounts are created and signed in (argon2 hashes), a
forged form token changes nothing, ten wrong passwords are answered 429 with
Retry-After, a contributor cannot moderate, a ``<script>`` never comes back unescaped,
a contribution goes from submission to publication, a pair of possible duplicates is
decided; the API does the same in JSON.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from carrefour_web import PASSWORD, TOKEN, new_email, signed_up, token
from cohesion.core import Observatory
from cohesion.innovations.accounts import create_first_administrator
from cohesion.innovations.records import Harvest, Record
from cohesion.innovations.store import Account
from cohesion.innovations.store.models import AccountRow
from cohesion.web.sessions import CSRF_COOKIE, SESSION_COOKIE, SIGN_IN_RATE

MODERATOR = "moderatrice@exemple.fr"
SCRIPT = '<script>alert("carrefour")</script>'
PROJECT = {"title": "Épicerie solidaire du Grand Parc",
           "summary": "Une épicerie à prix choisis.",
           "description": "Une épicerie solidaire ouverte à tous les habitants du quartier, "
                          "avec des ateliers de cuisine.",
           "porteur": "Association Le Panier", "postcode": "33300",
           "commune_name": "Bordeaux", "commune": "33063",
           "domaines": ["alimentation", "solidarite"], "publics": ["habitants-qpv"]}


@pytest.fixture(scope="module")
def moderator(web_observatory: Observatory) -> Account:
    carrefour = web_observatory.innovations
    admin = create_first_administrator(carrefour.store, "admin@exemple.fr", "Alex Admin",
                                       PASSWORD)
    return carrefour.accounts.create(MODERATOR, "Morgane Modère", PASSWORD,
                                     role="moderateur", by=admin)


def post(client: TestClient, url: str, data: dict, page: str) -> object:
    """Post a form of ``page`` to ``url``, with the page's token."""
    return client.post(url, data={"csrf": token(client, page), **data})


def signed_in(new_browser: Callable[[], TestClient], email: str) -> TestClient:
    client = new_browser()
    answer = post(client, "/innovations/connexion", {"email": email, "password": PASSWORD},
                  "/innovations/connexion")
    assert answer.status_code == 303, answer.text
    return client


def submitted(client: TestClient, **changes: object) -> object:
    return post(client, "/innovations/contribuer", PROJECT | changes, "/innovations/contribuer")


def harvested(web_observatory: Observatory, source: str, *titles: str) -> list[str]:
    """Published records of a harvested ``source``, one per title; their ids."""
    records = [Record(f"{source}:{i}", source, str(i), title, description=f"{title}, "
                      "un tiers-lieu de quartier.", porteur="Collectif Essai",
                      commune="33063", commune_name="Bordeaux")
               for i, title in enumerate(titles)]
    web_observatory.innovations.store.apply_harvest(Harvest(source, records))
    web_observatory.innovations.dedupe()  # as a harvest does: each record in an innovation
    return [record.id for record in records]


def form_fields(page: str) -> dict[str, object]:
    """The values of a project form as the page shows them (texts and checked boxes)."""
    fields: dict[str, object] = {
        name: html.unescape(value) for name, value in re.findall(
            r'<input class="fr-input[^"]*" id="[^"]+" name="(\w+)"[^>]* value="([^"]*)"', page)}
    fields |= {name: html.unescape(value).strip() for name, value in re.findall(
        r'<textarea[^>]* name="(\w+)"[^>]*>(.*?)</textarea>', page, re.DOTALL)}
    for name, value in re.findall(r'name="(\w+)" value="([^"]+)" checked', page):
        fields.setdefault(name, []).append(value)
    return fields


def my_statuses(client: TestClient) -> dict[str, str]:
    page = client.get("/innovations/mes-contributions")
    assert page.status_code == 200
    return dict(re.findall(r'data-record="([^"]+)" data-status="([a-z]+)"', page.text))


# -- accounts -------------------------------------------------------------------------


def test_account_creation_sign_in_and_out(new_browser, web_observatory: Observatory) -> None:
    email = new_email()
    client = new_browser()
    page = client.get("/innovations/inscription")
    assert page.status_code == 200 and 'id="champ-courriel"' in page.text
    assert CSRF_COOKIE in client.cookies
    answer = client.post("/innovations/inscription", data={
        "csrf": TOKEN.search(page.text).group(1), "email": email.upper(),
        "display_name": "Camille Contributrice", "password": PASSWORD})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/innovations/contribuer?message=compte-cree"
    assert SESSION_COOKIE in client.cookies
    me = client.get("/api/innovations/me").json()
    assert (me["email"], me["role"]) == (email, "contributeur")
    # the password is kept as an argon2id hash, never in clear
    with web_observatory.innovations.store.transaction() as session:
        stored = session.scalars(select(AccountRow.password_hash)
                                 .where(AccountRow.email == email)).one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    welcome = client.get("/innovations/contribuer?message=compte-cree")
    assert "Votre compte est créé" in welcome.text and 'id="bouton-deconnexion"' in welcome.text

    # the same address cannot be used twice: the form says so, values kept
    again = post(new_browser(), "/innovations/inscription", {
        "email": email, "display_name": "Autre", "password": PASSWORD},
        "/innovations/inscription")
    assert again.status_code == 409 and "existe déjà" in again.text
    assert f'value="{email}"' in again.text
    short = post(new_browser(), "/innovations/inscription", {
        "email": new_email(), "display_name": "Court", "password": "court"},
        "/innovations/inscription")
    assert short.status_code == 400 and "trop court" in short.text

    out = post(client, "/innovations/deconnexion", {}, "/innovations/contribuer")
    assert out.status_code == 303 and out.headers["location"] == "/innovations?message=deconnecte"
    assert client.get("/api/innovations/me").status_code == 401

    back = new_browser()
    answer = back.post("/innovations/connexion", data={
        "csrf": token(back, "/innovations/connexion?next=/innovations/mes-contributions"),
        "email": email, "password": PASSWORD, "next": "/innovations/mes-contributions"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/innovations/mes-contributions?message=connecte"
    assert back.get("/api/innovations/me").json()["email"] == email


def test_cookies_are_http_only_same_site_and_secure_over_https(new_browser,
                                                               carrefour_app: FastAPI) -> None:
    email = new_email()
    signed_up(new_browser, email)
    client = new_browser()
    first = client.get("/innovations/connexion")
    [browser_cookie] = first.headers.get_list("set-cookie")
    assert browser_cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in browser_cookie and "SameSite=strict" in browser_cookie
    assert "Secure" not in browser_cookie
    settings = carrefour_app.state.settings
    carrefour_app.state.settings = settings.but(secure_cookies=True)
    try:
        answer = client.post("/innovations/connexion", data={
            "csrf": TOKEN.search(first.text).group(1), "email": email, "password": PASSWORD})
        [session_cookie] = answer.headers.get_list("set-cookie")
        fresh = new_browser().get("/innovations/connexion").headers["set-cookie"]
    finally:
        carrefour_app.state.settings = settings
    assert session_cookie.startswith(f"{SESSION_COOKIE}=")
    for part in ("HttpOnly", "SameSite=lax", "Secure", "Path=/"):
        assert part in session_cookie
    assert "Secure" in fresh and "SameSite=strict" in fresh


def test_next_is_a_local_path_only(new_browser) -> None:
    client = new_browser()
    page = client.get("/innovations/connexion", params={"next": "https://ailleurs.example/"})
    assert 'name="next" value=""' in page.text
    email = signed_up(new_browser).get("/api/innovations/me").json()["email"]
    for target in ("//ailleurs.example/", "https://ailleurs.example/", "/\\ailleurs.example",
                   "javascript:alert(1)"):
        answer = post(client, "/innovations/connexion",
                      {"email": email, "password": PASSWORD, "next": target},
                      "/innovations/connexion")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/innovations?message=connecte"


def test_anonymous_visitors_are_sent_to_the_sign_in_page(new_browser) -> None:
    client = new_browser()
    answer = client.get("/innovations/contribuer")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/innovations/connexion?next=%2Finnovations%2Fcontribuer"
    page = client.get(answer.headers["location"])
    assert 'name="next" value="/innovations/contribuer"' in page.text
    assert client.get("/api/innovations/contributions").status_code == 401
    assert client.get("/api/innovations/me").json()["error"].startswith("connexion nécessaire")


# -- guards ---------------------------------------------------------------------------


def test_a_forged_form_token_is_refused_and_changes_nothing(new_browser,
                                                            web_observatory: Observatory) -> None:
    client = signed_up(new_browser)
    other = signed_up(new_browser)
    others_token = token(other, "/innovations/contribuer")
    mine = token(client, "/innovations/contribuer")
    for forged in ({"csrf": "0" * 64}, {}, {"csrf": others_token}):
        answer = client.post("/innovations/contribuer", data=PROJECT | forged)
        assert answer.status_code == 403, forged
        assert "jeton de formulaire invalide" in answer.text
    # the right token without the new_browser cookie it is bound to: refused too
    bare = new_browser()
    bare.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    assert bare.post("/innovations/contribuer",
                     data=PROJECT | {"csrf": mine}).status_code == 403
    assert my_statuses(client) == {}
    # the API: the session cookie alone is not enough
    assert client.post("/api/innovations/contributions", json=PROJECT).status_code == 403
    assert client.post("/api/innovations/contributions", json=PROJECT,
                       headers={"X-CSRF-Token": others_token}).status_code == 403
    assert client.get("/api/innovations/contributions").json() == []
    # signing out needs the token as well
    assert client.post("/innovations/deconnexion", data={"csrf": "x"}).status_code == 403
    assert client.get("/api/innovations/me").status_code == 200


def test_forms_are_read_bounded_and_as_forms_only(new_browser) -> None:
    client = signed_up(new_browser)
    csrf = token(client, "/innovations/contribuer")
    huge = client.post("/innovations/contribuer", content=f"csrf={csrf}&description="
                       + "x" * 300_000, headers={"content-type":
                                                 "application/x-www-form-urlencoded"})
    assert huge.status_code == 413 and "trop volumineux" in huge.text
    multipart = client.post("/innovations/contribuer", data={"csrf": csrf, "title": "Jardin"},
                            files={"piece": ("a.txt", b"x")})
    assert multipart.status_code == 415
    assert my_statuses(client) == {}


def test_ten_wrong_passwords_are_answered_429_with_retry_after(new_browser) -> None:
    email = signed_up(new_browser).get("/api/innovations/me").json()["email"]
    client = new_browser()
    form_token = token(client, "/innovations/connexion")
    answers = [client.post("/innovations/connexion", data={
        "csrf": form_token, "email": email, "password": f"mauvais mot de passe {n}"})
        for n in range(10)]
    assert [a.status_code for a in answers[:9]] == [401] * 9
    assert "adresse électronique ou mot de passe incorrect" in answers[0].text
    locked = answers[9]
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 60
    assert "trop de tentatives de connexion infructueuses" in locked.text
    assert 'id="formulaire-erreur"' in locked.text and f'value="{email}"' in locked.text
    # even the right password is refused while the account is locked
    right = client.post("/innovations/connexion", data={
        "csrf": form_token, "email": email, "password": PASSWORD})
    assert right.status_code == 429 and "retry-after" in right.headers
    assert SESSION_COOKIE not in client.cookies


def test_sign_ins_are_limited_per_client_address(new_browser) -> None:
    client = new_browser()
    form_token = token(client, "/innovations/connexion")
    codes = [client.post("/innovations/connexion", data={
        "csrf": form_token, "email": f"inconnu{n}@exemple.fr", "password": "x" * 12}
        ).status_code for n in range(SIGN_IN_RATE[0] + 1)]
    assert codes == [401] * SIGN_IN_RATE[0] + [429]
    # the same address through the API: refused before any password is checked
    api = client.post("/api/innovations/session",
                      json={"email": "inconnu@exemple.fr", "password": "x" * 12})
    assert api.status_code == 429 and int(api.headers["retry-after"]) >= 1
    assert api.json()["error"].startswith("trop de tentatives de connexion depuis votre "
                                          "adresse")
    # another address is not concerned
    assert new_browser().post("/api/innovations/session", json={
        "email": "inconnu@exemple.fr", "password": "x" * 12}).status_code == 401


def test_a_contributor_cannot_moderate(new_browser, moderator: Account) -> None:
    client = signed_up(new_browser)
    for url in ("/innovations/moderation", "/innovations/doublons", "/innovations/journal",
                "/api/innovations/moderation/pending", "/api/innovations/review"):
        answer = client.get(url)
        assert answer.status_code == 403, url
        assert "réservé aux comptes modérateur" in answer.text
    assert "lien-moderation" not in client.get("/innovations/mes-contributions").text
    assert client.post("/innovations/moderation/fiche/contribution:abc/publier", data={
        "csrf": token(client, "/innovations/contribuer")}).status_code == 403
    moderating = signed_in(new_browser, MODERATOR)
    assert moderating.get("/innovations/moderation").status_code == 200
    assert 'id="lien-moderation"' in moderating.get("/innovations/moderation").text


def test_no_script_comes_back_unescaped(new_browser, web_observatory: Observatory,
                                        moderator: Account) -> None:
    client = signed_up(new_browser)
    refused = submitted(client, title=f"Jardin {SCRIPT}", siret=SCRIPT, url=SCRIPT)
    assert refused.status_code == 400
    assert 'id="champ-siret-erreur"' in refused.text
    assert SCRIPT not in refused.text and "&lt;script&gt;" in refused.text
    answer = submitted(client, title=f"Jardin {SCRIPT}partagé",
                       description=f"Un jardin {SCRIPT} ouvert à tous les voisins.",
                       porteur=f"<b>Collectif</b> {SCRIPT}")
    assert answer.status_code == 303
    [(record_id, _)] = my_statuses(client).items()
    record = web_observatory.innovations.store.record(record_id)
    assert "<" not in record.title + record.description + (record.porteur or "")
    moderating = signed_in(new_browser, MODERATOR)
    pages = [client.get(url) for url in ("/innovations/mes-contributions",
                                         f"/innovations/contribuer?message={SCRIPT}")]
    pages += [moderating.get(url) for url in (
        "/innovations/moderation", "/innovations/doublons",
        f"/innovations/journal?cible=fiche:{record_id}", f"/innovations/journal?cible={SCRIPT}",
        f"/innovations/connexion?next=/{SCRIPT}")]
    for page in pages:
        assert page.status_code == 200, page.url
        assert "<script>alert" not in page.text, page.url
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
        assert all(("src=" in attributes and not body.strip())
                   or 'type="application/json"' in attributes
                   for attributes, body in scripts), page.url
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", page.text), page.url


# -- the workflow -----------------------------------------------------------------------


def test_invalid_fields_are_shown_with_the_values_kept(new_browser) -> None:
    client = signed_up(new_browser)
    answer = submitted(client, title="Ép", siret="123", postcode="Bordeaux",
                       url="ftp://exemple.fr")
    assert answer.status_code == 400
    for field in ("titre", "siret", "cp", "url"):
        assert f'id="champ-{field}-erreur"' in answer.text, field
    assert "4 champs à corriger" in answer.text
    assert 'value="Association Le Panier"' in answer.text
    assert 'value="alimentation" checked' in answer.text
    assert "Une épicerie solidaire ouverte à tous" in answer.text
    assert my_statuses(client) == {}


def test_a_contribution_is_published_by_a_moderator(new_browser, web_observatory: Observatory,
                                                    moderator: Account) -> None:
    client = signed_up(new_browser)
    answer = submitted(client)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/innovations/mes-contributions?message=contribution"
    page = client.get(answer.headers["location"])
    assert "Votre proposition est en attente de modération" in page.text
    [(record_id, status)] = my_statuses(client).items()
    assert record_id.startswith("contribution:") and status == "pending"
    refused_one = submitted(client, title="Épicerie en double")
    assert refused_one.status_code == 303
    [other_id] = set(my_statuses(client)) - {record_id}

    assert client.get(f"/innovations/fiche/{record_id}").status_code == 409  # no page yet

    moderating = signed_in(new_browser, MODERATOR)
    queue = moderating.get("/innovations/moderation")
    assert PROJECT["title"] in queue.text and 'id="bouton-publier-' in queue.text
    published = post(moderating, f"/innovations/moderation/fiche/{record_id}/publier", {},
                     "/innovations/moderation")
    assert published.status_code == 303
    assert published.headers["location"] == "/innovations/moderation?message=publiee"
    refused = post(moderating, f"/innovations/moderation/fiche/{other_id}/refuser",
                   {"reason": "Doublon de l'épicerie du Grand Parc"}, "/innovations/moderation")
    assert refused.status_code == 303
    # a second decision on the same contribution is refused: it is no longer pending
    again = post(moderating, f"/innovations/moderation/fiche/{record_id}/publier", {},
                 "/innovations/moderation")
    assert again.status_code == 409

    assert my_statuses(client) == {record_id: "published", other_id: "rejected"}
    # published, it is an innovation of the Carrefour, with its page
    page_of = client.get(f"/innovations/fiche/{record_id}")
    assert page_of.status_code == 303
    assert re.fullmatch(r"/innovations/projet/E[0-9a-f]+", page_of.headers["location"])
    mine = client.get("/innovations/mes-contributions").text
    assert "Doublon de l&#39;épicerie du Grand Parc" in mine and "publiée" in mine
    journal = moderating.get(f"/innovations/journal?cible=fiche:{record_id}")
    assert "publication" in journal.text and "Morgane Modère" in journal.text
    assert "contribution déposée" in journal.text


def test_an_edit_is_proposed_accepted_and_a_record_reported(new_browser,
                                                            web_observatory: Observatory,
                                                            moderator: Account) -> None:
    [record_id] = harvested(web_observatory, "essai-modif", "Tiers-lieu des Aubiers")
    client = signed_up(new_browser)
    # lists link a record to its innovation's page, which names the innovation
    found = client.get(f"/innovations/fiche/{record_id}")
    assert found.status_code == 303
    project = found.headers["location"]
    entity = web_observatory.innovations.store.entity_mapping()[record_id]
    assert project == f"/innovations/projet/{entity}"
    # the innovation's page asks for an edit by its own id: the record that speaks for it
    form = client.get(f"{project}/modifier")
    assert form.status_code == 200 and 'value="Tiers-lieu des Aubiers"' in form.text
    assert 'action="/innovations/projet/essai-modif%3A0/modifier"' in form.text
    values = form_fields(form.text)
    assert values["porteur"] == "Collectif Essai" and values["commune"] == "33063"
    assert values["description"].startswith("Tiers-lieu des Aubiers, un tiers-lieu")
    answer = post(client, f"/innovations/projet/{record_id}/modifier",
                  values | {"porteur": "Collectif des Aubiers"},
                  f"/innovations/projet/{record_id}/modifier")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/innovations/mes-contributions?message=proposition"
    unchanged = post(client, f"/innovations/projet/{record_id}/modifier", values,
                     f"/innovations/projet/{record_id}/modifier")
    assert unchanged.status_code == 400 and "ne change rien" in unchanged.text

    moderating = signed_in(new_browser, MODERATOR)
    queue = moderating.get("/innovations/moderation").text
    assert "Collectif Essai" in queue and "Collectif des Aubiers" in queue
    [proposal] = re.findall(r'action="/innovations/moderation/proposition/(\d+)/accepter"', queue)
    accepted = post(moderating, f"/innovations/moderation/proposition/{proposal}/accepter", {},
                    "/innovations/moderation")
    assert accepted.status_code == 303
    assert web_observatory.innovations.store.record(record_id).porteur == "Collectif des Aubiers"

    reported = post(client, f"{project}/signaler",
                    {"reason": "Ce lieu a fermé en 2024"}, "/innovations/mes-contributions")
    assert reported.status_code == 303
    assert reported.headers["location"] == f"{project}?message=signalement"
    listed = moderating.get("/innovations/moderation").text
    assert "Ce lieu a fermé en 2024" in listed and 'id="bouton-retirer-essai-modif-0"' in listed
    twice = post(client, f"/innovations/projet/{record_id}/signaler",
                 {"reason": "encore fermé"}, "/innovations/mes-contributions")
    assert twice.status_code == 409


def test_the_review_queue_lists_a_pair_and_keeps_the_decision(
        new_browser, web_observatory: Observatory, moderator: Account) -> None:
    first, second = harvested(web_observatory, "essai-doublons", "Repair café de Bacalan",
                              "Atelier de réparation Bacalan")
    store = web_observatory.innovations.store
    store.queue_pairs([(first, second, 0.55)])
    moderating = signed_in(new_browser, MODERATOR)
    page = moderating.get("/innovations/doublons")
    assert page.status_code == 200
    assert "Repair café de Bacalan" in page.text and "Atelier de réparation Bacalan" in page.text
    assert "55 %" in page.text
    assert 'id="bouton-meme-essai-doublons-0--essai-doublons-1"' in page.text
    bad = post(moderating, "/innovations/doublons",
               {"first": first, "second": "pas un identifiant", "decision": "same"},
               "/innovations/doublons")
    assert bad.status_code == 400
    answer = post(moderating, "/innovations/doublons",
                  {"first": first, "second": second, "decision": "different"},
                  "/innovations/doublons")
    assert answer.status_code == 303, answer.text
    assert store.decisions()[(first, second)] == "different"
    assert "formulaire-paire-essai-doublons-0--essai-doublons-1" not in \
        moderating.get("/innovations/doublons").text
    journal = moderating.get("/innovations/journal").text
    assert "décision sur une paire de doublons" in journal


# -- the API ----------------------------------------------------------------------------


def test_the_api_signs_in_submits_and_moderates(new_browser, web_observatory: Observatory,
                                                moderator: Account) -> None:
    email = signed_up(new_browser).get("/api/innovations/me").json()["email"]
    client = new_browser()
    wrong = client.post("/api/innovations/session", json={"email": email, "password": "non"})
    assert wrong.status_code == 401 and wrong.json()["status"] == 401
    extra = client.post("/api/innovations/session",
                        json={"email": email, "password": PASSWORD, "role": "moderateur"})
    assert extra.status_code == 422
    session = client.post("/api/innovations/session", json={"email": email,
                                                            "password": PASSWORD})
    assert session.status_code == 200 and SESSION_COOKIE in client.cookies
    header = {"X-CSRF-Token": session.json()["csrf_token"]}
    assert client.get("/api/innovations/me").json()["csrf_token"] == header["X-CSRF-Token"]

    invalid = client.post("/api/innovations/contributions", headers=header,
                          json={"title": "Ép", "siret": "123"})
    assert invalid.status_code == 400 and set(invalid.json()["errors"]) == {"title", "siret"}
    too_long = client.post("/api/innovations/contributions", headers=header,
                           json={"title": "x" * 201})
    assert too_long.status_code == 422
    created = client.post("/api/innovations/contributions", headers=header,
                          json=PROJECT | {"description": f"Avec {SCRIPT} dedans."})
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["status"] == "pending" and "<script" not in record["description"]
    [mine] = client.get("/api/innovations/contributions").json()
    assert mine["record"]["id"] == record["id"] and mine["reason"] is None

    moderating = new_browser()
    signed = moderating.post("/api/innovations/session",
                             json={"email": MODERATOR, "password": PASSWORD}).json()
    moderator_header = {"X-CSRF-Token": signed["csrf_token"]}
    pending = moderating.get("/api/innovations/moderation/pending").json()
    assert record["id"] in [r["id"] for r in pending]
    assert moderating.post(f"/api/innovations/moderation/{record['id']}/publish"
                           ).status_code == 403
    assert moderating.post("/api/innovations/moderation/pas%20un%20id/publish",
                           headers=moderator_header).status_code == 422
    published = moderating.post(f"/api/innovations/moderation/{record['id']}/publish",
                                headers=moderator_header)
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert client.get("/api/innovations/contributions").json()[0]["record"]["status"] == \
        "published"

    other = client.post("/api/innovations/contributions", headers=header,
                        json={"title": "Une autre épicerie", "description": "Une autre."})
    rejected = moderating.post(f"/api/innovations/moderation/{other.json()['id']}/reject",
                               headers=moderator_header, json={"reason": "Hors sujet"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    reasons = {c["record"]["id"]: c["reason"]
               for c in client.get("/api/innovations/contributions").json()}
    assert reasons[other.json()["id"]] == "Hors sujet"

    first, second = harvested(web_observatory, "essai-api", "Ressourcerie du Lac",
                              "La ressourcerie du lac")
    web_observatory.innovations.store.queue_pairs([(second, first, 0.6)])
    queue = moderating.get("/api/innovations/review").json()
    assert {"record_a": first, "record_b": second} in [
        {"record_a": p["record_a"], "record_b": p["record_b"]} for p in queue]
    decided = moderating.post("/api/innovations/review", headers=moderator_header,
                              json={"first": second, "second": first, "decision": "same"})
    assert decided.status_code == 200 and decided.json()["decision"] == "same"
    assert web_observatory.innovations.store.decisions()[(first, second)] == "same"
    assert client.post("/api/innovations/review", headers=header, json={
        "first": first, "second": second, "decision": "same"}).status_code == 403

    assert client.delete("/api/innovations/session").status_code == 403
    assert client.delete("/api/innovations/session", headers=header).status_code == 204
    assert client.get("/api/innovations/me").status_code == 401


def test_the_api_is_in_the_openapi_document(new_browser) -> None:
    paths = new_browser().get("/api/openapi.json").json()["paths"]
    for path in ("/api/innovations/session", "/api/innovations/me",
                 "/api/innovations/contributions", "/api/innovations/moderation/pending",
                 "/api/innovations/moderation/{record_id}/publish",
                 "/api/innovations/moderation/{record_id}/reject", "/api/innovations/review"):
        assert path in paths, path
    assert "delete" in paths["/api/innovations/session"]
    assert not any(path.startswith("/innovations") for path in paths)
