"""QPV geo-referencing over HTTP: the API endpoints and the ``/qpv`` page.

- ``POST /api/qpv/locate``: a JSON list of points (longitude/latitude, x/y in a CRS, or
  an address when a geocoder is configured), answered point by point;
- ``POST /api/qpv/locate.csv``: a CSV file uploaded (multipart), answered with the same
  file enriched with the result columns (as ``cohesion qpv locate`` writes it) and a
  summary in the ``X-QPV-Resume`` header (JSON: rows, rows in error, rows and share in
  a QPV by generation, geocoding qualities). Uploads are limited to
  :data:`MAX_LOCATE_UPLOAD_BYTES`, refused before they are read;
- ``GET /qpv``: the page, a form for one address or point and a file upload.

The :class:`~cohesion.geo.QpvIndex` is built from the observatory's warehouse on the
first request and kept until the next import. The geocoder is addok's CSV service named
by ``COHESION_GEOCODER`` (a local addok, or the BAN); without it addresses are refused.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from cohesion.errors import CohesionError
from cohesion.geo.batch import BatchSummary, InputFile, PointColumns, locate_file
from cohesion.geo.geocoding import (
    DEFAULT_MIN_SCORE,
    GEOCODER_VARIABLE,
    AddokGeocoder,
    Geocoder,
    geocode_frame,
)
from cohesion.geo.locate import DEFAULT_TOLERANCE, QpvIndex
from cohesion.web.limits import BodyTooLarge, megabytes
from cohesion.web.observatory import Observatory
from cohesion.web.pages import render

logger = logging.getLogger("cohesion.web")

#: Largest CSV file located at once through the API (lower than the application's
#: general upload limit: the file is then read again and written enriched).
MAX_LOCATE_UPLOAD_BYTES = 200 * 2**20
#: Largest JSON body of ``/api/qpv/locate``.
MAX_LOCATE_JSON_BYTES = 8 * 2**20
MAX_JSON_POINTS = 10_000
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
LOCATE_CSV_PATH = "/api/qpv/locate.csv"
LOCATE_JSON_PATH = "/api/qpv/locate"
#: Environment variable listing ANCT's commune → QPV lookup files for the index.
LOOKUPS_VARIABLE = "COHESION_COMMUNES_QPV"


class QpvNotLoadedError(CohesionError):
    """The warehouse holds no QPV contour: nothing to locate in."""


class NoGeocoderError(CohesionError):
    """Addresses were sent but no geocoder is configured."""


# -- the service ----------------------------------------------------------------------


class QpvService:
    """The QPV index of the observatory's warehouse, built once, and the geocoder.

    Parameters
    ----------
    observatory : Observatory
    geocoder : Geocoder, optional
        For addresses; None refuses them.
    lookups : sequence of Path
        ANCT commune → QPV lookups (``polygone-4326_qpv.geojson``), telling which
        communes have a QPV whose contours are not loaded (``non couvert``).
    """

    def __init__(self, observatory: Observatory, geocoder: Geocoder | None = None,
                 lookups: Sequence[Path] = ()) -> None:
        self.observatory = observatory
        self.geocoder = geocoder
        self.lookups = list(lookups)
        self._lock = threading.Lock()
        self._index: tuple[int, QpvIndex] | None = None

    def generations(self) -> list[int]:
        """The QPV generations whose contours are in the warehouse (cheap: no index)."""
        found = self.observatory.reader().query(
            "SELECT DISTINCT vintage FROM geometries WHERE level = 'QPV' ORDER BY 1")
        return [int(v) for v in found["vintage"]]

    def index(self) -> QpvIndex:
        """The index, built on first use and again after an import.

        Raises
        ------
        QpvNotLoadedError
            When no QPV contour is imported.
        """
        version = self.observatory.version()
        with self._lock:
            if self._index is None or self._index[0] != version:
                if not self.generations():
                    raise QpvNotLoadedError(
                        "aucun contour de QPV n'est chargé dans l'entrepôt : un "
                        "administrateur doit d'abord importer les contours (cohesion import "
                        "qpv FICHIER, ou la page Données)")
                self._index = (version, QpvIndex.from_warehouse(
                    self.observatory.reader(), lookups=self.lookups))
            return self._index[1]

    def require_geocoder(self) -> Geocoder:
        """The geocoder, or a clear refusal."""
        if self.geocoder is None:
            raise NoGeocoderError(
                "aucun géocodeur n'est configuré sur ce serveur : donner des coordonnées "
                f"(lon, lat ou x, y, crs), ou configurer {GEOCODER_VARIABLE} (un addok "
                "local ou la BAN)")
        return self.geocoder


# -- JSON points ----------------------------------------------------------------------


class PointIn(BaseModel):
    """One point: ``lon`` and ``lat``, or ``x``, ``y`` and ``crs``, or ``adresse``."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, max_length=200, description="Identifiant recopié tel quel.")
    lon: float | None = Field(None, description="Longitude WGS 84 (degrés).")
    lat: float | None = Field(None, description="Latitude WGS 84 (degrés).")
    x: float | None = Field(None, description="Abscisse dans le système `crs`.")
    y: float | None = Field(None, description="Ordonnée dans le système `crs`.")
    crs: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9:_ .-]+$",
                            description="Système de x et y, par exemple EPSG:2154.")
    adresse: str | None = Field(None, max_length=1000,
                                description="Adresse postale, géocodée par addok.")


class LocateRequest(BaseModel):
    """Points to locate."""

    model_config = ConfigDict(extra="forbid")

    points: list[PointIn] = Field(min_length=1, max_length=MAX_JSON_POINTS)
    tolerance: float = Field(DEFAULT_TOLERANCE, ge=0, le=1000,
                             description="Mètres d'une limite de QPV en deçà desquels un "
                             "point est « probable ».")
    min_score: float = Field(DEFAULT_MIN_SCORE, ge=0, le=1,
                             description="Score de géocodage minimal (adresses).")


ERROR_INCOMPLETE = ("point incomplet : donner lon et lat, ou x, y et crs, ou adresse "
                    "(un seul des trois)")


def _kind(point: PointIn) -> str | None:
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


def locate_points(service: QpvService, request: LocateRequest) -> dict[str, Any]:
    """Answer ``POST /api/qpv/locate``: one result per point, in order.

    A point that cannot be located keeps its place with the reason in ``erreur``
    (incomplete, out of France, unknown CRS, address empty, not found or uncertain).
    """
    index = service.index()
    kinds = [_kind(point) for point in request.points]
    if "adresse" in kinds:
        service.require_geocoder()
    results: list[dict[str, Any] | None] = [None] * len(request.points)
    generations, vintage = index.generations, index.vintage

    def place(rows: list[int], frame: pd.DataFrame) -> None:
        for row, record in zip(rows, _records(frame, generations, vintage), strict=True):
            results[row] = record

    lonlat = [i for i, k in enumerate(kinds) if k == "lonlat"]
    if lonlat:
        place(lonlat, index.locate(np.array([request.points[i].lon for i in lonlat]),
                                   np.array([request.points[i].lat for i in lonlat]),
                                   request.tolerance).to_frame())
    by_crs: dict[str, list[int]] = {}
    for i, kind in enumerate(kinds):
        if kind == "xy":
            by_crs.setdefault(str(request.points[i].crs).strip().upper(), []).append(i)
    for crs, rows in by_crs.items():
        try:
            frame = index.locate_xy(np.array([request.points[i].x for i in rows]),
                                    np.array([request.points[i].y for i in rows]), crs,
                                    request.tolerance).to_frame()
        except Exception as error:  # pyproj's CRSError and friends: the point's fault
            if isinstance(error, CohesionError):
                raise
            frame = index.locate(np.full(len(rows), np.nan), np.full(len(rows), np.nan),
                                 request.tolerance).to_frame()
            frame["erreur"] = f"système de coordonnées inconnu : {crs}"
        place(rows, frame)
    addresses = [i for i, k in enumerate(kinds) if k == "adresse"]
    if addresses:
        table = pd.DataFrame({"adresse": [request.points[i].adresse for i in addresses]})
        geocoded, lon, lat, errors = geocode_frame(service.require_geocoder(), table,
                                                   ["adresse"], request.min_score)
        located = index.locate(lon, lat, request.tolerance).to_frame()
        reasons = pd.Series(errors, dtype=object)
        located["erreur"] = reasons.where(reasons.notna(), located["erreur"])
        place(addresses, pd.concat([geocoded.reset_index(drop=True), located], axis=1))
    incomplete = [i for i, k in enumerate(kinds) if k is None]
    if incomplete:
        frame = index.locate(np.full(len(incomplete), np.nan), np.full(len(incomplete), np.nan),
                             request.tolerance).to_frame()
        frame["erreur"] = ERROR_INCOMPLETE
        place(incomplete, frame)
    for point, result in zip(request.points, results, strict=True):
        assert result is not None
        result["id"] = point.id
        if point.lon is not None and point.lat is not None:
            result["lon"], result["lat"] = point.lon, point.lat
        if point.adresse is not None:
            result["adresse"] = point.adresse
    answered = [r for r in results if r is not None]
    return {"generations": list(generations), "millesime_communes": vintage,
            "resume": _summary_of_points(answered, generations), "resultats": answered}


def _summary_of_points(results: list[dict[str, Any]], generations: tuple[int, ...]
                       ) -> dict[str, Any]:
    rows = len(results)
    inside = {str(g): sum(1 for r in results if r["qpv"][str(g)]["code"]) for g in generations}
    return {"lignes": rows, "erreurs": sum(1 for r in results if r["erreur"]),
            "dans_qpv": inside,
            "part_dans_qpv": {g: (n / rows if rows else 0.0) for g, n in inside.items()}}


# -- CSV upload -----------------------------------------------------------------------


def summary_document(summary: BatchSummary, generations: tuple[int, ...]) -> dict[str, Any]:
    """The summary of a located file, as sent in the ``X-QPV-Resume`` header."""
    return {"lignes": summary.rows, "erreurs": summary.errors,
            "dans_qpv": {str(g): summary.inside.get(g, 0) for g in generations},
            "part_dans_qpv": {str(g): round(summary.share_inside(g), 6) for g in generations},
            "qualites": {str(g): summary.qualities.get(g, {}) for g in generations},
            "geocodage": summary.geocoding or None}


def _number_field(form: Any, name: str, default: float, low: float, high: float) -> float:
    text = str(form.get(name) or "").strip().replace(",", ".")
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise CohesionError(f"champ « {name} » invalide : {text!r} (attendu un nombre entre "
                            f"{low:g} et {high:g})") from None
    if not low <= value <= high:
        raise CohesionError(f"champ « {name} » hors bornes : {value:g} (attendu entre {low:g} "
                            f"et {high:g})")
    return value


def _text_field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


async def locate_upload(service: QpvService, request: Request) -> Response:
    """Answer ``POST /api/qpv/locate.csv``: the enriched file and its summary."""
    try:
        form = await request.form(max_files=1, max_fields=20, max_part_size=64 * 1024)
    except Exception as error:  # starlette's MultiPartException, a malformed body
        if isinstance(error, BodyTooLarge):
            raise
        raise CohesionError(f"envoi illisible : un formulaire multipart avec le fichier "
                            f"dans le champ « file » était attendu ({error})") from None
    folder: Path | None = None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise CohesionError("aucun fichier reçu : envoyer le CSV dans le champ « file »")
        name = Path(upload.filename or "points.csv").name
        if not name.lower().endswith(CSV_SUFFIXES):
            return JSONResponse({"error": f"type de fichier non accepté : {name} (attendu un "
                                 f"tableau CSV : {', '.join(CSV_SUFFIXES)})", "status": 415},
                                status_code=415)
        columns = PointColumns(lon=_text_field(form, "lon"), lat=_text_field(form, "lat"),
                               x=_text_field(form, "x"), y=_text_field(form, "y"),
                               crs=_text_field(form, "crs"),
                               addresses=tuple(a.strip() for a in form.getlist("adresse")
                                               if isinstance(a, str) and a.strip()))
        tolerance = _number_field(form, "tolerance", DEFAULT_TOLERANCE, 0, 1000)
        min_score = _number_field(form, "min_score", DEFAULT_MIN_SCORE, 0, 1)
        geocoder = service.require_geocoder() if columns.geocoded else None
        index = await run_in_threadpool(service.index)
        folder = Path(tempfile.mkdtemp(prefix="cohesion-qpv-"))
        source = folder / name
        with source.open("wb") as handle:
            await run_in_threadpool(shutil.copyfileobj, upload.file, handle, 1 << 20)
        await upload.close()
        output = folder / f"{Path(name).stem}_qpv.csv"

        def work() -> BatchSummary:
            opened = InputFile.open(source)
            return locate_file(index, opened, output, columns, geocoder=geocoder,
                               tolerance=tolerance, min_score=min_score)

        summary = await run_in_threadpool(work)
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    document = summary_document(summary, index.generations)
    return FileResponse(output, media_type="text/csv; charset=utf-8", filename=output.name,
                        headers={"X-QPV-Resume": json.dumps(document, ensure_ascii=True),
                                 "X-QPV-Lignes": str(summary.rows),
                                 "X-QPV-Erreurs": str(summary.errors)},
                        background=BackgroundTask(shutil.rmtree, folder, True))


# -- installation ---------------------------------------------------------------------

_CSV_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": f"Le CSV ({megabytes(MAX_LOCATE_UPLOAD_BYTES)} Mo au plus)."},
        "lon": {"type": "string", "description": "Colonne des longitudes (WGS 84)."},
        "lat": {"type": "string", "description": "Colonne des latitudes (WGS 84)."},
        "x": {"type": "string", "description": "Colonne des abscisses (avec y et crs)."},
        "y": {"type": "string", "description": "Colonne des ordonnées."},
        "crs": {"type": "string", "description": "Système de x et y, ex. EPSG:2154."},
        "adresse": {"type": "array", "items": {"type": "string"},
                    "description": "Colonnes de l'adresse, réunies dans l'ordre."},
        "tolerance": {"type": "number", "minimum": 0, "maximum": 1000},
        "min_score": {"type": "number", "minimum": 0, "maximum": 1}}}}}},
    "responses": {"200": {"description": "Le CSV enrichi ; résumé dans l'en-tête "
                                         "X-QPV-Resume (JSON).",
                          "content": {"text/csv": {}}}}}


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the QPV geo-referencing endpoints and page to ``app``.

    The geocoder is read from ``COHESION_GEOCODER`` (see
    :func:`cohesion.geo.geocoding.default_geocoder_url`), the commune → QPV lookups from
    ``COHESION_COMMUNES_QPV`` (paths separated by ``:``); ``app.state.qpv`` is the
    :class:`QpvService`, whose ``geocoder`` and ``lookups`` may be changed.
    """
    url = os.environ.get(GEOCODER_VARIABLE)
    lookups = [Path(p) for p in os.environ.get(LOOKUPS_VARIABLE, "").split(os.pathsep) if p]
    service = QpvService(observatory, AddokGeocoder(url) if url else None, lookups)
    app.state.qpv = service
    hint = "découper le fichier, ou utiliser la commande cohesion qpv locate"
    app.state.body_limits.set(LOCATE_CSV_PATH, MAX_LOCATE_UPLOAD_BYTES, hint)
    app.state.body_limits.set(LOCATE_JSON_PATH, MAX_LOCATE_JSON_BYTES, hint)

    @app.exception_handler(QpvNotLoadedError)
    async def not_loaded(_request: Request, error: QpvNotLoadedError) -> JSONResponse:
        return JSONResponse({"error": str(error), "status": 409}, status_code=409)

    @app.exception_handler(NoGeocoderError)
    async def no_geocoder(_request: Request, error: NoGeocoderError) -> JSONResponse:
        return JSONResponse({"error": str(error), "status": 409}, status_code=409)

    @app.post(LOCATE_JSON_PATH, summary="Localiser des points ou des adresses dans les QPV",
              responses={409: {"description": "Aucun contour de QPV chargé, ou adresses "
                                              "sans géocodeur configuré."}})
    def locate(request: LocateRequest) -> dict[str, Any]:
        """Par point (lon/lat, x/y + crs, ou adresse) : QPV, qualité, distance, bande, commune.

        Pour chaque génération de QPV : code et nom du QPV, qualité (sûr, probable, hors
        QPV, non couvert), distance en mètres, bande ONPV ; et la commune. Un point
        inutilisable garde sa place avec la raison dans « erreur ».
        """
        return locate_points(service, request)

    @app.post(LOCATE_CSV_PATH, summary="Localiser les lignes d'un fichier CSV dans les QPV",
              response_class=Response, openapi_extra=_CSV_BODY)
    async def locate_csv(request: Request) -> Response:
        """Le fichier renvoyé complet, dans l'ordre, avec les colonnes de résultat.

        Avec des colonnes d'adresse, les colonnes de géocodage précèdent celles des QPV ;
        200 Mo au plus ; résumé dans l'en-tête X-QPV-Resume.
        """
        return await locate_upload(service, request)

    @app.get("/qpv", include_in_schema=False)
    def page(request: Request) -> Response:
        return render(request, "qpv.html", active="qpv",
                      generations=service.generations(),
                      geocoder=service.geocoder is not None,
                      limit_mb=megabytes(MAX_LOCATE_UPLOAD_BYTES))


