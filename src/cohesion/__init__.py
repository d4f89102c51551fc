"""Cohésion: an open information system for territorial cohesion in France.

The public surface is small on purpose::

    >>> import cohesion
    >>> tid = cohesion.TerritoryId.parse("COM:93014@2026")
    >>> tid.level, tid.code, tid.vintage
    ('COM', '93014', 2026)

Data flows one way: official sources → importers → the warehouse (an embedded DuckDB
file) → domain services (territory, indicators) → interfaces (CLI, later the web app).
"""

from cohesion.errors import CohesionError, InputFileError, UnknownTerritoryError
from cohesion.store import Warehouse
from cohesion.territory import TerritoryId

__all__ = [
    "CohesionError",
    "InputFileError",
    "TerritoryId",
    "UnknownTerritoryError",
    "Warehouse",
]
__version__ = "0.1.0"
