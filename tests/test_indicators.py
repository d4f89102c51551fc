"""Indicator definitions and the aggregation engine, on real INSEE files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cohesion.core import Observatory
from cohesion.core.exports import write_table
from cohesion.errors import CohesionError
from cohesion.indicators.api import LOWER_IS_BETTER, Ratio
from cohesion.indicators.engine import IndicatorEngine, UnknownIndicatorError
from cohesion.store import Warehouse
from conftest import COMPARATEUR, FILOSOFI_2020, shared


@pytest.fixture(scope="module")
def raw_comparateur() -> pd.DataFrame:
    """The Comparateur file read independently of the importer."""
    frame = pd.read_csv(shared(COMPARATEUR), sep=";", dtype={"CODGEO": str})
    frame["dep"] = np.where(frame["CODGEO"].str.startswith("97"), frame["CODGEO"].str[:3],
                            frame["CODGEO"].str[:2])
    # arrondissements municipaux repeat their commune's figures
    return frame[~frame["CODGEO"].str.match(r"^(751[0-2]\d|132\d\d|6938\d)$")]


@pytest.mark.parametrize("departement", ["93", "13", "2A", "974", "59"])
def test_unemployment_rate_of_a_departement_is_a_ratio_of_sums(
        loaded: Warehouse, raw_comparateur: pd.DataFrame, departement: str) -> None:
    communes = raw_comparateur[raw_comparateur["dep"] == departement]
    expected = 100 * communes["P18_CHOM1564"].sum() / communes["P18_ACT1564"].sum()
    values = IndicatorEngine(loaded).values("taux_chomage_15_64", "DEP", 2021, "2018").frame
    row = values.set_index("code").loc[departement]
    assert row["value"] == pytest.approx(expected, rel=1e-12)
    # and not the mean of the communes' rates
    mean_of_rates = (100 * communes["P18_CHOM1564"] / communes["P18_ACT1564"]).mean()
    assert abs(row["value"] - mean_of_rates) > 0.01
    assert row["coverage"] == 1.0


def test_every_level_agrees_with_france(loaded: Warehouse) -> None:
    engine = IndicatorEngine(loaded)
    levels = ["EPCI", "DEP", "REG", "FRA"]
    results = engine.compute(["population"], ["COM", *levels], 2021, "2018")
    france = results[-1].frame["value"].item()
    assert france == 66_732_538  # INSEE, population municipale 2018, France hors Mayotte
    assert results[0].frame["value"].sum() == france
    for result in results[2:4]:  # départements and régions cover every commune
        assert result.frame["value"].sum() == france


def test_medians_are_never_aggregated(loaded: Warehouse) -> None:
    engine = IndicatorEngine(loaded)
    communes = engine.values("revenu_median", "COM", 2022, "2020").frame.set_index("code")
    raw = pd.read_csv(shared(FILOSOFI_2020), sep=";", dtype=str).set_index("CODGEO")
    assert communes.loc["93014", "value"] == float(raw.loc["93014", "MED20"])
    departements = engine.values("revenu_median", "DEP", 2022, "2020").frame
    assert len(departements) >= 101
    assert departements["value"].isna().all()
    assert (departements["missing"] == "not_aggregable").all()
    with pytest.raises(CohesionError, match="non additive"):
        engine.zone_values("revenu_median", ["93014", "93005"], 2022, "2020")


def test_secret_values_stay_missing_with_their_reason(loaded: Warehouse) -> None:
    values = IndicatorEngine(loaded).values("taux_pauvrete", "COM", 2022, "2020").frame
    values = values.set_index("code")
    raw = pd.read_csv(shared(FILOSOFI_2020), sep=";", dtype=str).set_index("CODGEO")
    secret = raw.index[raw["TP6020"] == "s"]
    assert len(secret) > 20000
    assert values.loc[secret, "value"].isna().all()
    assert (values.loc[secret, "missing"] == "secret").all()


def test_indicator_in_another_vintage_is_converted(loaded: Warehouse) -> None:
    engine = IndicatorEngine(loaded)
    in_2021 = engine.values("population", "COM", 2021, "2018")
    in_2026 = engine.values("population", "COM", 2026, "2018")
    assert in_2026.frame["value"].sum() == in_2021.frame["value"].sum()
    assert any("convertis de la géographie 2021 vers 2026" in n for n in in_2026.notes)
    merged = in_2021.frame.set_index("code").loc[["25060", "25282", "25549"], "value"].sum()
    assert in_2026.frame.set_index("code").loc["25060", "value"] == merged


def test_growth_density_and_custom_zone(loaded: Warehouse, raw_comparateur) -> None:
    engine = IndicatorEngine(loaded)
    growth = engine.values("evolution_population", "REG", 2021, "2013-2018").frame
    idf = raw_comparateur[raw_comparateur["dep"].isin(
        ["75", "77", "78", "91", "92", "93", "94", "95"])]
    expected = 100 * ((idf["P18_POP"].sum() / idf["P13_POP"].sum()) ** (1 / 5) - 1)
    assert growth.set_index("code").loc["11", "value"] == pytest.approx(expected)
    density = engine.values("densite_population", "DEP", 2021, "2018").frame.set_index("code")
    assert 6500 < density.loc["93", "value"] < 7200  # INSEE: 6,900 hab./km²
    zone = ["93014", "93005", "93047"]  # Clichy-sous-Bois, Aulnay, Montfermeil
    rows = raw_comparateur.set_index("CODGEO").loc[zone]
    result = engine.zone_values("taux_chomage_15_64", zone, 2021, "2018")
    assert result["value"] == pytest.approx(
        100 * rows["P18_CHOM1564"].sum() / rows["P18_ACT1564"].sum())
    with pytest.raises(CohesionError, match="codes de commune inconnus"):
        engine.zone_values("population", ["93014", "99999"], 2021, "2018")


def test_series_and_catalogue(loaded: Warehouse) -> None:
    engine = IndicatorEngine(loaded)
    series = engine.series("population", "DEP", "93", 2021)
    assert list(series["period"]) == ["2013", "2018"]
    catalogue = engine.catalogue().set_index("id")
    assert catalogue.loc["taux_chomage_15_64", "periods"] == ["2018"]
    assert catalogue.loc["part_65_ans_et_plus", "periods"] == []  # not in these files
    with pytest.raises(UnknownIndicatorError, match="vouliez-vous dire taux_chomage_15_64"):
        engine.indicator("taux_chomage_1564")


def test_definitions_are_checked_when_declared() -> None:
    with pytest.raises(CohesionError, match="unknown attribute 'denominateur'"):
        type("bad", (Ratio,), {"label": "x", "unit": "%", "numerator": "a",
                               "denominateur": "b", "direction": LOWER_IS_BETTER,
                               "source": "s"})
    with pytest.raises(CohesionError, match="missing attribute 'denominator'"):
        type("bad", (Ratio,), {"label": "x", "unit": "%", "numerator": "a",
                               "direction": LOWER_IS_BETTER, "source": "s"})
    with pytest.raises(CohesionError, match="'direction' should be a Direction"):
        type("bad", (Ratio,), {"label": "x", "unit": "%", "numerator": "a",
                               "denominator": "b", "direction": "lower", "source": "s"})


def test_exports_in_three_formats(loaded_warehouse_file, tmp_path) -> None:
    # in the 2026 geography (converted), where Saint-Denis absorbed Pierrefitte
    core = Observatory(loaded_warehouse_file)
    table = core.selection_table(["taux_chomage_15_64", "population"], "COM", 2026, "2018",
                                 "DEP:93@2026")
    assert len(table) == 39 and set(table["code"].str[:2]) == {"93"}
    assert list(table.columns[:7]) == [
        "code", "nom", "taux_chomage_15_64", "taux_chomage_15_64_manquant",
        "taux_chomage_15_64_couverture", "periode_taux_chomage_15_64",
        "source_taux_chomage_15_64"]
    assert write_table(table, tmp_path / "a.csv") == 39
    assert pd.read_csv(tmp_path / "a.csv", dtype={"code": str})["population"].sum() == \
        table["population"].sum()
    write_table(table, tmp_path / "a.parquet")
    assert pd.read_parquet(tmp_path / "a.parquet").shape == table.shape
    write_table(table, tmp_path / "a.geojson", contours=core.contours("COM", 2026))
    document = json.loads((tmp_path / "a.geojson").read_text())
    assert len(document["features"]) == 39
    assert all(f["geometry"]["type"] in {"Polygon", "MultiPolygon"}
               for f in document["features"])
    assert "INSEE" in document["metadata"]["credits"]
    with pytest.raises(CohesionError, match="format d'export inconnu"):
        write_table(table, tmp_path / "a.xls")
    core.close()


def test_indicators_aggregate_to_an_imported_zoning(loaded_warehouse_file, tmp_path) -> None:
    import shutil

    from cohesion.importers import run_import
    from cohesion.importers.zonings import ZoningImporter

    copy = tmp_path / "w.duckdb"
    shutil.copy(loaded_warehouse_file, copy)
    with Warehouse(copy) as warehouse:
        report = run_import(warehouse, ZoningImporter(),
                            shared("programmes/anct_superposeur_v2_2026/grille_densite.csv"))
        engine = IndicatorEngine(warehouse)
        classes = engine.values("population", "DENS", report.vintage, "2018").frame
        france = engine.values("population", "FRA", report.vintage, "2018").frame
        assert len(classes) == 7
        # every commune of France is in exactly one density class
        assert classes["value"].sum() == france["value"].item()
        rates = engine.values("taux_chomage_15_64", "DENS", report.vintage, "2018").frame
        assert rates["value"].between(5, 30).all()


def test_imported_rates_are_not_split_between_vintages(loaded: Warehouse) -> None:
    # Filosofi 2020 is in the 2022 geography; PACT (share of activity income) is a rate
    engine = IndicatorEngine(loaded)
    in_2022 = engine.values("pact", "COM", 2022, "2020").frame.set_index("code")
    in_2021 = engine.values("pact", "COM", 2021, "2020").frame.set_index("code")
    assert in_2022.loc["85001", "value"] == pytest.approx(35.8, abs=0.05)
    # 85001 absorbed 85307 in 2022: the rate of the whole is not the rate of either part
    assert in_2021.loc[["85001", "85307"], "value"].isna().all()
    assert (in_2021.loc[["85001", "85307"], "missing"] == "not_convertible").all()
    unchanged = in_2022.index.intersection(in_2021.index)[:1000]
    assert (in_2021.loc[unchanged, "value"].fillna(-1)
            == in_2022.loc[unchanged, "value"].fillna(-1)).mean() > 0.99


def test_periods_are_ordered_by_the_day_they_end() -> None:
    from cohesion.indicators.periods import latest_period, period_key

    periods = ["2022-12-01", "2013-2018", "2022-03-31", "2014", "2022-T4", "2022-S1",
               "2022-05", "2012-2018", "inconnue"]
    assert sorted(periods, key=period_key) == [
        "inconnue", "2014", "2012-2018", "2013-2018", "2022-03-31", "2022-05", "2022-S1",
        "2022-12-01", "2022-T4"]
    # text order would pick the 31st of March over the 1st of December
    assert latest_period(["2022-03-31", "2022-12-01"]) == "2022-12-01"
    assert latest_period(["2019", "2013-2018"]) == "2019"


def test_sums_over_a_level_without_members_are_missing_not_an_error() -> None:
    """A level with no commune in it (contrats de ville not imported) sums to nothing."""
    from cohesion.indicators.engine import Groups, _group_sums

    empty = Groups(rows=np.array([], dtype=np.int64), group=np.array([], dtype=np.int64),
                   codes=pd.Index([], name="code"))
    sums, shares = _group_sums(np.array([1.0, np.nan]), empty)
    assert sums.dtype == float and len(sums) == 0 and len(shares) == 0
