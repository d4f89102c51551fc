"""The portrait of a QPV: its statistics beside its communes, its EPCI outside QPV, France.

On the real Occitanie QPV table (INSEE, via Toulouse DataViz) and the real Filosofi 2019
commune file: every figure is checked against the raw files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from cohesion.core import Observatory
from cohesion.core.portrait import (
    PUBLISHED_ONLY,
    _same_period,
    outside_qpv,
    outside_qpv_ratio,
    qpv_of,
)
from cohesion.web.app import create_app
from conftest import COMPARATEUR, FILOSOFI_2019, QPV_OCCITANIE, QPV_STATISTICS, shared

GRAND_MIRAIL = "QPV:QP031007@2015"
TOULOUSE_METROPOLE = "243100518"


@pytest.fixture(scope="module")
def core(qpv_statistics_warehouse_file: Path) -> Iterator[Observatory]:
    observatory = Observatory(qpv_statistics_warehouse_file)
    yield observatory
    observatory.close()


@pytest.fixture(scope="module")
def grand_mirail(core: Observatory) -> dict:
    return core.portrait(GRAND_MIRAIL)


def raw_qpv() -> pd.DataFrame:
    return pd.read_csv(shared(QPV_STATISTICS), encoding="utf-8-sig",
                       dtype={"code_qp": str}).set_index("code_qp")


def by_indicator(portrait: dict) -> dict[str, dict]:
    return {figure["indicator"]: figure for figure in portrait["figures"]}


def test_links_of_a_toulouse_qpv(grand_mirail: dict) -> None:
    links = grand_mirail["links"]
    assert [c["id"] for c in links["COM"]] == ["COM:31555@2026"]
    assert [e["code"] for e in links["EPCI"]] == [TOULOUSE_METROPOLE]
    assert [d["code"] for d in links["DEP"]] == ["31"]
    assert [r["code"] for r in links["REG"]] == ["76"]
    assert grand_mirail["territory"]["name"] == "Grand Mirail"
    assert {p["level"] for p in grand_mirail["territory"]["parents"]} == {
        "COM", "EPCI", "DEP", "REG"}


def test_every_statistic_is_the_raw_file(grand_mirail: dict) -> None:
    raw = raw_qpv().loc["QP031007"]
    figures = by_indicator(grand_mirail)
    assert len(figures) == 41
    assert figures["population"]["value"] == raw["pop_mun"] == 31691
    assert figures["taux_pauvrete_60"]["value"] == pytest.approx(raw["tp60"])
    assert figures["revenu_median"]["value"] == raw["disp_q2"]
    assert figures["demandeurs_emploi_abcde"]["value"] == raw["abcde"]
    assert figures["taux_emploi_15_64"]["value"] == pytest.approx(raw["tx_tot_empl"])
    assert figures["indice_jeunesse"]["value"] == pytest.approx(raw["ind_jeune"])
    assert figures["taux_pauvrete_60"]["section"] == "Revenus et pauvreté"


def test_commune_compared_at_its_own_period_said(grand_mirail: dict) -> None:
    filosofi = pd.read_csv(shared(FILOSOFI_2019), sep=";", dtype={"CODGEO": str},
                           usecols=["CODGEO", "TP6019", "MED19"]).set_index("CODGEO")
    poverty = by_indicator(grand_mirail)["taux_pauvrete_60"]
    [toulouse] = poverty["communes"]
    # the QPV table is Filosofi 2017, the communes of the warehouse 2019 and 2020:
    # the nearest period is read and said, never passed off as 2017
    assert toulouse["value"] == pytest.approx(float(filosofi.loc["31555", "TP6019"]))
    assert toulouse["period"] == "2019"
    assert toulouse["note"] == "valeur de 2019, le QPV est en 2017"
    median = by_indicator(grand_mirail)["revenu_median"]["communes"][0]
    assert median["value"] == pytest.approx(float(filosofi.loc["31555", "MED19"]))
    # France's population is read at the QPV's period (the 2013 census, both sides)
    france = by_indicator(grand_mirail)["population"]["comparisons"]["FRA"]
    assert (france["period"], france["missing"]) == ("2013", None)
    assert france["value"] == communes_only(comparateur())["P13_POP"].sum() == 65_564_756


def test_a_comparison_of_another_period_never_fills_value() -> None:
    # every reader of a portrait (CLI table, CSV) takes ``value`` as of the QPV's period
    france = {"value": 65_564_756.0, "period": "2013", "missing": None,
              "missing_label": None, "note": None}
    moved = _same_period(france, "2017")
    assert moved["value"] is None and moved["other_value"] == 65_564_756.0
    assert moved["missing"] == "other_period"
    assert re.fullmatch(r"65\D564\D756 en 2013 \(QPV : 2017\)", moved["missing_label"])
    assert _same_period(france, "2013") is france


def test_outside_qpv_only_where_the_sums_allow(grand_mirail: dict) -> None:
    figures = by_indicator(grand_mirail)
    # a published rate has no numerator nor denominator: no « hors QPV »
    for rate in ("taux_pauvrete_60", "part_menages_imposes", "revenu_median"):
        assert figures[rate]["outside_qpv"]["value"] is None
        assert figures[rate]["outside_qpv"]["note"] == PUBLISHED_ONLY
    # a statistic of the QPV only is said so, in every column
    own = figures["demandeurs_emploi_abcde"]
    assert own["compared_as"] is None
    assert all(c["note"].startswith("statistique propre aux QPV")
               for c in [*own["communes"], *own["comparisons"].values(), own["outside_qpv"]])


def test_communes_outside_qpv_from_the_table_itself(grand_mirail: dict) -> None:
    raw = raw_qpv().loc["QP031007"]
    population = by_indicator(grand_mirail)["population"]
    # Toulouse's 458,298 inhabitants less the 55,543 of its seven QPV, same file and period
    assert population["communes_outside_qpv"]["value"] == raw["pop_com"] - raw["pop_com_qp"]
    assert population["communes_outside_qpv"]["value"] == 402_755
    assert by_indicator(grand_mirail)["taux_pauvrete_60"]["communes_outside_qpv"] is None


def test_qpv_of_toulouse_metropole(core: Observatory) -> None:
    raw = raw_qpv()
    inside, partly = qpv_of(core, 2015, "EPCI", TOULOUSE_METROPOLE, 2026)
    assert set(raw.index[raw["nom_commune"] == "Toulouse"]) <= set(inside)
    assert partly == []


def test_outside_arithmetic_on_the_raw_figures() -> None:
    raw = raw_qpv()
    toulouse = raw[raw["nom_commune"] == "Toulouse"]
    # the commune's population outside its QPV, from the table's own census columns
    communes = float(toulouse["pop_com"].iloc[0])
    assert outside_qpv(communes, toulouse["pop_mun"]) == communes - toulouse["pop_mun"].sum()
    assert communes - toulouse["pop_mun"].sum() == communes - toulouse["pop_com_qp"].iloc[0]
    share = outside_qpv_ratio(toulouse["abcde"].sum() + 1000, communes, toulouse["abcde"],
                              toulouse["pop_mun"], scale=100)
    assert share == pytest.approx(100 * 1000 / (communes - toulouse["pop_mun"].sum()))
    assert outside_qpv_ratio(5, 10, [5], [10]) is None


def test_a_qpv_over_two_communes(core: Observatory) -> None:
    tarbes_est = core.portrait("QPV:QP065003@2015")
    assert [c["code"] for c in tarbes_est["links"]["COM"]] == ["65417", "65440"]
    population = by_indicator(tarbes_est)["population"]
    assert [c["name"] for c in population["communes"]] == ["Séméac", "Tarbes"]


def test_the_page_and_the_api(core: Observatory) -> None:
    with TestClient(create_app(core, warm=False)) as client:
        page = client.get(f"/territoire/{GRAND_MIRAIL}")
        assert page.status_code == 200
        assert "EPCI hors QPV" in page.text and "31\u202f691" in page.text
        assert 'href="/territoire/EPCI:243100518@2026"' in page.text
        # a QPV's id carries its generation: another one is unknown, not a server error
        unknown = client.get("/api/portrait/QPV:QP031007@2024")
        assert unknown.status_code == 404 and "QP031007" in unknown.json()["error"]
        api = client.get(f"/api/portrait/{GRAND_MIRAIL}").json()
        assert by_indicator(api)["population"]["value"] == 31691
        csv = client.get(f"/territoire/{GRAND_MIRAIL}/chiffres.csv").text.splitlines()
        row = next(line for line in csv if ",population," in line)
        # the France figure is of the QPV's period: filled in the CSV
        assert row.split(",")[8] == "31691.0"
        assert float(row.split(",")[15]) == 65_564_756


# -- the EPCI outside QPV, where the periods meet -----------------------------------------

def comparateur() -> pd.DataFrame:
    return pd.read_csv(shared(COMPARATEUR), sep=";", dtype={"CODGEO": str},
                       usecols=["CODGEO", "P13_POP"]).set_index("CODGEO")


def communes_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The Comparateur without the arrondissements of Paris, Lyon and Marseille."""
    arrondissements = frame.index.str.match(r"^(751(0[1-9]|1\d|20)|132(0[1-9]|1[0-6])|6938[1-9])$")
    return frame[~arrondissements]


def qpv_communes() -> pd.Series:
    features = json.loads(shared(QPV_OCCITANIE).read_text(encoding="utf-8"))["features"]
    return pd.Series({f["properties"]["code_qp"]: str(f["properties"]["code_commune"])
                      for f in features})


def test_the_table_populations_are_the_2013_census() -> None:
    raw = raw_qpv()
    communes = qpv_communes().reindex(raw.index)
    single = ~raw["nom_commune"].str.contains(",")  # Tarbes Est: « Séméac, Tarbes »
    census = communes[single].map(comparateur()["P13_POP"])
    assert single.sum() == 104
    assert (raw.loc[single, "pop_com"] == census).all()
    # and Tarbes Est's two communes add up
    assert raw.loc["QP065003", "pop_com"] == comparateur().loc[["65417", "65440"],
                                                               "P13_POP"].sum()


def test_epci_population_outside_qpv(grand_mirail: dict, core: Observatory) -> None:
    """The table's populations are of 2013, as the communes' P13_POP: they subtract."""
    outside = by_indicator(grand_mirail)["population"]["outside_qpv"]
    raw = raw_qpv()
    members = [m["code"] for m in core.members(f"EPCI:{TOULOUSE_METROPOLE}@2026")]
    located = qpv_communes()
    inside = raw.index[located.reindex(raw.index).isin(members)]
    expected = comparateur().loc[members, "P13_POP"].sum() - raw.loc[inside, "pop_mun"].sum()
    assert outside["value"] == expected
    assert outside["qpv"] == len(inside) == 16
    assert outside["id"] == f"EPCI:{TOULOUSE_METROPOLE}@2026"
    # the commune compares at the QPV's period now, with nothing to say
    [toulouse] = by_indicator(grand_mirail)["population"]["communes"]
    assert (toulouse["value"], toulouse["period"], toulouse["note"]) == (
        raw.loc["QP031007", "pop_com"], "2013", None)
