"""QPV statistics published per IRIS of a QPV (Strasbourg), summed to the QPV."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportOptions, ImportReport, run_import
from cohesion.importers.qpv_iris import QpvIrisTable
from cohesion.indicators.api import declared_indicator
from cohesion.samples import MAPPINGS
from cohesion.store import Warehouse
from conftest import shared, table_fingerprint

TABLE = "qpv/strasbourg_ems/qpv_sortant_precoce_INSEE.csv"
LOOKUP = "qpv/strasbourg_ems/qpv.xlsx"
MAPPING = MAPPINGS / "strasbourg-sortants-precoces.yaml"


def options(mapping: Path = MAPPING) -> ImportOptions:
    return ImportOptions(extra={"mapping": str(mapping)})


def raw_table() -> pd.DataFrame:
    return pd.read_csv(shared(TABLE), sep=";", decimal=",", dtype=str, encoding="utf-8",
                       na_filter=False)


def raw_counts() -> pd.DataFrame:
    """The file as it is, plus the codes of « Pont de l'Europe » by hand (qpv.xlsx)."""
    raw = raw_table()
    for column in ("NbJeunesNPrec", "NbJeunesPrec", "TSort"):
        raw[column] = raw[column].str.replace(",", ".").astype(float)
    lost = raw["EMS"] == "Pont de l'Europe"
    raw.loc[lost, ["ID_IRIS", "ID_COM", "ID_QPV"]] = ["674822202", "67482", "QP067020"]
    return raw


@pytest.fixture(scope="module")
def strasbourg(built_warehouse_file: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, ImportReport]:
    path = tmp_path_factory.mktemp("strasbourg") / "warehouse.duckdb"
    shutil.copy(built_warehouse_file, path)
    with Warehouse(path) as warehouse:
        report = run_import(warehouse, QpvIrisTable(), shared(TABLE), options=options())
    return path, report


def test_the_file_holds_counts_and_their_rate() -> None:
    raw = raw_counts()
    total, iris = raw.iloc[0], raw.iloc[1:]
    assert total["Tieks"] == "Total QPV de Strasbourg" and total["ID_QPV"] == "NA"
    assert len(iris) == 37 and iris["ID_IRIS"].is_unique
    # the rate is Prec / NPrec: NPrec is the population the rate is taken over
    assert ((100 * iris["NbJeunesPrec"] / iris["NbJeunesNPrec"] - iris["TSort"]).abs()
            < 1e-6).all()
    # the file's total row is the sum of its IRIS
    assert iris["NbJeunesNPrec"].sum() == pytest.approx(total["NbJeunesNPrec"], abs=1e-5)
    assert iris["NbJeunesPrec"].sum() == pytest.approx(total["NbJeunesPrec"], abs=1e-5)
    # one row lost its codes: the republisher joined on « Pont de l’Europe »
    plain = raw_table()
    assert list(plain.index[plain["ID_IRIS"] == "NA"]) == [0, 31]  # lines 2 and 33
    assert plain.loc[31, "EMS"] == "Pont de l'Europe"
    lookup = pd.read_excel(shared(LOOKUP), dtype=str).set_index("ID_IRIS")
    assert lookup.loc["674822202", "LIB_IRIS_EMS"] == "Pont de l\u2019Europe"
    # the IRIS → QPV link agrees with the Eurométropole's lookup table
    assert (iris.set_index("ID_IRIS")["ID_QPV"] == lookup["ID_QPV"][iris["ID_IRIS"]]).all()


def test_counts_are_summed_per_qpv(strasbourg) -> None:
    path, report = strasbourg
    raw = raw_counts().iloc[1:]
    expected = raw.groupby("ID_QPV")[["NbJeunesPrec", "NbJeunesNPrec"]].sum()
    assert report.rows == 38 and report.vintage == 2015 and report.periods == ["2019"]
    notes = "\n".join(report.notes)
    assert f"37 IRIS de {len(expected)} QPV de 2015" in notes
    assert "1 ligne(s) de total du fichier écartée(s) ('Total QPV de Strasbourg')" in notes
    assert ("1 IRIS sans code dans le fichier retrouvé(s) par leur nom dans qpv.xlsx : "
            "ligne 33 « Pont de l'Europe » → 674822202 (QP067020)") in notes
    assert f"{len(expected)} QPV absents de l'entrepôt ajoutés sans contour" in notes
    with Warehouse(path, read_only=True) as warehouse:
        stored = warehouse.query(
            "SELECT variable, code, value FROM observations WHERE level = 'QPV' "
            "AND vintage = 2015 AND period = '2019'").pivot(index="code", columns="variable",
                                                          values="value")
        assert stored["jeunes_sortants_precoces"].to_dict() == pytest.approx(
            expected["NbJeunesPrec"].to_dict(), abs=1e-6)
        assert stored["jeunes_reference_sortants_precoces"].to_dict() == pytest.approx(
            expected["NbJeunesNPrec"].to_dict(), abs=1e-6)
        # Quartiers Ouest lies on Bischheim and Schiltigheim: its IRIS say so
        communes = warehouse.memberships("QPV", 2015, ["COM"], ["QP067004"])
        assert set(communes["parent_code"]) == {"67043", "67447"}
        assert warehouse.names("QPV", 2015)["QP067004"] == "Quartiers Ouest"


def test_the_rate_is_a_declared_ratio_of_sums(strasbourg) -> None:
    raw = raw_counts().iloc[1:]
    sums = raw.groupby("ID_QPV")[["NbJeunesPrec", "NbJeunesNPrec"]].sum()
    expected = 100 * sums["NbJeunesPrec"] / sums["NbJeunesNPrec"]
    with Warehouse(strasbourg[0], read_only=True) as warehouse:
        definition = warehouse.indicator_definitions().set_index("indicator").loc[
            "taux_sortants_precoces"]
        stored = warehouse.query(
            "SELECT variable, code, value FROM observations WHERE level = 'QPV'").pivot(
            index="code", columns="variable", values="value")
    indicator = declared_indicator({"indicator": "taux_sortants_precoces",
                                    **definition.to_dict()})
    assert indicator.numerator == "jeunes_sortants_precoces"
    assert indicator.denominator == "jeunes_reference_sortants_precoces"
    got = pd.Series(indicator.compute({c: stored[c].to_numpy() for c in stored.columns}),
                    index=stored.index)
    assert got[expected.index].to_dict() == pytest.approx(expected.to_dict(), abs=1e-9)
    # not the mean of the IRIS rates: in Cronenbourg that mean is 3.7 points off
    mean = raw.groupby("ID_QPV")["TSort"].mean()
    assert abs(mean["QP067013"] - expected["QP067013"]) > 3.6


def test_a_rate_declared_additive_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    text = MAPPING.read_text(encoding="utf-8")
    bad = tmp_path / "mapping.yaml"
    bad.write_text(text.replace("unit: jeunes, additive: true}",
                                "unit: jeunes, additive: true}\n  - {column: TSort, id: taux, "
                                "unit: \"%\"}", 1), encoding="utf-8")
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, QpvIrisTable(), shared(TABLE), options=options(bad))
    assert "ne se somme pas" in caught.value.message
    assert caught.value.line is not None
    assert table_fingerprint(warehouse) == before


def test_an_iris_given_twice_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    lines = shared(TABLE).read_text(encoding="utf-8").splitlines()
    copy = tmp_path / "table.csv"
    copy.write_text("\n".join([*lines, lines[5]]) + "\n", encoding="utf-8")
    shutil.copy(shared(LOOKUP), tmp_path / "qpv.xlsx")  # the lookup, next to the table
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, QpvIrisTable(), copy, options=options())
    assert caught.value.line == len(lines) + 1 and caught.value.column == "ID_IRIS"
    assert table_fingerprint(warehouse) == before


def test_a_total_row_not_declared_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    text = MAPPING.read_text(encoding="utf-8")
    bad = tmp_path / "mapping.yaml"
    bad.write_text(text.replace('total_rows: "^Total"\n', ""), encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, QpvIrisTable(), shared(TABLE), options=options(bad))
    assert caught.value.line == 2 and caught.value.found == "NA"
    assert "total_rows" in caught.value.message
