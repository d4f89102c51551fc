"""Contrats de ville, programme zonings and the evolution view, checked against raw files.

On the funding warehouse of ``tests/test_policies_indicators.py`` plus the QPV 2024 of
Provence-Alpes-Côte d'Azur and the ANCT's four programme zonings (Action cœur de ville,
Petites villes de demain, France Services, Territoires d'industrie), all imported by the
importers: the figures of :class:`~cohesion.core.policies.PoliciesService` are computed
again from the raw files (the carte des programmes' ``liste_geo``, the COG's commune
populations, the Comparateur's unemployed and active persons, the QPV file's communes),
the API answers the service's figures and the command line writes the API's CSV.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import cohesion.cli.policies  # noqa: F401  (registers `cohesion policies` on main)
from cohesion.cli import main
from cohesion.core import Observatory
from cohesion.errors import CohesionError, NotFoundError
from cohesion.importers.base import run_import
from cohesion.importers.qpv import QpvContours
from cohesion.importers.zonings import ZoningImporter
from cohesion.settings import Settings
from cohesion.store import Warehouse
from conftest import COMPARATEUR, QPV_PACA_2024, QPV_STATISTICS, shared
from test_policies_indicators import (
    ARRONDISSEMENTS,
    funding_warehouse_file,  # noqa: F401  (the fixture)
)

PROGRAMMES = "programmes/anct_superposeur_2024"
ZONING_FILES = {"ACV": "acv_geom", "PVD": "pvd_geom", "FS": "fs_geom", "TI": "ti_geom"}
#: The contrat de ville of the Métropole d'Aix-Marseille-Provence (2024).
MARSEILLE = "CV:CN01303M"
#: The contrat de ville of Montpellier Méditerranée Métropole: QPV of 2015 only.
MONTPELLIER = "CV:CN03407I"
INDICATOR = "montant_adultes_relais_par_habitant"


@pytest.fixture(scope="session")
def programmes_warehouse_file(funding_warehouse_file: Path,  # noqa: F811
                              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The funding warehouse plus the QPV 2024 of PACA and the four programme zonings."""
    path = tmp_path_factory.mktemp("programmes") / "programmes.duckdb"
    shutil.copy(funding_warehouse_file, path)
    with Warehouse(path) as warehouse:
        run_import(warehouse, QpvContours(), shared(QPV_PACA_2024))
        for name in ZONING_FILES.values():
            run_import(warehouse, ZoningImporter(), shared(f"{PROGRAMMES}/{name}.geojson"))
    return path


@pytest.fixture(scope="module")
def core(programmes_warehouse_file: Path) -> Iterator[Observatory]:
    opened = Observatory(programmes_warehouse_file)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def client(programmes_warehouse_file: Path, client_on_copy) -> Iterator[TestClient]:
    yield from client_on_copy(programmes_warehouse_file)


@pytest.fixture(scope="module")
def core_file(programmes_warehouse_file: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("programmes-cli")
    path = folder / "programmes.duckdb"
    shutil.copy(programmes_warehouse_file, path)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


# -- the raw files ------------------------------------------------------------------------


def raw_zoning_communes(level: str) -> set[str]:
    """The commune codes of a programme file's ``liste_geo`` (« Name (code); … »)."""
    features = json.loads(shared(f"{PROGRAMMES}/{ZONING_FILES[level]}.geojson").read_text(
        encoding="utf-8"))["features"]
    return {code for f in features
            for code in re.findall(r"\(([0-9][0-9AB][0-9]{3})\)", f["properties"]["liste_geo"])}


@pytest.fixture(scope="module")
def cog_communes() -> pd.DataFrame:
    """The communes of the COG 2026 package (code, zone, population), as published."""
    path = Settings.from_environ().npm_folder() / "cog-2026" / "data" / "communes.json"
    frame = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    return frame[frame["type"] == "commune-actuelle"].set_index("code")


@pytest.fixture(scope="module")
def comparateur() -> pd.DataFrame:
    frame = pd.read_csv(shared(COMPARATEUR), sep=";", dtype={"CODGEO": str})
    return frame[~frame["CODGEO"].str.match(ARRONDISSEMENTS)].set_index("CODGEO")


# -- programme zonings --------------------------------------------------------------------


def test_the_acv_population_and_its_share_are_the_raw_files(core: Observatory,
                                                            cog_communes: pd.DataFrame) -> None:
    summary = core.policies.zoning_summary("ACV")
    raw = raw_zoning_communes("ACV")
    assert summary["communes"] == len(raw) == 245 and summary["zones"] == 232
    assert set(core.policies.zoning_communes("ACV")["code"]) == raw
    expected = cog_communes.loc[sorted(raw), "population"].sum()
    assert summary["population"] == expected == 7_774_766
    # France: the métropole and the DROM, the FRA territory of the référentiel
    france = cog_communes.loc[cog_communes["zone"].isin(["metro", "drom"]), "population"].sum()
    assert summary["population_france"] == france
    assert summary["part_population"] == pytest.approx(expected / france, rel=1e-12)
    assert summary["part_population"] == pytest.approx(0.1137, abs=1e-4)


def test_a_commune_with_several_france_services_counts_once(core: Observatory) -> None:
    communes = core.policies.zoning_communes("FS")
    assert communes["code"].is_unique
    several = communes[communes["zones"].str.contains(" ; ")]
    assert len(several) > 50
    # the France Services of Paris, Marseille and Lyon are placed in arrondissements
    arrondissements = communes.set_index("code").loc[["75056", "13055", "69123"]]
    assert arrondissements["zones"].str.len().gt(0).all()
    summary = core.policies.zoning_summary("FS")
    assert summary["population"] == communes["population"].sum()
    assert summary["communes"] == len(communes) < summary["zones"]


def test_indicators_against_the_rest_of_france_are_ratios_of_sums(
        core: Observatory, comparateur: pd.DataFrame) -> None:
    comparison = core.policies.zone_comparison("ACV").set_index("indicateur")
    chomage = comparison.loc["taux_chomage_15_64"]
    acv = raw_zoning_communes("ACV")
    inside = comparateur.index.isin(acv)
    raw = {name: 100 * comparateur.loc[rows, "P18_CHOM1564"].sum()
           / comparateur.loc[rows, "P18_ACT1564"].sum()
           for name, rows in (("zonage", inside), ("reste", ~inside))}
    # the Comparateur is in the 2021 geography, the zoning in 2026's: a few communes merged
    assert chomage["zonage"] == pytest.approx(raw["zonage"], abs=0.01)
    assert chomage["reste_france"] == pytest.approx(raw["reste"], abs=0.01)
    assert chomage["zonage"] > chomage["reste_france"] + 5
    # Mayotte's ACV communes have no census figures in the Comparateur: counted apart
    assert chomage["communes_sans_donnees_zonage"] == 4
    assert chomage["periode"] == "2018"


def test_an_unknown_zoning_is_named(core: Observatory) -> None:
    with pytest.raises(NotFoundError, match="non importé"):
        core.policies.zoning_summary("CV")


# -- contrats de ville --------------------------------------------------------------------


def test_a_contrat_de_ville_lists_its_qpv_epci_and_communes(core: Observatory) -> None:
    document = core.policies.contrat_de_ville(MARSEILLE, 2024)
    assert document["territory"]["id"] == f"{MARSEILLE}@2026"
    communes = {c["code"] for c in document["communes"]}
    assert "13055" in communes and len(communes) == 92
    assert document["population"] == sum(c["population"] for c in document["communes"])
    assert [e["code"] for e in document["epci"]] == ["200054807"]

    features = json.loads(shared(QPV_PACA_2024).read_text(encoding="utf-8"))["features"]
    raw = {f["properties"]["q"] for f in features if communes & set(f["properties"]["com"])}
    qpv = pd.DataFrame(document["qpv"])
    assert set(qpv.loc[qpv["generation"] == 2024, "code"]) == raw
    assert len(raw) > 50
    # Marseille's QPV of 2015 (the Marseille sample) are listed too, with their generation
    assert (qpv["generation"] == 2015).sum() > 0
    assert document["dispositifs"] and document["beneficiaries"]["total"] > 0


def test_qpv_against_the_rest_where_the_data_allow(core: Observatory) -> None:
    comparison = core.policies.qpv_comparison(f"{MONTPELLIER}@2026").set_index("indicateur")
    population = comparison.loc["population"]
    # QPV populations are loaded for 2013 only (the census in INSEE's QPV file): the
    # comparison is made in 2013, the newest period both the QPV and the communes have
    qpv = core.policies.contrat_qpv(f"{MONTPELLIER}@2026")["code"]
    raw = pd.read_csv(shared(QPV_STATISTICS), encoding="utf-8-sig",
                      dtype={"code_qp": str}).set_index("code_qp")
    communes = [c["code"] for c in core.members(f"{MONTPELLIER}@2026")]
    census = pd.read_csv(shared(COMPARATEUR), sep=";", dtype={"CODGEO": str},
                         usecols=["CODGEO", "P13_POP"]).set_index("CODGEO")["P13_POP"]
    assert population["periode"] == "2013" and population["raison"] == ""
    assert len(qpv) == 12
    assert population["qpv"] == raw.loc[qpv, "pop_mun"].sum()
    assert population["territoire"] == census.loc[communes].sum()
    assert population["hors_qpv"] == population["territoire"] - population["qpv"]
    # the QPV file publishes rates, not their numerators and denominators: said so
    rates = comparison.drop(index="population")
    assert rates["qpv"].isna().all() and rates["raison"].str.len().gt(0).all()


def test_only_a_contrat_de_ville_has_a_contrat_page(core: Observatory) -> None:
    with pytest.raises(CohesionError, match="pas un contrat de ville"):
        core.policies.contrat_de_ville("DEP:13", 2024)


# -- evolution ---------------------------------------------------------------------------


def test_the_series_is_the_yearly_indicator(core: Observatory) -> None:
    series = core.policies.series(INDICATOR, "DEP:13@2026")
    assert series["annee"].tolist() == [str(y) for y in range(2020, 2026)]
    for row in series.itertuples():
        frame = core.values(INDICATOR, "DEP", 2026, row.annee).frame
        assert row.valeur == pytest.approx(frame.loc["13", "value"], rel=1e-12)
    evolution = core.policies.evolution(INDICATOR, "DEP").set_index("code")
    assert evolution.loc["13", "debut"] == pytest.approx(series["valeur"].iloc[0])
    assert evolution.loc["13", "fin"] == pytest.approx(series["valeur"].iloc[-1])
    with pytest.raises(CohesionError, match="période invalide"):
        core.policies.series(INDICATOR, "DEP:13@2026", 2025, 2020)


# -- the API and the command line ---------------------------------------------------------


def get(client: TestClient, url: str, **params: object) -> object:
    answer = client.get(url, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def csv_of(client: TestClient, url: str, **params: object) -> str:
    answer = client.get(url, params={**params, "format": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    return answer.text


def cli(core_file: Path, *arguments: str) -> str:
    result = CliRunner().invoke(main, ["--warehouse", str(core_file), "policies", *arguments],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_api_answers_the_services_figures(client: TestClient, core: Observatory) -> None:
    assert [z["id"] for z in get(client, "/api/policies/zonings")] == ["ACV", "PVD", "FS", "TI"]
    body = get(client, "/api/policies/zonings/ACV")
    assert body["population"] == core.policies.zoning_summary("ACV")["population"]
    communes = pd.read_csv(io.StringIO(csv_of(client, "/api/policies/zonings/ACV/communes")),
                           dtype={"code": str})
    assert communes["population"].sum() == body["population"]
    assert len(communes) == body["communes"]

    contrat = get(client, f"/api/policies/territories/{MARSEILLE}", year=2024)
    qpv = pd.read_csv(io.StringIO(csv_of(client, f"/api/policies/territories/{MARSEILLE}/qpv")))
    assert qpv["code"].tolist() == [q["code"] for q in contrat["qpv"]]
    comparison = get(client, f"/api/policies/territories/{MARSEILLE}/comparison")
    assert [c["raison"] for c in comparison] == [c["raison"] for c in contrat["comparison"]]
    assert [c["territoire"] for c in comparison] == pytest.approx(
        [c["territoire"] for c in contrat["comparison"]], rel=1e-9)
    answer = client.get("/api/policies/territories/DEP:13/qpv")
    assert answer.status_code == 400 and "contrat de ville" in answer.json()["error"]

    evolution = get(client, "/api/policies/evolution", level="REG", indicator=INDICATOR)
    table = pd.read_csv(io.StringIO(csv_of(client, "/api/policies/evolution", level="REG",
                                           indicator=INDICATOR)), dtype={"code": str})
    assert table["evolution"].dropna().tolist() == pytest.approx(
        [r["evolution"] for r in evolution["rows"] if r["evolution"] is not None])
    assert client.get("/api/policies/zonings/XX").status_code == 422
    paths = get(client, "/api/openapi.json")["paths"]
    for path in ("/api/policies/zonings/{level}", "/api/policies/evolution",
                 "/api/policies/series/{territory}",
                 "/api/policies/territories/{territory}/comparison"):
        assert path in paths


def test_the_command_line_writes_the_apis_csv(client: TestClient, core_file: Path,
                                              tmp_path: Path) -> None:
    written = tmp_path / "acv.csv"
    printed = cli(core_file, "zoning", "ACV", "-o", str(written))
    assert written.read_text(encoding="utf-8") == csv_of(client,
                                                         "/api/policies/zonings/ACV/communes")
    assert "7 774 766" in printed.replace("\u202f", " ").replace("\u00a0", " ")
    assert "11.37 %" in printed

    written = tmp_path / "evolution.csv"
    cli(core_file, "evolution", "--level", "DEP", "--indicator", INDICATOR, "-o", str(written))
    assert written.read_text(encoding="utf-8") == csv_of(
        client, "/api/policies/evolution", level="DEP", indicator=INDICATOR)

    printed = cli(core_file, "territory", MARSEILLE, "--year", "2024")
    assert "Quartiers prioritaires" in printed and "Métropole d'Aix-Marseille" in printed


def test_the_pages_show_the_figures(client: TestClient) -> None:
    page = client.get("/politique-de-la-ville/programmes/ACV")
    assert page.status_code == 200
    text = page.text.replace("\u202f", " ").replace("\u00a0", " ").replace("&#39;", "'")
    assert "7 774 766 habitants" in text and "11,4 %" in text and "Taux de chômage" in text
    assert "ANCT" in text and "INSEE" in text
    assert "/api/policies/zonings/ACV/communes?format=csv" in text

    page = client.get(f"/politique-de-la-ville/territoire/{MARSEILLE}", params={"year": 2024})
    assert page.status_code == 200
    assert 'href="/territoire/QPV:QN01301M@2024"' in page.text
    # a QPV of 2015 links to its portrait too, and the portrait opens
    [old] = re.findall(r'href="(/territoire/QPV:QP\d{3}\d+@2015)"', page.text)[:1]
    assert client.get(old).status_code == 200
    assert f"/api/policies/territories/{MARSEILLE}@2026/comparison?format=csv" in page.text

    page = client.get("/politique-de-la-ville/evolution",
                      params={"level": "DEP", "territory": "DEP:13"})
    assert page.status_code == 200 and "<rect" in page.text and "Bouches-du-Rhône" in page.text
    assert client.get("/politique-de-la-ville/programmes").status_code == 200
