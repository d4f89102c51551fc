"""The command line, run in-process on real data."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from cohesion.cli import main
from conftest import COMPARATEUR, shared


def run(warehouse: Path, *args: str):
    return CliRunner().invoke(main, ["--warehouse", str(warehouse), *args],
                              env={"COLUMNS": "250"})


def test_territory_show_compares_with_parents(loaded_warehouse_file: Path) -> None:
    result = run(loaded_warehouse_file, "territory", "show", "Clichy-sous-Bois",
                 "--vintage", "2021")
    assert result.exit_code == 0, result.output
    assert "COM:93014@2021" in result.output
    assert "Seine-Saint-Denis" in result.output
    assert "20.13" in result.output  # taux de chômage 2018
    assert "non agrégeable" in result.output  # the median of a département


def test_exit_codes(loaded_warehouse_file: Path, tmp_path: Path) -> None:
    assert run(loaded_warehouse_file, "territory", "show", "Nullepart-sur-Mer").exit_code == 4
    assert run(loaded_warehouse_file, "export", "taux_chomage_1564").exit_code == 4
    assert run(loaded_warehouse_file, "territory").exit_code in (0, 2)
    bad = tmp_path / "bad.csv"
    bad.write_text("CODGEO;P18_POP\n01001;douze\n", encoding="utf-8")
    copy = tmp_path / "w.duckdb"
    shutil.copy(loaded_warehouse_file, copy)
    result = run(copy, "import", "comparateur", str(bad))
    assert result.exit_code == 3
    assert "ligne 2" in result.output and "P18_POP" in result.output


def test_import_is_a_no_op_the_second_time(loaded_warehouse_file: Path,
                                           tmp_path: Path) -> None:
    copy = tmp_path / "w.duckdb"
    shutil.copy(loaded_warehouse_file, copy)
    result = run(copy, "import", "comparateur", str(shared(COMPARATEUR)))
    assert result.exit_code == 0
    assert "déjà importé" in result.output


def test_export_and_passage(loaded_warehouse_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "dep.csv"
    result = run(loaded_warehouse_file, "export", "taux_chomage_15_64", "--level", "DEP",
                 "--vintage", "2021", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text().count("\n") == 102  # header + 101 départements
    result = run(loaded_warehouse_file, "passage", "2024", "2025", "-o",
                 str(tmp_path / "p.csv"))
    assert result.exit_code == 0 and "15141" in result.output


def test_indicators_and_summary(loaded_warehouse_file: Path) -> None:
    result = run(loaded_warehouse_file, "indicators")
    assert result.exit_code == 0 and "taux_chomage_15_64" in result.output
    assert "non chargé" in result.output
    result = run(loaded_warehouse_file, "summary")
    assert result.exit_code == 0 and "comparateur" in result.output


def test_build_is_skipped_when_up_to_date(loaded_warehouse_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "w.duckdb"
    shutil.copy(loaded_warehouse_file, copy)
    result = run(copy, "build")
    assert result.exit_code == 0 and "déjà construit" in result.output
