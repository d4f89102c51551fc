"""QPV statistics imported by the generic table importer through a declared mapping.

The Occitanie QPV table (INSEE « données par thématique » des QPV, republished by
Toulouse DataViz, Hackaviz 2021) is read with ``mappings/qpv-occitanie-2019.yaml`` at
level ``QPV``, geography = the 2015 generation of the QPV contours already imported.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cohesion.errors import CohesionError, InputFileError
from cohesion.importers.base import ImportOptions, ImportReport, run_import
from cohesion.importers.iris import DEC_VARIABLES
from cohesion.importers.table import IndicatorTable
from cohesion.indicators.engine import IndicatorEngine
from cohesion.indicators.variables import BY_ID
from cohesion.samples import MAPPINGS
from cohesion.store import Warehouse
from conftest import shared, table_fingerprint

TABLE = "qpv/hackaviz2021_occitanie/qp.csv"
MAPPING = MAPPINGS / "qpv-occitanie-2019.yaml"


def options() -> ImportOptions:
    return ImportOptions(extra={"mapping": str(MAPPING)})


@pytest.fixture(scope="module")
def statistics(qpv_warehouse_file: Path,
               tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ImportReport]:
    """The QPV warehouse (contours of the samples) plus the Occitanie QPV table."""
    path = tmp_path_factory.mktemp("qpv_statistics") / "warehouse.duckdb"
    shutil.copy(qpv_warehouse_file, path)
    with Warehouse(path) as warehouse:
        report = run_import(warehouse, IndicatorTable(), shared(TABLE), options=options())
    return path, report


@pytest.fixture
def stats(statistics: tuple[Path, ImportReport]) -> Warehouse:
    with Warehouse(statistics[0], read_only=True) as warehouse:
        yield warehouse


def raw_table() -> pd.DataFrame:
    return pd.read_csv(shared(TABLE), encoding="utf-8-sig", dtype={"code_qp": str})


def declared() -> list[dict]:
    return yaml.safe_load(MAPPING.read_text(encoding="utf-8"))["variables"]


def test_every_value_equals_the_raw_file(statistics: tuple[Path, ImportReport],
                                         stats: Warehouse) -> None:
    report = statistics[1]
    assert report.rows == 105 and report.vintage == 2015
    assert report.periods == ["2013", "2017", "2019", "2020"]
    raw = raw_table()
    specs = declared()
    assert len(specs) == 41 and {s["column"] for s in specs} == set(raw.columns[3:])
    found = stats.query(
        "SELECT variable, code, period, value, missing FROM observations "
        "WHERE level = 'QPV' AND dataset_id = ?", [report.dataset_id])
    assert len(found) == 105 * 41 and set(found["code"]) == set(raw["code_qp"])
    assert (stats.query("SELECT DISTINCT vintage FROM observations WHERE dataset_id = ?",
                         [report.dataset_id])["vintage"] == 2015).all()
    for spec in specs:
        mine = found[(found["variable"] == spec["id"]) & (found["period"] == spec["period"])]
        expected = raw.set_index("code_qp")[spec["column"]].astype(float)
        got = mine.set_index("code")["value"].reindex(expected.index)
        # empty cells stay missing (with their reason), every other value is the file's
        assert np.array_equal(got.to_numpy(), expected.to_numpy(), equal_nan=True), spec
        empty = mine.set_index("code")["missing"].reindex(expected.index)
        assert (empty.notna() == expected.isna()).all(), spec
    assert int(found["missing"].notna().sum()) == int(raw.iloc[:, 3:].isna().sum().sum()) == 216


@pytest.mark.parametrize(("code", "variable", "period", "value"), [
    ("QP009001", "population", "2013", 1177),           # Coeur De Ville, Saint-Girons
    ("QP009001", "taux_pauvrete_60", "2017", 40.2),
    ("QP009001", "revenu_median", "2017", 13724),
    ("QP009001", "demandeurs_emploi_abcde", "2020", 255),
    ("QP009003", "part_menages_revenu_principal_chomage", "2017", 7.5),
    ("QP065003", "population", "2013", 3316),           # Tarbes Est
    ("QP065003", "population_communes_englobantes", "2013", 45775),
])
def test_values_of_a_few_qpv(stats: Warehouse, code: str, variable: str, period: str,
                             value: float) -> None:
    found = stats.query("SELECT value FROM observations WHERE level = 'QPV' AND code = ? "
                         "AND variable = ? AND period = ?", [code, variable, period])
    assert found["value"].tolist() == [pytest.approx(value)]


def test_variables_are_described(stats: Warehouse) -> None:
    variables = stats.query("SELECT * FROM variables").set_index("variable")
    additive = {spec["id"] for spec in declared() if spec.get("additive")}
    assert additive == {
        "population", "personnes_couvertes_caf", "allocataires_caf",
        "demandeurs_emploi_abcde", "demandeurs_emploi_abcde_femmes",
        "demandeurs_emploi_abcde_hommes", "demandeurs_emploi_abc_cap_bep",
        "demandeurs_emploi_abc_bac", "demandeurs_emploi_abc_superieur_bac",
        "nombre_etablissements", "etablissements_enseignement_sante_social",
        "etablissements_services_particuliers", "etablissements_services",
        "creations_auto_entrepreneurs"}
    for spec in declared():
        assert bool(variables.loc[spec["id"], "additive"]) == (spec["id"] in additive)
        assert variables.loc[spec["id"], "label"] == spec["label"]
    # ids shared with the commune files keep the observatory's description
    for variable in ("population", "taux_pauvrete_60", "revenu_median", "premier_decile",
                     "neuvieme_decile", "part_menages_imposes"):
        base = BY_ID[variable]
        assert (variables.loc[variable, "label"], variables.loc[variable, "unit"],
                bool(variables.loc[variable, "additive"])) == (base.label, base.unit,
                                                               base.additive)
    for stem in ("DEC_MED", "DEC_D1", "DEC_D9"):
        variable, label, unit = DEC_VARIABLES[stem]
        assert (variables.loc[variable, "label"], variables.loc[variable, "unit"]) == (
            label, unit)


def test_communes_englobantes_agree_with_the_memberships(stats: Warehouse) -> None:
    """QPV with the same communes (memberships) have the same « communes englobantes »."""
    communes = stats.query(
        "SELECT code, list(parent_code ORDER BY parent_code) AS communes FROM memberships "
        "WHERE level = 'QPV' AND vintage = 2015 AND parent_level = 'COM' GROUP BY code")
    population = stats.query(
        "SELECT code, value FROM observations WHERE level = 'QPV' AND period = '2013' "
        "AND variable = 'population_communes_englobantes'")
    joined = population.merge(communes.assign(communes=communes["communes"].map(tuple)),
                              on="code")
    assert len(joined) == 105
    assert (joined.groupby("communes")["value"].nunique() == 1).all()
    # Tarbes Est spans Séméac and Tarbes: its communes hold 4,713 more inhabitants
    by_communes = joined.groupby("communes")["value"].first()
    assert by_communes[("65417", "65440")] - by_communes[("65440",)] == 4713


def test_reimport_is_a_no_op(statistics: tuple[Path, ImportReport], tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(statistics[0], copy)
    with Warehouse(copy) as warehouse:
        before = table_fingerprint(warehouse)
        again = run_import(warehouse, IndicatorTable(), shared(TABLE), options=options())
        assert again.already_imported
        assert table_fingerprint(warehouse) == before


@pytest.mark.parametrize(("code", "message"), [
    ("QP075001", "code de territoire inconnu"),     # a QPV whose contour is not stats
    ("QN06501M", "code de territoire inconnu"),     # a 2024 code in the 2015 table
])
def test_unknown_qpv_codes_are_refused(statistics: tuple[Path, ImportReport],
                                       tmp_path: Path, code: str, message: str) -> None:
    lines = shared(TABLE).read_text(encoding="utf-8-sig").splitlines()
    lines[5] = code + lines[5][len("QP000000"):]
    table = tmp_path / "qp.csv"
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(statistics[0], copy)
    with Warehouse(copy) as warehouse:
        before = table_fingerprint(warehouse)
        with pytest.raises(InputFileError, match=message) as error:
            run_import(warehouse, IndicatorTable(), table, options=options())
        assert error.value.line == 6 and error.value.column == "code_qp"
        assert table_fingerprint(warehouse) == before


def test_indicators_of_the_qpv_from_their_own_values(stats: Warehouse) -> None:
    """A QPV is no union of communes: its indicators read its own values, in its generation."""
    engine = IndicatorEngine(stats)
    raw = raw_table().set_index("code_qp")
    poverty = engine.values("taux_pauvrete", "QPV", 2015)
    assert (poverty.level, poverty.vintage, poverty.period) == ("QPV", 2015, "2017")
    found = poverty.frame.set_index("code")
    assert np.array_equal(found["value"].reindex(raw.index).to_numpy(),
                          raw["tp60"].to_numpy(dtype=float), equal_nan=True)
    # every QPV of the generation is listed; those outside the table are missing, said so
    codes = set(stats.query("SELECT code FROM territories WHERE level = 'QPV' "
                            "AND vintage = 2015")["code"])
    assert set(found.index) == codes and len(codes) > len(raw)
    assert (found.loc[sorted(codes - set(raw.index)), "missing"] == "no_data").all()
    assert engine.own_periods(engine.indicator("population"), "QPV", 2015) == ["2013"]
    assert engine.own_periods(engine.indicator("taux_chomage_15_64"), "QPV", 2015) == []
    with pytest.raises(CohesionError, match="séparément"):
        engine.compute(["population"], ["QPV", "COM"], 2015)


def test_the_mapping_credits_the_producers(statistics: tuple[Path, ImportReport],
                                           stats: Warehouse) -> None:
    """Imported without a word of provenance, the table is credited as its mapping says."""
    dataset = stats.query("SELECT title, producer, licence FROM datasets WHERE dataset_id = ?",
                          [statistics[1].dataset_id]).iloc[0]
    described = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    assert dataset["producer"] == described["producer"] and "INSEE" in dataset["producer"]
    assert (dataset["title"], dataset["licence"]) == (described["title"],
                                                      "Licence Ouverte / Etalab 2.0")
