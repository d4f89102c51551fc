"""Matching accompagnants with projects, with reasons; profiles kept in the store."""

# the fixtures of test_innovations_store are imported, then named as parameters
# ruff: noqa: F811

from __future__ import annotations

import pytest

from cohesion.errors import CohesionError, NotFoundError
from cohesion.innovations.matching import (
    Profile,
    places,
    rank_for_porteur,
    rank_supporters,
    territory_id,
)
from cohesion.innovations.records import Record
from cohesion.innovations.store import CarrefourStore
from test_innovations_store import clock, store, store_url  # noqa: F401

PROJECT = Record(id="contribution:1", source="contribution", source_key="1",
                 title="Recyclerie du Grand Parc", commune="33063", qpv="QN03304M",
                 domaines=["Économie circulaire", "Insertion", "Alimentation"])

#: The référentiel's memberships the service would plug in (a tiny extract).
MEMBERSHIPS = {"COM:33063": ["EPCI:243300316"], "DEP:33": ["REG:75"], "DEP:69": ["REG:84"]}


def member_of(territory: str) -> list[str]:
    return MEMBERSHIPS.get(territory, [])


def names(matches) -> list[str]:
    return [match.profile.name for match in matches]


def test_supporters_are_ranked_with_the_reasons_of_each_match() -> None:
    supporters = [
        Profile("Métropole active", ("EPCI:243300316",), domaines=("insertion",),
                supports=("accompagnement",)),
        Profile("Fonds régional", ("REG:75",), domaines=("economie circulaire", "insertion"),
                supports=("financement",)),
        Profile("Réseau national", ("FRA:FR",), supports=("mise en réseau",)),
        Profile("Quartier en action", ("QPV:QN03304M",), domaines=("Alimentation",)),
        Profile("Incubateur lyonnais", ("DEP:69",), domaines=("insertion",)),
        Profile("Fonds culture", ("DEP:33",), domaines=("culture",)),
        Profile("Un porteur", ("DEP:33",), kind="porteur", domaines=("insertion",)),
    ]
    matches = rank_supporters(PROJECT, supporters, member_of=member_of)
    assert names(matches) == ["Fonds régional", "Quartier en action", "Métropole active",
                              "Réseau national"]
    best = matches[0]
    assert best.shared_domaines == ("Économie circulaire", "Insertion")
    assert best.territory == "REG:75"
    assert best.reasons == ("domaines en commun : Économie circulaire, Insertion",
                            "intervient sur la région 75", "propose : financement")
    # shared domaines 2/3, région 0.6, no support asked for: 0.5
    assert best.score == pytest.approx(0.5 * 2 / 3 + 0.3 * 0.6 + 0.2 * 0.5, abs=1e-3)
    assert matches[-1].reasons[:2] == ("accompagne tous les domaines",
                                       "intervient dans toute la France")
    # without the référentiel's memberships, the région and the EPCI cannot be known
    assert names(rank_supporters(PROJECT, supporters)) == ["Quartier en action",
                                                           "Réseau national"]


def test_a_support_asked_for_filters_and_ranks() -> None:
    supporters = [Profile("Banque solidaire", ("DEP:33",), supports=("financement",)),
                  Profile("Pépinière", ("DEP:33",), supports=("hébergement", "Formation"))]
    matches = rank_supporters(PROJECT, supporters, wanted=["Formation", "financement"])
    assert [(m.profile.name, m.supports) for m in matches] == [
        ("Banque solidaire", ("financement",)), ("Pépinière", ("formation",))]
    assert rank_supporters(PROJECT, supporters, wanted=["expertise"]) == []


def test_porteurs_meet_the_accompagnants_of_their_territory() -> None:
    porteur = Profile("Tiers-lieu de Bègles", ("33039",), kind="porteur",
                      domaines=("Culture",), supports=("hébergement",))
    supporters = [Profile("Pépinière girondine", ("DEP:33",), supports=("hébergement",)),
                  Profile("Pépinière lyonnaise", ("DEP:69",), supports=("hébergement",))]
    [match] = rank_for_porteur(porteur, supporters)
    assert match.profile.name == "Pépinière girondine"
    assert "intervient sur le département 33" in match.reasons


def test_territories_are_normalised_and_checked() -> None:
    assert territory_id(" reg:75 ") == "REG:75"
    assert sorted(places(commune="97411")) == ["COM:97411", "DEP:974", "FRA:FR"]
    assert sorted(places(territories=["33063"], member_of=member_of)) == [
        "COM:33063", "DEP:33", "EPCI:243300316", "FRA:FR", "REG:75"]
    profile = Profile("Fonds", ("33063", "dep:33", "DEP:33"), supports=("FINANCEMENT",))
    assert (profile.territories, profile.supports) == (("COM:33063", "DEP:33"),
                                                       ("financement",))
    with pytest.raises(CohesionError, match="territoire illisible « Gironde »"):
        Profile("Fonds", ("Gironde",))
    with pytest.raises(CohesionError, match="au moins un territoire"):
        Profile("Fonds", ())
    with pytest.raises(CohesionError, match="type de soutien inconnu « mécénat »"):
        Profile("Fonds", ("DEP:33",), supports=("mécénat",))
    with pytest.raises(CohesionError, match="type de profil inconnu « financeur »"):
        Profile("Fonds", ("DEP:33",), kind="financeur")


def test_profiles_are_kept_in_the_store(store: CarrefourStore) -> None:
    saved = store.save_profile(Profile(
        "<b>France Active</b> Gironde", ("DEP:33",), domaines=("insertion",),
        supports=("financement",), description="Garanties <script>alert(1)</script>"
                                               "et prêts d'honneur.",
        url="https://franceactive.example.org"))
    assert saved.id is not None
    assert (saved.name, saved.description) == ("France Active Gironde",
                                               "Garanties et prêts d'honneur.")
    porteur = store.save_profile(Profile("Tiers-lieu", ("33039",), kind="porteur"))
    assert store.profile(saved.id) == saved
    assert store.profiles("accompagnant") == [saved]
    assert store.profiles() == [saved, porteur]  # by name
    changed = store.save_profile(Profile("France Active Gironde", ("DEP:33", "DEP:24"),
                                         supports=("financement", "accompagnement"),
                                         id=saved.id))
    assert store.profile(saved.id).territories == ("DEP:33", "DEP:24")
    assert rank_supporters(PROJECT, store.profiles())[0].profile == changed
    with pytest.raises(NotFoundError, match="aucun profil numéro 999"):
        store.save_profile(Profile("Fantôme", ("DEP:33",), id=999))
    with pytest.raises(CohesionError, match="site web : adresse en http"):
        store.save_profile(Profile("Piège", ("DEP:33",), url="javascript:alert(1)"))
