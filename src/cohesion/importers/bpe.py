"""Importers for INSEE's Base permanente des équipements (BPE).

Two kinds of files:

- **counts per commune** (:class:`BpeCommuneCounts`): the national pivot tables INSEE
  published for 2009 and 2013 (``bpe2009.xlsx``: one row per commune, one column per
  equipment type named by its French *label*, plus ``Total de NB_EQUIP``), and the same
  shape with type *codes* as column names (``A101`` or ``NB_A101``), or a long table
  (commune, ``TYPEQU``, ``NB_EQUIP``);
- **geolocated equipments** (:class:`BpePoints`): one row per équipement with its type
  code ``TYPEQU`` and coordinates, either ``LONGITUDE``/``LATITUDE`` or
  ``LAMBERT_X``/``LAMBERT_Y`` (Lambert-93 in metropolitan France, the local UTM
  projection overseas), and usually the commune ``DEPCOM``.

Both produce additive counts per commune: one variable per BPE domain
(``equipements_A`` … ``equipements_G``, the domain being the first letter of the type
code) and ``equipements_total``; with the option ``per_type=True``, one variable per
type as well (``bpe_A101``…): about 190 series of 35,000 communes, some 6 million values
per national file, so they are opt-in (the points of a geolocated file are in the
``equipments`` table anyway, where any type can be counted). A commune of a
covered département that the file does not list gets zero équipements (INSEE's pivot
tables leave such communes out); the option ``fill_zeros=False`` turns this off.

The 2009 and 2013 files name communes that have merged since: see
:mod:`cohesion.importers.communes` and the ``allow_former_codes`` option.

The nomenclature (type codes, their domains and labels) is data shipped with the
package: see :mod:`~cohesion.importers.bpe_nomenclature`.

Options read from ``ImportOptions.extra``: ``allow_former_codes`` (bool),
``per_type`` (bool, default False), ``fill_zeros`` (bool, default True), ``crs`` (CRS of
``LAMBERT_X``/``LAMBERT_Y`` when the file has no ``DEPCOM``; default Lambert-93).
"""

from __future__ import annotations

import csv
import io
import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from pyproj import CRS

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportBatch, Importer, ImportOptions, commune_codes
from cohesion.importers.bpe_nomenclature import TYPE_CODE, bpe_nomenclature, equipment_type_of
from cohesion.importers.communes import CommuneResolution, departement_of, resolve_communes
from cohesion.importers.reading import (
    MAX_COLUMNS,
    Table,
    check_column_count,
    check_line_lengths,
    check_not_empty_or_binary,
    detect_encoding,
    detect_separator,
    is_utf16,
    read_csv_table,
    read_utf16,
    read_xlsx_table,
)
from cohesion.importers.sheets import sheet_head
from cohesion.store.warehouse import Warehouse
from cohesion.territory.crs import (
    LAMBERT_93,
    LOCAL_CRS,
    WGS84,
    projected_crs_for,
    transformer,
)
from cohesion.territory.names import search_key

#: Names of the commune code column, in order of preference.
COMMUNE_COLUMNS = ("DEPCOM", "CODGEO", "INSEECOM", "CODE_COMMUNE", "COM")
#: Descriptive columns of commune tables, not équipements.
DESCRIPTIVE_COLUMNS = {"LIBGEO", "LIBCOM", "NOM_COMMUNE", "REG", "DEP", "ARR", "EPCI", "AN",
                       "ANNEE"}


def domain_variable(domain: str) -> str:
    """Variable id of the count of a domain's équipements (``equipements_A``)."""
    return f"equipements_{domain}"


def type_variable(typequ: str) -> str:
    """Variable id of the count of one equipment type (``bpe_A101``)."""
    return f"bpe_{typequ}"


TOTAL_VARIABLE = "equipements_total"


def count_variables(domains: list[str], total: bool, types: list[str]) -> pd.DataFrame:
    """Describe the count variables (``domains``, the total, ``types``) for ``variables``."""
    nomenclature = bpe_nomenclature()
    rows = [(domain_variable(d), f"Équipements : {nomenclature.domains[d].lower()}",
             "équipements", True, f"TYPEQU {d}*") for d in domains]
    if total:
        rows.append((TOTAL_VARIABLE, "Équipements (tous domaines)", "équipements", True,
                     "TYPEQU"))
    rows += [(type_variable(t), nomenclature.types.get(t, f"Équipement {t}"), "équipements",
              True, t) for t in sorted(types)]
    return pd.DataFrame(rows, columns=["variable", "label", "unit", "additive",
                                       "source_column"])


def zero_filled_communes(warehouse: Warehouse, resolution: CommuneResolution) -> pd.Series:
    """Communes of the départements the file covers that it does not list, with level.

    Communes split into arrondissements municipaux (Paris, Lyon, Marseille) are never
    filled when the file lists their arrondissements, nor the reverse.
    """
    known = commune_codes(warehouse, resolution.vintage)
    listed = set(resolution.codes)
    covered = set(departement_of(pd.Series(sorted(listed), dtype=str)))
    arm_links = warehouse.query(
        "SELECT code, parent_code FROM memberships WHERE vintage = ? AND level = 'ARM' "
        "AND parent_level = 'COM'", [resolution.vintage])
    split = set(arm_links["parent_code"]) | set(arm_links["code"])
    candidates = pd.Series(known.index, index=known.index, dtype=str)
    in_scope = departement_of(candidates).isin(covered) & ~candidates.isin(listed)
    in_scope &= ~candidates.isin(split)
    return known[in_scope.to_numpy()]


def count_observations(per_type: pd.DataFrame, uncoded: pd.DataFrame, levels: pd.Series,
                       vintage: int, period: str, with_types: bool = False
                       ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Melt counts per commune into observations: per domain, in total and per type.

    Only the domains the file has équipements of get a variable, and the total only
    when it has all seven: a file of schools alone (``bpe18_enseignement.csv``) says
    nothing about shops, and must not claim zero of them.

    Parameters
    ----------
    per_type : DataFrame
        Index commune code, one column per type code, counts.
    uncoded : DataFrame
        Same index, one column per domain letter: counts known only by domain.
    levels : Series
        Level (``COM``/``ARM``) of each commune code.
    vintage, period
        Keys of every observation.
    with_types : bool
        Also one variable per type (``bpe_A101``…).

    Returns
    -------
    observations, variables : DataFrame
    notes : list of str
    """
    covered = sorted(set(per_type.columns.str[0]) | set(uncoded.columns))
    domains = per_type.T.groupby(per_type.columns.str[0]).sum().T
    domains = domains.reindex(index=per_type.index, columns=covered, fill_value=0.0)
    domains = domains.add(uncoded.reindex(index=per_type.index, columns=covered,
                                          fill_value=0.0))
    blocks = [domains.rename(columns=domain_variable)]
    total = covered == sorted(bpe_nomenclature().domains)
    notes = []
    if total:
        blocks.append(domains.sum(axis=1).rename(TOTAL_VARIABLE).to_frame())
    else:
        notes.append(f"le fichier ne couvre que les domaines {', '.join(covered)} : pas de "
                     f"{TOTAL_VARIABLE}, aucun décompte pour les autres domaines")
    if with_types:
        blocks.insert(0, per_type.rename(columns=type_variable))
    wide = pd.concat(blocks, axis=1)
    codes = wide.index.to_numpy()
    variables = wide.columns.to_numpy()
    # column-major ravel: all communes of the first variable, then the next
    observations = pd.DataFrame({
        "variable": np.repeat(variables, len(codes)),
        "level": np.tile(levels.reindex(codes).to_numpy(), len(variables)),
        "code": np.tile(codes, len(variables)),
        "vintage": vintage,
        "period": period,
        "value": wide.to_numpy(dtype="float64").ravel(order="F"),
        "missing": None,
    })
    types = list(per_type.columns) if with_types else []
    return observations, count_variables(covered, total, types), notes


def year_from_name(*names: str) -> str | None:
    """The BPE year found in a file or sheet name (``bpe2009``, ``bpe13_…``), if any."""
    for name in names:
        if match := re.search(r"(?<!\d)(20\d{2})(?!\d)", name):
            return match[1]
        if match := re.search(r"bpe_?(\d{2})(?!\d)", name, re.IGNORECASE):
            return f"20{match[1]}"
    return None


def _option(options: ImportOptions, name: str, default: object) -> object:
    return options.extra.get(name, default)


def _find_column(table: Table, candidates: tuple[str, ...]) -> str | None:
    by_upper = {c.upper(): c for c in table.frame.columns}
    return next((by_upper[c] for c in candidates if c in by_upper), None)


class BpeCommuneCounts(Importer):
    """BPE counts per commune (``bpe2009.xlsx``, ``bpe2013.xlsx`` and similar tables).

    The period is ``options.period``, else the year in the file or sheet name.
    """

    name = "bpe-communes"
    title = "Base permanente des équipements : nombre d'équipements par commune"
    producer = "INSEE"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        table = self._read_table(path)
        code_column = _find_column(table, COMMUNE_COLUMNS)
        assert code_column is not None  # _read_table found the header by this column
        period = options.period or _single_year(table, np.arange(len(table.frame))) \
            or year_from_name(path.stem, table.sheet or "")
        if period is None:
            raise InputFileError(path, "impossible de déterminer l'année de la BPE d'après "
                                 "le nom du fichier",
                                 expected="l'année dans l'option period (par exemple 2013)",
                                 found=path.name)
        typequ_column = _find_column(table, ("TYPEQU",))
        if typequ_column is not None:
            long_rows = self._long_rows(table, typequ_column)
            notes: list[str] = []
        else:
            per_type, uncoded, notes = self._wide_counts(table, code_column)
        codes = table.frame[code_column].astype(str).str.strip()
        resolution = resolve_communes(
            warehouse, table, codes, code_column, vintage=options.vintage,
            allow_former_codes=bool(_option(options, "allow_former_codes", False)))
        if (note := resolution.note()) is not None:
            notes.append(note)
        current = resolution.codes.to_numpy()
        if typequ_column is not None:
            # aggregated straight to commune × type: a long national table has millions
            # of rows, too many for a row × type matrix
            per_type = long_rows.assign(code=current).groupby(["code", "typequ"])["n"].sum()
            per_type = per_type.unstack(fill_value=0.0)
            per_type.columns = per_type.columns.astype(str)
            uncoded = pd.DataFrame(index=per_type.index)
        else:
            per_type = per_type.groupby(current).sum()
            uncoded = uncoded.groupby(current).sum()
        levels = pd.Series(resolution.levels.to_numpy(), index=current)
        levels = levels[~levels.index.duplicated()]
        if _option(options, "fill_zeros", True):
            zeros = zero_filled_communes(warehouse, resolution)
            if len(zeros):
                per_type = per_type.reindex(per_type.index.append(zeros.index), fill_value=0.0)
                uncoded = uncoded.reindex(per_type.index, fill_value=0.0)
                levels = pd.concat([levels, zeros])
                notes.append(f"{len(zeros)} communes des départements couverts absentes du "
                             "fichier comptées avec 0 équipement")
        observations, variables, count_notes = count_observations(
            per_type, uncoded, levels, resolution.vintage, period,
            bool(_option(options, "per_type", False)))
        return ImportBatch(observations=observations, variables=variables,
                           vintage=resolution.vintage, periods=[period],
                           rows=len(table.frame), notes=notes + count_notes)

    def _read_table(self, path: Path) -> Table:
        """Read the first sheet (or the CSV), its header found by the commune column."""
        if path.suffix.lower() in {".xlsx", ".xlsm"}:
            head = sheet_head(path)
            table = read_xlsx_table(path, head.sheet,
                                    header_row=head.header_row(COMMUNE_COLUMNS) or 1)
        else:
            table = read_csv_table(path)
            _check_last_row(table)
        if _find_column(table, COMMUNE_COLUMNS) is None:
            raise table.error("aucune colonne de code de commune", row=-1,
                              expected=" ou ".join(COMMUNE_COLUMNS),
                              found=", ".join(map(str, table.frame.columns[:8])))
        return table

    def _wide_counts(self, table: Table, code_column: str
                     ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        """Counts from a table with one column per equipment type (code or label)."""
        typed: dict[str, str] = {}
        uncoded: dict[str, str] = {}
        total_column = None
        for column in table.frame.columns:
            if column == code_column or column.upper() in DESCRIPTIVE_COLUMNS:
                continue
            if search_key(column).startswith("total"):
                total_column = column
                continue
            found = equipment_type_of(column)
            if found is None:
                raise table.error("la colonne n'est pas un type d'équipement de la BPE", row=-1,
                                  column=column,
                                  expected="un code de type comme A101 ou un libellé de la "
                                  "nomenclature de la BPE", found=column)
            code, domain = found
            if code is None:
                uncoded[column] = domain
            else:
                typed[column] = code
        if not typed and not uncoded:
            raise table.error("aucune colonne d'équipements", row=-1,
                              expected="des colonnes nommées par des codes ou libellés de types de "
                                       "la BPE",
                              found=", ".join(map(str, table.frame.columns[:8])))
        columns = [*typed, *uncoded] + ([total_column] if total_column else [])
        values = _parse_counts(table, columns)
        per_type = values[list(typed)].T.groupby(list(typed.values())).sum().T
        by_domain = values[list(uncoded)].T.groupby(list(uncoded.values())).sum().T \
            if uncoded else pd.DataFrame(index=values.index)
        notes = []
        if uncoded:
            notes.append(f"colonnes comptées dans leur seul domaine (leur code de type a changé "
                         f"après cette édition) : {', '.join(uncoded)}")
        if total_column is not None:
            computed = values[[*typed, *uncoded]].sum(axis=1)
            differs = (computed - values[total_column]).abs() > 0.5
            if differs.any():
                row = int(np.argmax(differs.to_numpy()))
                raise table.error("le total diffère de la somme des colonnes d'équipements",
                                  row=row, column=total_column,
                                  expected=f"{computed.iloc[row]:g}",
                                  found=table.frame[total_column].iloc[row])
        return per_type, by_domain, notes

    def _long_rows(self, table: Table, typequ_column: str) -> pd.DataFrame:
        """Type and count of each row of a long table (commune, TYPEQU, NB_EQUIP).

        Without a count column, each row is one équipement.
        """
        count_column = _find_column(table, ("NB_EQUIP", "NB", "NOMBRE"))
        typequ = table.frame[typequ_column].astype(str).str.strip().str.upper()
        bad = ~typequ.str.match(TYPE_CODE.pattern).to_numpy(dtype=bool)
        if bad.any():
            row = int(np.argmax(bad))
            raise table.error("code de type d'équipement de la BPE mal formé", row=row,
                              column=typequ_column, expected="un code comme "
                                                             "A101", found=typequ.iloc[row])
        counts = _parse_counts(table, [count_column])[count_column] if count_column \
            else pd.Series(1.0, index=table.frame.index)
        return pd.DataFrame({"typequ": typequ.to_numpy(), "n": counts.to_numpy()})


def _check_last_row(table: Table) -> None:
    """Refuse a CSV whose last line lacks fields: a download cut short.

    The pandas reader behind :func:`read_csv_table` fills the missing fields of a short
    row with empty strings, which would import as empty (missing) values.
    """
    with table.path.open("rb") as handle:
        handle.seek(max(0, table.path.stat().st_size - (1 << 16)))
        tail = handle.read().decode(table.encoding or "utf-8", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    if not lines or table.frame.empty:
        return
    fields = next(csv.reader([lines[-1]], delimiter=table.separator or ";"))
    expected = table.frame.shape[1]
    if len(fields) < expected:
        raise table.error("une ligne a moins de champs que l'en-tête (le fichier est-il "
                          "tronqué ?)",
                          row=len(table.frame) - 1, column=str(table.frame.columns[len(fields)]),
                          expected=f"{expected} champs", found=f"{len(fields)} champs")


def _single_year(table: Table, rows: np.ndarray) -> str | None:
    """The year of the ``AN`` column on ``rows``, if the table has one; one year only."""
    column = _find_column(table, ("AN", "ANNEE"))
    if column is None:
        return None
    years = pd.Series(table.frame[column].iloc[rows].unique()).astype(str).str.strip()
    years = years.unique()
    if len(years) != 1:
        raise table.error("plusieurs années dans un même fichier", row=int(rows[0]), column=column,
                          expected="une seule année de la BPE", found=", "
                                                                      "".join(map(str, years[:5])))
    return str(years[0])


def _parse_counts(table: Table, columns: list[str]) -> pd.DataFrame:
    """Parse equipment counts: an empty cell is zero, anything else a whole number ≥ 0.

    A national pivot table has 5 million cells, most of them empty: only the filled
    ones are parsed, all columns at once.
    """
    cells = table.frame[columns].to_numpy(dtype=object)
    filled = np.flatnonzero(cells.ravel() != "")
    texts = pd.Series(cells.ravel()[filled], dtype=object).astype(str).str.strip()
    numbers = pd.to_numeric(texts.str.replace(",", ".", regex=False), errors="coerce")
    numbers = numbers.to_numpy(dtype="float64", na_value=np.nan)
    numbers[(texts == "").to_numpy()] = 0.0  # a cell of spaces is empty too
    bad = np.isnan(numbers) | (numbers < 0) | (numbers % 1 != 0)
    if bad.any():
        # positions are in reading order (row by row): the first bad one is the first
        row, column = divmod(int(filled[np.argmax(bad)]), len(columns))
        raise table.error("nombre d'équipements non valide", row=row, column=columns[column],
                          expected="un nombre entier ≥ 0 ou une cellule vide",
                          found=table.frame[columns[column]].iloc[row])
    values = np.zeros(cells.size)
    values[filled] = numbers
    return pd.DataFrame(values.reshape(cells.shape), index=table.frame.index, columns=columns)


# -- geolocated équipements ----------------------------------------------------------------

#: Columns of a BPE points file the importer reads (upper-cased names).
POINT_COLUMNS = ("TYPEQU", "DEPCOM", "LONGITUDE", "LATITUDE", "LAMBERT_X", "LAMBERT_Y",
                 "CATEGORIE", "LIBELLE", "QUALITE_XY", "AN")


def read_points_table(path: Path) -> Table:
    """Read the columns of a BPE points CSV that the importer needs, as strings.

    National files have millions of rows and dozens of columns: only
    :data:`POINT_COLUMNS` are read, by Arrow's CSV reader (single-threaded, so that it
    knows the line of a malformed row; it is still faster than pandas here). The checks
    match those of :func:`~cohesion.importers.reading.read_csv_table`: empty, binary,
    encoding, separator, and rows with too many or too few fields (a truncated file).
    """
    head = check_not_empty_or_binary(path)
    if is_utf16(head):
        return read_utf16(path, head, read_points_table)
    if b"\x00" in head:
        raise InputFileError(path, "ce fichier est binaire, ce n'est pas un tableau texte",
                             line=1, expected="un fichier texte CSV",
                             found="des données binaires (octets NUL)")
    check_line_lengths(path)
    encoding = detect_encoding(path, head)
    sample = head.decode(encoding, errors="replace")
    separator = detect_separator(path, sample)
    header = next(csv.reader(io.StringIO(sample.lstrip("\ufeff")), delimiter=separator), [])
    check_column_count(path, header, MAX_COLUMNS)
    wanted = list(dict.fromkeys(name for name in header
                                if name.strip().upper() in POINT_COLUMNS))
    malformed: list[pa_csv.InvalidRow] = []

    def keep_first_malformed(row: pa_csv.InvalidRow) -> str:
        malformed.append(row)
        return "skip"

    try:
        arrow = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(use_threads=False, block_size=1 << 24,
                                            encoding="utf8" if encoding.startswith("utf")
                                            else encoding),
            parse_options=pa_csv.ParseOptions(delimiter=separator,
                                              invalid_row_handler=keep_first_malformed),
            convert_options=pa_csv.ConvertOptions(
                include_columns=wanted, column_types=dict.fromkeys(wanted, pa.string()),
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise InputFileError(path, f"impossible de lire le fichier comme un CSV : {error}",
                             expected=f"un tableau CSV séparé par {separator!r}") from None
    if malformed:
        row = malformed[0]
        many = row.actual_columns > row.expected_columns
        message = "une ligne a plus de champs que l'en-tête" if many else \
            "une ligne a moins de champs que l'en-tête (le fichier est-il tronqué ?)"
        raise InputFileError(path, message, line=row.number,
                             expected=f"{row.expected_columns} champs",
                             found=f"{row.actual_columns} champs : {row.text[:60]}")
    frame = arrow.to_pandas(types_mapper=pd.ArrowDtype)
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    return Table(path, frame, first_line=2, encoding=encoding, separator=separator)


def resolve_row_communes(warehouse: Warehouse, table: Table, rows: np.ndarray, column: str,
                         options: ImportOptions) -> CommuneResolution:
    """Resolve the commune codes of ``column`` on ``rows`` only (see :func:`resolve_communes`).

    The geography vintage is ``options.vintage`` or detected; retired codes are mapped
    with the option ``allow_former_codes``. An error names the file line of the row.

    Parameters
    ----------
    warehouse : Warehouse
        Holds the référentiel.
    table : Table
        The file read, its cells as strings (any table with ``frame`` and ``error``, such
        as a :class:`~cohesion.importers.qpv.VectorTable`).
    rows : ndarray of int
        Positions of the rows to resolve.
    column : str
        The commune code column.
    options : ImportOptions
        Of the import.

    Returns
    -------
    CommuneResolution
        Aligned with ``rows`` (index 0 to ``len(rows) - 1``).
    """
    codes = table.frame[column].iloc[rows].str.strip().reset_index(drop=True)
    sub = Table(Path(table.path), pd.DataFrame({column: codes}), first_line=0)
    try:
        return resolve_communes(
            warehouse, sub, codes, column, vintage=options.vintage,
            allow_former_codes=bool(_option(options, "allow_former_codes", False)))
    except InputFileError as error:
        # a row of ``sub`` is not on the file line its position gives: relocate errors
        row = None if error.line is None else int(rows[error.line])
        raise table.error(error.message, row=row, column=error.column,
                          expected=error.expected, found=error.found) from None


def coordinates(table: Table, rows: np.ndarray, x_column: str, y_column: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse two coordinate columns on ``rows``; return x, y and the geolocated mask.

    Both cells empty means the équipement is not geolocated; anything else must be two
    numbers (a decimal comma is accepted).

    Parameters
    ----------
    table : Table
        The file read, its cells as strings (any table with ``frame`` and ``error``).
    rows : ndarray of int
        Positions of the rows to read.
    x_column, y_column : str
        The coordinate columns.

    Returns
    -------
    x, y : ndarray of float
        NaN where not geolocated.
    located : ndarray of bool

    Raises
    ------
    InputFileError
        At the first cell that is not a number, unless both cells of its row are empty.
    """
    # Arrow-backed string columns keep these operations vectorised on millions of rows
    raw = {c: table.frame[c].iloc[rows].str.strip().reset_index(drop=True)
           for c in (x_column, y_column)}
    empty = ((raw[x_column] == "") & (raw[y_column] == "")).to_numpy(dtype=bool,
                                                                      na_value=False)
    parsed = {}
    for column, text in raw.items():
        numbers = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
        # on Arrow data an unparsable cell becomes NaN, which isna() does not flag
        numbers = numbers.to_numpy(dtype="float64", na_value=np.nan)
        bad = np.isnan(numbers) & ~empty
        if bad.any():
            position = int(np.argmax(bad))
            raise table.error("la coordonnée n'est pas un nombre", row=int(rows[position]),
                              column=column, expected="un nombre (ou les deux coordonnées "
                              "vides pour un équipement sans localisation)",
                              found=text.iloc[position])
        parsed[column] = numbers
    return parsed[x_column], parsed[y_column], ~empty


def check_range(table: Table, rows: np.ndarray, values: np.ndarray, bound: float,
                column: str, raw_column: str, what: str) -> None:
    """Refuse a coordinate beyond ``bound`` in absolute value (``what`` names it).

    ``values`` are those of ``rows``; the error names ``column`` and shows the cell of
    ``raw_column``.
    """
    bad = ~(np.abs(values) <= bound)
    if bad.any():
        position = int(np.argmax(bad))
        raise table.error(f"{what} hors limites", row=int(rows[position]), column=column,
                          expected=f"une {what} entre -{bound:g} et {bound:g}",
                          found=table.frame[raw_column].iloc[int(rows[position])])


@cache
def france_areas() -> np.ndarray:
    """Bounds (west, south, east, north, in degrees) of the CRS areas of French territory.

    Metropolitan France and each overseas département, as their official projections
    (:data:`~cohesion.territory.crs.LOCAL_CRS`) declare them.
    """
    areas = [CRS.from_user_input(code).area_of_use
             for code in sorted({LAMBERT_93, *LOCAL_CRS.values()})]
    return np.array([area.bounds for area in areas if area is not None])


def in_france(lon: np.ndarray, lat: np.ndarray, margin: float = 0.5) -> np.ndarray:
    """Which points (degrees) lie within ``margin`` degrees of a CRS area of French territory.

    The areas are :func:`france_areas`; NaN and infinite coordinates are outside.

    Examples
    --------
    >>> in_france(np.array([2.35, 48.85]), np.array([48.85, 2.35])).tolist()
    [True, False]
    """
    inside = np.zeros(len(lon), dtype=bool)
    for west, south, east, north in france_areas():
        inside |= ((lon >= west - margin) & (lon <= east + margin)
                   & (lat >= south - margin) & (lat <= north + margin))
    return inside


def check_in_france(table: Table, rows: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                    columns: tuple[str, ...]) -> None:
    """Refuse points outside France: swapped axes, or degrees read as metres.

    ``lon`` and ``lat`` are those of ``rows``; the error names the first of ``columns``
    and shows the cells of all of them.
    """
    inside = in_france(lon, lat)
    if not inside.all():
        position = int(np.argmax(~inside))
        row = int(rows[position])
        raw = ", ".join(str(table.frame[c].iloc[row]) for c in columns)
        raise table.error("équipement hors de France (métropole et départements "
                          "d'outre-mer)", row=row, column=columns[0],
                          expected=f"une position en France, ici longitude {lon[position]:.4f},"
                          f" latitude {lat[position]:.4f} (colonnes inversées ou mal nommées ?)",
                          found=raw)


class BpePoints(Importer):
    """BPE équipements with their location (``TYPEQU`` and coordinates, one per row).

    Writes the ``equipments`` table, and counts per commune when the file has
    ``DEPCOM``. Rows whose ``TYPEQU`` is not a BPE type code are excluded and counted
    in the notes; so are équipements without coordinates (kept in the counts).
    """

    name = "bpe-points"
    title = "Base permanente des équipements : équipements géolocalisés"
    producer = "INSEE"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        table = read_points_table(path)
        frame = table.frame
        if "TYPEQU" not in frame.columns:
            raise table.error("colonne 'TYPEQU' absente, nécessaire pour le type "
                              "d'équipement", row=-1,
                              column="TYPEQU", expected="TYPEQU et les coordonnées",
                              found=", ".join(frame.columns))
        has_lonlat = {"LONGITUDE", "LATITUDE"} <= set(frame.columns)
        if not has_lonlat and not {"LAMBERT_X", "LAMBERT_Y"} <= set(frame.columns):
            raise table.error("colonnes de coordonnées absentes", row=-1, column="LONGITUDE",
                              expected="LONGITUDE et LATITUDE, ou LAMBERT_X et LAMBERT_Y",
                              found=", ".join(frame.columns))
        notes: list[str] = []
        typequ = frame["TYPEQU"].str.strip().str.upper()
        is_type = typequ.str.match(TYPE_CODE.pattern).to_numpy(dtype=bool, na_value=False)
        if not is_type.all():
            excluded = frame["TYPEQU"][~is_type].value_counts()
            listed = ", ".join(f"{value or '(vide)'} {count:,}"
                               for value, count in excluded.head(8).items())
            notes.append(f"{int((~is_type).sum()):,} lignes exclues : TYPEQU n'est pas un code de "
                         f"type d'équipement de la BPE (^[A-G][0-9]{{3}}$) : {listed}")
        rows = np.flatnonzero(is_type)
        if len(rows) == 0:
            raise table.error("aucun code de type d'équipement de la BPE dans le fichier", row=0,
                              column="TYPEQU", expected="des codes comme A101",
                              found=frame["TYPEQU"].iloc[0])

        resolution = None
        if "DEPCOM" in frame.columns:
            resolution = resolve_row_communes(warehouse, table, rows, "DEPCOM", options)
            if (note := resolution.note()) is not None:
                notes.append(note)

        longitude, latitude, located = self._locate(table, rows, has_lonlat, resolution,
                                                    options)
        if not located.all():
            notes.append(f"{int((~located).sum()):,} équipements sans coordonnées : "
                         "non placés sur la carte" + (", comptés dans leur commune"
                                                    if resolution is not None else ""))
        if "QUALITE_XY" in frame.columns:
            quality = frame["QUALITE_XY"].iloc[rows[located]]
            counts = pd.Series(quality).value_counts()
            notes.append("qualité de localisation (QUALITE_XY) : " + ", ".join(
                f"{value or '(vide)'} {count:,}" for value, count in counts.items()))
        label_column = next((c for c in ("CATEGORIE", "LIBELLE") if c in frame.columns), None)
        kept = rows[located]
        kept_types = typequ.iloc[kept].reset_index(drop=True)
        equipments = pd.DataFrame({
            "typequ": kept_types,
            "domain": kept_types.str[0],
            "label": frame[label_column].iloc[kept].reset_index(drop=True) if label_column
            else None,
            "longitude": longitude[located],
            "latitude": latitude[located],
            "code_commune": resolution.codes.to_numpy()[located] if resolution is not None
            else None,
        })
        batch = ImportBatch(tables={"equipments": equipments}, rows=len(frame), notes=notes)
        if resolution is not None:
            self._add_counts(batch, table, rows, typequ, resolution, warehouse, options, path)
        return batch

    def _locate(self, table: Table, rows: np.ndarray, has_lonlat: bool,
                resolution: CommuneResolution | None, options: ImportOptions
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Longitude and latitude (WGS84) of ``rows`` and which of them have a location."""
        if has_lonlat:
            lon, lat, located = coordinates(table, rows, "LONGITUDE", "LATITUDE")
            check_range(table, rows[located], lon[located], 180, "LONGITUDE", "LONGITUDE",
                         "longitude")
            check_range(table, rows[located], lat[located], 90, "LATITUDE", "LATITUDE",
                         "latitude")
            check_in_france(table, rows[located], lon[located], lat[located],
                             ("LONGITUDE", "LATITUDE"))
            return lon, lat, located
        x, y, located = coordinates(table, rows, "LAMBERT_X", "LAMBERT_Y")
        # overseas équipements are in their département's UTM projection, not Lambert-93
        if resolution is not None:
            inverse, communes = pd.factorize(resolution.codes)
            crs = departement_of(pd.Series(communes, dtype=str)).map(projected_crs_for)
            crs = crs.to_numpy(dtype=object)[inverse]
        else:
            crs = np.full(len(rows), str(_option(options, "crs", LAMBERT_93)), dtype=object)
        lon = np.full(len(rows), np.nan)
        lat = np.full(len(rows), np.nan)
        for source in pd.unique(crs[located]):
            chosen = located & (crs == source)
            # the cached transformer behind crs.reproject, on bare coordinate arrays:
            # no point geometries to build for millions of équipements
            lon[chosen], lat[chosen] = transformer(source, WGS84).transform(x[chosen],
                                                                            y[chosen])
        check_in_france(table, rows[located], lon[located], lat[located],
                         ("LAMBERT_X", "LAMBERT_Y"))
        return lon, lat, located

    def _add_counts(self, batch: ImportBatch, table: Table, rows: np.ndarray,
                    typequ: pd.Series, resolution: CommuneResolution, warehouse: Warehouse,
                    options: ImportOptions, path: Path) -> None:
        """Count équipements per commune and type (geolocated or not) into the batch."""
        period = options.period or _single_year(table, rows) or year_from_name(path.stem)
        if period is None:
            raise InputFileError(path, "impossible de déterminer l'année BPE des décomptes par "
                                       "commune",
                                 expected="une colonne AN ou l'année dans l'option period",
                                 found=path.name)
        pairs = pd.DataFrame({"code": resolution.codes.to_numpy(),
                              "typequ": typequ.iloc[rows].to_numpy()})
        per_type = pairs.groupby(["code", "typequ"]).size().unstack(fill_value=0)
        per_type = per_type.astype("float64")
        per_type.columns = per_type.columns.astype(str)
        levels = pd.Series(resolution.levels.to_numpy(), index=resolution.codes.to_numpy())
        levels = levels[~levels.index.duplicated()]
        if _option(options, "fill_zeros", True):
            zeros = zero_filled_communes(warehouse, resolution)
            per_type = per_type.reindex(per_type.index.append(zeros.index), fill_value=0.0)
            levels = pd.concat([levels, zeros])
            if len(zeros):
                batch.notes.append(f"{len(zeros)} communes des départements couverts "
                                   "sans aucun équipement comptées avec 0")
        batch.observations, batch.variables, count_notes = count_observations(
            per_type, pd.DataFrame(index=per_type.index), levels, resolution.vintage, period,
            bool(_option(options, "per_type", False)))
        batch.notes += count_notes
        batch.vintage = resolution.vintage
        batch.periods = [period]
