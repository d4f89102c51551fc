"""The ``series`` table: what the warehouse holds, kept with the observations.

An import checks its series against it, an engine learns from it what is held; it must
always equal the distinct variable × level × vintage × period of ``observations``,
after new series, merged series (Filosofi 2019 in the Comparateur and in its own file)
and replaced ones, and a warehouse written before the table gets it on opening.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from cohesion.importers.base import ImportOptions, run_import
from cohesion.importers.insee import Comparateur, FilosofiCommunes
from cohesion.store import Warehouse
from cohesion.store.warehouse import distinct_rows
from conftest import COMPARATEUR, FILOSOFI_2019, shared

KEY = ["variable", "level", "vintage", "period"]


def distinct_in_observations(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.query(
        "SELECT DISTINCT variable, level, vintage, period FROM observations"
    ).sort_values(KEY, ignore_index=True)


def held(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.held_series()[KEY].sort_values(KEY, ignore_index=True)


def test_series_follow_new_merged_and_replaced_observations(warehouse: Warehouse) -> None:
    run_import(warehouse, Comparateur(), shared(COMPARATEUR))
    # Filosofi 2019 repeats the Comparateur's median and poverty rate: merged series
    run_import(warehouse, FilosofiCommunes(), shared(FILOSOFI_2019))
    run_import(warehouse, FilosofiCommunes(), shared(FILOSOFI_2019),
               options=ImportOptions(replace=True))
    expected = distinct_in_observations(warehouse)
    assert len(expected) > 40
    pd.testing.assert_frame_equal(held(warehouse), expected)
    # each series once
    assert not warehouse.query("SELECT variable, level, vintage, period FROM series "
                               "GROUP BY ALL HAVING count(*) > 1").shape[0]


def test_an_older_warehouse_gets_its_series(built_warehouse_file: Path,
                                            tmp_path: Path) -> None:
    path = tmp_path / "older.duckdb"
    shutil.copy(built_warehouse_file, path)
    with Warehouse(path) as warehouse:
        run_import(warehouse, Comparateur(), shared(COMPARATEUR))
        expected = distinct_in_observations(warehouse)
        # as a warehouse of schema 3 was: no series table
        warehouse.connection.execute("DROP TABLE series")
        warehouse.connection.execute("UPDATE meta SET value = '3' "
                                     "WHERE key = 'schema_version'")
    with Warehouse(path, read_only=True) as reader:  # read from the observations
        pd.testing.assert_frame_equal(held(reader), expected)
    with Warehouse(path) as writer:  # filled on opening for writing
        assert writer.query("SELECT count(*) AS n FROM series")["n"][0] == len(expected)
        pd.testing.assert_frame_equal(held(writer), expected)


def test_distinct_rows_counts_categories_and_falls_back() -> None:
    rows = pd.DataFrame({
        "variable": pd.Categorical(["pop", "pop", "men", "pop", "men"],
                                   categories=["men", "pop", "unused"]),
        "level": ["COM", "ARM", "COM", "COM", "COM"],
        "vintage": [2021, 2021, 2021, 2021, 2024],
    })
    expected = [("men", "COM", 2021), ("men", "COM", 2024), ("pop", "ARM", 2021),
                ("pop", "COM", 2021)]
    columns = ["variable", "level", "vintage"]
    found = distinct_rows(rows, columns)
    assert sorted(found.itertuples(index=False, name=None)) == expected
    # a missing cell is a value of its own, as drop_duplicates keeps it
    with_missing = rows.assign(level=["COM", None, "COM", "COM", None])
    assert len(distinct_rows(with_missing, columns)) == 4
    assert distinct_rows(rows.iloc[:0], columns).empty
