"""How the web answers an error: one HTTP status per kind, one shape, no stack trace.

API routes (``/api/…``) answer ``{"error": "…", "status": N}`` in JSON; pages answer the
same status with the error page. The mapping of kinds to statuses is
:data:`HTTP_STATUS`; an unexpected error is logged and answered 500 « erreur interne du
serveur », never with its details. The framework's own refusals (unknown address, wrong
method, a body it cannot read) are answered in French in the same shape.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from cohesion.errors import CohesionError, ErrorKind

logger = logging.getLogger("cohesion.web")

HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.BAD_FILE: 422,
    ErrorKind.UNAVAILABLE: 502,
    ErrorKind.BUSY: 503,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.TOO_MANY: 429,
}
#: Titles of the error page, by status.
PAGE_TITLES = {400: "Demande invalide", 404: "Page ou territoire introuvable",
               409: "Demande impossible pour l'instant", 422: "Fichier illisible",
               502: "Service indisponible", 503: "Serveur occupé",
               401: "Connexion nécessaire", 403: "Action non autorisée",
               429: "Trop de tentatives",
               500: "Erreur interne"}
INTERNAL = "erreur interne du serveur"
#: What FastAPI says of a body it cannot read (a malformed form, a body cut short).
UNREADABLE_BODY = "There was an error parsing the body"
#: The framework's default details (English reason phrases), by status.
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def status_of(error: CohesionError) -> int:
    """The HTTP status of ``error``, from its kind.

    Examples
    --------
    >>> from cohesion.errors import UnknownTerritoryError
    >>> status_of(UnknownTerritoryError("aucun territoire"))
    404
    """
    return HTTP_STATUS[error.kind]


def error_response(request: Request, status: int, message: str,
                   retry_after: int | None = None) -> Response:
    """The answer to an error: JSON for the API, the error page otherwise.

    A 503 (busy) and a 429 (too many attempts) say when to try again (``Retry-After``).
    """
    if status in (429, 503):
        retry_after = retry_after or 5
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    if request.url.path.startswith("/api") or not hasattr(request.app.state, "templates"):
        return JSONResponse({"error": message, "status": status}, status_code=status,
                            headers=headers)
    from cohesion.web.pages import render

    return render(request, "erreur.html", status, title=PAGE_TITLES.get(status, "Erreur"),
                  message=message, headers=headers)


def http_message(request: Request, error: HTTPException) -> str:
    """The French message of an HTTP refusal: ours as raised, the framework's translated."""
    status = error.status_code
    if status == 405:
        return f"méthode {request.method} non acceptée à l'adresse {request.url.path}"
    # a body FastAPI cannot read, or a form starlette's parser refuses (its English
    # message is the detail, the parser's exception the context)
    if error.detail == UNREADABLE_BODY or isinstance(error.__context__, MultiPartException):
        return ("corps de la demande illisible : un formulaire (multipart/form-data) ou un "
                "objet JSON bien formé était attendu")
    if error.detail != _PHRASES.get(status):
        return str(error.detail)
    if status == 404:
        return f"aucune page à l'adresse {request.url.path}"
    return f"{PAGE_TITLES.get(status, 'demande refusée').lower()} (HTTP {status})"


def install_error_handlers(app: FastAPI, validation_message: object) -> None:
    """Answer every error of ``app`` through :func:`error_response`."""
    @app.exception_handler(CohesionError)
    async def cohesion_error(request: Request, error: CohesionError) -> Response:
        return error_response(request, status_of(error), str(error),
                              getattr(error, "retry_after", None))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        return error_response(request, error.status_code, http_message(request, error))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        found = error.errors()
        return error_response(request, 422, validation_message(found[0] if found else {}))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        logger.exception("unexpected error", exc_info=error)
        return error_response(request, 500, INTERNAL)
