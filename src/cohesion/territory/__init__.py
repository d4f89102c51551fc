"""Territory: codes, levels, vintages, hierarchy, geometries and passage tables."""

from cohesion.territory.ids import TerritoryId
from cohesion.territory.levels import BUILTIN_LEVELS, Level
from cohesion.territory.names import search_key
from cohesion.territory.vintages import LATEST_VINTAGE, VINTAGES

__all__ = ["BUILTIN_LEVELS", "LATEST_VINTAGE", "VINTAGES", "Level", "TerritoryId", "search_key"]
