"""Reading text tables: Arrow's fast path gives what the careful path gives, or steps aside.

The real Comparateur de territoires head, written with and without quotes, must give the
same table; cells the fast number parser does not take are parsed closely, and a bad
cell is still named by its line and column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohesion.errors import InputFileError
from cohesion.importers.reading import (
    Table,
    is_plain_text,
    parse_numbers,
    parse_plain_numbers,
    read_csv_table,
    read_plain_csv,
)
from conftest import shared

COMPARATEUR = "commune_indicators/comparateur_rp2018_filo2019/base_cc_comparateur.CSV"


def comparateur_lines(count: int) -> list[str]:
    with shared(COMPARATEUR).open(encoding="utf-8") as handle:
        return [next(handle).rstrip("\r\n") for _ in range(count)]


def test_plain_and_quoted_files_read_alike(tmp_path: Path) -> None:
    lines = comparateur_lines(300)
    plain = tmp_path / "plain.csv"
    plain.write_text("\r\n".join(f"{line};" for line in lines) + "\r\n", encoding="utf-8")
    quoted = tmp_path / "quoted.csv"
    quoted.write_text("\r\n".join(";".join(f'"{cell}"' for cell in line.split(";")) + ";"
                                  for line in lines) + "\r\n", encoding="utf-8")
    assert is_plain_text(plain) and not is_plain_text(quoted)
    assert read_plain_csv(plain, "utf-8", ";") is not None  # Arrow read it
    fast, careful = read_csv_table(plain), read_csv_table(quoted)
    assert list(fast.frame.columns) == lines[0].split(";")  # the trailing column dropped
    pd.testing.assert_frame_equal(fast.frame, careful.frame)
    assert (fast.frame["CODGEO"].iloc[0], fast.frame["PIMP19"].iloc[0]) == ("01001", "")


def test_a_short_row_of_a_plain_file_is_named(tmp_path: Path) -> None:
    lines = comparateur_lines(120)
    path = tmp_path / "short.csv"
    path.write_text("\n".join([*lines[:80], lines[80].rsplit(";", 3)[0], *lines[81:]]),
                    encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        read_csv_table(path)
    assert caught.value.line == 81 and "moins de champs" in caught.value.message


def test_fast_and_close_number_parsing_agree(tmp_path: Path) -> None:
    plain = ["771", "15.95", "s", "nd", "", "-3e2", "ns", "so"]
    written = ["771", "15,95", "S", " nd", "", "-3e2", "NS", " so "]  # parsed closely
    table = Table(tmp_path / "x.csv", pd.DataFrame({"plain": plain, "written": written}), 2)
    assert parse_plain_numbers(table.frame["plain"]) is not None
    assert parse_plain_numbers(table.frame["written"]) is None
    values, reasons = parse_numbers(table, ["plain", "written"])
    np.testing.assert_array_equal(values["plain"], [771, 15.95, np.nan, np.nan, np.nan, -300,
                                                    np.nan, np.nan])
    pd.testing.assert_series_equal(values["plain"], values["written"], check_names=False)
    pd.testing.assert_series_equal(reasons["plain"], reasons["written"], check_names=False)
    assert list(reasons["plain"].iloc[2:5]) == ["secret", "not_available", "empty"]


@pytest.mark.parametrize("bad", ["nan", "1e400", "12 %", "0x10"])
def test_a_value_the_fast_parser_would_take_wrongly_is_refused(tmp_path: Path,
                                                               bad: str) -> None:
    table = Table(tmp_path / "x.csv", pd.DataFrame({"P18_POP": ["1", "2", bad, "4"]}), 2)
    with pytest.raises(InputFileError) as caught:
        parse_numbers(table, ["P18_POP"])
    assert (caught.value.line, caught.value.column, caught.value.found) == (4, "P18_POP", bad)
