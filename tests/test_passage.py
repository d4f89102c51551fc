"""Passage tables between vintages: derived from the référentiel, preserving totals."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from cohesion.indicators.engine import IndicatorEngine
from cohesion.store import Warehouse
from cohesion.territory.passage import chain, convert_counts
from cohesion.territory.vintages import VINTAGES


@pytest.fixture(scope="module")
def steps_and_populations(built_warehouse_file):
    with Warehouse(built_warehouse_file, read_only=True) as warehouse:
        steps = IndicatorEngine(warehouse)._steps()
        populations = warehouse.query(
            "SELECT vintage, code, population FROM territories WHERE level = 'COM' "
            "AND population IS NOT NULL")
    return steps, {v: frame.set_index("code")["population"].astype("int64")
                   for v, frame in populations.groupby("vintage")}


@pytest.mark.parametrize(("source", "target"), list(itertools.permutations(VINTAGES, 2)))
def test_conversion_preserves_national_population_exactly(steps_and_populations, source,
                                                          target) -> None:
    steps, populations = steps_and_populations
    population = populations[source]
    converted = convert_counts(population, chain(steps, source, target))
    assert converted.unmatched == []
    assert converted.values.sum() == population.sum()
    assert (converted.values == converted.values.round()).all()  # integer shares


def test_known_changes_are_in_the_tables(steps_and_populations) -> None:
    steps, _ = steps_and_populations
    recode = chain(steps, 2022, 2023)  # Les Trois Lacs changed its code
    assert recode.loc[recode["from_code"] == "27058", ["to_code", "kind"]].values.tolist() == \
        [["27676", "recode"]]
    merge = chain(steps, 2023, 2024)  # Val-d'Usiers: Bians-les-Usiers + 2 communes
    assert set(merge.loc[merge["to_code"] == "25060", "from_code"]) == {
        "25060", "25282", "25549"}
    split = chain(steps, 2024, 2025)  # Neussargues en Pinatelle restored 4 communes
    pieces = split[split["from_code"] == "15141"]
    assert set(pieces["to_code"]) == {"15031", "15035", "15047", "15141", "15171"}
    assert pieces["weight"].sum() == pytest.approx(1.0)
    assert (pieces["kind"] == "split").all()
    assert (chain(steps, 2025, 2026)["kind"] == "same").all()


def test_unmatched_codes_are_reported_not_dropped_silently(steps_and_populations) -> None:
    steps, _ = steps_and_populations
    values = pd.Series({"01001": 10, "99999": 5, "2A004": 7})
    converted = convert_counts(values, chain(steps, 2021, 2026))
    assert converted.unmatched == ["99999"]
    assert converted.values.sum() == 17


def test_missing_values_stay_missing_through_a_merge(steps_and_populations) -> None:
    steps, _ = steps_and_populations
    converted = convert_counts(
        pd.Series({"25060": 100.0, "25282": float("nan"), "25549": 3.0, "01001": 5.0}),
        chain(steps, 2023, 2024))
    assert pd.isna(converted.values["25060"]) and converted.values["01001"] == 5
