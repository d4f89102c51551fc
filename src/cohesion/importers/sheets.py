"""A quick look at the top of an XLSX sheet: its name, banner and header row.

INSEE workbooks put a banner (title, publication date, geography, source) above the
header, whose row changes between files. Reading the first rows in streaming mode costs
a fraction of a second, so the header row is found before the sheet is read once in full
by :func:`~cohesion.importers.reading.read_xlsx_table`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cohesion.errors import InputFileError
from cohesion.importers.reading import check_not_empty_or_binary

HEAD_ROWS = 30


@dataclass
class SheetHead:
    """The first rows of a sheet.

    Attributes
    ----------
    sheet : str
        Sheet name.
    rows : list of tuple
        Cell values of the first rows (None for empty cells).
    """

    sheet: str
    rows: list[tuple[object, ...]]

    def header_row(self, names: tuple[str, ...], require_all: bool = False) -> int | None:
        """1-based number of the first row holding one (or all) of ``names``.

        Cells are compared without case. ``require_all`` tells the header apart from a
        row of French labels above it that may repeat one of the names.
        """
        wanted = {name.upper() for name in names}
        for number, row in enumerate(self.rows, start=1):
            cells = {str(cell).strip().upper() for cell in row if cell is not None}
            if (wanted <= cells) if require_all else (cells & wanted):
                return number
        return None

    def banner(self, before_row: int) -> str:
        """Text of the non-empty cells above ``before_row``, joined by spaces."""
        return " ".join(str(cell) for row in self.rows[:before_row - 1] for cell in row
                        if cell not in (None, ""))

    def geography_year(self, before_row: int) -> int | None:
        """The COG year an INSEE banner declares (``Géographie au 01/01/2021``)."""
        match = re.search(r"G[ée]ographie au \d{2}/\d{2}/(\d{4})", self.banner(before_row),
                          re.IGNORECASE)
        return int(match[1]) if match else None


def sheet_head(path: Path, sheet: str | None = None, rows: int = HEAD_ROWS,
               prefix: str | None = None) -> SheetHead:
    """Read the first ``rows`` rows of ``sheet``.

    Without ``sheet``, the first sheet whose name starts with ``prefix`` is read, or
    the first sheet.

    Raises
    ------
    InputFileError
        For a file that is missing, empty, not a workbook (a CSV or a binary file
        renamed ``.xlsx``, a truncated download) or has no such sheet.
    """
    import openpyxl

    check_not_empty_or_binary(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # zipfile, XML and openpyxl errors for corrupt files
        raise InputFileError(path, f"impossible de lire le classeur : {error}",
                             expected="un classeur XLSX", found=path.suffix or "aucune extension"
                             ) from None
    try:
        names = workbook.sheetnames
        preferred = [n for n in names if prefix and n.upper().startswith(prefix.upper())]
        name = sheet if sheet is not None else (preferred or names)[0]
        if name not in workbook.sheetnames:
            raise InputFileError(path, f"le classeur n'a pas de feuille nommée {name!r}",
                                 expected=f"la feuille {name}",
                                 found=", ".join(workbook.sheetnames))
        try:  # a read-only workbook parses the sheet's XML only now
            head = list(workbook[name].iter_rows(max_row=rows, values_only=True))
        except Exception as error:  # XML, zip and decompression errors of a damaged file
            raise InputFileError(path, f"la feuille {name!r} est illisible : {error}",
                                 expected="un classeur XLSX intact",
                                 found="un classeur abîmé ou tronqué") from None
    finally:
        workbook.close()
    return SheetHead(name, head)
