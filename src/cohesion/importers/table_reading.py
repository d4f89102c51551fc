"""Reading an indicator table: the file (CSV, gzip CSV, XLSX), its columns, its values."""

from __future__ import annotations

import dataclasses
import difflib
import gzip
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cohesion.errors import InputFileError
from cohesion.importers.reading import Table, read_csv_table, read_xlsx_table
from cohesion.importers.table_mapping import TableMapping

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def read_data_table(path: Path, mapping: TableMapping) -> Table:
    """Read a CSV (plain or gzip) or XLSX table; errors name the original file.

    A gzip file is decompressed to a temporary file first, so that every check of
    :func:`~cohesion.importers.reading.read_csv_table` (encoding, separator, short rows)
    applies unchanged.
    """
    if not path.is_file():
        raise InputFileError(path, "fichier introuvable")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".xlsx", ".xlsm"}:
        return read_xlsx_table(path, mapping.sheet or 0,  # type: ignore[arg-type]
                               mapping.header_row)
    if path.stat().st_size and _is_gzip(path):
        with tempfile.TemporaryDirectory() as folder:
            plain = Path(folder) / path.name.removesuffix(".gz")
            try:
                with gzip.open(path, "rb") as source, plain.open("wb") as target:
                    shutil.copyfileobj(source, target, 1 << 22)
            except (OSError, EOFError) as error:
                raise InputFileError(path, f"impossible de décompresser le fichier ({error})",
                                     expected="un fichier gzip complet") from None
            try:
                table = read_csv_table(plain, mapping.separator, mapping.encoding)
            except InputFileError as error:
                raise dataclasses.replace(error, path=path) from None
    else:
        table = read_csv_table(path, mapping.separator, mapping.encoding)
    table.path = path
    return table


def find_column(table: Table, name: str | None, candidates: tuple[str, ...], what: str,
                 required: bool = False, key: str | None = None) -> str | None:
    """The column named in the mapping (checked to exist) or the first known candidate."""
    columns = list(table.frame.columns)
    if name is not None:
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f" (vouliez-vous dire {close[0]!r} ?)" if close else ""
            raise table.error(f"aucune colonne {name!r} pour {what}{hint}", row=-1, column=name,
                              expected=f"une colonne du fichier ({key or what})",
                              found=", ".join(columns[:12]))
        return name
    lowered = {column.lower(): column for column in columns}
    found = next((lowered[c] for c in candidates if c in lowered), None)
    if found is None and required:
        raise table.error(f"impossible de trouver la colonne donnant {what}", row=-1,
                          expected=f"une colonne nommée {' ou '.join(candidates[:4])}, ou la "
                          f"clé {key} de la description", found=", ".join(columns[:12]))
    return found


def parse_values(table: Table, column: str, decimal: str,
                 markers: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse a value column: numbers, or missing markers kept with their reason.

    Spaces (also non-breaking, as French thousands separators) are ignored. With
    ``decimal`` ``auto`` a comma or a point is the decimal mark, and a number holding
    both is refused as ambiguous; with ``.`` or ``,`` the other one is refused.

    Returns
    -------
    values : ndarray of float
        NaN where missing.
    reasons : ndarray of object
        None where a value is present, else the reason (``secret``, ``not_available``,
        ``empty`` or one given in the mapping).
    """
    # Arrow compute kernels: national files have millions of cells
    cells = pc.fill_null(pa.array(table.frame[column], type=pa.string(), from_pandas=True), "")
    raw = pc.utf8_trim_whitespace(cells)
    lowered = pc.utf8_lower(raw)
    keys = list(markers)
    found = pc.index_in(lowered, value_set=pa.array(keys, type=pa.string()))
    reason = pc.take(pa.array(list(markers.values()), type=pa.string()), found)
    present = pc.is_null(reason).to_numpy(zero_copy_only=False)
    text = pc.replace_substring_regex(raw, r"[\s\x{00a0}\x{202f}]", "")

    def refuse(bad: np.ndarray, message: str, expected: str) -> None:
        bad = bad & present
        if bad.any():
            row = int(np.argmax(bad))
            raise table.error(message, row=row, column=column, expected=expected,
                              found=raw[row].as_py())

    has_point = pc.match_substring(text, ".").to_numpy(zero_copy_only=False)
    has_comma = pc.match_substring(text, ",").to_numpy(zero_copy_only=False)
    if decimal == "auto":
        refuse(has_point & has_comma, "nombre ambigu : il contient à la fois ',' et '.'",
               "un seul séparateur décimal (précisez lequel avec la clé decimal)")
    else:
        other = "," if decimal == "." else "."
        refuse(has_comma if other == "," else has_point,
               f"un nombre avec {other!r} alors que le séparateur décimal est {decimal!r}",
               f"des nombres comme 12{decimal}5")
    text = pc.replace_substring(text, ",", ".")
    number = pc.match_substring_regex(text, f"^{_NUMBER}$").to_numpy(zero_copy_only=False)
    shown = ", ".join(repr(m) for m in markers if m)
    refuse(~number, "valeur non numérique", f"un nombre, {shown} ou une cellule vide")
    values = pc.cast(pc.if_else(pa.array(number), text, pa.scalar(None, pa.string())),
                     pa.float64()).to_numpy(zero_copy_only=False)
    return values.astype(np.float64), np.array(reason.to_pylist(), dtype=object)
