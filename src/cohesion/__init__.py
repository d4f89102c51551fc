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

import os
from typing import TYPE_CHECKING, Any

# Arrow's memory from the system allocator (glibc), unless told otherwise. Cohésion works
# in chunks of like sizes (the QPV batch, imports, the tiles); glibc hands a chunk the
# memory the previous one freed, where mimalloc, Arrow's default, gives the pages back to
# the kernel within milliseconds and the next chunk takes them again, zeroed: 0.2 s of
# system time for a million rows of the QPV batch, a tenth of its CPU (measured). Read by
# Arrow when it starts, so only when Cohésion is imported before pyarrow, as by its
# command line, its server and its benchmarks.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

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
