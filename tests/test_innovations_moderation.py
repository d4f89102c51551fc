"""Contributions and moderation, from submission to publication, reports and audit trail.

The checks of what users type are pure functions; the workflow runs on both backends.
"""

# the fixtures of test_innovations_store are imported, then named as parameters
# ruff: noqa: F811

from __future__ import annotations

from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher

from cohesion.errors import CohesionError, ConflictError, ErrorKind
from cohesion.innovations.accounts import (
    Accounts,
    PermissionDeniedError,
    create_first_administrator,
)
from cohesion.innovations.moderation import (
    REPORTS_TO_HIDE,
    SUBMISSIONS_PER_HOUR,
    InvalidSubmissionError,
    Moderation,
    RateLimitError,
    clean_project,
)
from cohesion.innovations.store import Account, CarrefourStore
from test_innovations_store import (  # noqa: F401
    Clock,
    clock,
    harvest,
    hasher,
    record,
    store,
    store_url,
)

PASSWORD = "une phrase de passe solide"
PROJECT = {
    "title": "Épicerie solidaire du Grand Parc",
    "description": "Une épicerie à prix choisis. Ouverte aux habitants du quartier "
                   "<script>document.location='https://pirate.example'</script>depuis 2019.",
    "porteur": "Association Parc en partage",
    "siret": "732 829 320 00074",
    "address": "12 rue du Parc",
    "postcode": "33300",
    "commune": "33063",
    "commune_name": "Bordeaux",
    "lat": "44,8610",
    "lon": -0.5720,
    "domaines": "alimentation, solidarité, alimentation",
    "publics": ["habitants des QPV"],
    "url": "https://parc-en-partage.example.org",
}


# -- what users type ---------------------------------------------------------------------


def test_html_never_survives_in_text_fields() -> None:
    cleaned = clean_project(PROJECT | {
        "title": "<b>Jardin</b> <img src=x onerror=alert(1)>partagé",
        "summary": "&lt;script&gt;alert(1)&lt;/script&gt;Tom & Jerry < 3",
        "porteur": "<a href='javascript:alert(1)'>Les amis</a>",
        "domaines": ["<i>culture</i>", "<script>x</script>"]})
    assert cleaned["title"] == "Jardin partagé"
    assert cleaned["summary"] == "Tom & Jerry < 3"
    assert cleaned["porteur"] == "Les amis"
    assert cleaned["domaines"] == ["culture"]
    assert cleaned["description"] == ("Une épicerie à prix choisis. Ouverte aux habitants du "
                                      "quartier depuis 2019.")
    assert not any("<script" in str(value).lower() or "onerror" in str(value)
                   for value in cleaned.values())


def test_fields_are_cleaned_and_derived() -> None:
    cleaned = clean_project(PROJECT)
    assert (cleaned["siret"], cleaned["siren"]) == ("73282932000074", "732829320")
    assert (cleaned["commune"], cleaned["departement"]) == ("33063", "33")
    assert (cleaned["lat"], cleaned["lon"]) == (44.861, -0.572)
    assert cleaned["domaines"] == ["alimentation", "solidarité"]
    assert cleaned["summary"] == "" and cleaned["programme"] is None
    # La Poste's establishments follow INSEE's exception to the Luhn key
    assert clean_project(PROJECT | {"siret": "35600000000001"})["siren"] == "356000000"
    assert clean_project(PROJECT | {"commune": "2a004"})["departement"] == "2A"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("siret", "73282932000075", "SIRET invalide « 73282932000075 » : la clé de contrôle"),
    ("siret", "7328293200007", "14 chiffres attendus"),
    ("siret", "7328293200007A", "14 chiffres attendus"),
    ("postcode", "3300", "code postal invalide « 3300 » : 5 chiffres attendus"),
    ("commune", "3306", "code commune invalide"),
    ("lat", "95", "latitude : entre -90 et 90 degrés"),
    ("lon", "nan", "longitude : entre -180 et 180 degrés"),
    ("lat", "nord", "latitude : nombre attendu"),
    ("title", "x" * 201, "titre : 200 caractères au plus"),
    ("title", "<b></b>ab", "titre : 3 caractères au moins"),
    ("description", "x" * 50_000, "description : 10000 caractères au plus"),
    ("url", "javascript:alert(1)", "site web : adresse en http:// ou https://"),
    ("domaines", [f"d{k}" for k in range(25)], "domaines : 20 termes au plus"),
    ("statut", "published", "champ inconnu « statut »"),
])
def test_invalid_fields_are_refused_clearly(field: str, value: object, message: str) -> None:
    with pytest.raises(InvalidSubmissionError) as refused:
        clean_project(PROJECT | {field: value})
    assert message in refused.value.errors[field]
    assert refused.value.kind is ErrorKind.INVALID


def test_every_invalid_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidSubmissionError) as refused:
        clean_project(PROJECT | {"siret": "123", "postcode": "ABCDE", "lon": None})
    assert set(refused.value.errors) == {"siret", "postcode", "lat"}
    assert "latitude et longitude vont ensemble" in str(refused.value)


# -- the workflow --------------------------------------------------------------------------


@dataclass
class People:
    admin: Account
    moderator: Account
    alice: Account
    bob: Account
    carol: Account
    dan: Account


@pytest.fixture
def people(store: CarrefourStore, hasher: PasswordHasher) -> People:
    accounts = Accounts(store, hasher)
    admin = create_first_administrator(store, "admin@exemple.fr", "Admin", PASSWORD, hasher)
    moderator = accounts.create("moderation@exemple.fr", "Modération", PASSWORD)
    moderator = accounts.set_role(admin, moderator.id, "moderateur")
    return People(admin, moderator, *(accounts.create(f"{name}@exemple.fr", name.title(),
                                                      PASSWORD)
                                      for name in ("alice", "bob", "carol", "dan")))


@pytest.fixture
def moderation(store: CarrefourStore) -> Moderation:
    return Moderation(store)


def test_a_contribution_goes_from_submission_to_publication(
        moderation: Moderation, store: CarrefourStore, people: People) -> None:
    submitted = moderation.submit(people.alice, PROJECT)
    assert submitted.id.startswith("contribution:") and len(submitted.id) == 13 + 32
    assert (submitted.source, submitted.status, submitted.siren) == (
        "contribution", "pending", "732829320")
    assert submitted.summary == "Une épicerie à prix choisis."
    assert "<script" not in submitted.description and "pirate" not in submitted.description
    assert list(store.records()) == []  # not public while pending
    [mine] = moderation.contributions(people.alice)
    assert (mine.record.id, mine.reason) == (submitted.id, None)
    assert moderation.contributions(people.bob) == []

    with pytest.raises(PermissionDeniedError, match="réservé aux comptes modérateur"):
        moderation.publish(people.alice, submitted.id)
    with pytest.raises(PermissionDeniedError):
        moderation.pending(people.bob)
    assert [r.id for r in moderation.pending(people.moderator)] == [submitted.id]
    published = moderation.publish(people.moderator, submitted.id)
    assert published.status == "published"
    assert [r.id for r in store.records()] == [submitted.id]
    assert moderation.pending(people.moderator) == []
    with pytest.raises(ConflictError, match="est publiée : cette action demande une fiche "
                                            "en attente"):
        moderation.publish(people.admin, submitted.id)  # an administrator moderates too

    refused = moderation.submit(people.alice, PROJECT | {"title": "Doublon de l'épicerie"})
    with pytest.raises(CohesionError, match="motif : 3 caractères au moins"):
        moderation.reject(people.moderator, refused.id, "")
    moderation.reject(people.moderator, refused.id, "Doublon d'une fiche publiée")
    reasons = {c.record.id: (c.record.status, c.reason)
               for c in moderation.contributions(people.alice)}
    assert reasons[refused.id] == ("rejected", "Doublon d'une fiche publiée")


def test_edits_of_published_records_are_proposals(moderation: Moderation,
                                                  store: CarrefourStore,
                                                  people: People) -> None:
    pending = moderation.submit(people.alice, PROJECT)
    with pytest.raises(ConflictError, match="seule une fiche publiée reçoit"):
        moderation.propose_edit(people.bob, pending.id, {"title": "Autre titre"})
    record_id = moderation.publish(people.moderator, pending.id).id

    proposal = moderation.propose_edit(people.bob, record_id, {
        "summary": "Épicerie <em>solidaire</em> à prix choisis", "title": PROJECT["title"],
        "programme": "Quartiers solidaires"})
    assert proposal.changes == {
        "summary": ["Une épicerie à prix choisis.", "Épicerie solidaire à prix choisis"],
        "programme": [None, "Quartiers solidaires"]}
    assert store.record(record_id).summary == "Une épicerie à prix choisis."  # not yet
    with pytest.raises(CohesionError, match="ne change rien"):
        moderation.propose_edit(people.bob, record_id, {"title": PROJECT["title"]})
    rival = moderation.propose_edit(people.carol, record_id, {"summary": "Un autre résumé"})

    with pytest.raises(PermissionDeniedError):
        moderation.accept_proposal(people.bob, proposal.id)
    edited = moderation.accept_proposal(people.moderator, proposal.id)
    assert (edited.summary, edited.programme) == ("Épicerie solidaire à prix choisis",
                                                  "Quartiers solidaires")
    with pytest.raises(ConflictError, match="déjà été traitée"):
        moderation.accept_proposal(people.moderator, proposal.id)
    # the rival was made against the old summary: accepting it would undo the edit
    with pytest.raises(ConflictError, match="a changé depuis la proposition"):
        moderation.accept_proposal(people.moderator, rival.id)
    assert store.record(record_id).summary == "Épicerie solidaire à prix choisis"
    closed = moderation.reject_proposal(people.moderator, rival.id, "Résumé moins précis")
    assert (closed.status, closed.reason) == ("rejected", "Résumé moins précis")
    assert moderation.proposals(people.moderator) == []
    assert [p.id for p in moderation.proposals(people.moderator, "accepted")] == [proposal.id]


def test_an_accepted_edit_of_a_harvested_record_lasts_until_its_source_changes(
        moderation: Moderation, store: CarrefourStore, people: People) -> None:
    store.apply_harvest(harvest(record("a")))
    proposal = moderation.propose_edit(people.bob, "rss-demo:a", {"postcode": "33000"})
    moderation.accept_proposal(people.moderator, proposal.id)
    again = store.apply_harvest(harvest(record("a")))
    assert again.unchanged == 1 and store.record("rss-demo:a").postcode == "33000"
    changed = store.apply_harvest(harvest(record("a", "Projet a, nouveau nom")))
    assert changed.updated == 1 and store.record("rss-demo:a").postcode is None


def test_reports_hide_a_record_until_a_moderator_decides(moderation: Moderation,
                                                         store: CarrefourStore,
                                                         people: People) -> None:
    record_id = moderation.publish(people.moderator,
                                   moderation.submit(people.alice, PROJECT).id).id
    target = f"fiche:{record_id}"
    reporters = [people.bob, people.carol, people.dan]
    for count, reporter in enumerate(reporters[:-1], 1):
        assert moderation.report(reporter, record_id, "Adresse fausse").status == "published"
        assert len(moderation.reported(people.moderator)[0].reports) == count
    with pytest.raises(ConflictError, match="déjà signalé"):
        moderation.report(people.bob, record_id, "Toujours fausse")
    assert REPORTS_TO_HIDE == 3
    hidden = moderation.report(people.dan, record_id, "Projet fermé depuis 2022")
    assert hidden.status == "hidden"
    assert list(store.records()) == []
    with pytest.raises(ConflictError, match="seule une fiche publiée peut être signalée"):
        moderation.report(people.alice, record_id, "Encore")
    [queued] = moderation.reported(people.moderator)
    assert queued.record.id == record_id
    assert [r.reason for r in queued.reports] == ["Adresse fausse", "Adresse fausse",
                                                  "Projet fermé depuis 2022"]

    assert moderation.restore(people.moderator, record_id).status == "published"
    assert moderation.reported(people.moderator) == []
    # reports start again from zero after a restore
    moderation.report(people.bob, record_id, "Fermé, vraiment")
    removed = moderation.remove(people.moderator, record_id, "Projet arrêté, confirmé")
    assert removed.status == "rejected"
    with pytest.raises(ConflictError):
        moderation.restore(people.moderator, record_id)

    trail = list(reversed(moderation.audit_trail(people.moderator, target)))
    assert [(e.action, e.actor_id) for e in trail] == [
        ("soumettre", people.alice.id), ("publier", people.moderator.id),
        ("signaler", people.bob.id), ("signaler", people.carol.id),
        ("signaler", people.dan.id), ("masquer", None),
        ("retablir", people.moderator.id), ("signaler", people.bob.id),
        ("retirer", people.moderator.id)]
    assert trail[5].details == {"signalements": 3}
    assert trail[6].details == {"statut": "published", "signalements_clos": 3}
    assert trail[-1].details["motif"] == "Projet arrêté, confirmé"
    assert trail[-1].label == "retrait" and trail[0].at.endswith("+00:00")
    with pytest.raises(PermissionDeniedError):
        moderation.audit_trail(people.bob)


def test_submissions_are_rate_limited(store: CarrefourStore, clock: Clock,
                                      people: People) -> None:
    moderation = Moderation(store)
    for number in range(SUBMISSIONS_PER_HOUR):
        clock.advance(minutes=1)
        moderation.submit(people.alice, PROJECT | {"title": f"Projet numéro {number}"})
    with pytest.raises(RateLimitError, match="20 contributions ou propositions en moins de "
                                             "60 minutes") as limited:
        moderation.submit(people.alice, PROJECT)
    assert limited.value.kind is ErrorKind.TOO_MANY
    moderation.submit(people.bob, PROJECT)  # per account
    clock.advance(minutes=41)  # the first submission is now more than an hour old
    moderation.submit(people.alice, PROJECT)
    assert len(moderation.contributions(people.alice)) == SUBMISSIONS_PER_HOUR + 1


def test_only_moderators_decide_duplicate_pairs(moderation: Moderation,
                                               store: CarrefourStore, people: People) -> None:
    store.apply_harvest(harvest(record("a"), record("b")))
    with pytest.raises(PermissionDeniedError, match="décider d'une paire"):
        moderation.decide_pair(people.alice, "rss-demo:b", "rss-demo:a", "same")
    pair = moderation.decide_pair(people.moderator, "rss-demo:b", "rss-demo:a", "same")
    assert (pair.record_a, pair.decision, pair.reviewer_id) == (
        "rss-demo:a", "same", people.moderator.id)
    assert store.decisions() == {("rss-demo:a", "rss-demo:b"): "same"}
