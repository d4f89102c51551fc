"""Contrats de ville 2015 (``CV…``) resolved in today's communes, and their passage to 2024."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportOptions, ImportReport, run_import
from cohesion.importers.contrats_ville import ContratsVille2015
from cohesion.importers.funding import PostesPolitiqueVille
from cohesion.importers.zonings import ZoningImporter
from cohesion.policies.contrats import carry_totals, contrat_passage
from cohesion.store import Warehouse
from conftest import shared, table_fingerprint

POSTES = "social_innovation/anct_politique_ville_postes/"
CV_2015 = POSTES + "geom_cv_ctr_2015.json"
CV_2024 = POSTES + "geom_cv_ctr_2024.json"
PERIMETERS = "programmes/anct_superposeur_2019/cv.topojson"


def perimeters_option() -> ImportOptions:
    return ImportOptions(extra={"perimetres": str(shared(PERIMETERS))})


@pytest.fixture(scope="module")
def contrats(built_warehouse_file: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, ImportReport]:
    """Both generations of contrats, then the adultes-relais posts of 2020."""
    path = tmp_path_factory.mktemp("contrats") / "contrats.duckdb"
    shutil.copy(built_warehouse_file, path)
    with Warehouse(path) as warehouse:
        run_import(warehouse, ZoningImporter(), shared(CV_2024))
        report = run_import(warehouse, ContratsVille2015(), shared(CV_2015),
                            options=perimeters_option())
        run_import(warehouse, PostesPolitiqueVille(), shared(POSTES + "adulte-relais-2020.json"))
    return path, report


@pytest.fixture(scope="module")
def contrats_warehouse(contrats: tuple[Path, ImportReport]) -> Warehouse:
    with Warehouse(contrats[0], read_only=True) as opened:
        yield opened


def raw_contrats() -> pd.DataFrame:
    features = json.loads(shared(CV_2015).read_text())["features"]
    return pd.DataFrame([f["properties"] for f in features])


def test_contrats_2015_are_a_level_of_their_own(contrats, contrats_warehouse: Warehouse) -> None:
    report = contrats[1]
    raw = raw_contrats()
    assert len(raw) == 434 and raw["code_cv"].nunique() == 433  # CV043 is in 13 and 84
    by_commune = raw.drop_duplicates("code_cv")["codgeo"].str.len().eq(5)
    assert by_commune.sum() == 64
    stored = contrats_warehouse.query(
        "SELECT * FROM territories WHERE level = 'CV2015'").set_index("code")
    # 3 overseas contrats carried by an EPCI and drawn as insets are not resolved
    assert len(stored) == 430 and (stored["vintage"] == report.vintage).all()
    notes = "\n".join(report.notes)
    assert "3 contrat(s) de ville non rapporté(s) à des communes" in notes
    assert "CV425, CV426, CV428" in notes
    assert "CV425" not in stored.index
    # both code systems: the contrat's CV code and the SIREN of the EPCI of 2015
    assert stored.loc["CV101", "siren"] == "243100518"
    assert stored.loc["CV922", "siren"] is None
    level = contrats_warehouse.query("SELECT * FROM levels WHERE level = 'CV2015'").iloc[0]
    assert level["kind"] == "zoning" and level["label"] == "Contrats de ville 2015"
    cv_vintage = contrats_warehouse.query(
        "SELECT DISTINCT vintage FROM territories WHERE level = 'CV'")["vintage"].item()
    assert report.vintage == cv_vintage


def members(warehouse: Warehouse, contrat: str, vintage: int) -> set[str]:
    found = warehouse.memberships("COM", vintage, ["CV2015"])
    return set(found.loc[found["parent_code"] == contrat, "code"])


def test_communes_of_a_contrat_2015(contrats, contrats_warehouse: Warehouse) -> None:
    vintage = contrats[1].vintage
    perimeters = json.loads(shared(PERIMETERS).read_text())["objects"]["zonage"]["geometries"]
    nbcom = {g["properties"]["id"]: g["properties"]["nbcom"] for g in perimeters}
    # Toulouse Métropole kept its 37 communes: the perimeter gives exactly the EPCI's
    toulouse = members(contrats_warehouse, "CV101", vintage)
    epci = contrats_warehouse.memberships("COM", vintage, ["EPCI"])
    assert nbcom["CV101"] == 37
    assert toulouse == set(epci.loc[epci["parent_code"] == "243100518", "code"])
    # CC de la Plaine de l'Ain: 33 communes in 2015
    assert nbcom["CV001"] == 33 and len(members(contrats_warehouse, "CV001", vintage)) <= 33
    # carried by a commune: Villiers-sur-Marne
    assert members(contrats_warehouse, "CV922", vintage) == {"94079"}
    # the Pays d'Aix listed in two départements: Aix-en-Provence and Pertuis
    assert {"13001", "84089"} <= members(contrats_warehouse, "CV043", vintage)
    # a commune belongs to one contrat 2015 at most
    every = contrats_warehouse.memberships("COM", vintage, ["CV2015"])
    assert every["code"].is_unique


def test_passage_to_the_contrats_2024(contrats, contrats_warehouse: Warehouse) -> None:
    vintage = contrats[1].vintage
    codes = list(contrats_warehouse.names("CV2015", vintage))
    passage = contrat_passage(
        contrats_warehouse.population_overlap("CV2015", "CV", vintage), codes)
    linked = passage[passage["to_code"].notna()]
    assert linked.groupby("from_code")["weight"].sum().round(9).eq(1.0).all()
    raw_2024 = pd.DataFrame([f["properties"] for f in json.loads(
        shared(CV_2024).read_text())["features"]])
    toulouse_2024 = raw_2024.loc[raw_2024["codgeo"] == "243100518", "code_cv"].item()
    toulouse = passage[passage["from_code"] == "CV101"]
    assert list(toulouse["to_code"]) == [toulouse_2024]
    assert toulouse["weight"].item() == 1.0
    population = contrats_warehouse.legal_populations("COM", vintage)
    assert toulouse["population"].item() == population[
        sorted(members(contrats_warehouse, "CV101", vintage))].sum()


def test_posts_of_2020_by_contrat_2015_and_carried_to_2024(
        contrats, contrats_warehouse: Warehouse) -> None:
    raw = pd.DataFrame(json.loads(shared(POSTES + "adulte-relais-2020.json").read_text()))
    stored = contrats_warehouse.query(
        "SELECT code, value FROM observations WHERE level = 'CV2015' AND period = '2020' "
        "AND variable = 'montant_adultes_relais'").set_index("code")["value"]
    lines = contrats_warehouse.query(
        "SELECT contrat_ville, sum(amount) AS amount FROM funding_lines WHERE year = 2020 "
        "GROUP BY ALL").set_index("contrat_ville")["amount"]
    assert len(stored) > 300
    pd.testing.assert_series_equal(stored.sort_index(), lines[stored.index].sort_index(),
                                   check_names=False)
    # the 2020 file attaches its posts to the 2015 contrats (the raw file, by hand)
    assert raw["code_cv"].str.startswith("CV").mean() > 0.95
    toulouse = raw[raw["code_cv"] == "CV101"]
    assert stored["CV101"] == pytest.approx(toulouse["montant"].astype(float).sum(), abs=0.01)
    vintage = contrats[1].vintage
    passage = contrat_passage(contrats_warehouse.population_overlap("CV2015", "CV", vintage),
                              list(contrats_warehouse.names("CV2015", vintage)))
    carried, left = carry_totals(stored, passage)
    assert carried.sum() + left == pytest.approx(stored.sum(), abs=0.01)


def test_a_bad_code_is_refused_with_its_line(warehouse: Warehouse, tmp_path: Path) -> None:
    text = shared(CV_2015).read_text()
    bad = tmp_path / "geom_cv_ctr_2015.json"
    bad.write_text(text.replace('"code_cv": "CV101"', '"code_cv": "CN101"', 1))
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, ContratsVille2015(), bad, options=perimeters_option())
    error = caught.value
    assert error.column == "code_cv" and error.found == "CN101"
    assert bad.read_text().splitlines()[error.line - 1].count('"CN101"') == 1
    assert table_fingerprint(warehouse) == before


def test_perimeters_are_matched_by_code(warehouse: Warehouse, tmp_path: Path) -> None:
    text = shared(PERIMETERS).read_text()
    twice = tmp_path / "twice.topojson"
    twice.write_text(text.replace('"id":"CV101"', '"id":"CV100"', 1))
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, ContratsVille2015(), shared(CV_2015),
                   options=ImportOptions(extra={"perimetres": str(twice)}))
    assert caught.value.column == "id" and caught.value.found == "CV100"
    assert table_fingerprint(warehouse) == before
    other = tmp_path / "cv.topojson"
    # Toulouse Métropole's perimeter under another code: ignored, and CV101 unresolved
    other.write_text(text.replace('"id":"CV101"', '"id":"CV999"', 1))
    report = run_import(warehouse, ContratsVille2015(), shared(CV_2015),
                        options=ImportOptions(extra={"perimetres": str(other)}))
    notes = "\n".join(report.notes)
    assert "1 périmètre(s) de contrats absents de la liste, ignorés : CV999" in notes
    assert "4 contrat(s) de ville non rapporté(s)" in notes and "CV101" in notes


def test_the_passage_is_the_same_in_python_the_api_and_the_command_line(
        contrats, client_on_copy, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cohesion.cli.main import main
    from cohesion.core import Observatory

    core = Observatory(contrats[0])
    try:
        table = core.policies.contrats_passage()
    finally:
        core.close()
    successors = table.groupby("from_code")["to_code"].count()
    # 430 contrats 2015 resolved: most pass whole to one contrat 2024
    assert len(successors) == 430
    assert (successors == 1).sum() == 352 and (successors > 1).sum() == 72
    assert (successors == 0).sum() == 6
    assert table.loc[table["from_code"] == "CV101", "from_name"].notna().all()
    written = tmp_path / "passage.csv"
    result = CliRunner().invoke(main, ["--warehouse", str(contrats[0]), "policies", "passage",
                                       "-o", str(written)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "352 passent entiers" in result.output
    for client in client_on_copy(contrats[0]):
        answer = client.get("/api/policies/contrats/passage", params={"format": "csv"})
        assert answer.status_code == 200
        assert answer.text == written.read_text(encoding="utf-8")
        rows = client.get("/api/policies/contrats/passage").json()
        assert [r["from_code"] for r in rows] == table["from_code"].tolist()
