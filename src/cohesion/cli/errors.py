"""How the command line answers an error: one exit code per kind of error.

Exit codes: 0 success, 1 a request that cannot be answered as asked (bad option value,
missing data), 2 wrong usage (click's own), 3 a file that cannot be imported (the
warehouse is unchanged), 4 an unknown territory, indicator or dataset, 5 a conflict
with the state of the data (the warehouse held by another process, no contours
loaded), 6 busy, 7 a service that did not answer (a geocoder, a download server), 8
not signed in or a wrong password, 9 not allowed, 10 too many attempts.
"""

from __future__ import annotations

from cohesion.errors import CohesionError, ErrorKind

EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 1,
    ErrorKind.BAD_FILE: 3,
    ErrorKind.NOT_FOUND: 4,
    ErrorKind.CONFLICT: 5,
    ErrorKind.BUSY: 6,
    ErrorKind.UNAVAILABLE: 7,
    ErrorKind.UNAUTHENTICATED: 8,
    ErrorKind.FORBIDDEN: 9,
    ErrorKind.TOO_MANY: 10,
}
#: Exit code of an unexpected error (a defect: the message says how to see the detail).
EXIT_INTERNAL = 1


def exit_code(error: CohesionError) -> int:
    """The exit code of ``error``, from its kind.

    Examples
    --------
    >>> from cohesion.errors import InputFileError
    >>> exit_code(InputFileError("base.csv", "fichier vide"))
    3
    """
    return EXIT_CODES[error.kind]
