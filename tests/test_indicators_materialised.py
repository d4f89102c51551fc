"""What indicator engines share per warehouse content, and how an import renews it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cohesion.core.caching import forget_materialised
from cohesion.importers import run_import
from cohesion.importers.insee import FilosofiCommunes
from cohesion.indicators.engine import IndicatorEngine, grouped_sums
from cohesion.store import Warehouse
from conftest import FILOSOFI_2019, shared

INDICATORS = ["population", "taux_chomage_15_64", "densite_population",
              "evolution_population", "revenu_median"]
LEVELS = ["COM", "EPCI", "DEP", "REG", "FRA"]


def frames(engine: IndicatorEngine) -> dict[tuple[str, str], pd.DataFrame]:
    return {(r.indicator.id, r.level): r.frame
            for r in engine.compute(INDICATORS, LEVELS, 2021)}


def test_engines_share_the_inputs_of_a_content_and_answer_alike(loaded: Warehouse) -> None:
    forget_materialised()
    first = IndicatorEngine(loaded)
    computed = frames(first)
    second = IndicatorEngine(loaded)
    assert second.store is first.store
    assert any(key[0] == "input" for key in second.store)
    for key, frame in frames(second).items():
        pd.testing.assert_frame_equal(frame, computed[key])


def test_a_changed_answer_does_not_change_the_next_one(loaded: Warehouse) -> None:
    forget_materialised()
    before = IndicatorEngine(loaded).values("population", "COM", 2021, "2018").frame
    expected = before.copy()
    before["value"] *= 2
    before["population@2018"] = 0.0
    after = IndicatorEngine(loaded).values("population", "COM", 2021, "2018").frame
    pd.testing.assert_frame_equal(after, expected)


def test_an_import_gives_engines_a_new_store(warehouse: Warehouse) -> None:
    engine = IndicatorEngine(warehouse)
    assert engine.periods(engine.indicator("revenu_median")) == []
    key = warehouse.content_key()
    run_import(warehouse, FilosofiCommunes(), shared(FILOSOFI_2019))
    assert warehouse.content_key() != key
    renewed = IndicatorEngine(warehouse)
    assert renewed.store is not engine.store
    assert renewed.periods(renewed.indicator("revenu_median")) == ["2019"]
    values = renewed.values("revenu_median", "COM", 2021).frame.set_index("code")
    assert values.loc["93066", "value"] > 0  # Saint-Denis


def test_an_in_memory_warehouse_shares_nothing() -> None:
    with Warehouse(":memory:") as memory:
        assert memory.content_key() is None
        assert IndicatorEngine(memory).store is not IndicatorEngine(memory).store


def test_grouped_sums_count_a_row_in_every_group_it_belongs_to() -> None:
    matrix = np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 40.0]])
    # row 0 in groups 0 and 2, row 1 in no group, row 2 in group 1
    sums = grouped_sums(matrix, np.array([0, 2, 0]), np.array([0, 1, 2]), 4)
    assert sums.tolist() == [[1.0, 10.0], [4.0, 40.0], [1.0, 10.0], [0.0, 0.0]]
