"""Cohésion: an open information system for territorial cohesion in France.

The public surface is small on purpose::

    >>> import cohesion
    >>> tid = cohesion.TerritoryId.parse("COM:93014@2026")
    >>> tid.level, tid.code, tid.vintage
    ('COM', '93014', 2026)

Data flows one way: official sources → importers → the warehouse (an embedded DuckDB
file) → domain services (territory, indicators) → interfaces (CLI, later the web app).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cohesion.errors import CohesionError, InputFileError, UnknownTerritoryError
from cohesion.territory import TerritoryId

if TYPE_CHECKING:
    from cohesion.store import Warehouse

__all__ = [
    "CohesionError",
    "InputFileError",
    "TerritoryId",
    "UnknownTerritoryError",
    "Warehouse",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import :class:`~cohesion.store.Warehouse` (DuckDB, pandas) on first use.

    ``import cohesion`` stays light, so that ``cohesion --help`` starts fast.
    """
    if name == "Warehouse":
        from cohesion.store import Warehouse

        return Warehouse
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
