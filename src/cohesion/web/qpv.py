"""QPV geo-referencing over HTTP: the API endpoints and the ``/qpv`` page.

- ``POST /api/qpv/locate``: a JSON list of points (longitude/latitude, x/y in a CRS, or
  an address), answered point by point;
- ``POST /api/qpv/locate.csv``: a CSV file uploaded (multipart), answered with the same
  file enriched with the result columns (as ``cohesion qpv locate`` writes it) and a
  summary in the ``X-QPV-Resume`` header (JSON: rows, rows in error, rows and share in
  a QPV by generation, geocoding qualities). Uploads are limited to
  :data:`MAX_LOCATE_UPLOAD_BYTES`, refused before they are read;
- ``GET /qpv``: the page, a form for one address or point and a file upload.

Both answer through :class:`cohesion.core.qpv.QpvService`, as ``cohesion qpv locate``
does: the same index, commune lists and geocoder.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from cohesion.core import Observatory
from cohesion.core.qpv import Point, QpvService, summary_document
from cohesion.errors import CohesionError
from cohesion.geo.batch import BatchSummary, InputFile, PointColumns
from cohesion.geo.geocoding import (
    DEFAULT_MIN_SCORE,
)
from cohesion.geo.locate import DEFAULT_TOLERANCE
from cohesion.web.limits import BodyTooLarge, megabytes
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


# -- CSV upload -----------------------------------------------------------------------


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
        index = await run_in_threadpool(service.index)
        folder = Path(tempfile.mkdtemp(prefix="cohesion-qpv-"))
        source = folder / name
        with source.open("wb") as handle:
            await run_in_threadpool(shutil.copyfileobj, upload.file, handle, 1 << 20)
        await upload.close()
        output = folder / f"{Path(name).stem}_qpv.csv"

        def work() -> BatchSummary:
            return service.locate_file(InputFile.open(source), output, columns, index,
                                       tolerance, min_score)

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

    They answer through the observatory's :class:`~cohesion.core.qpv.QpvService`: its
    index, commune lists and geocoder are those of the command line.
    """
    service = observatory.qpv
    hint = "découper le fichier, ou utiliser la commande cohesion qpv locate"
    app.state.body_limits.set(LOCATE_CSV_PATH, MAX_LOCATE_UPLOAD_BYTES, hint)
    app.state.body_limits.set(LOCATE_JSON_PATH, MAX_LOCATE_JSON_BYTES, hint)

    @app.post(LOCATE_JSON_PATH, summary="Localiser des points ou des adresses dans les QPV",
              responses={409: {"description": "Aucun contour de QPV chargé."},
                         502: {"description": "Géocodeur injoignable (adresses)."}})
    def locate(request: LocateRequest) -> dict[str, Any]:
        """Par point (lon/lat, x/y + crs, ou adresse) : QPV, qualité, distance, bande, commune.

        Pour chaque génération de QPV : code et nom du QPV, qualité (sûr, probable, hors
        QPV, non couvert), distance en mètres, bande ONPV ; et la commune. Un point
        inutilisable garde sa place avec la raison dans « erreur ».
        """
        points = [Point(**point.model_dump()) for point in request.points]
        return service.locate_points(points, request.tolerance, request.min_score)

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
                      geocoder=observatory.settings.geocoder_url(),
                      limit_mb=megabytes(MAX_LOCATE_UPLOAD_BYTES))


