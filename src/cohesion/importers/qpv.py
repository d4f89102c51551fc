"""Importer of QPV contours (quartiers prioritaires de la politique de la ville).

ANCT publishes the contours of the QPV of two generations: the 2015 geography (codes
``QP`` + département on three characters + three digits, ``QP034001``) and the 2024
geography (codes ``QN`` + département + two digits + a letter, ``QN03401M``). Files come
as GeoJSON, Shapefile (plain or zipped) or GeoPackage, in WGS84, Lambert-93 or the local
CRS of an overseas département, with column names that differ from one publication to
the next (``code_qp``/``CODE_QP``/``q``…).

:class:`QpvContours` reads any of them into

- ``territories`` of level ``QPV`` whose vintage is the *generation* (2015 or 2024,
  detected from the codes), so both generations live side by side;
- ``geometries`` in EPSG:4326 (WKB), with the area measured in the projected CRS of the
  QPV's département (Lambert-93 or the DROM's own CRS);
- ``memberships`` QPV → commune (and → arrondissement municipal when the file names
  one), with the generation year as vintage. A QPV that spans several communes belongs
  to each: a code column may list several codes, and a commune-name column
  (``COMMUNE_QP``, ``lib_com``…) may list several names (« Marcq-en-Baroeul;
  Mons-en-Baroeul », « Lille, Villeneuve-d'Ascq »), each looked for among the
  communes of the QPV's département; a name found nowhere is listed in the notes with
  its QPV;
- ``qpv_coverage``: the départements the file covers, whose every QPV of the generation
  it holds (the départements of its QPV codes, or a coverage the user declares), so that
  a point outside the loaded QPV is « hors QPV » only there (:mod:`cohesion.geo.locate`).

The vector-reading helpers (:func:`read_vector`, :class:`VectorTable`) are shared with
the zoning importer.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportBatch, Importer, ImportOptions, check_options
from cohesion.importers.reading import check_not_empty_or_binary
from cohesion.store.schema import WHOLE_COUNTRY
from cohesion.store.warehouse import Warehouse
from cohesion.territory.crs import WGS84, areas_km2, reproject
from cohesion.territory.names import TYPOGRAPHY, search_key
from cohesion.territory.referentiel import zone_of_departement

#: Code of a QPV of each generation (the département takes three characters: 034, 02A, 974).
GENERATION_PATTERNS: dict[int, str] = {
    2015: r"QP(?:\d{3}|02[AB])\d{3}",
    2024: r"QN(?:\d{3}|02[AB])\d{2}[A-Z]",
}
COMMUNE_CODE_PATTERN = r"\d[\dAB]\d{3}"

#: Column names seen in official and republished files, tried in this order
#: (case-insensitive). ``q``/``n``/``com`` are the short names of the 2024 PACA layer.
CODE_COLUMNS = ("code_qp", "code_qpv", "codeqp", "cod_qp", "id_qp", "qp", "q")
NAME_COLUMNS = ("nom_qp", "lib_qp", "nom_qpv", "lib_qpv", "libelle_qp", "nom", "n")
COMMUNE_COLUMNS = ("code_commune", "insee_com", "code_insee", "codes_insee", "insee_commune",
                   "code_com", "depcom", "codgeo", "com")
COMMUNE_NAME_COLUMNS = ("commune_qp", "communes_qp", "lib_com", "nom_commune", "nom_com")

OPTION_KEYS = {"layer", "code_column", "name_column", "commune_column", "commune_name_column",
               "couverture"}
#: The declared coverage of a national file.
NATIONAL_COVERAGE = "france"
DEPARTEMENT_PATTERN = r"\d{2}|2[AB]|97\d"

_LIST_SEPARATORS = r"[\s,;|/]+"
#: How many QPV a note lists before « et N autres ».
_LISTED = 20
_GEOJSON_SUFFIXES = {".geojson", ".json"}


# -- reading vector files -------------------------------------------------------------


@dataclass
class VectorTable:
    """Features of one layer of a vector file: attributes, geometries and provenance.

    Attributes
    ----------
    path : Path
        The file.
    layer : str
        The layer read.
    frame : DataFrame
        One row per feature, one column per attribute (values as the driver gives them:
        strings, numbers, or arrays for list fields).
    geometries : ndarray of shapely geometries or None
        In the file's CRS; None when geometries were not read.
    crs : str or None
        The CRS the file declares (None when it declares none).
    lines : ndarray of int or None
        File line of each feature, for GeoJSON files written one feature per line (as
        GDAL and ANCT write them); None otherwise.
    layers : int
        How many layers the file holds (the layer is named in errors when several).
    """

    path: Path
    layer: str
    frame: pd.DataFrame
    geometries: np.ndarray | None
    crs: str | None
    lines: np.ndarray | None = None
    layers: int = 1

    def error(self, message: str, row: int | None = None, column: str | None = None,
              expected: str | None = None, found: str | None = None) -> InputFileError:
        """Build an :class:`InputFileError` located at feature ``row`` of this layer."""
        where: Path | str = self.path if self.layers == 1 else f"{self.path} [couche {self.layer}]"
        line = None
        if row is not None and row >= 0:
            if self.lines is not None:
                line = int(self.lines[row])
            else:
                message = f"objet {row + 1} : {message}"
        return InputFileError(where, message, line, column, expected, found)


def _feature_lines(path: Path, count: int) -> np.ndarray | None:
    """Line of each feature of a GeoJSON file written one feature per line, else None."""
    if path.suffix.lower() not in _GEOJSON_SUFFIXES:
        return None
    lines = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.lstrip().startswith(b"{") and b'"Feature"' in line[:200]:
                lines.append(number)
    return np.array(lines, dtype=np.int64) if len(lines) == count else None


def _find_column(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    lowered = {column.lower(): column for column in columns}
    return next((lowered[c] for c in candidates if c in lowered), None)


def read_vector(path: Path, layer: str | None = None, read_geometry: bool = True,
                prefer: tuple[str, ...] = ()) -> VectorTable:
    """Read one layer of a GeoJSON, TopoJSON, Shapefile (``.shp``/``.zip``) or GeoPackage.

    Parameters
    ----------
    path : Path
        The file.
    layer : str, optional
        Layer to read. By default the only layer, or the only one having one of the
        ``prefer`` columns when the file holds several (``marseille.gpkg`` holds
        ``qpvs``, ``cities``, ``epci``, ``enriched_grid``).
    read_geometry : bool
        Whether to read geometries.
    prefer : tuple of str
        Column names (case-insensitive) that identify the layer wanted.

    Raises
    ------
    InputFileError
        For a missing, empty or unreadable file, an unknown or ambiguous layer.
    """
    check_not_empty_or_binary(path)
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except (DataSourceError, DataLayerError) as error:
        raise InputFileError(path, "impossible de lire le fichier comme une couche vectorielle "
                                   f"({error})",
                             expected="un fichier GeoJSON, Shapefile (.shp ou .zip) ou "
                             "GeoPackage") from None
    if not layers:
        raise InputFileError(path, "le fichier ne contient aucune couche",
                             expected="une couche vectorielle")
    if layer is None:
        chosen = layers
        if len(layers) > 1 and prefer:
            chosen = [name for name in layers if _find_column(
                list(pyogrio.read_info(path, layer=name)["fields"]), prefer)]
        if len(chosen) != 1:
            raise InputFileError(path, "le fichier contient plusieurs couches : indiquez "
                                 "laquelle lire avec l'option layer", column="layer",
                                 expected="l'une de " + ", ".join(layers))
        layer = chosen[0]
    elif layer not in layers:
        raise InputFileError(path, f"le fichier n'a pas de couche nommée {layer!r}", column="layer",
                             expected="l'une de " + ", ".join(layers), found=layer)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "several layers" warnings
            meta, _, wkb, fields = pyogrio.raw.read(path, layer=layer,
                                                    read_geometry=read_geometry)
    except (DataSourceError, DataLayerError) as error:
        raise InputFileError(path, f"impossible de lire la couche {layer!r} ({error})") from None
    frame = pd.DataFrame({str(name): values for name, values in zip(
        meta["fields"], fields, strict=True)})
    geometries = shapely.from_wkb(wkb) if read_geometry and wkb is not None else None
    return VectorTable(path, layer, frame, geometries, meta.get("crs"),
                       _feature_lines(path, len(frame)), len(layers))


def text_column(values: pd.Series) -> pd.Series:
    """Attribute values as stripped strings; list fields joined by commas, null as ''."""
    def as_text(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, (list, tuple, np.ndarray)):
            return ",".join(str(item) for item in value)
        return str(value)
    return values.map(as_text).astype(object).str.strip()


def choose_column(table: VectorTable, option: str | None, candidates: tuple[str, ...],
                  what: str, required: bool = True) -> str | None:
    """Return the column named by an option, or the first known candidate present."""
    columns = list(table.frame.columns)
    if option is not None:
        if option not in columns:
            raise table.error(f"aucune colonne {option!r} pour {what}", row=-1, column=option,
                              expected=f"l'une des colonnes du fichier : {', '.join(columns)}",
                              found=option)
        return option
    found = _find_column(columns, candidates)
    if found is None and required:
        raise table.error(f"impossible de trouver la colonne donnant {what}", row=-1,
                          expected=f"une colonne nommée {' ou '.join(candidates[:4])} (ou "
                          "indiquez-la avec une option)", found=", ".join(columns[:12]))
    return found


def check_crs(table: VectorTable) -> str:
    """Return the file's CRS if it is usable; refuse a file that declares none.

    A GeoJSON file without a ``crs`` member is WGS84 by definition (RFC 7946), so its
    coordinates are checked to really be longitudes and latitudes: Lambert-93
    coordinates in a file with no CRS are the usual mistake.
    """
    advice = ("déclarez le CRS du fichier (par exemple avec `ogr2ogr -a_srs EPSG:2154`) "
              "et importez-le de nouveau")
    if table.crs is None:
        raise table.error(f"le fichier n'a pas de système de coordonnées : {advice}",
                          expected="un CRS comme EPSG:4326 ou EPSG:2154", found="aucun")
    try:
        crs = CRS.from_user_input(table.crs)
    except CRSError:
        raise table.error(f"le système de coordonnées du fichier est inutilisable : {advice}",
                          expected="un CRS comme EPSG:4326 ou EPSG:2154",
                          found=str(table.crs)[:80]) from None
    if not (crs.is_geographic or crs.is_projected):
        raise table.error(f"le fichier n'a pas de système de coordonnées utilisable : {advice}",
                          expected="un CRS géographique ou projeté",
                          found=crs.name) from None
    if crs.is_geographic and table.geometries is not None and len(table.geometries):
        xmin, ymin, xmax, ymax = shapely.total_bounds(table.geometries)
        if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
            raise table.error(
                "les coordonnées ne sont pas des longitudes et latitudes alors que le fichier "
                f"déclare {crs.name} (un fichier projeté sans son CRS ?) : {advice}",
                expected="des longitudes dans [-180, 180] et des latitudes dans [-90, 90]",
                found=f"x de {xmin:.0f} à {xmax:.0f}, y de {ymin:.0f} à {ymax:.0f}")
    return table.crs


def polygons(table: VectorTable, notes: list[str]) -> np.ndarray:
    """Return the features' geometries as valid (multi)polygons, repairing invalid ones.

    Raises
    ------
    InputFileError
        At the first feature without a geometry or whose geometry is not polygonal.
    """
    geometries = table.geometries
    if geometries is None:
        raise table.error("le fichier n'a aucune géométrie", expected="des polygones")
    empty = shapely.is_missing(geometries) | shapely.is_empty(geometries)
    if empty.any():
        row = int(np.argmax(empty))
        raise table.error("un objet n'a pas de géométrie", row=row, expected="un polygone",
                          found="une géométrie vide")
    kind = shapely.get_type_id(geometries)
    polygonal = np.isin(kind, [3, 6])  # Polygon, MultiPolygon
    if not polygonal.all():
        row = int(np.argmax(~polygonal))
        raise table.error("un objet n'est pas un polygone", row=row, expected="un polygone",
                          found=shapely.geometry.base.GEOMETRY_TYPES[int(kind[row])])
    invalid = ~shapely.is_valid(geometries)
    if invalid.any():
        geometries = geometries.copy()
        # the "structure" method keeps a polygon a polygon (no stray lines or points)
        geometries[invalid] = shapely.make_valid(geometries[invalid], method="structure",
                                                 keep_collapsed=False)
        first = int(np.argmax(invalid))
        notes.append(f"{int(invalid.sum())} géométries non valides réparées avec "
                     f"shapely.make_valid (la première à l'objet {first + 1})")
    return geometries


# -- QPV ------------------------------------------------------------------------------


def departement_of_qpv(codes: pd.Series) -> pd.Series:
    """Département of each QPV code (``QP034001`` → ``34``, ``QN97401M`` → ``974``)."""
    three = codes.str[2:5]
    return three.where(~three.str.startswith("0"), three.str[1:])


def declared_coverage(value: object, path: Path, known: set[str]) -> set[str]:
    """Read the ``couverture`` option: département codes, or ``france``.

    Parameters
    ----------
    value : str or list
        ``"75,92,93"`` (commas, semicolons or spaces), a list of codes, or ``france``.
    path : Path
        The file imported, for errors.
    known : set of str
        The départements of the référentiel.

    Returns
    -------
    set of str
        Département codes, or ``{"*"}`` for ``france``.

    Raises
    ------
    InputFileError
        For an empty coverage, ``france`` with codes, an unknown département.

    Examples
    --------
    >>> sorted(declared_coverage("75, 92;93 2a", Path("qp.geojson"), {"75", "92", "93", "2A"}))
    ['2A', '75', '92', '93']
    >>> declared_coverage("France", Path("qp.geojson"), set())
    {'*'}
    """
    items = value if isinstance(value, (list, tuple)) else re.split(
        _LIST_SEPARATORS, str(value).strip())
    codes = [str(item).strip().upper() for item in items if str(item).strip()]
    codes = [code.zfill(2) if code.isdigit() else code for code in codes]
    expected = ("des codes de département séparés par des virgules (75,92,93), ou "
                f"« {NATIONAL_COVERAGE} » pour un fichier national")
    if NATIONAL_COVERAGE.upper() in codes:
        if len(codes) > 1:
            raise InputFileError(path, "couverture déclarée ambiguë : la France entière et des "
                                 "départements", column="couverture", expected=expected,
                                 found=str(value))
        return {WHOLE_COUNTRY}
    unknown = [code for code in codes if not re.fullmatch(DEPARTEMENT_PATTERN, code)
               or code not in known]
    if not codes or unknown:
        raise InputFileError(path, "couverture déclarée invalide" + (
            f" : département inconnu du référentiel ({unknown[0]})" if unknown else ""),
                             column="couverture", expected=expected, found=str(value))
    return set(codes)


def _coverage(path: Path, extra: dict[str, object], departements: pd.Series,
              generation: int, warehouse: Warehouse, notes: list[str]) -> pd.DataFrame:
    """The ``qpv_coverage`` rows of a file: declared, or the départements of its QPV."""
    of_codes = set(departements)
    if "couverture" in extra:
        known = set(warehouse.query(
            "SELECT DISTINCT code FROM territories WHERE level = 'DEP'")["code"])
        covered = declared_coverage(extra["couverture"], path, known)
        beyond = sorted(of_codes - covered) if WHOLE_COUNTRY not in covered else []
        described = "la France entière" if WHOLE_COUNTRY in covered else \
            f"départements {', '.join(sorted(covered))}"
        notes.append(f"couverture déclarée : {described}")
        if beyond:
            notes.append(f"{int(departements.isin(beyond).sum())} QPV hors de la couverture "
                         f"déclarée (départements {', '.join(beyond)}) : un point y est "
                         "localisé dans ces QPV, mais hors d'eux il reste « non couvert »")
    else:
        covered = of_codes
        notes.append(f"couverture : départements {', '.join(sorted(covered))} (ceux des codes "
                     "des QPV) ; hors de ces départements, un point hors des QPV chargés est "
                     "« non couvert » (option couverture pour la déclarer)")
    return pd.DataFrame({"generation": generation,
                         "departement": np.array(sorted(covered), dtype=object)})


def detect_generation(table: VectorTable, codes: pd.Series, column: str) -> int:
    """Return 2015 or 2024 from the codes; refuse bad codes and a mix of both."""
    matches = {year: codes.str.fullmatch(pattern) for year, pattern
               in GENERATION_PATTERNS.items()}
    neither = ~(matches[2015] | matches[2024])
    if neither.any():
        row = int(np.argmax(neither.to_numpy()))
        raise table.error("code de QPV mal formé", row=row, column=column,
                          expected="un code comme QP034001 (2015) ou QN03401M (2024)",
                          found=codes.iloc[row])
    counts = {year: int(match.sum()) for year, match in matches.items()}
    if counts[2015] and counts[2024]:
        minority = 2015 if counts[2015] < counts[2024] else 2024
        row = int(np.argmax(matches[minority].to_numpy()))
        raise table.error(
            f"le fichier mélange des QPV de la génération 2015 ({counts[2015]}) et de la "
            f"génération 2024 ({counts[2024]}) : importez chaque génération depuis son propre "
            "fichier", row=row, column=column, expected=f"des codes d'une seule génération, "
            f"comme la ligne 1 "
            f"({codes.iloc[0]})", found=codes.iloc[row])
    return 2015 if counts[2015] else 2024


def _communes_from_codes(table: VectorTable, column: str) -> pd.DataFrame:
    """Explode a column of commune codes (one code or a list per feature)."""
    text = text_column(table.frame[column])
    exploded = text.str.split(_LIST_SEPARATORS, regex=True).explode()
    exploded = exploded[exploded.notna() & (exploded != "")]
    bad = ~exploded.str.fullmatch(COMMUNE_CODE_PATTERN)
    if bad.any():
        row = int(exploded.index[np.argmax(bad.to_numpy())])
        raise table.error("code de commune mal formé", row=row, column=column,
                          expected="des codes de commune Insee comme 34172 ou 2A004",
                          found=text.iloc[row])
    return pd.DataFrame({"row": exploded.index.to_numpy(dtype=np.int64),
                         "commune": exploded.to_numpy(dtype=object)})


_ORDINAL = r"(\d{1,2})\s*(?:er|e|ème|eme|è)"
_CITY_ARRONDISSEMENT = re.compile(rf"^(?P<city>.*?\D)\s+{_ORDINAL}$", re.IGNORECASE)
_BARE_ORDINAL = re.compile(rf"^{_ORDINAL}$", re.IGNORECASE)
_ARRONDISSEMENT_WORD = re.compile(r"\s+arrondissements?$", re.IGNORECASE)
#: Separators that never occur in a commune name: always a list.
_STRONG_SEPARATORS = re.compile(r"\s*[,;/|\n]\s*")
#: Separators that also occur inside names of communes nouvelles (« Thue et Mue »,
#: « Saint-Paterne - Le Chevain »): a list only where the whole is no commune.
_WEAK_SEPARATORS = re.compile(r"(\s+et\s+|\s+-\s+)", re.IGNORECASE)
#: Typography that :func:`~cohesion.territory.names.search_key` would drop: ligatures
#: (« Marcq-en-Barœul » is written « Baroeul » as often), typographic apostrophes and
#: dashes, non-breaking spaces.
def _split_commune_parts(text: str, known: Collection[str] = ()) -> list[tuple[str, str]]:
    """(part as written, search key) of each commune a commune-name text lists."""
    pieces: list[str] = []
    for segment in _STRONG_SEPARATORS.split(text.translate(TYPOGRAPHY).strip()):
        # the pieces between « et » and « - », and the separators, alternately
        split = _WEAK_SEPARATORS.split(segment)
        start = 0
        while start < len(split):
            # the longest run of pieces that is a commune's name stays whole
            end = next((stop for stop in range(len(split), start + 1, -2)
                        if search_key("".join(split[start:stop])) in known), start + 1)
            pieces.append("".join(split[start:end]))
            start = end + 1
    parts = []
    city = None
    for piece in pieces:
        piece = _ARRONDISSEMENT_WORD.sub("", piece.strip())
        if not piece:
            continue
        number = None
        if search_key(piece) not in known:
            if match := _CITY_ARRONDISSEMENT.match(piece):
                city, number = match["city"], int(match[2])
            elif (match := _BARE_ORDINAL.match(piece)) and city is not None:
                number = int(match[1])
        if number is not None:
            label = f"{city} {number}{'er' if number == 1 else 'e'} arrondissement"
            parts.append((label, search_key(label)))
        else:
            parts.append((piece, search_key(piece)))
    return parts


def split_commune_names(text: str, known: Collection[str] = ()) -> list[str]:
    """Split a commune-name text (``COMMUNE_QP``, ``lib_com``) into search keys.

    Files name the communes of a multi-commune QPV in one cell, separated by ``,``,
    ``;``, ``/``, ``|`` or a line break, which no commune name contains, or by « et »
    and « - », which names of communes nouvelles do contain (« Thue et Mue »,
    « Sarroux - Saint Julien »): a run of pieces whose whole is a name in ``known``
    (search keys) is one commune. Arrondissements are written the way people write
    them (« Marseille 13ème et 12ème arrondissements »).

    Parameters
    ----------
    text : str
        The cell.
    known : collection of str
        Search keys (:func:`~cohesion.territory.names.search_key`) of the communes that
        may be named.

    Returns
    -------
    list of str
        The search key of each commune named, in order.

    Examples
    --------
    >>> split_commune_names("Marseille 11ème, La Penne-sur-Huveaune")
    ['marseille 11e arrondissement', 'la penne sur huveaune']
    >>> split_commune_names("Marseille 13ème et 12ème arrondissements")
    ['marseille 13e arrondissement', 'marseille 12e arrondissement']
    >>> split_commune_names("Paris 1er")
    ['paris 1er arrondissement']
    >>> split_commune_names("Marcq-en-Baroeul; Mons-en-Barœul / Roubaix et Wattrelos")
    ['marcq en baroeul', 'mons en baroeul', 'roubaix', 'wattrelos']
    >>> split_commune_names("Thue et Mue et Caen", known={"thue et mue", "caen"})
    ['thue et mue', 'caen']
    """
    return [key for _, key in _split_commune_parts(text, known)]


def _enumerate(items: list[str]) -> str:
    """The first :data:`_LISTED` items, then how many more."""
    more = len(items) - _LISTED
    return "; ".join(items[:_LISTED]) + (f" ; et {more} autres" if more > 0 else "")


def _columns(columns: list[str]) -> str:
    """« la colonne X » or « les colonnes X et Y »."""
    if len(columns) == 1:
        return f"la colonne {columns[0]}"
    return f"les colonnes {', '.join(columns[:-1])} et {columns[-1]}"


def _known_communes(warehouse: Warehouse, generation: int) -> tuple[int, pd.DataFrame]:
    """The communes a name may designate, in the COG closest to the QPV generation.

    The first vintage built from the generation on (2024 for the 2024 QPV), or the
    earliest one for an older generation.

    Communes, arrondissements municipaux and communes déléguées or associées (a 2015
    commune since merged into a commune nouvelle is a commune déléguée there, under its
    2015 code), each under the search key of its name
    (:func:`~cohesion.territory.names.search_key`) and under the référentiel's search
    name (which a warehouse built before ligatures were spelt out keys otherwise).

    Returns
    -------
    vintage : int
        The vintage searched.
    known : DataFrame
        ``dep, key, code, name, level, parent``: ``parent`` is the commune of an
        arrondissement or of a commune déléguée or associée, the code itself otherwise.
    """
    vintages = warehouse.vintages()
    vintage = min([v for v in vintages if v >= generation] or vintages)
    known = warehouse.query(
        """SELECT t.code, t.name, t.search_name, t.level,
                  coalesce(m.parent_code, t.code) AS parent
           FROM territories t LEFT JOIN memberships m
             ON m.vintage = t.vintage AND m.level = t.level AND m.code = t.code
             AND t.level IN ('ARM', 'COMD', 'COMA') AND m.parent_level = 'COM'
           WHERE t.vintage = ? AND t.level IN ('COM', 'ARM', 'COMD', 'COMA')""", [vintage])
    known = pd.concat([known.assign(key=known["name"].map(search_key)),
                       known.assign(key=known["search_name"])], ignore_index=True)
    known["dep"] = np.where(known["code"].str.startswith("97"), known["code"].str[:3],
                            known["code"].str[:2])
    known["rank"] = known["level"].map({"COM": 0, "ARM": 0, "COMD": 1, "COMA": 2})
    # a commune nouvelle often keeps the name and code of its chef-lieu: prefer the commune
    known = known.sort_values("rank").drop_duplicates(["dep", "key", "code"])
    best = known.groupby(["dep", "key"])["rank"].transform("min")
    return vintage, known[known["rank"] == best][["dep", "key", "code", "name", "level",
                                                   "parent"]]


def _communes_from_names(table: VectorTable, columns: list[str], codes: pd.Series,
                         departements: pd.Series, generation: int, warehouse: Warehouse,
                         notes: list[str]) -> pd.DataFrame:
    """Find the communes named in words, each within the QPV's département.

    A cell may list several communes (:func:`split_commune_names`): each one found gets
    a link. A name that designates no commune, or several, of the QPV's département is
    reported in ``notes`` with its QPV, and gets no link.

    Returns
    -------
    DataFrame
        ``row, commune, name, level, parent``: the feature, the code, name and level of
        the commune (``COM``, ``ARM``, ``COMD``, ``COMA``) and the commune it belongs to
        (itself, the city of an arrondissement, the commune nouvelle of a commune
        déléguée).
    """
    vintage, known = _known_communes(warehouse, generation)
    keys_by_dep = known.groupby("dep")["key"].agg(set).to_dict()
    dep_of_row = departements.to_numpy()
    wanted = []
    for column in columns:
        for row, text in enumerate(text_column(table.frame[column])):
            wanted.extend((row, label, key) for label, key in _split_commune_parts(
                text, keys_by_dep.get(dep_of_row[row], set())))
    wanted = pd.DataFrame(wanted, columns=["row", "label", "key"]).astype(
        {"row": np.int64, "label": object, "key": object}).drop_duplicates(["row", "key"])
    wanted["dep"] = dep_of_row[wanted["row"].to_numpy()]
    matched = wanted.merge(known, on=["dep", "key"], how="left")
    ambiguous = matched.duplicated(["row", "key"], keep=False) & matched["code"].notna()
    unmatched = matched[matched["code"].isna() | ambiguous].drop_duplicates(["row", "key"])
    if len(unmatched):
        listed = [f"{codes.iloc[row]} « {label} »" + (" (plusieurs communes de ce nom)"
                                                     if several else "")
                  for row, label, several in zip(unmatched["row"], unmatched["label"],
                                                 ambiguous[unmatched.index], strict=True)]
        plural = "s" if len(unmatched) > 1 else ""
        notes.append(f"{len(unmatched)} nom{plural} de commune non rapporté{plural} à une "
                     f"commune unique du département du QPV dans le COG {vintage} (aucune "
                     f"appartenance enregistrée) : {_enumerate(listed)}")
    matched = matched[matched["code"].notna() & ~ambiguous].drop_duplicates(["row", "code"])
    several = matched.groupby("row")["parent"].nunique()
    notes.append(f"communes retrouvées d'après leur nom dans {_columns(columns)} "
                 f"(COG {vintage})" + (
                     f" ; {int((several > 1).sum())} QPV sur plusieurs communes"
                     if (several > 1).any() else ""))
    return pd.DataFrame({"row": matched["row"].to_numpy(dtype=np.int64),
                         "commune": matched["code"].to_numpy(dtype=object),
                         "name": matched["name"].to_numpy(dtype=object),
                         "level": matched["level"].to_numpy(dtype=object),
                         "parent": matched["parent"].to_numpy(dtype=object)})


def _add_named_communes(links: pd.DataFrame, named: pd.DataFrame, codes: pd.Series,
                        code_column: str, name_columns: list[str],
                        notes: list[str]) -> pd.DataFrame:
    """Add to the communes given by code those only the commune-name columns give.

    A file may give one commune code per QPV and name every commune it spans in words
    (the Occitanie layer: ``code_commune`` 65440, ``nom_commune`` « Séméac, Tarbes »).
    A named commune that is one of the QPV's codes, or a commune déléguée of one, adds
    nothing; a named arrondissement of a coded city is added (it is more precise).
    """
    given = set(zip(links["row"], links["commune"], strict=True))
    same = [(row, commune) in given or (level in ("COMD", "COMA") and (row, parent) in given)
            for row, commune, level, parent in zip(
                named["row"], named["commune"], named["level"], named["parent"], strict=True)]
    added = named[~np.array(same, dtype=bool)]
    if len(added):
        listed = [f"{codes.iloc[row]} → {name} ({commune})" for row, name, commune
                  in zip(added["row"], added["name"], added["commune"], strict=True)]
        notes.append(f"communes nommées dans {_columns(name_columns)} mais "
                     f"absentes de la colonne {code_column}, ajoutées aux communes de leur "
                     f"QPV ({len(added)}) : {_enumerate(listed)}")
    return pd.concat([links, added[["row", "commune"]]], ignore_index=True)


def _membership_levels(table: VectorTable, column: str | None, links: pd.DataFrame,
                       generation: int, warehouse: Warehouse,
                       notes: list[str]) -> pd.DataFrame:
    """Give each (QPV, commune) link its level and add the commune of arrondissements.

    Codes are kept as the file gives them. A 2024 code must be known to a COG from 2024
    on (as a current or a former code); a 2015 code may predate every vintage built.
    """
    vintages = warehouse.vintages()
    recent = [v for v in vintages if v >= generation] or vintages
    known = warehouse.query(
        """SELECT DISTINCT code, level FROM territories
           WHERE level IN ('COM', 'ARM') AND list_contains(?, vintage)
           UNION SELECT DISTINCT former_code, 'COM' FROM former_codes
           WHERE list_contains(?, vintage)""", [recent, recent])
    known = known.sort_values("level", ascending=False).drop_duplicates("code")
    level = links["commune"].map(known.set_index("code")["level"])
    unknown = level.isna()
    if unknown.any():
        if generation >= 2024 and column is not None:
            row = int(links["row"].iloc[int(np.argmax(unknown.to_numpy()))])
            raise table.error(
                f"code de commune inconnu ({int(unknown.sum())} codes inconnus des COG "
                f"{recent[0]} à {recent[-1]})", row=row, column=column,
                expected=f"des codes de commune du COG {recent[0]} ou ultérieur",
                found=links["commune"][unknown].iloc[0])
        examples = ", ".join(links["commune"][unknown].unique()[:5])
        notes.append(f"{int(unknown.sum())} codes de commune des QPV {generation} ne sont pas "
                     f"dans les COG {vintages[0]}-{vintages[-1]} (codes plus anciens, gardés "
                     f"tels quels : {examples})")
    links = links.assign(parent_level=level.fillna("COM").to_numpy())
    arrondissements = links[links["parent_level"] == "ARM"]
    if len(arrondissements):
        parents = warehouse.query(
            """SELECT DISTINCT code, parent_code FROM memberships
               WHERE level = 'ARM' AND parent_level = 'COM'""").drop_duplicates("code")
        city = arrondissements.assign(
            commune=arrondissements["commune"].map(parents.set_index("code")["parent_code"]),
            parent_level="COM").dropna(subset=["commune"])
        links = pd.concat([links, city], ignore_index=True)
    return links.drop_duplicates(["row", "commune", "parent_level"])


def _commune_name_columns(table: VectorTable, option: str | None) -> list[str]:
    """The columns naming the communes of each QPV in words.

    The option's column, or every one of :data:`COMMUNE_NAME_COLUMNS` the file has
    (``commune_qp`` for the main commune and ``nom_commune`` for all of them, in the
    Occitanie layer).
    """
    if option is not None:
        return [str(choose_column(table, option, COMMUNE_NAME_COLUMNS,
                                  "les noms de commune"))]
    lowered = {column.lower(): column for column in table.frame.columns}
    return [lowered[name] for name in COMMUNE_NAME_COLUMNS if name in lowered]


class QpvContours(Importer):
    """Contours of the QPV of the 2015 or the 2024 generation.

    Options (``options.extra``)
    ---------------------------
    layer : str
        Layer to read in a multi-layer file (default: the layer with a QPV code column).
    code_column, name_column : str
        Columns of the QPV code and name (default: recognised from the usual names,
        ``code_qp``/``CODE_QP``/``q``, ``nom_qp``/``lib_qp``/``n``).
    commune_column : str
        Column of the commune codes of each QPV (one code or a list).
    commune_name_column : str
        Column naming the communes in words (2015 national layer, ``COMMUNE_QP``;
        default: every usual one the file has, ``commune_qp``, ``lib_com``,
        ``nom_commune``…). A cell may list several communes. With a commune code column
        too, a commune named but not coded is added to its QPV's communes.
    couverture : str or list of str
        The départements whose every QPV of the generation the file holds (``75,92,93``),
        or ``france`` for a national file. Default: the départements of its QPV codes. A
        point outside the loaded QPV is « hors QPV » only in the départements covered
        (see :func:`cohesion.store.Warehouse.qpv_coverage`).

    ``options.vintage``, if given, must be the generation of the file's codes.
    """

    name = "qpv"
    title = "Contours des quartiers prioritaires de la politique de la ville"
    producer = "ANCT"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        extra = options.extra
        check_options(path, options, OPTION_KEYS, "des QPV")
        notes: list[str] = []
        table = read_vector(path, extra.get("layer"), prefer=CODE_COLUMNS)
        if table.frame.empty:
            raise table.error("la couche n'a aucun objet", expected="des contours de QPV",
                              found="0")
        crs = check_crs(table)
        code_column = choose_column(table, extra.get("code_column"), CODE_COLUMNS,
                                    "le code du QPV")
        assert code_column is not None
        codes = text_column(table.frame[code_column]).str.upper()
        generation = detect_generation(table, codes, code_column)
        if options.vintage is not None and options.vintage != generation:
            raise table.error(f"le fichier contient des QPV de la génération {generation}",
                              column=code_column, expected=f"des QPV de {options.vintage}",
                              found=codes.iloc[0])
        name_column = choose_column(table, extra.get("name_column"), NAME_COLUMNS,
                                    "le nom du QPV", required=False)
        names = text_column(table.frame[name_column]) if name_column else codes
        if name_column is None or (names == "").any():
            notes.append("des QPV n'ont pas de nom dans le fichier : leur code sert de nom")
            names = names.where(names != "", codes)
        geometries = polygons(table, notes)
        departements = departement_of_qpv(codes)

        commune_column = choose_column(table, extra.get("commune_column"), COMMUNE_COLUMNS,
                                       "les codes de commune", required=False)
        name_columns = _commune_name_columns(table, extra.get("commune_name_column"))
        named = _communes_from_names(table, name_columns, codes, departements, generation,
                                     warehouse, notes) if name_columns else None
        if commune_column is not None:
            links = _communes_from_codes(table, commune_column)
            if named is not None:
                links = _add_named_communes(links, named, codes, commune_column,
                                            name_columns, notes)
        elif named is not None:
            links = named[["row", "commune"]]
        else:
            notes.append("le fichier ne donne pas la commune de ses QPV : aucune "
                         "appartenance QPV → commune enregistrée")
            links = pd.DataFrame({"row": np.array([], dtype=np.int64),
                                  "commune": np.array([], dtype=object)})
        links = _membership_levels(table, commune_column, links, generation, warehouse, notes)
        alone = sorted(set(codes) - set(codes.to_numpy()[links["row"].to_numpy(dtype=np.int64)]))
        if alone and (commune_column is not None or named is not None):
            notes.append(f"{len(alone)} QPV sans commune dans le fichier (aucune appartenance "
                         f"QPV → commune enregistrée) : {_enumerate(alone)}")

        # a QPV cut in several features (multi-part shapefiles) is put back together
        first = ~codes.duplicated()
        if not first.all():
            duplicated = codes[~first].unique()
            for code in duplicated:
                rows = np.flatnonzero((codes == code).to_numpy())
                geometries[rows[0]] = shapely.union_all(geometries[rows])
            notes.append(f"{len(duplicated)} QPV répartis sur plusieurs objets ont été fusionnés "
                         f"(par exemple {duplicated[0]})")
            first_row = pd.Series(np.arange(len(codes))).groupby(
                codes.to_numpy()).transform("first").to_numpy()
            links = links.assign(row=first_row[links["row"].to_numpy(dtype=np.int64)])
            links = links.drop_duplicates(["row", "commune", "parent_level"])
        keep = first.to_numpy()

        existing = warehouse.query(
            "SELECT t.code, t.dataset_id, g.code IS NOT NULL AS drawn FROM territories t "
            "LEFT JOIN geometries g USING (level, code, vintage) "
            "WHERE t.level = 'QPV' AND t.vintage = ?", [generation])
        drawn = codes.isin(existing.loc[existing["drawn"], "code"]).to_numpy()
        if drawn.any():
            notes.append(f"{int((drawn & keep).sum())} QPV de {generation} déjà dans "
                         f"l'entrepôt (jeu {existing['dataset_id'].iloc[0]}) ont été "
                         "conservés tels quels")
            keep &= ~drawn
        # a QPV held without contour (added by a table of its IRIS, qpv-iris) gets its
        # contour; its territory and communes stay as they are
        undrawn = codes.isin(existing.loc[~existing["drawn"], "code"]).to_numpy() & keep
        if undrawn.any():
            notes.append(f"{int(undrawn.sum())} QPV de {generation} déjà dans l'entrepôt sans "
                         "contour : contour ajouté")
        rows = np.flatnonzero(keep)
        source_geometries = geometries[rows]
        areas, area_crs = areas_km2(source_geometries, departements.to_numpy()[rows], crs)
        wgs84 = reproject(source_geometries, crs, WGS84)
        kept_codes = codes.to_numpy()[rows]
        kept_names = names.to_numpy()[rows]
        new = ~undrawn[rows]
        territories = pd.DataFrame({
            "level": "QPV", "code": kept_codes, "vintage": generation, "name": kept_names,
            "search_name": [search_key(name) for name in kept_names],
            "population": pd.array([None] * len(rows), dtype="Int64"), "siren": None,
            "kind": None,
            "zone": [zone_of_departement(d) for d in departements.to_numpy()[rows]]})[new]
        geometry_rows = pd.DataFrame({
            "level": "QPV", "code": kept_codes, "vintage": generation,
            "geometry": shapely.to_wkb(wgs84), "area_km2": areas,
            "area_crs": area_crs.astype(str), "source": path.name})
        links = links[np.isin(links["row"].to_numpy(), rows[new])]
        memberships = pd.DataFrame({
            "vintage": generation, "level": "QPV",
            "code": codes.to_numpy()[links["row"].to_numpy(dtype=np.int64)],
            "parent_level": links["parent_level"].to_numpy(),
            "parent_code": links["commune"].to_numpy()})
        coverage = _coverage(path, extra, departements, generation, warehouse, notes)
        notes.insert(0, f"QPV de la génération {generation}, CRS {crs} ; surfaces mesurées dans "
                        "le CRS projeté de chaque département")
        return ImportBatch(
            tables={"territories": territories, "geometries": geometry_rows,
                    "memberships": memberships, "qpv_coverage": coverage},
            vintage=generation, rows=len(table.frame), notes=notes)
