"""Reading official tables (CSV, XLSX) with precise, actionable errors.

INSEE publishes CSV files separated by ``;`` (sometimes ``,``), in UTF-8 or latin-1,
and XLSX files whose header is not on the first row. :func:`read_table` reads either into
a table of strings, keeping the file line of each row so that every later error can name
file, line and column. Nothing here writes anywhere.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohesion.errors import InputFileError
from cohesion.store.schema import MISSING_REASONS

SEPARATORS = (";", ",", "\t", "|")
_SNIFF_BYTES = 1 << 16


@dataclass
class Table:
    """A table read from a file: all cells as strings, with where they came from.

    Attributes
    ----------
    path : Path
        The file.
    frame : DataFrame
        Cells as ``str`` (empty string for empty cells).
    first_line : int
        File line number (1-based) of the first data row; row ``i`` is on line
        ``first_line + i``.
    encoding, separator : str or None
        What was detected (None for XLSX).
    sheet : str or None
        Sheet name for XLSX files.
    """

    path: Path
    frame: pd.DataFrame
    first_line: int
    encoding: str | None = None
    separator: str | None = None
    sheet: str | None = None

    def line_of(self, row: int) -> int:
        """File line of the row at position ``row``."""
        return self.first_line + row

    def error(self, message: str, row: int | None = None, column: str | None = None,
              expected: str | None = None, found: str | None = None) -> InputFileError:
        """Build an :class:`InputFileError` located in this table."""
        where = f"{self.path} [feuille {self.sheet}]" if self.sheet else self.path
        line = None if row is None else self.line_of(row)
        return InputFileError(where, message, line, column, expected, found)


def check_not_empty_or_binary(path: Path) -> bytes:
    """Return the first bytes of ``path``; refuse missing, empty and binary files."""
    if not path.is_file():
        raise InputFileError(path, "fichier introuvable")
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip():
        raise InputFileError(path, "le fichier est vide",
                             expected="une ligne d'en-tête suivie de lignes de données")
    return head


def detect_encoding(path: Path, head: bytes) -> str:
    """Return ``utf-8-sig``, ``utf-8`` or ``cp1252`` (latin-1 as Windows writes it).

    The whole file is checked for UTF-8, since an accented name may appear only on the
    last line; a file that is not UTF-8 is read as cp1252, INSEE's other encoding.
    """
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    # a multi-byte sequence may straddle two blocks: decode incrementally
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            for block in iter(lambda: handle.read(1 << 22), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def detect_separator(path: Path, sample: str) -> str:
    """Guess the separator from the first lines (the one that splits the header most)."""
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if not lines:
        raise InputFileError(path, "le fichier est vide",
                             expected="une ligne d'en-tête suivie de lignes de données")
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        counts = {sep: lines[0].count(sep) for sep in SEPARATORS}
        best = max(counts, key=counts.__getitem__)
        if counts[best] == 0:
            raise InputFileError(path, "impossible de trouver le séparateur de colonnes", line=1,
                                 expected="des colonnes séparées par ';', ',', une "
                                 "tabulation ou '|'",
                                 found=lines[0][:80]) from None
        return best


def read_csv_table(path: Path, separator: str | None = None,
                   encoding: str | None = None) -> Table:
    """Read a delimited text file into a :class:`Table` of strings.

    Raises
    ------
    InputFileError
        For a missing, empty or binary file, a row with more or fewer fields than the
        header (a truncated file ends that way), or a duplicated column name.
    """
    head = check_not_empty_or_binary(path)
    if b"\x00" in head:
        raise InputFileError(path, "ce fichier est binaire, ce n'est pas un tableau texte",
                             line=1, expected="un fichier texte CSV",
                             found="des données binaires (octets NUL)")
    encoding = encoding or detect_encoding(path, head)
    sample = head.decode(encoding, errors="replace")
    separator = separator or detect_separator(path, sample)
    _check_field_counts(path, encoding, separator)
    try:
        frame = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False,
                            encoding=encoding, skip_blank_lines=True, engine="c",
                            quotechar='"', index_col=False)
    except pd.errors.ParserError as error:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if match:
            raise InputFileError(path, "une ligne a plus de champs que l'en-tête",
                                 line=int(match[2]), expected=f"{match[1]} champs",
                                 found=f"{match[3]} champs") from None
        raise InputFileError(path, f"impossible de lire le fichier comme un CSV : {error}"
                             ) from None
    except pd.errors.EmptyDataError:
        raise InputFileError(path, "le fichier est vide",
                             expected="une ligne d'en-tête suivie de lignes de données") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = _drop_trailing_empty_column(frame)
    table = Table(path, frame, first_line=2, encoding=encoding, separator=separator)
    _check_header(table)
    return table


def _check_field_counts(path: Path, encoding: str, separator: str) -> None:
    """Refuse a row whose number of fields differs from the header's.

    pandas pads a short row (the last row of a truncated file) and shifts a long one
    into the index without a word, so every row is counted here with the csv module
    (in C, about a million rows a second).
    """
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=separator)
        header = next(reader, [])
        expected = len(header)
        for row in reader:
            if len(row) != expected and row:
                raise InputFileError(
                    path, "une ligne a moins de champs que l'en-tête (le fichier est-il tronqué ?)"
                    if len(row) < expected else "une ligne a plus de champs que l'en-tête",
                    line=reader.line_num,
                    column=header[len(row)] if len(row) < expected else None,
                    expected=f"{expected} champs", found=f"{len(row)} champs")


def read_xlsx_table(path: Path, sheet: str, header_row: int) -> Table:
    """Read one sheet of an XLSX workbook whose header is on ``header_row`` (1-based)."""
    check_not_empty_or_binary(path)
    try:
        frame = pd.read_excel(path, sheet_name=sheet, header=header_row - 1, dtype=str,
                              engine="calamine")
    except ValueError as error:
        if "not found" in str(error).lower() or "worksheet" in str(error).lower():
            raise InputFileError(path, f"le classeur n'a pas de feuille nommée {sheet!r}",
                                 expected=f"la feuille {sheet}") from None
        raise InputFileError(path, f"impossible de lire le classeur : {error}",
                             expected="un classeur XLSX") from None
    except Exception as error:  # calamine raises its own types for corrupt files
        raise InputFileError(path, f"impossible de lire le classeur : {error}",
                             expected="un classeur XLSX") from None
    frame = frame.fillna("")
    frame.columns = [str(c).strip() for c in frame.columns]
    table = Table(path, frame, first_line=header_row + 1, sheet=sheet)
    _check_header(table)
    return table


def read_table(path: Path, sheet: str | None = None, header_row: int = 1) -> Table:
    """Read a CSV or an XLSX sheet, chosen by the file's extension."""
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return read_xlsx_table(path, sheet or 0, header_row)  # type: ignore[arg-type]
    return read_csv_table(path)


def _drop_trailing_empty_column(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop the nameless, empty last column a trailing separator on every line makes."""
    last = frame.columns[-1] if len(frame.columns) else None
    if last is not None and (not last or last.startswith("Unnamed:")) and \
            frame[last].fillna("").eq("").all():
        return frame.iloc[:, :-1]
    return frame


def _check_header(table: Table) -> None:
    columns = list(table.frame.columns)
    seen: set[str] = set()
    for position, name in enumerate(columns, start=1):
        if name in seen:
            raise table.error("nom de colonne en double", row=-1, column=name,
                              expected="des noms de colonnes uniques", found=f"{name} deux fois")
        if not name or name.startswith("Unnamed:"):
            raise table.error("une colonne n'a pas de nom", row=-1, column=str(position),
                              expected="un nom dans chaque cellule d'en-tête",
                              found="une cellule vide")
        seen.add(name)


def require_columns(table: Table, required: list[str], what: str) -> None:
    """Raise a located error if a required column is absent."""
    missing = [c for c in required if c not in table.frame.columns]
    if missing:
        found = ", ".join(list(table.frame.columns)[:12])
        raise table.error(f"colonne {missing[0]!r} absente, nécessaire pour {what}", row=-1,
                          column=missing[0], expected=", ".join(required), found=found)


def parse_numbers(table: Table, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse numeric columns, keeping INSEE missing markers as reasons.

    Returns
    -------
    values : DataFrame
        float64, NaN where the value is missing.
    reasons : DataFrame
        ``None`` where a value is present, else the reason: ``secret`` (``s``),
        ``not_available`` (``nd``), ``empty``.

    Raises
    ------
    InputFileError
        At the first cell that is neither a number nor a missing marker, with its line
        and column. A decimal comma (``12,5``) is accepted.
    """
    values = {}
    reasons = {}
    for column in columns:
        raw = table.frame[column]
        # most cells are plain numbers: parse them in C, look closer only at the rest
        numbers = pd.to_numeric(raw, errors="coerce")
        reason = pd.Series(None, index=raw.index, dtype=object)
        unparsed = numbers.isna().to_numpy()
        if unparsed.any():
            rest = raw[unparsed].astype(str).str.strip()
            rest_reason = rest.str.lower().map(MISSING_REASONS)
            rest_numbers = pd.to_numeric(
                rest.str.replace(",", ".", regex=False).where(rest_reason.isna()),
                errors="coerce")
            bad = rest_numbers.isna() & rest_reason.isna()
            if bad.any():
                row = int(np.flatnonzero(unparsed)[np.argmax(bad.to_numpy())])
                raise table.error("valeur non numérique", row=row, column=column,
                                  expected="un nombre, 's', 'nd' ou une cellule vide",
                                  found=raw.iloc[row])
            numbers[unparsed] = rest_numbers.to_numpy()
            reason[unparsed] = rest_reason.to_numpy()
        values[column] = numbers.astype("float64")
        reasons[column] = reason
    return pd.DataFrame(values), pd.DataFrame(reasons)
