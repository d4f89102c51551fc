"""Tables derived from a warehouse's content, kept on disk for the next processes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from cohesion.core.caching import forget_materialised
from cohesion.importers import run_import
from cohesion.importers.insee import FilosofiCommunes
from cohesion.indicators.engine import IndicatorEngine
from cohesion.store import Warehouse
from cohesion.store.materialised import SUFFIX, MaterialisedFiles
from conftest import FILOSOFI_2019, shared

INDICATORS = ["population", "taux_chomage_15_64", "revenu_median", "densite_population"]
LEVELS = ["COM", "EPCI", "DEP"]


def frames(warehouse: Warehouse, vintage: int = 2021) -> dict[tuple[str, str], pd.DataFrame]:
    """Every indicator × level, from a new engine over nothing held in memory."""
    forget_materialised()
    found = IndicatorEngine(warehouse).compute(INDICATORS, LEVELS, vintage)
    return {(r.indicator.id, r.level): r.frame for r in found}


def test_a_new_process_reads_what_the_first_kept(loaded: Warehouse) -> None:
    shutil.rmtree(f"{loaded.path}{SUFFIX}", ignore_errors=True)
    computed = frames(loaded)
    files = IndicatorEngine(loaded).files
    kept = files.names("")
    assert any(name.startswith("inputs-2021-") for name in kept)
    assert {"codes-COM-2021", "groups-EPCI-2021", "groups-DEP-2021"} <= set(kept)
    read_back = frames(loaded)
    assert computed.keys() == read_back.keys()
    for key, frame in computed.items():
        pd.testing.assert_frame_equal(frame, read_back[key], obj=str(key))
    # the inputs came from the files: a damaged file is computed again, not trusted
    for name in kept:
        files._path(name).write_bytes(b"not an arrow file")
    again = frames(loaded)
    for key, frame in computed.items():
        pd.testing.assert_frame_equal(frame, again[key], obj=str(key))


def test_conversion_notes_survive_the_disk(loaded: Warehouse) -> None:
    shutil.rmtree(f"{loaded.path}{SUFFIX}", ignore_errors=True)
    forget_materialised()
    computed = IndicatorEngine(loaded).commune_values(["population@2018"], 2026)
    forget_materialised()
    read_back = IndicatorEngine(loaded).commune_values(["population@2018"], 2026)
    assert computed[2], "a conversion 2021 → 2026 has notes"
    assert read_back[2] == computed[2]
    pd.testing.assert_frame_equal(read_back[0], computed[0])
    pd.testing.assert_frame_equal(read_back[1], computed[1])


def test_an_import_gives_new_tables_and_removes_the_old(built_warehouse_file: Path,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(built_warehouse_file, path)
    with Warehouse(path) as warehouse:
        forget_materialised()
        before = IndicatorEngine(warehouse).commune_values(["pcho@2019"], 2022)[0]
        old = IndicatorEngine(warehouse).files.folder
        run_import(warehouse, FilosofiCommunes(), shared(FILOSOFI_2019))
        forget_materialised()
        after = IndicatorEngine(warehouse).commune_values(["pcho@2019"], 2022)[0]
        new = IndicatorEngine(warehouse).files.folder
    assert old != new and new.is_dir() and not old.exists()
    assert before["pcho@2019"].isna().all()
    assert after["pcho@2019"].notna().sum() > 5_000  # the others are under secrecy


def test_files_depend_on_content_and_code(tmp_path: Path) -> None:
    where = tmp_path / "w.duckdb"
    one = MaterialisedFiles.beside(where, ("w", 1), "code-a")
    assert one.folder == MaterialisedFiles.beside(where, ("w", 1), "code-a").folder
    assert one.folder != MaterialisedFiles.beside(where, ("w", 2), "code-a").folder
    assert one.folder != MaterialisedFiles.beside(where, ("w", 1), "code-b").folder
    assert MaterialisedFiles.beside(None, None, "code-a").read("x") is None
    with pytest.raises(ValueError, match="not a table name"):
        one.write("../escape", pa.table({"a": [1]}))
    assert not (tmp_path / "escape.arrow").exists()
