"""The baromètre de la cohésion des territoires, for every interface, cached.

:class:`BarometreService` reads a territory's baromètre, a fact sheet or the summary of
every fact sheet through :mod:`cohesion.analysis.barometre_data`, with the observatory's
cached indicator values, so that the command line (``cohesion analysis barometre``,
``fiche``, ``fiches``), the API and the pages show the same figures. It returns the
domain objects; each interface renders them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from cohesion.analysis.barometre import Barometre, IndicatorFactSheet, load_barometre
from cohesion.analysis.barometre_data import (
    TerritoryBarometre,
    fact_sheet,
    fact_sheet_summary,
    loaded_sources,
    territory_barometre,
)
from cohesion.analysis.errors import AnalysisInputError
from cohesion.errors import CohesionError
from cohesion.territory.ids import TerritoryId

if TYPE_CHECKING:
    from cohesion.core.observatory import Observatory

#: Territories offered as a start on the baromètre page, when they exist.
EXAMPLES = (("REG", "84"), ("EPCI", "243300316"), ("COM", "93014"))


class BarometreService:
    """The baromètre over one observatory, cached per warehouse version."""

    def __init__(self, observatory: Observatory) -> None:
        self.observatory = observatory
        self.barometre: Barometre = load_barometre()

    def loaded(self) -> dict[str, bool]:
        """Whether each indicator's source is loaded, by indicator id."""
        return self.observatory.cache.get(
            ("barometre-loaded", self.observatory.version()),
            lambda: loaded_sources(self.observatory.reader(), self.barometre))

    def territory(self, territory: str | TerritoryId) -> TerritoryBarometre:
        """A territory's baromètre: an id, or a code or name to resolve.

        Raises
        ------
        AnalysisInputError
            When ``territory`` is neither an id nor a territory the référentiel knows.
        """
        tid = territory if isinstance(territory, TerritoryId) else _territory(
            self.observatory, territory)
        return self.observatory.cache.get(
            ("barometre-territory", tid, self.observatory.version()),
            lambda: territory_barometre(self.observatory.reader(), tid, self.barometre,
                                        values=self._values))

    def _values(self, indicator: str, level: str, vintage: int, period: str) -> Any:
        # the observatory's cache, shared with the map and the portraits
        return self.observatory.values(indicator, level, vintage, period)

    def fact_sheet(self, indicator_id: str, level: str | None = None,
                   exclude: tuple[str, ...] = ()) -> IndicatorFactSheet:
        """An indicator's convergence fact sheet (and the ranking of its level)."""
        return self.observatory.cache.get(
            ("barometre-fiche", indicator_id, level, exclude, self.observatory.version()),
            lambda: fact_sheet(self.observatory.reader(), indicator_id, level,
                               self.barometre, regional_exclude=exclude))

    def fact_sheets(self) -> pd.DataFrame:
        """Every indicator's fact sheet in one table."""
        return self.observatory.cache.get(
            ("barometre-fiches", self.observatory.version()),
            lambda: fact_sheet_summary(self.observatory.reader(), self.barometre))

    def examples(self) -> list[TerritoryId]:
        """A few territories to start from (a région, an EPCI, a commune)."""
        vintage = self.observatory.latest_vintage()
        return [TerritoryId(level, code, vintage) for level, code in EXAMPLES
                if code in self.observatory.names(level, vintage)]


def _territory(observatory: Observatory, text: str) -> TerritoryId:
    """The territory of an id, a code or a name, with a French message when none."""
    if ":" in text:
        try:
            return TerritoryId.parse(text)
        except (CohesionError, ValueError):
            raise AnalysisInputError(
                f"identifiant de territoire invalide : {text!r} (attendu par exemple "
                "COM:93014@2026, EPCI:200054781@2026 ou REG:84@2026)") from None
    return observatory.resolve(text)
