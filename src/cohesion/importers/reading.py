"""Reading official tables (CSV, XLSX) with precise, actionable errors.

INSEE publishes CSV files separated by ``;`` (sometimes ``,``), in UTF-8 or latin-1,
and XLSX files whose header is not on the first row; spreadsheets save text as UTF-8 with
a byte-order mark, or as Excel's « Texte Unicode » (UTF-16, tab-separated).
:func:`read_table` reads any of them into a table of strings, keeping the file line of
each row so that every later error can name file, line and column. Nothing here writes
anywhere but to temporary files (a UTF-16 file is read through a UTF-8 copy).

A text table is refused before it is parsed when its header line is longer than
:data:`MAX_HEADER_BYTES`, one of its first lines longer than :data:`MAX_LINE_BYTES`, or
its header has more than :data:`MAX_COLUMNS` columns.

A text table without quotes (INSEE's files have none) is parsed by Arrow's CSV reader,
several times faster than pandas's reader of strings; any other table, and any table
Arrow refuses, goes through the csv module (which names the line of a row too short or
too long) and pandas, so that quotes, line breaks inside values and faulty rows are
read and reported exactly as before. Numbers are parsed column by column, in C
(:func:`parse_numbers`).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from cohesion.errors import InputFileError
from cohesion.store.schema import MISSING_REASONS

SEPARATORS = (";", ",", "\t", "|")
_SNIFF_BYTES = 1 << 16
#: Longest header line of a text table, in bytes (INSEE's widest headers take 3 KiB).
MAX_HEADER_BYTES = 64 * 1024
#: Longest line among the first ones of a text table, in bytes.
MAX_LINE_BYTES = 1 << 20
#: Most columns of a table an importer reads (INSEE's widest files have about 200).
MAX_COLUMNS = 5_000
#: Byte-order marks of UTF-16 text (Excel's « Texte Unicode » starts with the first).
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: Bytes that Windows-1252 leaves undefined: a file holding one is read as latin-1.
_UNDEFINED_IN_CP1252 = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


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
    arrow : pyarrow.Table or None
        The cells as Arrow read them (a text table without quotes). ``frame`` may then
        be given as None: it is made from them when first used, and an importer that
        never asks for it (:meth:`column`, :attr:`columns`, :attr:`rows` and
        :func:`parse_numbers` do not) skips making a million Python strings. Once
        ``frame`` is made, it is the table (it may be changed in place) and ``arrow``
        is no longer read.
    """

    path: Path
    frame: pd.DataFrame
    first_line: int
    encoding: str | None = None
    separator: str | None = None
    sheet: str | None = None
    arrow: pa.Table | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.frame is None and self.arrow is not None:
            del self.frame  # made on first use, by __getattr__

    def __getattr__(self, name: str) -> Any:
        # reached only while ``frame`` is still to be made from ``arrow``
        arrow = self.__dict__.get("arrow")
        if name != "frame" or arrow is None:
            raise AttributeError(name)
        self.frame = arrow.to_pandas()
        return self.frame

    def text_cells(self, column: str) -> pa.ChunkedArray | None:
        """The cells of ``column`` as Arrow read them, or None once ``frame`` is made."""
        return None if self._frame_made() else self.arrow[column]

    def column(self, name: str) -> pd.Series:
        """The cells of one column, without making the whole frame."""
        cells = self.text_cells(name)
        return self.frame[name] if cells is None else cells.to_pandas().rename(name)

    @property
    def columns(self) -> list[str]:
        """The column names."""
        return list(self.frame.columns) if self._frame_made() else self.arrow.column_names

    @property
    def rows(self) -> int:
        """The number of data rows."""
        return len(self.frame) if self._frame_made() else self.arrow.num_rows

    def _frame_made(self) -> bool:
        return "frame" in self.__dict__ or self.arrow is None

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
    r"""Return ``utf-16``, ``utf-8-sig``, ``utf-8``, ``cp1252`` or ``latin-1``.

    A byte-order mark decides; otherwise the whole file is checked for UTF-8, since an
    accented name may appear only on the last line. A file that is not UTF-8 is read as
    cp1252 (latin-1 as Windows writes it, INSEE's other encoding), or as latin-1 when it
    holds a byte that cp1252 leaves undefined (any byte is then read, never refused).
    A UTF-16 file is read through a UTF-8 copy (:func:`utf8_source`).

    Examples
    --------
    >>> detect_encoding(Path("x.csv"), "CODGEO\tP18_POP".encode("utf-16"))
    'utf-16'
    """
    if is_utf16(head):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    # a multi-byte sequence may straddle two blocks: decode incrementally
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            for block in iter(lambda: handle.read(1 << 22), b""):
                # ASCII is UTF-8, and told several times faster than decoded
                if not (block.isascii() and decoder.getstate()[0] == b""):
                    decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            handle.seek(0)
            undefined = any(_UNDEFINED_IN_CP1252.search(block)
                            for block in iter(lambda: handle.read(1 << 22), b""))
            return "latin-1" if undefined else "cp1252"
    return "utf-8"


def is_utf16(head: bytes) -> bool:
    r"""Whether text starts with a UTF-16 byte-order mark (Excel's « Texte Unicode »).

    Examples
    --------
    >>> is_utf16("CODGEO\tP18_POP".encode("utf-16")), is_utf16(b"CODGEO;P18_POP")
    (True, False)
    """
    return head.startswith(UTF16_BOMS)


def transcode_to_utf8(path: Path, target: Path, shown: Path | str | None = None) -> Path:
    """Copy the UTF-16 text of ``path`` to ``target`` in UTF-8, a block at a time.

    Every character and line end is kept; the byte-order mark is dropped. The file is
    never held whole in memory.

    Raises
    ------
    InputFileError
        For bytes that are not UTF-16 text (the error names ``shown``, by default
        ``path``).
    """
    try:
        with path.open(encoding="utf-16", newline="") as source, \
                target.open("w", encoding="utf-8", newline="") as copy:
            shutil.copyfileobj(source, copy, 1 << 20)
    except UnicodeDecodeError:
        raise InputFileError(shown or path, "texte UTF-16 illisible : le fichier commence "
                             "comme un texte UTF-16 mais contient des octets qui n'en sont "
                             "pas (fichier tronqué ?)",
                             expected="un texte UTF-16 complet (« Texte Unicode » d'Excel), "
                             "ou un CSV en UTF-8") from None
    return target


@contextmanager
def utf8_source(path: Path, head: bytes) -> Iterator[Path]:
    """``path`` itself, or a UTF-8 copy of a UTF-16 file, removed on exit.

    Parameters
    ----------
    path : Path
        A text file.
    head : bytes
        Its first bytes (:func:`check_not_empty_or_binary`), which tell UTF-16.
    """
    if not is_utf16(head):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="cohesion-utf8-") as folder:
        yield transcode_to_utf8(path, Path(folder) / path.name)


def read_utf16(path: Path, head: bytes, read: Callable[[Path], Table]) -> Table:
    """Read a UTF-16 text file with ``read`` through a UTF-8 copy (:func:`utf8_source`).

    The table and its errors name ``path``, not the copy.
    """
    with utf8_source(path, head) as copy:
        try:
            table = read(copy)
        except InputFileError as error:
            raise dataclasses.replace(error, path=path) from None
    table.path, table.encoding = path, "utf-16"
    return table


def check_line_lengths(path: Path, shown: Path | str | None = None) -> None:
    """Refuse a text table whose header or first lines are too long, before any parse.

    The header line may hold :data:`MAX_HEADER_BYTES`, the line after it
    :data:`MAX_LINE_BYTES` (without their line ends); only that much is read, so a
    column of 200,000 names is refused at once. A line further on may be longer: the
    parser then bounds it.

    Raises
    ------
    InputFileError
        Naming ``shown`` (by default ``path``), the line and the limit.
    """
    with path.open("rb") as handle:
        header = handle.readline(MAX_HEADER_BYTES + 1)
        if len(header) > MAX_HEADER_BYTES and not header.endswith(b"\n"):
            raise InputFileError(shown or path, "ligne d'en-tête trop longue", line=1,
                                 expected=f"au plus {size_in_words(MAX_HEADER_BYTES)}",
                                 found=f"plus de {size_in_words(MAX_HEADER_BYTES)}")
        block = handle.read(MAX_LINE_BYTES + 1)
    if len(block) > MAX_LINE_BYTES and b"\n" not in block:
        raise InputFileError(shown or path, "ligne trop longue", line=2,
                             expected=f"au plus {size_in_words(MAX_LINE_BYTES)} par ligne",
                             found=f"plus de {size_in_words(MAX_LINE_BYTES)}")


def check_column_count(path: Path | str, header: list[str], limit: int) -> None:
    """Refuse a header of more than ``limit`` columns (the error names ``path``).

    Examples
    --------
    >>> check_column_count("points.csv", ["c"] * 12, 10)
    Traceback (most recent call last):
    ...
    cohesion.errors.InputFileError: points.csv, ligne 1 : trop de colonnes (attendu au plus 10
    colonnes, trouvé '12 colonnes')
    """
    if len(header) > limit:
        raise InputFileError(path, "trop de colonnes", line=1,
                             expected=f"au plus {number_in_words(limit)} colonnes",
                             found=f"{number_in_words(len(header))} colonnes")


def number_in_words(count: int) -> str:
    """A count, French style (a space between thousands).

    Examples
    --------
    >>> number_in_words(200_000)
    '200 000'
    """
    return f"{count:,}".replace(",", " ")


def size_in_words(size: int) -> str:
    """A size in bytes, in Ko or Mo, French style.

    Examples
    --------
    >>> size_in_words(64 * 1024), size_in_words(1 << 20)
    ('64 Ko', '1 Mo')
    """
    return f"{size // 1024} Ko" if size < 1 << 20 else f"{number_in_words(size >> 20)} Mo"


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

    UTF-16 text (with its byte-order mark) is read through a temporary UTF-8 copy, made
    a block at a time; errors still name ``path``.

    Raises
    ------
    InputFileError
        For a missing, empty or binary file, a header or first line too long
        (:func:`check_line_lengths`), more than :data:`MAX_COLUMNS` columns, a row with
        more or fewer fields than the header (a truncated file ends that way), or a
        duplicated column name.
    """
    head = check_not_empty_or_binary(path)
    if is_utf16(head):
        return read_utf16(path, head, lambda copy: read_csv_table(copy, separator))
    if b"\x00" in head:
        raise InputFileError(path, "ce fichier est binaire, ce n'est pas un tableau texte",
                             line=1, expected="un fichier texte CSV",
                             found="des données binaires (octets NUL)")
    check_line_lengths(path)
    encoding = encoding or detect_encoding(path, head)
    sample = head.decode(encoding, errors="replace")
    separator = separator or detect_separator(path, sample)
    cells = read_plain_csv(path, encoding, separator)
    if cells is not None:
        cells = cells.rename_columns([name.strip() for name in cells.column_names])
        if _trailing_column_is_empty(cells.column_names, lambda: pc.all(
                pc.equal(cells.column(cells.num_columns - 1), ""), min_count=0).as_py()):
            cells = cells.remove_column(cells.num_columns - 1)
        table = Table(path, None, first_line=2, encoding=encoding,  # type: ignore[arg-type]
                      separator=separator, arrow=cells)
    else:
        frame = _read_csv_closely(path, encoding, separator)
        frame.columns = [str(c).strip() for c in frame.columns]
        frame = _drop_trailing_empty_column(frame)
        table = Table(path, frame, first_line=2, encoding=encoding, separator=separator)
    _check_header(table)
    return table


def read_plain_csv(path: Path, encoding: str, separator: str) -> pa.Table | None:
    """Read a text table without quotes with Arrow's CSV reader, or return None.

    Without a quote (nor a NUL byte), every line end ends a row and every separator
    ends a field, for Arrow as for pandas: the cells are those pandas would read (all
    strings, ``Unnamed: i`` for a nameless column), read several times faster.
    None sends the file to the csv module and pandas, which report a faulty file
    precisely: a quote or a NUL byte anywhere, two columns of the same name, or any
    row Arrow refuses (more or fewer fields than the header, a line longer than a block).

    Raises
    ------
    InputFileError
        For a header of more than :data:`MAX_COLUMNS` columns.
    """
    if not is_plain_text(path):
        return None
    try:
        with path.open(encoding=encoding, newline="") as handle:
            header = handle.readline().rstrip("\r\n").split(separator)
    except UnicodeDecodeError:
        return None
    check_column_count(path, header, MAX_COLUMNS)
    if len(set(header)) < len(header):  # pandas renames the second one: let it
        return None
    try:
        arrow = pa_csv.read_csv(
            path, read_options=pa_csv.ReadOptions(encoding=encoding),
            parse_options=pa_csv.ParseOptions(delimiter=separator, quote_char=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False))
    except (pa.ArrowException, UnicodeDecodeError):
        return None
    if arrow.column_names != header:  # a blank line before the header, say
        return None
    return arrow.rename_columns([name or f"Unnamed: {position}"
                                 for position, name in enumerate(header)])


def is_plain_text(path: Path) -> bool:
    """Whether a file holds neither a double quote nor a NUL byte, read a block at a time."""
    with path.open("rb") as handle:
        return not any(b'"' in block or b"\x00" in block
                       for block in iter(lambda: handle.read(1 << 22), b""))


def _read_csv_closely(path: Path, encoding: str, separator: str) -> pd.DataFrame:
    """Read any text table with pandas, after the csv module checked every row's fields."""
    _check_field_counts(path, encoding, separator)
    try:
        return pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False,
                           encoding=encoding, skip_blank_lines=True, engine="c",
                           quotechar='"', index_col=False)
    except pd.errors.ParserError as error:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if match:
            raise InputFileError(path, "une ligne a plus de champs que l'en-tête",
                                 line=int(match[2]), expected=f"{match[1]} champs",
                                 found=f"{match[3]} champs") from None
        raise InputFileError(path, "impossible de lire le fichier comme un CSV : guillemets "
                             "ou séparateurs mal placés",
                             expected="un CSV dont chaque valeur entre guillemets se ferme"
                             ) from None
    except pd.errors.EmptyDataError:
        raise InputFileError(path, "le fichier est vide",
                             expected="une ligne d'en-tête suivie de lignes de données") from None


def _check_field_counts(path: Path, encoding: str, separator: str) -> None:
    """Refuse a header too wide, and a row whose number of fields differs from the header's.

    The header may have :data:`MAX_COLUMNS` columns. pandas pads a short row (the last
    row of a truncated file) and shifts a long one into the index without a word, so
    every row is counted here with the csv module (in C, about a million rows a second).
    """
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=separator)
        ended = 0  # the line where the last row read ends
        try:
            header = next(reader, [])
            check_column_count(path, header, MAX_COLUMNS)
            expected = len(header)
            ended = reader.line_num
            for row in reader:
                if len(row) != expected and row:
                    raise InputFileError(
                        path, "une ligne a moins de champs que l'en-tête (le fichier est-il "
                        "tronqué ?)" if len(row) < expected else
                        "une ligne a plus de champs que l'en-tête",
                        line=reader.line_num,
                        column=header[len(row)] if len(row) < expected else None,
                        expected=f"{expected} champs", found=f"{len(row)} champs")
                ended = reader.line_num
        except UnicodeDecodeError as error:  # the encoding was told from the first bytes
            raise InputFileError(
                path, f"octets illisibles en {encoding}, l'encodage du début du fichier",
                line=ended + 1, expected=f"un texte entièrement en {encoding}",
                found=f"l'octet 0x{error.object[error.start]:02x}") from None
        except csv.Error:  # a value longer than the csv module's limit
            raise InputFileError(
                path, "valeur trop longue : un guillemet ouvert ici n'est-il jamais fermé ?",
                line=ended + 1, expected="des valeurs d'au plus "
                f"{number_in_words(csv.field_size_limit())} caractères") from None


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
    if _trailing_column_is_empty(list(frame.columns),
                                 lambda: frame.iloc[:, -1].fillna("").eq("").all()):
        return frame.iloc[:, :-1]
    return frame


def _trailing_column_is_empty(names: list[str], empty: Callable[[], bool]) -> bool:
    """Whether the last column is nameless and ``empty()`` (a trailing separator's)."""
    last = names[-1] if names else None
    return last is not None and (not last or last.startswith("Unnamed:")) and bool(empty())


def _check_header(table: Table) -> None:
    columns = table.columns
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
    missing = [c for c in required if c not in table.columns]
    if missing:
        found = ", ".join(table.columns[:12])
        raise table.error(f"colonne {missing[0]!r} absente, nécessaire pour {what}", row=-1,
                          column=missing[0], expected=", ".join(required), found=found)


def parse_numbers(table: Table, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse numeric columns, keeping INSEE missing markers as reasons.

    Returns
    -------
    values : DataFrame
        float64, NaN where the value is missing.
    reasons : DataFrame
        Categorical (the values of :data:`~cohesion.store.schema.MISSING_REASONS`):
        missing where a value is present, else the reason: ``secret`` (``s``),
        ``not_available`` (``nd``), ``empty``…, whatever the case and spaces around the
        marker.

    Raises
    ------
    InputFileError
        At the first cell that is neither a number nor a missing marker, with its line
        and column. A decimal comma (``12,5``) is accepted.
    """
    values = {}
    reasons = {}
    for column in columns:
        cells = table.text_cells(column)
        parsed = parse_plain_numbers(table.frame[column] if cells is None else cells)
        if parsed is None:
            parsed = _parse_numbers_closely(table, column)
        values[column], reasons[column] = parsed
    return pd.DataFrame(values), pd.DataFrame(reasons)


_MARKERS = pa.array(list(MISSING_REASONS), pa.string())
#: The categories of the reasons :func:`parse_numbers` returns.
REASONS = pd.CategoricalDtype(list(MISSING_REASONS.values()))


def parse_plain_numbers(raw: pd.Series | pa.ChunkedArray
                        ) -> tuple[pd.Series, pd.Series] | None:
    """Parse a column of plain numbers and markers in C, or return None.

    ``raw`` is a column of a table's frame, or its cells as Arrow read them (the
    values then get a range index, as the frame would have).

    A column of numbers written as INSEE writes them (``771``, ``15.95``, ``-3e2``) and
    of markers written exactly (``s``, ``nd``, empty) is parsed by Arrow in one pass.
    Any other cell (a decimal comma, spaces, ``S``, text) or a value Arrow reads as
    not finite (``nan``, ``1e400``) returns None: :func:`parse_numbers` then looks at
    the column closely, and names the first bad cell.

    Returns
    -------
    values, reasons : Series
        As the columns of :func:`parse_numbers`.
    """
    if isinstance(raw, pd.Series):
        try:
            text = pa.array(raw.to_numpy(), pa.string())
        except (pa.ArrowException, TypeError):  # not only strings (a spreadsheet's cells)
            return None
        index = raw.index
    else:
        text, index = raw, pd.RangeIndex(len(raw))
    marker = pc.index_in(text, value_set=_MARKERS)
    try:
        numbers = pc.cast(pc.if_else(pc.is_valid(marker), None, text), pa.float64())
    except pa.ArrowInvalid:
        return None
    if not pc.all(pc.is_finite(numbers), min_count=0).as_py():
        return None
    values = pd.Series(numbers.to_numpy(zero_copy_only=False), index=index, dtype="float64")
    positions = marker.fill_null(-1).to_numpy()  # the reasons are the markers' values
    reasons = pd.Series(pd.Categorical.from_codes(positions, dtype=REASONS), index=index)
    return values, reasons


def _parse_numbers_closely(table: Table, column: str) -> tuple[pd.Series, pd.Series]:
    """Parse one column cell by cell where needed: :func:`parse_numbers`'s slow path."""
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
    return numbers.astype("float64"), reason.astype(REASONS)
