"""Errors raised by Cohésion.

Every error derives from :class:`CohesionError` (itself a :class:`ValueError`, so generic
handlers still catch it) and says what was received, what was expected and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class CohesionError(ValueError):
    """Base class of every error Cohésion raises on purpose."""


class UnknownTerritoryError(CohesionError, LookupError):
    """A territory code, name or postcode that the référentiel does not know."""


class ReferentielMissingError(CohesionError):
    """The warehouse has no référentiel for the vintage asked for."""


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
