"""QPV geo-referencing over HTTP: the API endpoints and the ``/qpv`` page.

- ``POST /api/qpv/locate``: a JSON list of points (longitude/latitude, x/y in a CRS, or
  an address), answered point by point;
- ``POST /api/qpv/locate.csv``: a CSV file uploaded (multipart), answered with the same
  file enriched with the result columns (as ``cohesion qpv locate`` writes it) and a
  summary in the ``X-QPV-Resume`` header (JSON: rows, rows in error, and by
  generation the rows in a QPV, the rows covered by the loaded contours and the share
  of them in a QPV, the rows not covered with their départements and the reason, the
  quality classes, the ONPV bands; geocoding qualities; see
  :func:`cohesion.core.qpv.summary_document`). Uploads are limited to
  :data:`MAX_LOCATE_UPLOAD_BYTES`, refused before they are read; a file of more than
  :data:`~cohesion.geo.batch.MAX_POINT_FILE_COLUMNS` columns, or whose header or first
  lines are too long (:func:`~cohesion.importers.reading.check_line_lengths`), is
  refused before it is parsed;
- ``GET /qpv``: the page, a form for one address or point and a file upload.

Both answer through :class:`cohesion.core.qpv.QpvService`, as ``cohesion qpv locate``
does: the same index, commune lists and geocoder. Their fields follow the same rules
(:data:`Crs`, :data:`Tolerance`, :data:`MinScore`): a form field is checked as the JSON
field of the same name, and refused with the same status and message.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from cohesion.core import Observatory
from cohesion.core.qpv import Point, QpvService, summary_document
from cohesion.errors import CohesionError
from cohesion.geo.batch import BatchSummary, InputFile, PointColumns, check_crs
from cohesion.geo.geocoding import (
    DEFAULT_MIN_SCORE,
)
from cohesion.geo.locate import BANDS, DEFAULT_TOLERANCE, QUALITIES
from cohesion.web.limits import BodyTooLarge, megabytes
from cohesion.web.pages import render

logger = logging.getLogger("cohesion.web")

#: Largest CSV file located at once through the API (lower than the application's
#: general upload limit: the file is then read again and written enriched).
MAX_LOCATE_UPLOAD_BYTES = 200 * 2**20
#: Largest JSON body of ``/api/qpv/locate``.
MAX_LOCATE_JSON_BYTES = 8 * 2**20
MAX_JSON_POINTS = 10_000
#: Most address columns of an upload, and longest column and file names.
MAX_ADDRESS_COLUMNS = 10
MAX_NAME_LENGTH = 255
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
#: Fields of the upload form besides the file, and largest field (the file aside).
MAX_FORM_FIELDS = 20
MAX_FIELD_BYTES = 64 * 1024
LOCATE_CSV_PATH = "/api/qpv/locate.csv"
LOCATE_JSON_PATH = "/api/qpv/locate"
#: The answer of ``POST /api/qpv/locate``, in the OpenAPI document (French).
LOCATE_DESCRIPTION = (
    "Pour chaque génération de QPV : code et nom du QPV, qualité "
    f"({', '.join(QUALITIES)}), distance en mètres au QPV le plus proche, bande ONPV "
    f"({', '.join(BANDS)} ; « < 300 m » est le seuil des collèges « relevant de la "
    "politique de la ville » de l'Observatoire des territoires, « < 500 m » va de 300 à "
    "500 m) ; et la commune. Un point inutilisable garde sa place avec la raison dans "
    "« erreur ». Le résumé compte les lignes par génération : dans un QPV, couvertes, par "
    "bande (« bandes », de la plus proche à la plus lointaine), non couvertes.")


# -- fields shared by both endpoints ---------------------------------------------------


def _known_crs(crs: str) -> str:
    """:func:`~cohesion.geo.batch.check_crs` as a field check (a 422 like the others)."""
    try:
        return check_crs(crs)
    except CohesionError as error:
        raise PydanticCustomError("crs_unknown", str(error)) from None


#: A coordinate reference system PROJ knows, such as ``EPSG:2154``.
Crs = Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9:_ .-]+$",
                           description="Système de x et y, par exemple EPSG:2154."),
                AfterValidator(_known_crs)]
#: Metres from a QPV border within which a point is « probable ».
Tolerance = Annotated[float, Field(ge=0, le=1000, description="Mètres d'une limite de QPV "
                                   "en deçà desquels un point est « probable ».")]
#: Geocoding score under which an address is « incertaine ».
MinScore = Annotated[float, Field(ge=0, le=1, description="Score de géocodage minimal "
                                  "(adresses).")]
#: A column of the uploaded file.
ColumnName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]


# -- JSON points ----------------------------------------------------------------------


class PointIn(BaseModel):
    """One point: ``lon`` and ``lat``, or ``x``, ``y`` and ``crs``, or ``adresse``."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, max_length=200, description="Identifiant recopié tel quel.")
    lon: float | None = Field(None, description="Longitude WGS 84 (degrés).")
    lat: float | None = Field(None, description="Latitude WGS 84 (degrés).")
    x: float | None = Field(None, description="Abscisse dans le système `crs`.")
    y: float | None = Field(None, description="Ordonnée dans le système `crs`.")
    crs: Crs | None = None
    adresse: str | None = Field(None, max_length=1000,
                                description="Adresse postale, géocodée par addok.")


class LocateRequest(BaseModel):
    """Points to locate."""

    model_config = ConfigDict(extra="forbid")

    points: list[PointIn] = Field(min_length=1, max_length=MAX_JSON_POINTS)
    tolerance: Tolerance = DEFAULT_TOLERANCE
    min_score: MinScore = DEFAULT_MIN_SCORE


# -- CSV upload -----------------------------------------------------------------------


class LocateFileFields(BaseModel):
    """The form fields of ``POST /api/qpv/locate.csv`` besides the file.

    The columns holding ``lon`` and ``lat``, or ``x`` and ``y`` (with the ``crs`` they
    are in), or the ``adresse`` (repeated, in order); ``crs``, ``tolerance`` and
    ``min_score`` follow the rules of the JSON endpoint.
    """

    model_config = ConfigDict(extra="forbid")

    lon: ColumnName | None = None
    lat: ColumnName | None = None
    x: ColumnName | None = None
    y: ColumnName | None = None
    crs: Crs | None = None
    adresse: list[ColumnName] = Field(default_factory=list, max_length=MAX_ADDRESS_COLUMNS)
    tolerance: Tolerance = DEFAULT_TOLERANCE
    min_score: MinScore = DEFAULT_MIN_SCORE

    @classmethod
    def of_form(cls, form: Any) -> LocateFileFields:
        """Check the fields of a form; a field left empty takes its default.

        Raises
        ------
        RequestValidationError
            As the JSON endpoint does for a bad field (answered 422, in French).
        """
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if key == "file":
                continue
            text = value.strip() if isinstance(value, str) else value
            if text == "":
                continue
            if key == "adresse":
                fields.setdefault(key, []).append(text)
            else:
                fields[key] = text
        try:
            return cls.model_validate(fields)
        except ValidationError as error:
            raise RequestValidationError([{**found, "loc": ("body", *found["loc"])}
                                          for found in error.errors()]) from None

    def columns(self) -> PointColumns:
        """The columns to read, named in messages by these fields' names."""
        return PointColumns(lon=self.lon, lat=self.lat, x=self.x, y=self.y, crs=self.crs,
                            addresses=tuple(self.adresse))


async def locate_upload(service: QpvService, request: Request) -> Response:
    """Answer ``POST /api/qpv/locate.csv``: the enriched file and its summary."""
    try:
        form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS,
                                  max_part_size=MAX_FIELD_BYTES)
    except Exception as error:  # starlette's MultiPartException, a malformed body
        if isinstance(error, BodyTooLarge):
            raise
        raise CohesionError(
            "envoi illisible : un formulaire multipart/form-data était attendu, avec le "
            f"fichier dans le champ « file » et au plus {MAX_FORM_FIELDS} autres champs "
            f"de {MAX_FIELD_BYTES // 1024} Ko chacun") from None
    folder: Path | None = None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise CohesionError("aucun fichier reçu : envoyer le CSV dans le champ « file »")
        fields = LocateFileFields.of_form(form)
        columns = fields.columns()
        name = Path(upload.filename or "points.csv").name
        if len(name) > MAX_NAME_LENGTH:
            raise CohesionError(f"nom de fichier trop long : {len(name)} caractères, "
                                f"{MAX_NAME_LENGTH} au plus")
        if not name.lower().endswith(CSV_SUFFIXES):
            return JSONResponse({"error": f"type de fichier non accepté : {name} (attendu un "
                                 f"tableau CSV : {', '.join(CSV_SUFFIXES)})", "status": 415},
                                status_code=415)
        index = await run_in_threadpool(service.index)
        folder = Path(tempfile.mkdtemp(prefix="cohesion-qpv-"))
        # on disk under names of ours; the user's name is the one every message gives
        source = folder / f"points{Path(name).suffix.lower()}"
        with source.open("wb") as handle:
            await run_in_threadpool(shutil.copyfileobj, upload.file, handle, 1 << 20)
        await upload.close()
        output = folder / "resultat.csv"

        def work() -> BatchSummary:
            return service.locate_file(InputFile.open(source, name), output, columns, index,
                                       fields.tolerance, fields.min_score)

        summary = await run_in_threadpool(work)
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    document = summary_document(summary, index.generations)
    return FileResponse(output, media_type="text/csv; charset=utf-8",
                        filename=f"{Path(name).stem}_qpv.csv",
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
    "responses": {"200": {"description": "Le CSV enrichi (colonne bande_onpv_G : "
                                         f"{', '.join(BANDS)}) ; résumé dans l'en-tête "
                                         "X-QPV-Resume (JSON, avec les lignes par bande).",
                          "content": {"text/csv": {}}}}}


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the QPV geo-referencing endpoints and page to ``app``.

    They answer through the observatory's :class:`~cohesion.core.qpv.QpvService`: its
    index, commune lists and geocoder are those of the command line.
    """
    service = observatory.qpv
    app.state.body_limits.set(LOCATE_CSV_PATH, MAX_LOCATE_UPLOAD_BYTES, "découper le "
                              "fichier, ou utiliser la commande cohesion qpv locate")
    app.state.body_limits.set(LOCATE_JSON_PATH, MAX_LOCATE_JSON_BYTES, "envoyer au plus "
                              f"{MAX_JSON_POINTS:,} points par demande".replace(",", "\u202f")
                              + f", ou un fichier CSV à {LOCATE_CSV_PATH}")

    @app.post(LOCATE_JSON_PATH, summary="Localiser des points ou des adresses dans les QPV",
              description=LOCATE_DESCRIPTION,
              responses={409: {"description": "Aucun contour de QPV chargé."},
                         502: {"description": "Géocodeur injoignable (adresses)."}})
    def locate(request: LocateRequest) -> dict[str, Any]:
        """Par point (lon/lat, x/y + crs, ou adresse) : QPV, qualité, distance, bande, commune.

        Pour chaque génération de QPV : code et nom du QPV, qualité, distance en mètres,
        bande ONPV ; et la commune (:data:`LOCATE_DESCRIPTION`, la description OpenAPI).
        """
        points = [Point(**point.model_dump()) for point in request.points]
        return service.locate_points(points, request.tolerance, request.min_score)

    @app.post(LOCATE_CSV_PATH, summary="Localiser les lignes d'un fichier CSV dans les QPV",
              response_class=Response, openapi_extra=_CSV_BODY)
    async def locate_csv(request: Request) -> Response:
        """Le fichier renvoyé complet, dans l'ordre, avec les colonnes de résultat.

        Avec des colonnes d'adresse, les colonnes de géocodage précèdent celles des QPV ;
        200 Mo au plus ; résumé dans l'en-tête X-QPV-Resume (avec les lignes par bande
        ONPV, dans l'ordre des bandes).
        """
        return await locate_upload(service, request)

    @app.get("/qpv", include_in_schema=False)
    def page(request: Request) -> Response:
        return render(request, "qpv.html", active="qpv",
                      generations=service.generations(),
                      geocoder=observatory.settings.geocoder_url(),
                      limit_mb=megabytes(MAX_LOCATE_UPLOAD_BYTES))


