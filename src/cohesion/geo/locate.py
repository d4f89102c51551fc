"""Locate points in the QPV (quartiers prioritaires de la politique de la ville).

:class:`QpvIndex` holds the QPV contours of one or both generations (2015, codes
``QP…``; 2024, codes ``QN…``) and the commune contours of one COG vintage. For each point
and each generation, :meth:`QpvIndex.locate` gives

- the QPV containing the point (code and name), by an exact point-in-polygon test on the
  contours as stored (longitudes and latitudes, EPSG:4326);
- a quality class like INSEE's: ``sûr`` (inside, farther than the tolerance from the
  border), ``probable`` (within the tolerance of a border, inside or outside, 10 m by
  default), ``hors QPV``; and ``non couvert`` outside every loaded QPV where the loaded
  contours are not known to hold every QPV (see *Coverage* below);
- the distance in metres to the nearest QPV (0 inside), measured in the projected CRS
  of the point's territory (Lambert-93 in metropolitan France, the local CRS of each
  overseas département), exact up to the index's *reach* (5 km by default) and left
  empty beyond it;
- the ONPV distance band (:data:`BANDS`, below);

and, once for all generations, the code of the commune containing the point.

Bands: nested thresholds on that distance (:data:`BAND_THRESHOLDS`), each band up to
its threshold excluded, in this order (:data:`BANDS`):

- ``dans un QPV``: inside a QPV (distance 0);
- ``< 300 m``: outside, less than 300 m from a QPV. The threshold of schools: the
  Observatoire des territoires counts a collège « à moins de 300 mètres d'un quartier
  prioritaire » as « relevant de la politique de la ville »;
- ``< 500 m``: 300 m to less than 500 m;
- ``< 1 km``: 500 m to less than 1 km;
- ``commune avec QPV``: 1 km or more (or beyond the reach), in a commune having a QPV of
  that generation;
- ``ailleurs``: 1 km or more, in a commune having none.

The band is None for a point in error; 1 km or more away and in no commune contour (or
without commune contours); or whose distance is not measured (``non couvert``, or
``hors QPV`` only through the national list).

Coverage: a point outside every loaded QPV is ``hors QPV`` only where that is a fact,
that is when its commune lies in a département the loaded contours cover (every QPV of
the département is loaded: :attr:`QpvLayer.coverage`, recorded at import), or when a
national list of the communes having a QPV (:attr:`QpvLayer.listed`) does not name its
commune. Elsewhere it is ``non couvert``, with no distance, nearest QPV nor band. A point
inside a loaded QPV is always located: inside is a fact.

Points are handled as arrays, never one at a time: the containment and the nearest
polygon are found through grid indexes (:mod:`cohesion.geo.grid`) and GEOS's vectorised
predicates.

Examples
--------
>>> import shapely
>>> square = shapely.box(2.35, 48.85, 2.36, 48.86)
>>> index = QpvIndex([QpvLayer(2024, np.array(["QN07501M"]), np.array(["Exemple"]),
...                            np.array([square]), coverage=NATIONAL)])
>>> lon = np.array([2.355, 2.3501, 2.363, 2.3655, 2.37])
>>> found = index.locate(lon, np.full(len(lon), 48.855))
>>> result = found.generations[2024]
>>> result.code.tolist()
['QN07501M', 'QN07501M', None, None, None]
>>> result.quality.tolist()
['sûr', 'probable', 'hors QPV', 'hors QPV', 'hors QPV']

The bands of points 0 m, 220 m, 404 m and 734 m from the QPV (without commune contours,
a point 1 km or more away would have none):

>>> result.distance.round(1).tolist()
[0.0, 0.0, 220.1, 403.6, 733.8]
>>> result.band.tolist()
['dans un QPV', 'dans un QPV', '< 300 m', '< 500 m', '< 1 km']

Contours not known to cover anything say so, rather than « hors QPV »:

>>> regional = QpvIndex([QpvLayer(2024, np.array(["QN07501M"]), np.array(["Exemple"]),
...                               np.array([square]))])
>>> regional.locate(np.array([2.355, 2.37]), np.array([48.855, 48.855])
...                 ).generations[2024].quality.tolist()
['sûr', 'non couvert']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from cohesion.errors import CohesionError
from cohesion.geo.grid import CellGrid, ContainmentGrid, NearestGrid, Prepared, grouping
from cohesion.importers.qpv import (
    CODE_COLUMNS,
    COMMUNE_COLUMNS,
    GENERATION_PATTERNS,
    choose_column,
    read_vector,
    text_column,
)
from cohesion.store.schema import WHOLE_COUNTRY
from cohesion.store.warehouse import Warehouse
from cohesion.territory.crs import WGS84, ZONES, reproject, transformer, zone_of

_ZONE_CRS = list(ZONES)

GENERATIONS = tuple(GENERATION_PATTERNS)

SURE, PROBABLE, OUTSIDE, NOT_COVERED = "sûr", "probable", "hors QPV", "non couvert"
QUALITIES = (SURE, PROBABLE, OUTSIDE, NOT_COVERED)
IN_QPV, UNDER_300_M, UNDER_500_M, UNDER_1_KM, COMMUNE_WITH_QPV, ELSEWHERE = (
    "dans un QPV", "< 300 m", "< 500 m", "< 1 km", "commune avec QPV", "ailleurs")
#: The distance bands of points outside every QPV: a point less than ``threshold`` metres
#: from the nearest QPV (and not less than the previous threshold) is in ``band``.
#: Increasing thresholds. 300 m is the threshold of schools « relevant de la politique de
#: la ville » (Observatoire des territoires); beyond the last, the band is that of the
#: commune (:data:`COMMUNE_WITH_QPV` or :data:`ELSEWHERE`).
BAND_THRESHOLDS: tuple[tuple[float, str], ...] = (
    (300.0, UNDER_300_M), (500.0, UNDER_500_M), (1000.0, UNDER_1_KM))
#: Every band, nearest first (the order of summaries).
BANDS = (IN_QPV, *(band for _, band in BAND_THRESHOLDS), COMMUNE_WITH_QPV, ELSEWHERE)
_BAND_LIMITS = np.array([threshold for threshold, _ in BAND_THRESHOLDS])
#: The shortest reach of an index: the last threshold, for the bands to be exact.
MIN_REACH = float(_BAND_LIMITS[-1])

#: The coverage of national contours: every département.
NATIONAL: frozenset[str] = frozenset({WHOLE_COUNTRY})
#: The département of a point in no commune contour, in the summaries.
UNKNOWN_DEPARTEMENT = "inconnu"

DEFAULT_TOLERANCE = 10.0
DEFAULT_REACH = 5000.0
#: Cell sides of the grid indexes: in degrees for containment (about 1 km for QPV, 4 km
#: for communes), in metres for distances.
QPV_CELL_DEGREES, COMMUNE_CELL_DEGREES, DISTANCE_CELL_METRES = 0.01, 0.04, 2000.0
#: Cells in degrees (about 500 m) of the communes' grid of regions: the commune of a
#: point in a cell that no border crosses (83 % of the cells over metropolitan France,
#: the sea included) is known without a test. 23 MB for metropolitan France.
COMMUNE_REGION_DEGREES = 0.005
#: Cells in degrees telling the points beyond the reach of every QPV (not projected).
REACH_CELL_DEGREES = 0.05
#: Metres in a degree of latitude, at least (110.6 km at the equator).
METRES_PER_DEGREE = 110_000.0

ERROR_MISSING = "coordonnées absentes"
ERROR_LONGITUDE_RANGE = "longitude hors bornes (attendu entre -180 et 180)"
ERROR_LATITUDE_RANGE = "latitude hors bornes (attendu entre -90 et 90)"
ERROR_SWAPPED = "latitude et longitude inversées ?"
ERROR_SWAPPED_XY = "x et y inversés ?"
ERROR_OUTSIDE = "point hors de France (métropole et outre-mer)"


def result_columns(generations: Iterable[int], vintage: int | None) -> list[str]:
    """Names of the columns :meth:`Location.to_frame` gives, in order.

    Examples
    --------
    >>> result_columns([2024], 2025)  # doctest: +NORMALIZE_WHITESPACE
    ['code_commune_2025', 'qpv_2024', 'nom_qpv_2024', 'qualite_qpv_2024',
     'distance_qpv_2024_m', 'qpv_proche_2024', 'bande_onpv_2024', 'erreur']
    """
    columns = [] if vintage is None else [f"code_commune_{vintage}"]
    for g in generations:
        columns += [f"qpv_{g}", f"nom_qpv_{g}", f"qualite_qpv_{g}", f"distance_qpv_{g}_m",
                    f"qpv_proche_{g}", f"bande_onpv_{g}"]
    return [*columns, "erreur"]


def commune_column(columns: Iterable[str]) -> str | None:
    """The commune code column among result columns (``code_commune_2026``), if any.

    Examples
    --------
    >>> commune_column(["code_commune_geocodage", "code_commune_2026", "qpv_2024"])
    'code_commune_2026'
    """
    return next((c for c in columns if re.fullmatch(r"code_commune_\d{4}", c)), None)


def not_covered_reason(generation: int, departements: Iterable[str]) -> str:
    """Why points of these départements are ``non couvert``, in French.

    Parameters
    ----------
    generation : int
        The QPV generation.
    departements : iterable of str
        Départements of the points (:data:`UNKNOWN_DEPARTEMENT` for points in no
        commune contour).

    Examples
    --------
    >>> not_covered_reason(2015, ["93", "75"])
    'contours 2015 non chargés pour les départements 75, 93'
    >>> not_covered_reason(2024, ["13", UNKNOWN_DEPARTEMENT])
    'contours 2024 non chargés pour le département 13 ; points hors de tout contour de commune'
    """
    codes = sorted(set(departements))
    unknown = UNKNOWN_DEPARTEMENT in codes
    codes = [code for code in codes if code != UNKNOWN_DEPARTEMENT]
    parts = []
    if codes:
        parts.append(f"contours {generation} non chargés pour "
                     f"{'les départements' if len(codes) > 1 else 'le département'} "
                     f"{', '.join(codes)}")
    if unknown:
        parts.append("points hors de tout contour de commune" if codes else
                     f"points hors de tout contour de commune (contours {generation} "
                     "non nationaux)")
    return " ; ".join(parts)


def departement_of_commune(codes: np.ndarray) -> np.ndarray:
    """Département of commune codes (``34172`` → ``34``, ``97411`` → ``974``; None stays)."""
    text = pd.Series(codes, dtype=object)
    overseas = text.str.startswith("97", na=False).to_numpy(dtype=bool)
    return text.str[:2].where(~overseas, text.str[:3]).to_numpy(dtype=object)


# -- inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QpvLayer:
    """The QPV contours of one generation.

    Attributes
    ----------
    generation : int
        2015 or 2024.
    codes, names : ndarray of str
        Code and name of each QPV.
    geometries : ndarray of shapely (multi)polygons
        Contours in EPSG:4326.
    communes : frozenset of str
        Codes of the communes that have a QPV of this generation, in the COG vintage of
        the index's communes (for the ``commune avec QPV`` band). They may include
        communes whose QPV contours are not loaded (from a national lookup).
    coverage : frozenset of str
        Départements every QPV of which is in ``codes`` (``34``, ``2A``, ``974``), or
        :data:`NATIONAL` for national contours: there, a point outside them is
        ``hors QPV``. Default: none (every point outside is ``non couvert``).
    listed : frozenset of str or None
        The communes that have a QPV of this generation according to a national list
        (ANCT's commune → QPV lookup), in the COG vintage of the index's communes; a
        commune not in it has no QPV. None without such a list.
    """

    generation: int
    codes: np.ndarray
    names: np.ndarray
    geometries: np.ndarray
    communes: frozenset[str] = field(default_factory=frozenset)
    coverage: frozenset[str] = field(default_factory=frozenset)
    listed: frozenset[str] | None = None

    @property
    def national(self) -> bool:
        """Whether the contours hold every QPV of the generation."""
        return WHOLE_COUNTRY in self.coverage


@dataclass(frozen=True)
class CommuneLayer:
    """Commune contours of one COG vintage (codes and shapes in EPSG:4326)."""

    vintage: int
    codes: np.ndarray
    geometries: np.ndarray


@dataclass(frozen=True)
class _CommuneCoverage:
    """Per commune of the index (rows of its :class:`CommuneLayer`), for one generation.

    Attributes
    ----------
    has_qpv : ndarray of bool
        The commune has a QPV (``commune avec QPV`` band).
    in_coverage : ndarray of bool
        Its département is covered by the loaded contours.
    listed_without_qpv : ndarray of bool
        A national list says it has no QPV.
    """

    has_qpv: np.ndarray
    in_coverage: np.ndarray
    listed_without_qpv: np.ndarray

    @classmethod
    def of(cls, layer: QpvLayer, communes: CommuneLayer) -> _CommuneCoverage:
        codes = pd.Series(communes.codes, dtype=object)
        departements = pd.Series(departement_of_commune(communes.codes), dtype=object)
        in_coverage = np.full(len(codes), layer.national) | departements.isin(
            layer.coverage).to_numpy()
        listed_without_qpv = np.zeros(len(codes), dtype=bool) if layer.listed is None \
            else ~codes.isin(layer.listed).to_numpy()
        return cls(codes.isin(layer.communes).to_numpy(), in_coverage, listed_without_qpv)


def _zones_of_geometries(geometries: np.ndarray) -> np.ndarray:
    bounds = shapely.bounds(geometries)
    return zone_of((bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2)


class _ZoneQpv:
    """The QPV of one generation in one zone: containment in degrees, distances in metres."""

    def __init__(self, rows: np.ndarray, geometries: np.ndarray, crs: str,
                 reach: float) -> None:
        self.rows = rows
        self.contains = ContainmentGrid(geometries, QPV_CELL_DEGREES)
        projected = reproject(geometries, WGS84, crs)
        self.boundaries = Prepared(shapely.boundary(projected))
        # only points outside every QPV look for the nearest: the distance to a border
        # is then the distance to the QPV
        self.nearest = NearestGrid(self.boundaries.geometries, DISTANCE_CELL_METRES, reach)
        # the cells in degrees where a QPV may lie within the reach (the reach turned
        # into degrees with a margin of half of it): points elsewhere are beyond it
        bounds = shapely.bounds(geometries)
        margin_y = 1.5 * reach / METRES_PER_DEGREE
        widest = min(np.abs(bounds[:, [1, 3]]).max() + margin_y, 89.0)
        margin_x = margin_y / np.cos(np.radians(widest))
        bounds += [-margin_x, -margin_y, margin_x, margin_y]
        self.reach_grid = CellGrid.covering((*bounds[:, :2].min(axis=0),
                                             *bounds[:, 2:].max(axis=0)), REACH_CELL_DEGREES)
        self.within_reach = np.zeros(self.reach_grid.count, dtype=bool)
        self.within_reach[self.reach_grid.cells_of_bounds(bounds)[1]] = True

    def may_be_within_reach(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """False for points certainly farther than the reach from every QPV here."""
        cells = self.reach_grid.cells(lon, lat)
        return (cells >= 0) & self.within_reach[np.maximum(cells, 0)]


# -- results --------------------------------------------------------------------------


def _decode(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``values[code]`` for each code, None for -1 (an object array)."""
    return np.append(values.astype(object), None)[codes]


_QUALITY_VALUES = np.array(QUALITIES, dtype=object)
_BAND_VALUES = np.array(BANDS, dtype=object)
_SURE, _PROBABLE, _OUTSIDE, _NOT_COVERED = range(4)
_IN_QPV, _COMMUNE_WITH_QPV, _ELSEWHERE = 0, BANDS.index(COMMUNE_WITH_QPV), BANDS.index(ELSEWHERE)
#: The band code of each outcome of ``searchsorted(_BAND_LIMITS, distance)``: the band of
#: the first threshold the distance is under, none from the last threshold on.
_DISTANCE_BAND_CODES = np.array([*range(1, len(BAND_THRESHOLDS) + 1), -1], dtype=np.int8)


@dataclass
class GenerationResult:
    """Where the points are with respect to the QPV of one generation (one row a point).

    The results are held as codes (rows of the layer, positions in :data:`QUALITIES`
    and :data:`BANDS`, -1 for none); the text arrays are made from them when first read.

    Attributes
    ----------
    generation : int
        The QPV generation.
    layer : QpvLayer
        Its QPV (the codes and names the rows point to).
    rows, nearest_rows : ndarray of int
        Row in ``layer`` of the QPV containing the point, of the nearest QPV within the
        reach (the containing one inside); -1 for none.
    quality_codes, band_codes : ndarray of int8
        Position in :data:`QUALITIES` and :data:`BANDS`; -1 for none.
    distance : ndarray of float
        Metres to the nearest QPV (0 inside); NaN beyond the reach or when unknown.

    code, name : ndarray of object
        The QPV containing the point, or None.
    quality : ndarray of object
        ``sûr``, ``probable``, ``hors QPV`` or ``non couvert`` (None for points in error).
    nearest : ndarray of object
        Code of the nearest QPV within the reach (the containing one inside), or None.
    band : ndarray of object
        The ONPV band, or None when it cannot be told.
    """

    generation: int
    layer: QpvLayer = field(repr=False)
    rows: np.ndarray
    nearest_rows: np.ndarray
    quality_codes: np.ndarray
    band_codes: np.ndarray
    distance: np.ndarray

    @cached_property
    def code(self) -> np.ndarray:
        return _decode(self.layer.codes, self.rows)

    @cached_property
    def name(self) -> np.ndarray:
        return _decode(self.layer.names, self.rows)

    @cached_property
    def quality(self) -> np.ndarray:
        return _decode(_QUALITY_VALUES, self.quality_codes)

    @cached_property
    def nearest(self) -> np.ndarray:
        return _decode(self.layer.codes, self.nearest_rows)

    @cached_property
    def band(self) -> np.ndarray:
        return _decode(_BAND_VALUES, self.band_codes)


#: A text result column as codes into its values (``values[code]``, none for -1).
Coded = tuple[np.ndarray, np.ndarray]


@dataclass
class Location:
    """Results of :meth:`QpvIndex.locate` for an array of points.

    Attributes
    ----------
    generations : dict of int to GenerationResult
        One result per generation of the index.
    communes : CommuneLayer or None
        The index's commune contours (None without).
    commune_rows : ndarray of int
        Row in ``communes`` of the commune containing each point, -1 for none.
    error : ndarray of object
        Why a point could not be located (None when it was).
    commune : ndarray of object or None
        Code of the commune containing each point (None outside every contour), or None
        when the index has no commune contours.
    vintage : int or None
        COG vintage of the commune codes.
    """

    generations: dict[int, GenerationResult]
    communes: CommuneLayer | None = field(repr=False)
    commune_rows: np.ndarray
    error: np.ndarray

    @property
    def vintage(self) -> int | None:
        return None if self.communes is None else self.communes.vintage

    @cached_property
    def commune(self) -> np.ndarray | None:
        return None if self.communes is None else _decode(self.communes.codes,
                                                          self.commune_rows)

    def to_frame(self) -> pd.DataFrame:
        """The results as columns named like :func:`result_columns` (French names)."""
        return pd.DataFrame(self.columns())

    def columns(self) -> dict[str, np.ndarray]:
        """The result columns by name, in the order of :func:`result_columns`.

        Distances are rounded to the centimetre; missing values are None (text) or NaN.
        """
        return {name: _decode(column[1], column[0]) if isinstance(column, tuple) else column
                for name, column in self.coded_columns().items()}

    def coded_columns(self) -> dict[str, np.ndarray | Coded]:
        """The columns of :meth:`columns`, text as codes into its values (but ``erreur``).

        For writers that encode each distinct value once rather than once a row.
        """
        values: dict[str, np.ndarray | Coded] = {}
        if self.communes is not None:
            values[f"code_commune_{self.vintage}"] = (self.commune_rows, self.communes.codes)
        for g, result in self.generations.items():
            codes, names = result.layer.codes, result.layer.names
            values.update({f"qpv_{g}": (result.rows, codes), f"nom_qpv_{g}": (result.rows, names),
                           f"qualite_qpv_{g}": (result.quality_codes, _QUALITY_VALUES),
                           f"distance_qpv_{g}_m": np.round(result.distance, 2),
                           f"qpv_proche_{g}": (result.nearest_rows, codes),
                           f"bande_onpv_{g}": (result.band_codes, _BAND_VALUES)})
        values["erreur"] = self.error
        return values


# -- the index ------------------------------------------------------------------------


class QpvIndex:
    """QPV contours of one or more generations, ready to locate millions of points.

    Parameters
    ----------
    layers : sequence of QpvLayer
        One layer per generation.
    communes : CommuneLayer, optional
        Commune contours, for the commune of each point, the ``commune avec QPV`` band
        and the coverage check. Without them the commune and that band are left empty,
        and only national contours cover a point.
    reach : float
        Distance in metres up to which the nearest QPV is looked for (at least
        :data:`MIN_REACH`, 1 000 m, the widest ONPV band). Farther points get no distance.

    See Also
    --------
    QpvIndex.from_warehouse : build the index from what the warehouse holds.
    cohesion.geo.batch.locate_file : locate the points of a CSV or Parquet file.
    """

    def __init__(self, layers: Sequence[QpvLayer], communes: CommuneLayer | None = None,
                 reach: float = DEFAULT_REACH) -> None:
        if not layers:
            raise CohesionError("aucun contour de QPV à indexer : importer d'abord les "
                                "contours (cohesion import qpv FICHIER)")
        generations = [layer.generation for layer in layers]
        if len(set(generations)) != len(generations):
            raise CohesionError(f"une génération de QPV est donnée deux fois : {generations}")
        if not reach >= MIN_REACH:
            shortest = f"{MIN_REACH:,.0f}".replace(",", " ")
            raise CohesionError(f"portée de recherche trop courte : {reach} m (attendu au "
                                f"moins {shortest} m, la bande ONPV la plus large)")
        self.layers = {layer.generation: layer for layer in layers}
        self.communes = communes
        self.reach = float(reach)
        self._zones: dict[int, dict[int, _ZoneQpv]] = {}
        for layer in layers:
            zones = _zones_of_geometries(layer.geometries)
            if (zones < 0).any():
                outside = layer.codes[zones < 0][0]
                raise CohesionError(f"le QPV {outside} ({layer.generation}) n'est ni en "
                                    "métropole ni dans un territoire d'outre-mer connu")
            self._zones[layer.generation] = {
                int(z): _ZoneQpv(rows, layer.geometries[rows], _ZONE_CRS[z], self.reach)
                for z in np.unique(zones) for rows in [np.flatnonzero(zones == z)]}
        self._commune_zones: dict[int, tuple[np.ndarray, ContainmentGrid]] = {}
        self._coverage: dict[int, _CommuneCoverage] = {}
        if communes is not None:
            zones = _zones_of_geometries(communes.geometries)
            for z in np.unique(zones[zones >= 0]):
                rows = np.flatnonzero(zones == z)
                self._commune_zones[int(z)] = (rows, ContainmentGrid(
                    communes.geometries[rows], COMMUNE_CELL_DEGREES, COMMUNE_REGION_DEGREES))
            self._coverage = {layer.generation: _CommuneCoverage.of(layer, communes)
                              for layer in layers}

    @property
    def generations(self) -> tuple[int, ...]:
        """The generations indexed, oldest first."""
        return tuple(sorted(self.layers))

    @property
    def vintage(self) -> int | None:
        """COG vintage of the commune codes (None without commune contours)."""
        return None if self.communes is None else self.communes.vintage

    def columns(self) -> list[str]:
        """Names of the result columns, in order (see :func:`result_columns`)."""
        return result_columns(self.generations, self.vintage)

    @classmethod
    def from_warehouse(cls, warehouse: Warehouse, generations: Sequence[int] | None = None,
                       vintage: int | None = None, lookups: Sequence[Path] = (),
                       reach: float = DEFAULT_REACH) -> QpvIndex:
        """Build the index from the QPV and commune contours of a warehouse.

        Parameters
        ----------
        warehouse : Warehouse
            Holding the référentiel (with commune contours) and imported QPV contours.
        generations : sequence of int, optional
            QPV generations to load (default: every generation imported).
        vintage : int, optional
            COG vintage of the commune contours and codes (default: the latest built).
        lookups : sequence of Path
            National commune → QPV lookup files (:func:`read_communes_with_qpv`): the
            communes that have a QPV, loaded or not. A generation they name gets its
            :attr:`QpvLayer.listed` communes.
        reach : float
            See :class:`QpvIndex`.

        Raises
        ------
        CohesionError
            When a generation asked for, or any QPV contour, is not in the warehouse.

        See Also
        --------
        cohesion.store.Warehouse.qpv_coverage : the départements each generation covers.
        """
        vintage = warehouse.require_vintage(vintage or warehouse.vintages()[-1])
        imported = warehouse.contour_vintages("QPV")
        chosen = list(generations) if generations else imported
        missing = [g for g in chosen if g not in imported]
        if missing or not chosen:
            raise CohesionError(
                f"pas de contours de QPV de {', '.join(map(str, missing)) or 'aucune génération'}"
                f" dans l'entrepôt (importés : {', '.join(map(str, imported)) or 'aucun'}) : "
                "importer les contours avec `cohesion import qpv FICHIER`")
        looked_up = pd.concat([read_communes_with_qpv(path) for path in lookups]) if lookups \
            else pd.DataFrame({"generation": [], "commune": [], "qpv": []})
        layers = []
        for generation in chosen:
            found = warehouse.geometries("QPV", generation)
            names = warehouse.names("QPV", generation)
            members = warehouse.memberships("QPV", generation, ["COM", "ARM"])["parent_code"]
            extra = looked_up.loc[looked_up["generation"] == generation, "commune"]
            communes = warehouse.communes_in_vintage(pd.concat([members, extra]), vintage)
            listed = frozenset(warehouse.communes_in_vintage(extra, vintage)) if len(extra) \
                else None
            layers.append(QpvLayer(generation, found["code"].to_numpy(dtype=object),
                                   found["code"].map(names).to_numpy(dtype=object),
                                   found["geometry"].to_numpy(), frozenset(communes),
                                   frozenset(warehouse.qpv_coverage(generation)), listed))
        contours = warehouse.geometries("COM", vintage)
        communes = CommuneLayer(vintage, contours["code"].to_numpy(dtype=object),
                                contours["geometry"].to_numpy()) if len(contours) else None
        return cls(layers, communes, reach)

    # -- locating ---------------------------------------------------------------------

    def within(self, lon: np.ndarray, lat: np.ndarray, generation: int) -> np.ndarray:
        """Code of the QPV of ``generation`` containing each point (None outside).

        Only the exact point-in-polygon test: no distance, quality nor commune.

        Parameters
        ----------
        lon, lat : ndarray of float
            WGS84 longitudes and latitudes.
        generation : int
            A generation of the index.
        """
        layer = self._layer(generation)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        rows = self._containing(generation, lon, lat, zone_of(lon, lat))
        codes = np.full(len(lon), None, dtype=object)
        codes[rows >= 0] = layer.codes[rows[rows >= 0]]
        return codes

    def locate(self, lon: np.ndarray, lat: np.ndarray,
               tolerance: float = DEFAULT_TOLERANCE) -> Location:
        """Locate points given as WGS84 longitudes and latitudes.

        Parameters
        ----------
        lon, lat : array_like of float
            Longitudes and latitudes (NaN for a missing value).
        tolerance : float
            Distance in metres to a QPV border within which a point is ``probable``.

        Returns
        -------
        Location
            Points out of range, outside France, or whose latitude and longitude look
            swapped get an error and no result.
        """
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        error = np.full(len(lon), None, dtype=object)
        failed = np.isnan(lon) | np.isnan(lat)
        error[failed] = ERROR_MISSING
        for values, limit, message in ((lon, 180, ERROR_LONGITUDE_RANGE),
                                       (lat, 90, ERROR_LATITUDE_RANGE)):
            beyond = ~failed & (np.abs(values) > limit)
            error[beyond] = message
            failed |= beyond
        return self._locate(lon, lat, error, failed, zone_of(lat, lon) >= 0, ERROR_SWAPPED,
                            tolerance)

    def locate_xy(self, x: np.ndarray, y: np.ndarray, crs: str,
                  tolerance: float = DEFAULT_TOLERANCE) -> Location:
        """Locate points given as coordinates in any CRS (Lambert-93, a DROM CRS…).

        Parameters
        ----------
        x, y : array_like of float
            Coordinates in ``crs``, easting first (NaN for a missing value).
        crs : str
            The CRS, as ``EPSG:2154`` or anything pyproj understands.
        tolerance : float
            See :meth:`locate`.
        """
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        to_wgs84 = transformer(crs, WGS84)
        lon, lat = to_wgs84.transform(x, y, errcheck=False)
        swapped = np.asarray(zone_of(*to_wgs84.transform(y, x, errcheck=False)) >= 0)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        error = np.full(len(x), None, dtype=object)
        failed = ~(np.isfinite(x) & np.isfinite(y))
        error[failed] = ERROR_MISSING
        return self._locate(lon, lat, error, failed, swapped, ERROR_SWAPPED_XY, tolerance)

    def _layer(self, generation: int) -> QpvLayer:
        if generation not in self.layers:
            raise CohesionError(f"pas de QPV de {generation} dans l'index (générations : "
                                f"{', '.join(map(str, self.generations))})")
        return self.layers[generation]

    def _containing(self, generation: int, lon: np.ndarray, lat: np.ndarray,
                    zones: np.ndarray) -> np.ndarray:
        """Row in the layer of the QPV containing each point, -1 where none does."""
        rows = np.full(len(lon), -1, dtype=np.int64)
        for z, part in self._zones[generation].items():
            chosen = np.flatnonzero(zones == z)
            found = part.contains.locate(lon[chosen], lat[chosen])
            rows[chosen[found >= 0]] = part.rows[found[found >= 0]]
        return rows

    def _may_be_within_reach(self, generation: int, lon: np.ndarray, lat: np.ndarray,
                             zones: np.ndarray) -> np.ndarray:
        """False for the points certainly beyond the reach of every QPV of ``generation``."""
        near = np.zeros(len(lon), dtype=bool)
        for z, part in self._zones[generation].items():
            chosen = np.flatnonzero(zones == z)
            near[chosen] = part.may_be_within_reach(lon[chosen], lat[chosen])
        return near

    def _locate(self, lon: np.ndarray, lat: np.ndarray, error: np.ndarray, failed: np.ndarray,
                swapped: np.ndarray, swapped_message: str, tolerance: float) -> Location:
        """Locate points; ``error`` tells why the ``failed`` ones cannot be located."""
        if not 0 <= tolerance <= self.reach:
            raise CohesionError(f"tolérance invalide : {tolerance} m (attendu entre 0 et "
                                f"{self.reach:.0f} m)")
        zones = zone_of(lon, lat)
        outside = ~failed & (zones < 0)
        error[outside & swapped] = swapped_message
        error[outside & ~swapped] = ERROR_OUTSIDE
        zones[failed | outside] = -1
        commune = np.full(len(lon), -1, dtype=np.int64)
        for z, (rows, grid) in self._commune_zones.items():
            chosen = np.flatnonzero(zones == z)
            found = grid.locate(lon[chosen], lat[chosen])
            commune[chosen[found >= 0]] = rows[found[found >= 0]]
        located = zones >= 0
        inside = {g: self._containing(g, lon, lat, zones) for g in self.generations}
        coverage = {g: self._point_coverage(g, commune) for g in self.generations}
        # distances to borders are measured, in metres, for the points inside a QPV (is
        # the border near?) and outside where the distance is told or makes « probable »
        measured = {g: located & ((inside[g] >= 0) | (coverage[g][0] | coverage[g][1]) &
                                  self._may_be_within_reach(g, lon, lat, zones))
                    for g in self.generations}
        projected = np.logical_or.reduce(list(measured.values()))
        x, y = np.full(len(lon), np.nan), np.full(len(lon), np.nan)
        for z in np.unique(zones[projected]):
            chosen = np.flatnonzero(projected & (zones == z))
            x[chosen], y[chosen] = transformer(WGS84, _ZONE_CRS[z]).transform(lon[chosen],
                                                                               lat[chosen])
        results = {g: self._locate_generation(g, zones, x, y, inside[g], measured[g],
                                              coverage[g], commune, tolerance)
                   for g in self.generations}
        return Location(results, self.communes, commune, error)

    def _point_coverage(self, generation: int,
                        commune: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Where each point lies with respect to the coverage of a generation.

        Three masks: the points in the coverage of the loaded contours, in a commune a
        national list says has no QPV, in a commune having a QPV (None without commune
        contours).
        """
        in_coverage = np.full(len(commune), self.layers[generation].national)
        listed_without_qpv = np.zeros(len(commune), dtype=bool)
        if self.communes is None:
            return in_coverage, listed_without_qpv, None
        # a point in no commune contour is covered by national contours only
        known = np.flatnonzero(commune >= 0)
        coverage = self._coverage[generation]
        in_coverage[known] |= coverage.in_coverage[commune[known]]
        listed_without_qpv[known] = coverage.listed_without_qpv[commune[known]]
        has_qpv = np.zeros(len(commune), dtype=bool)
        has_qpv[known] = coverage.has_qpv[commune[known]]
        return in_coverage, listed_without_qpv, has_qpv

    def _locate_generation(self, generation: int, zones: np.ndarray, x: np.ndarray,
                           y: np.ndarray, inside: np.ndarray, measured: np.ndarray,
                           coverage: tuple[np.ndarray, np.ndarray, np.ndarray | None],
                           commune: np.ndarray, tolerance: float) -> GenerationResult:
        """Results for one generation.

        ``inside`` holds rows of the layer (or -1), ``commune`` rows of the commune layer
        (or -1); ``x``, ``y`` the coordinates in the CRS of each point's zone where
        ``measured``, and ``coverage`` what :meth:`_point_coverage` tells.
        """
        in_coverage, listed_without_qpv, has_qpv = coverage
        count = len(zones)
        is_inside = inside >= 0
        distance = np.full(count, np.nan)
        distance[is_inside] = 0.0
        near_border = np.zeros(count, dtype=bool)
        nearest = inside.copy()
        for z, part in self._zones[generation].items():
            in_zone = measured & (zones == z)
            within = np.flatnonzero(in_zone & is_inside)
            # farther than the tolerance from every border: far from its QPV's; the
            # others are asked of GEOS, one QPV after another
            within = within[part.nearest.nearest(x[within], y[within])[1] <= tolerance]
            if len(within):
                local = np.searchsorted(part.rows, inside[within])
                within = within[grouping(local, len(part.rows))]
                local = np.searchsorted(part.rows, inside[within])
                near_border[within] = part.boundaries.dwithin(
                    local, shapely.points(x[within], y[within]), tolerance)
            outside = np.flatnonzero(in_zone & ~is_inside)
            found, gap = part.nearest.nearest(x[outside], y[outside])
            nearest[outside[found >= 0]] = part.rows[found[found >= 0]]
            distance[outside[found >= 0]] = gap[found >= 0]
            near_border[outside] = gap <= tolerance

        located = zones >= 0
        quality = np.full(count, -1, dtype=np.int8)
        quality[located] = _OUTSIDE
        quality[is_inside] = _SURE
        quality[located & near_border] = _PROBABLE
        band = np.where(located, _DISTANCE_BAND_CODES[np.searchsorted(
            _BAND_LIMITS, distance, side="right")], -1).astype(np.int8)
        band[is_inside] = _IN_QPV
        if has_qpv is not None:
            far = located & (commune >= 0) & ~(distance < _BAND_LIMITS[-1])
            band[far] = np.where(has_qpv[far], _COMMUNE_WITH_QPV, _ELSEWHERE)
        outside = located & ~is_inside
        quality[outside & ~in_coverage & ~listed_without_qpv] = _NOT_COVERED
        # outside the coverage, the list tells a commune has no QPV, but how far the
        # nearest one lies (maybe not loaded) is not known
        unmeasured = outside & ~in_coverage
        band[unmeasured] = -1
        distance[unmeasured] = np.nan
        nearest[unmeasured] = -1
        return GenerationResult(generation, self.layers[generation], inside, nearest,
                                quality, band, distance)


# -- communes that have a QPV ---------------------------------------------------------


def read_communes_with_qpv(path: Path) -> pd.DataFrame:
    """Read an ANCT commune → QPV lookup (the communes that contain a QPV).

    ANCT publishes, for the 2024 generation, the polygons (``polygone-4326_qpv``) or
    centroids (``centroide-4326_qpv``) of every commune containing a QPV, with the codes
    of its QPV (``QN00101M, QN00102M``). Only the codes are read: the shapes are those
    of the communes, not of the QPV.

    Returns
    -------
    DataFrame
        ``generation`` (int), ``commune``, ``qpv``: one row per commune and QPV.

    Raises
    ------
    InputFileError
        Without a commune code column or a QPV code column, or for a malformed QPV code.
    """
    table = read_vector(path, read_geometry=False, prefer=CODE_COLUMNS)
    commune_column = choose_column(table, None, COMMUNE_COLUMNS, "le code de la commune")
    code_column = choose_column(table, None, CODE_COLUMNS, "les codes de QPV")
    assert commune_column is not None and code_column is not None
    pairs = pd.DataFrame({"commune": text_column(table.frame[commune_column]),
                          "qpv": text_column(table.frame[code_column]).str.upper()
                          .str.split(r"[\s,;|]+", regex=True)}).explode("qpv")
    pairs = pairs[pairs["qpv"].notna() & (pairs["qpv"] != "")]
    generation = pd.Series(0, index=pairs.index)
    for year, pattern in GENERATION_PATTERNS.items():
        generation[pairs["qpv"].str.fullmatch(pattern).to_numpy()] = year
    if (generation == 0).any():
        row = int(generation.index[generation.to_numpy() == 0][0])
        raise table.error("n'est pas un code de QPV", row=row, column=code_column,
                          expected="des codes comme QN03401M séparés par des virgules",
                          found=str(pairs["qpv"][generation == 0].iloc[0]))
    return pd.DataFrame({"generation": generation.to_numpy(dtype=np.int64),
                         "commune": pairs["commune"].to_numpy(dtype=object),
                         "qpv": pairs["qpv"].to_numpy(dtype=object)}).drop_duplicates(
        ignore_index=True)

