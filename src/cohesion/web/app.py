"""The HTTP API (FastAPI, OpenAPI at ``/api/openapi.json``) and the web pages.

Every route is a thin layer over :class:`cohesion.core.Observatory`: it parses its
parameters, calls the core and renders the answer. Errors are answered by
:mod:`cohesion.web.errors`: a 4xx with a clear French message in one shape, and any
unexpected error a 500 without a stack trace (it is logged on the server).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import logging
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, FastAPI, File, Form, Header, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from cohesion.core import Observatory
from cohesion.core.caching import JsonBytes, accepts_gzip
from cohesion.errors import CohesionError, InputFileError
from cohesion.geo.tiles import MAX_ZOOM, TileError
from cohesion.importers import ImportOptions
from cohesion.settings import Settings
from cohesion.store.sharing import HOLD_PATH, RELEASED
from cohesion.web import (
    access,
    analysis,
    barometre,
    innovations,
    innovations_accounts,
    innovations_profiles,
    policies,
    qpv,
)
from cohesion.web.errors import install_error_handlers
from cohesion.web.limits import AdmitRequests, BodyLimits, BodySizeLimit, HeadAsGet
from cohesion.web.pages import install_pages
from cohesion.web.security import install_security_headers, require_admin
from cohesion.web.tables import csv_download

logger = logging.getLogger("cohesion.web")

#: Largest file an administrator may upload (official national files are < 200 MB).
MAX_UPLOAD_BYTES = 256 * 1024 * 1024
UPLOAD_SUFFIXES = (".csv", ".gz", ".xlsx", ".geojson", ".json", ".gpkg", ".zip", ".shp")
LEVEL = Query(pattern=r"^[A-Z][A-Z0-9_]{1,15}$", description="Échelon : COM, EPCI, DEP…")
TERRITORY_ID = r"^[A-Z][A-Z0-9_]{1,15}:[0-9A-Za-z]{1,12}@\d{4}$"


class ErrorBody(BaseModel):
    """The shape of every error answer."""

    error: str = Field(description="Ce qui ne va pas, en clair.")
    status: int


def create_app(observatory: Observatory, settings: Settings | None = None,
               warm: bool = True) -> FastAPI:
    """Build the application around one observatory.

    Parameters
    ----------
    observatory : Observatory
    settings : Settings, optional
        Its ``admin_token`` authorises uploads (``Authorization: Bearer …``); without a
        token, uploads are refused. Default: the observatory's settings.
    warm : bool
        Compute the key indicators at start so that the first portraits are fast.
    """
    settings = settings or observatory.settings
    app = FastAPI(title="Cohésion", version="0.1.0", openapi_url="/api/openapi.json",
                  docs_url="/api/docs", redoc_url=None,
                  description="API de l'observatoire de la cohésion des territoires. "
                  "Données : INSEE, IGN, ANCT, Etalab (Licence Ouverte 2.0).",
                  responses={400: {"model": ErrorBody}, 404: {"model": ErrorBody},
                             422: {"model": ErrorBody}})
    app.state.observatory = observatory
    app.state.settings = settings
    app.state.body_limits = BodyLimits(MAX_UPLOAD_BYTES)
    app.add_middleware(BodySizeLimit, limits=app.state.body_limits)
    app.add_middleware(AdmitRequests, shared=observatory.shared)
    app.add_middleware(HeadAsGet)
    install_security_headers(app)
    app.state.control_token = observatory.shared.token
    if warm:
        observatory.warm()
    install_error_handlers(app, validation_message)

    @app.get("/api/territories", summary="Chercher des territoires")
    def search(q: Annotated[str, Query(min_length=1, max_length=100)],
               vintage: Annotated[int | None, Query(ge=1900, le=2100)] = None,
               level: Annotated[str | None, LEVEL] = None,
               limit: Annotated[int, Query(ge=1, le=100)] = 10) -> list[dict[str, Any]]:
        """Par nom (sans accents ni majuscules), code ou code postal."""
        return observatory.search(q, vintage, level, limit)

    @app.get("/api/territories/{territory_id}", summary="Un territoire")
    def territory(territory_id: Annotated[str, _territory_path()]) -> dict[str, Any]:
        """Le territoire, sa population, sa superficie et ses territoires englobants."""
        return observatory.territory(territory_id)

    @app.get("/api/territories/{territory_id}/members", summary="Territoires contenus")
    def members(territory_id: Annotated[str, _territory_path()],
                level: Annotated[str, LEVEL] = "COM") -> list[dict[str, Any]]:
        """Les communes (ou un autre échelon) d'un territoire."""
        return observatory.members(territory_id, level)

    @app.get("/api/levels", summary="Échelons géographiques")
    def levels() -> list[dict[str, Any]]:
        """Échelons (communes… régions, QPV, zonages importés).

        Pour chaque millésime : le nombre de territoires et combien ont un contour.
        """
        return observatory.levels()

    @app.get("/api/indicators", summary="Catalogue des indicateurs")
    def indicators() -> list[dict[str, Any]]:
        """Définitions, sources et périodes disponibles."""
        return observatory.indicators()

    @app.get("/api/indicators/{indicator_id}", summary="Un indicateur")
    def indicator(indicator_id: Annotated[str, _identifier()]) -> dict[str, Any]:
        """Définition, mode d'agrégation et périodes d'un indicateur."""
        return observatory.indicator(indicator_id)

    @app.get("/api/values", summary="Valeurs d'un indicateur pour un échelon",
             response_class=Response, responses=_JSON_OR_CSV)
    async def values(request: Request,
                     indicator: Annotated[str, _identifier(query=True)],
                     level: Annotated[str, LEVEL] = "DEP",
                     vintage: Annotated[int | None, Query(ge=1900, le=2100)] = None,
                     period: Annotated[str | None,
                                       Query(pattern=r"^[0-9*][0-9-]{0,20}$")] = None,
                     within: Annotated[str | None, Query(pattern=TERRITORY_ID)] = None,
                     limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
                     offset: Annotated[int, Query(ge=0)] = 0,
                     format: Annotated[str, Query(pattern="^(json|columns|csv)$")] = "json"
                     ) -> Response:
        """Valeurs, raisons des valeurs manquantes et couverture ; JSON ou CSV.

        ``format=columns`` : le même JSON, ses ``values`` par colonne (une liste par
        champ : ``code``, ``name``, ``value``, ``missing``, ``coverage``), deux fois
        plus court ; ce que lit la carte.
        """
        if format == "csv":
            table = await run_in_threadpool(observatory.selection_table, [indicator], level,
                                            vintage, period, within)
            return _csv_response(table.iloc[offset: None if limit is None
                                            else offset + limit], indicator)
        body = await _cached_or_threaded(observatory.values_json, indicator, level,
                                         vintage, period, within, limit, offset,
                                         format == "columns")
        return _json_bytes(request, body)

    @app.get("/api/portrait/{territory_id}", summary="Portrait d'un territoire",
             response_class=Response, responses=_JSON)
    async def portrait(request: Request, territory_id: Annotated[str, _territory_path()],
                       period: Annotated[str | None,
                                         Query(pattern=r"^[0-9][0-9-]{3,20}$")] = None
                       ) -> Response:
        """Chiffres clés comparés au département, à la région et à la France."""
        body = await _cached_or_threaded(observatory.portrait_json,
                                         territory_id, period)
        return _json_bytes(request, body)

    @app.get("/api/compare", summary="Comparer des territoires")
    def compare(ids: Annotated[str, Query(min_length=3, max_length=2000,
                                          description="Identifiants séparés par des virgules")],
                indicators: Annotated[str | None, Query(max_length=2000)] = None,
                period: Annotated[str | None, Query(pattern=r"^[0-9][0-9-]{3,20}$")] = None
                ) -> dict[str, Any]:
        """N territoires côte à côte (même millésime)."""
        chosen = [i.strip() for i in ids.split(",") if i.strip()]
        if len(chosen) > 20:
            raise CohesionError("comparez au plus 20 territoires à la fois")
        wanted = [i.strip() for i in indicators.split(",") if i.strip()] if indicators \
            else None
        return observatory.compare(chosen, wanted, period)

    @app.get("/api/geometry/{level}", summary="Contours simplifiés d'un échelon",
             response_class=Response,
             responses={200: {"content": {"application/geo+json": {}}}})
    def geometry(request: Request, level: Annotated[str, _level_path()],
                 vintage: Annotated[int | None, Query(ge=1900, le=2100)] = None) -> Response:
        """GeoJSON simplifié (compressé gzip) ; les valeurs viennent de /api/values."""
        return _gzipped_response(request, observatory.geometry(level, vintage),
                                 "application/geo+json")

    @app.get("/api/tiles/{level}/{vintage}/{z}/{x}/{y}.pbf",
             summary="Tuile vectorielle des contours d'un échelon", response_class=Response,
             responses={200: {"content": {"application/vnd.mapbox-vector-tile": {}}}})
    async def tile(request: Request, level: Annotated[str, _level_path()],
                   vintage: Annotated[int, PathParam(ge=1900, le=2100)],
                   z: Annotated[int, PathParam(ge=0, le=MAX_ZOOM)],
                   x: Annotated[int, PathParam(ge=0)],
                   y: Annotated[int, PathParam(ge=0)]) -> Response:
        """Mapbox Vector Tile (couche ``territoires``, propriété ``code``), compressée gzip.

        Les contours sont simplifiés pour chaque zoom ; les valeurs viennent de
        /api/values et se joignent sur le code.
        """
        if x >= 2**z or y >= 2**z:
            raise HTTPException(404, f"pas de tuile {z}/{x}/{y} (au zoom {z}, x et y "
                                     f"vont de 0 à {2**z - 1})")
        body = observatory.tile(level, vintage, z, x, y, compute=False)
        if body is None:
            try:
                body = await run_in_threadpool(observatory.tile, level, vintage, z, x, y)
            except TileError:
                raise TileError(f"pas de contours pour l'échelon {level} en {vintage}") \
                    from None
        return _gzipped_response(request, body, "application/vnd.mapbox-vector-tile")

    @app.get("/api/datasets", summary="Jeux de données importés")
    def datasets() -> list[dict[str, Any]]:
        """Provenance, licence et périodes de chaque fichier importé."""
        return observatory.datasets()

    @app.post("/api/datasets", summary="Importer un fichier officiel (administrateur)",
              dependencies=[Depends(require_admin)], status_code=201)
    async def upload(file: Annotated[UploadFile, File()],
                     importer: Annotated[str, Form(pattern=r"^[a-z][a-z0-9-]{1,40}$")],
                     vintage: Annotated[int | None, Form(ge=1900, le=2100)] = None
                     ) -> dict[str, Any]:
        """Import tout-ou-rien, avec les mêmes contrôles et messages que la CLI."""
        name = Path(file.filename or "upload").name
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise HTTPException(415, f"type de fichier non accepté : {name} (attendu : "
                                     f"{', '.join(UPLOAD_SUFFIXES)})")
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / name
            size = 0
            with target.open("wb") as handle:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        raise HTTPException(413, "fichier trop volumineux (limite "
                                                 f"{MAX_UPLOAD_BYTES // 2**20} Mo)")
                    handle.write(chunk)
            try:
                report = observatory.import_file(importer, target,
                                                 ImportOptions(vintage=vintage))
            except InputFileError as error:
                # the reader sent a file called `name`: the server's folder is no concern
                # of theirs, and must not be disclosed
                raise dataclasses.replace(
                    error, path=name, message=error.message.replace(folder + "/", "")
                ) from None
            except CohesionError as error:
                raise CohesionError(str(error).replace(folder + "/", "")) from None
        return {"dataset_id": report.dataset_id, "already_imported": report.already_imported,
                "rows": report.rows, "observations": report.observations,
                "vintage": report.vintage, "periods": report.periods, "notes": report.notes}

    @app.post(HOLD_PATH, include_in_schema=False)
    async def hold(request: Request,
                   authorization: Annotated[str | None, Header()] = None) -> Response:
        """Let go of the warehouse while the caller's connection stays open.

        Called by a local ``cohesion import`` (or build, fetch) with the token of the
        server file; the server reopens the warehouse when the connection closes.
        """
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given.encode(), observatory.shared.token.encode()):
            raise HTTPException(401, "jeton de contrôle manquant ou invalide")
        released = observatory.shared.released()
        await run_in_threadpool(released.__enter__)

        async def until_closed() -> AsyncIterator[bytes]:
            try:
                yield RELEASED
                while not await request.is_disconnected():
                    await asyncio.sleep(0.2)
            finally:
                # not awaited: a cancelled request must reopen the warehouse all the same
                released.__exit__(None, None, None)

        return StreamingResponse(until_closed(), media_type="text/plain")

    install_pages(app, observatory, prepare=warm)
    for part in (qpv, analysis, barometre, access, innovations, innovations_accounts,
                 innovations_profiles, policies):
        part.install(app, observatory)
    return app


def _territory_path() -> Any:
    return PathParam(pattern=TERRITORY_ID, description="Identifiant LEVEL:CODE@MILLESIME, "
                     "par exemple COM:93014@2026")


def _level_path() -> Any:
    return PathParam(pattern=r"^[A-Z][A-Z0-9_]{1,15}$", description="Échelon : COM, DEP…")


def _identifier(query: bool = False) -> Any:
    kind = Query if query else PathParam
    return kind(pattern=r"^[a-z0-9_]{1,80}$", description="Identifiant d'indicateur")


_JSON = {200: {"content": {"application/json": {}}}}
_JSON_OR_CSV = {200: {"content": {"application/json": {}, "text/csv": {}}}}


async def _cached_or_threaded(answer: Callable[..., JsonBytes | None],
                              *arguments: Any) -> JsonBytes:
    """Answer from the cache on the event loop, or compute in a worker thread.

    Cached answers (the common case) take microseconds; a computation goes to a
    worker thread so that the loop keeps serving the other clients.
    """
    found = answer(*arguments, compute=False)
    return found if found is not None else await run_in_threadpool(answer, *arguments)


def _json_bytes(request: Request, body: JsonBytes) -> Response:
    """Send prepared JSON, gzip-compressed when the client accepts it."""
    if body.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding")):
        return Response(body.gzipped, media_type="application/json",
                        headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return Response(body.plain, media_type="application/json",
                    headers={"Vary": "Accept-Encoding"})


def _gzipped_response(request: Request, body: bytes, media_type: str) -> Response:
    """Send a body kept gzip-compressed (contours, tiles), inflated for a client without gzip."""
    headers = {"Cache-Control": "public, max-age=3600", "Vary": "Accept-Encoding"}
    if accepts_gzip(request.headers.get("accept-encoding")):
        return Response(body, media_type=media_type,
                        headers=headers | {"Content-Encoding": "gzip"})
    return Response(gzip.decompress(body), media_type=media_type, headers=headers)


def _csv_response(table: pd.DataFrame, indicator: str) -> Response:
    """The table of :meth:`Observatory.selection_table`, as ``cohesion export`` writes it."""
    period = table.attrs["sources"][indicator]["period"]
    filename = f"{indicator}_{table.attrs['level']}_{table.attrs['vintage']}_{period}.csv"
    return csv_download(table, filename)


#: French wording of pydantic's validation errors, by error type ({…} from its context).
VALIDATION_MESSAGES = {
    "missing": "obligatoire, absent de la demande",
    "string_pattern_mismatch": "ne respecte pas la forme attendue ({pattern})",
    "string_too_short": "trop court (au moins {min_length} caractère(s))",
    "string_too_long": "trop long (au plus {max_length} caractères)",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "greater_than": "doit être supérieur à {gt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "less_than": "doit être inférieur à {lt}",
    "int_parsing": "un nombre entier est attendu",
    "int_type": "un nombre entier est attendu",
    "int_from_float": "un nombre entier est attendu",
    "float_parsing": "un nombre est attendu",
    "float_type": "un nombre est attendu",
    "finite_number": "un nombre fini est attendu",
    "bool_parsing": "true ou false est attendu",
    "literal_error": "valeurs acceptées : {expected}",
    "enum": "valeurs acceptées : {expected}",
    "json_invalid": "le corps de la demande n'est pas du JSON valide",
    "model_attributes_type": "un objet JSON est attendu",
    "dict_type": "un objet JSON est attendu",
    "list_type": "une liste est attendue",
    "string_type": "un texte est attendu",
    "too_long": "trop d'éléments (au plus {max_length})",
    "too_short": "pas assez d'éléments (au moins {min_length})",
    "extra_forbidden": "paramètre inconnu",
}
#: Where a parameter was read, in French.
VALIDATION_PLACES = {"query": "dans l'adresse", "path": "dans le chemin",
                     "body": "dans le corps", "header": "dans les en-têtes"}


def validation_message(error: dict[str, Any]) -> str:
    """One pydantic validation error in French.

    It says which parameter, what is expected and what was received.
    """
    if error.get("type") == "json_invalid":
        return "corps de la demande illisible : ce n'est pas du JSON valide (erreur au " \
               f"caractère {error.get('loc', ('', '?'))[-1]})"
    place, *names = [str(part) for part in error.get("loc", ())] or ["?"]
    name = ".".join(names) or place
    template = VALIDATION_MESSAGES.get(error.get("type", ""))
    try:
        what = template.format(**(error.get("ctx") or {})) if template \
            else error.get("msg", "invalide")
    except (KeyError, IndexError):
        what = error.get("msg", "invalide")
    received = error.get("input")
    shown = f" (reçu : {received!r})" if isinstance(received, (str, int, float)) and \
        len(repr(received)) <= 60 and error.get("type") != "missing" and \
        repr(received) not in what else ""
    return f"paramètre invalide « {name} » {VALIDATION_PLACES.get(place, '')} : " \
           f"{what}{shown}".replace("  ", " ")
