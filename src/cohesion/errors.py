"""Errors raised by Cohésion.

Every error derives from :class:`CohesionError` (itself a :class:`ValueError`, so generic
handlers still catch it) and says, in French, what was received, what was expected and
where. Each error has a :class:`ErrorKind`; the interfaces map kinds, never classes, to
their answers, each in one place: :data:`cohesion.web.errors.HTTP_STATUS` for HTTP and
:data:`cohesion.cli.errors.EXIT_CODES` for the command line.

Examples
--------
>>> UnknownTerritoryError("aucun territoire « Atlantide »").kind
<ErrorKind.NOT_FOUND: 'not_found'>
>>> CohesionError("option invalide").kind
<ErrorKind.INVALID: 'invalid'>
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class ErrorKind(enum.Enum):
    """What went wrong, as an interface needs to know it to answer."""

    #: A territory, indicator, dataset or page that does not exist.
    NOT_FOUND = "not_found"
    #: A request (option, parameter, value) that cannot be answered as asked.
    INVALID = "invalid"
    #: A file that cannot be imported or read; nothing was changed.
    BAD_FILE = "bad_file"
    #: A valid request that the current state refuses (no contours loaded, the
    #: warehouse held by another process…).
    CONFLICT = "conflict"
    #: The service is occupied by other work: try again later.
    BUSY = "busy"
    #: A service Cohésion relies on (a geocoder, a download server) did not answer.
    UNAVAILABLE = "unavailable"
    #: Who asks is not known: not signed in, a wrong password, an expired session.
    UNAUTHENTICATED = "unauthenticated"
    #: Who asks is known but may not do this (a role, a forged form token).
    FORBIDDEN = "forbidden"
    #: Too many attempts in too little time (sign-ins, submissions): wait, then retry.
    TOO_MANY = "too_many"


class CohesionError(ValueError):
    """Base class of every error Cohésion raises on purpose."""

    kind: ErrorKind = ErrorKind.INVALID


class NotFoundError(CohesionError, LookupError):
    """Something asked for by name or code that does not exist."""

    kind = ErrorKind.NOT_FOUND


class ConflictError(CohesionError):
    """A valid request that the current state of the data or of the server refuses."""

    kind = ErrorKind.CONFLICT


class BusyError(CohesionError):
    """The service is occupied by other work; the same request may succeed later."""

    kind = ErrorKind.BUSY


class UnavailableError(CohesionError):
    """A service Cohésion relies on did not answer."""

    kind = ErrorKind.UNAVAILABLE


class AuthenticationError(CohesionError):
    """Not signed in, a wrong email or password, an expired or revoked session."""

    kind = ErrorKind.UNAUTHENTICATED


class PermissionDeniedError(CohesionError):
    """A signed-in user whose role does not allow the action, or a forged form."""

    kind = ErrorKind.FORBIDDEN


class RateLimitedError(CohesionError):
    """Too many attempts: an account locked for a while, a submission quota reached.

    Attributes
    ----------
    retry_after : int
        Seconds before a new attempt may succeed.
    """

    kind = ErrorKind.TOO_MANY

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownTerritoryError(NotFoundError):
    """A territory code, name or postcode that the référentiel does not know."""


class ReferentielMissingError(CohesionError):
    """The warehouse has no référentiel for the vintage asked for."""


class WarehouseLockedError(ConflictError):
    """The warehouse file is held by another process (a server, an import)."""


@dataclass
class InputFileError(CohesionError):
    """A file that cannot be imported, with the place of the first problem.

    Attributes
    ----------
    path : Path or str
        The file.
    message : str
        What is wrong, in words a user can act on.
    line : int or None
        1-based line number (as a text editor shows it), when the problem has one.
    column : str or None
        Column name (or number) where the problem is.
    expected, found : str or None
        What the importer expected and what it found.
    """

    kind = ErrorKind.BAD_FILE

    path: Path | str
    message: str
    line: int | None = None
    column: str | None = None
    expected: str | None = None
    found: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [str(self.path)]
        if self.line is not None:
            where.append(f"ligne {self.line}")
        if self.column is not None:
            where.append(f"colonne {self.column}")
        text = f"{', '.join(where)} : {self.message}"
        if self.expected is not None:
            text += f" (attendu {self.expected}"
            text += f", trouvé {self.found!r})" if self.found is not None else ")"
        return text
