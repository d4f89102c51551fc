"""QPV geo-referencing for every interface: the index of the warehouse, the geocoder.

:class:`QpvService` builds the :class:`~cohesion.geo.QpvIndex` of the warehouse's QPV
contours once (again after an import), and answers points (``POST /api/qpv/locate``)
and files (``cohesion qpv locate``, ``POST /api/qpv/locate.csv``) with the same index,
the same commune lists and the same geocoder: the one of the settings, else the local
addok when it is indexed, else the BAN (:meth:`cohesion.settings.Settings.geocoder_url`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cohesion.errors import CohesionError, ConflictError
from cohesion.geo.batch import (
    DEFAULT_CHUNK_ROWS,
    BatchSummary,
    InputFile,
    PointColumns,
    locate_file,
)
from cohesion.geo.geocoding import DEFAULT_MIN_SCORE, AddokGeocoder, Geocoder, geocode_frame
from cohesion.geo.locate import (
    BANDS,
    DEFAULT_REACH,
    DEFAULT_TOLERANCE,
    NOT_COVERED,
    UNKNOWN_DEPARTEMENT,
    QpvIndex,
    departement_of_commune,
    not_covered_reason,
)

if TYPE_CHECKING:
    from cohesion.core.observatory import Observatory
    from cohesion.geo.batch import Progress


class QpvNotLoadedError(ConflictError):
    """The warehouse holds no QPV contour: nothing to locate in."""


@dataclass(frozen=True)
class Point:
    """One point to locate: ``lon`` and ``lat``, or ``x``, ``y`` and ``crs``, or an address."""

    id: str | None = None
    lon: float | None = None
    lat: float | None = None
    x: float | None = None
    y: float | None = None
    crs: str | None = None
    adresse: str | None = None


ERROR_INCOMPLETE = ("point incomplet : donner lon et lat, ou x, y et crs, ou adresse "
                    "(un seul des trois)")


class QpvService:
    """The QPV index of the observatory's warehouse, built once, and the geocoder.

    Parameters
    ----------
    observatory : Observatory
        Its settings name the geocoder and ANCT's national commune → QPV lookups
        (``polygone-4326_qpv.geojson``): a commune they do not name has no QPV, so a
        point there is « hors QPV » even where no contour file covers its département
        (see :mod:`cohesion.geo.locate`, *Coverage*).
    """

    def __init__(self, observatory: Observatory) -> None:
        self.observatory = observatory
        self.lookups: list[Path] = list(observatory.settings.communes_qpv)
        self._lock = threading.Lock()
        self._index: tuple[int, QpvIndex] | None = None
        self._geocoder: Geocoder | None = None

    def generations(self) -> list[int]:
        """The QPV generations whose contours are in the warehouse (cheap: no index)."""
        return self.observatory.reader().contour_vintages("QPV")

    def geocoder(self) -> Geocoder:
        """The geocoder of addresses (see the module's rule)."""
        if self._geocoder is None:
            self._geocoder = AddokGeocoder(self.observatory.settings.geocoder_url())
        return self._geocoder

    def use_geocoder(self, geocoder: Geocoder | None) -> None:
        """Geocode addresses with ``geocoder`` from now on (None: the settings' one)."""
        self._geocoder = geocoder

    def index(self, generations: Sequence[int] | None = None, vintage: int | None = None,
              lookups: Sequence[Path] = (), reach: float = DEFAULT_REACH) -> QpvIndex:
        """The index of the warehouse's QPV contours.

        Without arguments, the shared one (built on first use and again after an
        import); with any argument, one built for the request.

        Raises
        ------
        QpvNotLoadedError
            When no QPV contour is imported.
        """
        if not self.generations():
            raise QpvNotLoadedError(
                "aucun contour de QPV n'est chargé dans l'entrepôt : un "
                "administrateur doit d'abord importer les contours (cohesion import "
                "qpv FICHIER, ou la page Données)")
        if generations or vintage is not None or lookups or reach != DEFAULT_REACH:
            return QpvIndex.from_warehouse(self.observatory.reader(), generations or None,
                                           vintage, [*self.lookups, *lookups], reach)
        version = self.observatory.version()
        with self._lock:
            if self._index is None or self._index[0] != version:
                self._index = (version, QpvIndex.from_warehouse(
                    self.observatory.reader(), lookups=self.lookups))
            return self._index[1]

    def locate_file(self, source: InputFile, output: Path, columns: PointColumns,
                    index: QpvIndex | None = None, tolerance: float = DEFAULT_TOLERANCE,
                    min_score: float = DEFAULT_MIN_SCORE,
                    chunk_rows: int = DEFAULT_CHUNK_ROWS,
                    progress: Progress | None = None) -> BatchSummary:
        """Locate every row of ``source`` and write it, enriched, to ``output``."""
        index = index or self.index()
        source.check_columns(columns, index)
        return locate_file(index, source, output, columns, tolerance, chunk_rows, progress,
                           self.geocoder() if columns.geocoded else None, min_score)

    def locate_points(self, points: Sequence[Point], tolerance: float = DEFAULT_TOLERANCE,
                      min_score: float = DEFAULT_MIN_SCORE) -> dict[str, Any]:
        """One result per point, in order, and a summary (``POST /api/qpv/locate``).

        A point that cannot be located keeps its place with the reason in ``erreur``
        (incomplete, out of France, unknown CRS, address empty, not found or uncertain).
        """
        index = self.index()
        kinds = [_kind(point) for point in points]
        results: list[dict[str, Any] | None] = [None] * len(points)
        generations, vintage = index.generations, index.vintage

        def place(rows: list[int], frame: pd.DataFrame) -> None:
            for row, record in zip(rows, _records(frame, generations, vintage), strict=True):
                results[row] = record

        lonlat = [i for i, k in enumerate(kinds) if k == "lonlat"]
        if lonlat:
            place(lonlat, index.locate(np.array([points[i].lon for i in lonlat]),
                                       np.array([points[i].lat for i in lonlat]),
                                       tolerance).to_frame())
        by_crs: dict[str, list[int]] = {}
        for i, kind in enumerate(kinds):
            if kind == "xy":
                by_crs.setdefault(str(points[i].crs).strip().upper(), []).append(i)
        for crs, rows in by_crs.items():
            try:
                frame = index.locate_xy(np.array([points[i].x for i in rows]),
                                        np.array([points[i].y for i in rows]), crs,
                                        tolerance).to_frame()
            except Exception as error:  # pyproj's CRSError and friends: the point's fault
                if isinstance(error, CohesionError):
                    raise
                frame = index.locate(np.full(len(rows), np.nan), np.full(len(rows), np.nan),
                                     tolerance).to_frame()
                frame["erreur"] = f"système de coordonnées inconnu : {crs}"
            place(rows, frame)
        addresses = [i for i, k in enumerate(kinds) if k == "adresse"]
        if addresses:
            table = pd.DataFrame({"adresse": [points[i].adresse for i in addresses]})
            geocoded, lon, lat, errors = geocode_frame(self.geocoder(), table,
                                                       ["adresse"], min_score)
            located = index.locate(lon, lat, tolerance).to_frame()
            reasons = pd.Series(errors, dtype=object)
            located["erreur"] = reasons.where(reasons.notna(), located["erreur"])
            place(addresses, pd.concat([geocoded.reset_index(drop=True), located], axis=1))
        incomplete = [i for i, k in enumerate(kinds) if k is None]
        if incomplete:
            frame = index.locate(np.full(len(incomplete), np.nan), np.full(len(incomplete), np.nan),
                                 tolerance).to_frame()
            frame["erreur"] = ERROR_INCOMPLETE
            place(incomplete, frame)
        for point, result in zip(points, results, strict=True):
            assert result is not None
            result["id"] = point.id
            if point.lon is not None and point.lat is not None:
                result["lon"], result["lat"] = point.lon, point.lat
            if point.adresse is not None:
                result["adresse"] = point.adresse
        answered = [r for r in results if r is not None]
        return {"generations": list(generations), "millesime_communes": vintage,
                "resume": _summary_of_points(answered, generations), "resultats": answered}


def _kind(point: Point) -> str | None:
    """``lonlat``, ``xy`` or ``adresse``; None for an incomplete or ambiguous point."""
    kinds = [kind for kind, given in (
        ("lonlat", point.lon is not None and point.lat is not None),
        ("xy", point.x is not None and point.y is not None and point.crs is not None),
        ("adresse", point.adresse is not None)) if given]
    extra = sum(v is not None for v in (point.lon, point.lat, point.x, point.y, point.crs,
                                        point.adresse))
    expected = {"lonlat": 2, "xy": 3, "adresse": 1}
    if len(kinds) != 1 or extra != expected[kinds[0]]:
        return None
    return kinds[0]


def _clean(value: Any) -> Any:
    """A JSON-ready value: None for NaN and missing values, Python numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def _records(frame: pd.DataFrame, generations: tuple[int, ...], vintage: int | None
             ) -> list[dict[str, Any]]:
    """Per-point answers from result columns (:func:`cohesion.geo.locate.result_columns`)."""
    records = []
    for row in frame.to_dict("records"):
        record: dict[str, Any] = {
            "commune": _clean(row.get(f"code_commune_{vintage}")) if vintage else None,
            "erreur": _clean(row.get("erreur")),
            "qpv": {str(g): {"code": _clean(row[f"qpv_{g}"]), "nom": _clean(row[f"nom_qpv_{g}"]),
                             "qualite": _clean(row[f"qualite_qpv_{g}"]),
                             "distance_m": _clean(row[f"distance_qpv_{g}_m"]),
                             "qpv_proche": _clean(row[f"qpv_proche_{g}"]),
                             "bande": _clean(row[f"bande_onpv_{g}"])} for g in generations}}
        if "qualite_geocodage" in row:
            record["geocodage"] = {
                "adresse": _clean(row["adresse_geocodee"]),
                "score": _clean(row["score_geocodage"]),
                "type": _clean(row["type_geocodage"]),
                "qualite": _clean(row["qualite_geocodage"]),
                "code_commune": _clean(row["code_commune_geocodage"])}
        records.append(record)
    return records


def _not_covered_document(generation: int, departements: dict[str, int]) -> dict[str, Any]:
    """``lignes``, ``departements`` (rows by département) and ``motif`` (French, or None)."""
    return {"lignes": sum(departements.values()),
            "departements": dict(sorted(departements.items())),
            "motif": not_covered_reason(generation, departements) if departements else None}


def _summary_of_points(results: list[dict[str, Any]], generations: tuple[int, ...]
                       ) -> dict[str, Any]:
    """The summary of ``POST /api/qpv/locate``.

    The fields of :func:`summary_document` but ``qualites`` and ``geocodage``.
    """
    inside = {str(g): sum(1 for r in results if r["qpv"][str(g)]["code"]) for g in generations}
    bands = {str(g): {band: sum(1 for r in results if r["qpv"][str(g)]["bande"] == band)
                      for band in BANDS} for g in generations}
    covered = {str(g): sum(1 for r in results if r["qpv"][str(g)]["qualite"] not in (
        None, NOT_COVERED)) for g in generations}
    not_covered: dict[str, dict[str, Any]] = {}
    for g in generations:
        uncovered = [r["commune"] for r in results if r["qpv"][str(g)]["qualite"] == NOT_COVERED]
        departements = pd.Series(departement_of_commune(np.array(uncovered, dtype=object)),
                                 dtype=object).fillna(UNKNOWN_DEPARTEMENT).value_counts()
        not_covered[str(g)] = _not_covered_document(
            g, {str(d): int(n) for d, n in departements.items()})
    return {"lignes": len(results), "erreurs": sum(1 for r in results if r["erreur"]),
            "dans_qpv": inside, "couverts": covered,
            "part_dans_qpv": {g: (n / covered[g] if covered[g] else 0.0)
                              for g, n in inside.items()},
            "bandes": bands, "non_couverts": not_covered}


def summary_document(summary: BatchSummary, generations: tuple[int, ...]) -> dict[str, Any]:
    """The summary of a located file, as sent in the ``X-QPV-Resume`` header.

    Returns
    -------
    dict
        ``lignes`` and ``erreurs`` (rows, rows in error); by generation: ``dans_qpv``
        (rows in a QPV), ``couverts`` (rows whose answer is known: in a QPV or « hors
        QPV »), ``part_dans_qpv`` (``dans_qpv / couverts``), ``qualites`` (rows by
        quality class), ``bandes`` (rows by ONPV band, every band of
        :data:`~cohesion.geo.locate.BANDS` in its order, nearest first; rows without a
        band are not counted), ``non_couverts`` (``lignes``, ``departements``: rows by
        département, ``inconnu`` for rows in no commune contour, and ``motif``, the
        reason in French, or None); ``geocodage`` (rows by geocoding quality, or None).

    Examples
    --------
    >>> from pathlib import Path
    >>> summary = BatchSummary(Path("sortie.csv"), rows=30, inside={2015: 5},
    ...     qualities={2015: {"sûr": 5, "probable": 0, "hors QPV": 15, "non couvert": 10}},
    ...     bands={2015: {"dans un QPV": 5, "< 1 km": 9, "< 300 m": 6}},
    ...     not_covered={2015: {"93": 2, "75": 8}})
    >>> document = summary_document(summary, (2015,))
    >>> document["couverts"], document["part_dans_qpv"]
    ({'2015': 20}, {'2015': 0.25})
    >>> document["bandes"]["2015"]  # doctest: +NORMALIZE_WHITESPACE
    {'dans un QPV': 5, '< 300 m': 6, '< 500 m': 0, '< 1 km': 9, 'commune avec QPV': 0,
     'ailleurs': 0}
    >>> document["non_couverts"]["2015"]  # doctest: +NORMALIZE_WHITESPACE
    {'lignes': 10, 'departements': {'75': 8, '93': 2},
     'motif': 'contours 2015 non chargés pour les départements 75, 93'}
    """
    return {"lignes": summary.rows, "erreurs": summary.errors,
            "dans_qpv": {str(g): summary.inside.get(g, 0) for g in generations},
            "couverts": {str(g): summary.covered(g) for g in generations},
            "part_dans_qpv": {str(g): round(summary.share_inside(g), 6) for g in generations},
            "qualites": {str(g): summary.qualities.get(g, {}) for g in generations},
            "bandes": {str(g): {band: summary.bands.get(g, {}).get(band, 0) for band in BANDS}
                       for g in generations},
            "non_couverts": {str(g): _not_covered_document(g, summary.not_covered.get(g, {}))
                             for g in generations},
            "geocodage": summary.geocoding or None}
