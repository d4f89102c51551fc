"""What an analysis reads: its territories, its periods, its weights, its partition.

:class:`AnalysisInputs` checks a request against the observatory's warehouse and reads
what :class:`~cohesion.core.analyses.Analyses` computes on: the selection of territories
(:class:`Selection`: a level, a vintage, optionally a parent territory and metropolitan
France only), an indicator's values at a period, the weights and the groups of a
partition. The rules, the same for the command line, the API and the pages:

- a value's period is the one asked for (it must be loaded), else the latest loaded:
  :func:`cohesion.indicators.periods.latest_period`, periods ordered by the day they
  end (:func:`~cohesion.indicators.periods.period_key`), never as text;
- a weight's period is the one asked for (it must be loaded), else
  :func:`closest_period_on_or_before` the value's period: the value's period itself
  when the weight has it, else the weight's latest period ending before it, else (every
  period of the weight ends after it) the weight's earliest period.

Every answer says which periods it used (``period``, ``weights.period``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from cohesion.analysis.partitions import read_partition
from cohesion.errors import CohesionError
from cohesion.indicators.api import producers
from cohesion.indicators.engine import UnknownIndicatorError
from cohesion.indicators.periods import latest_period, period_key
from cohesion.territory.ids import TerritoryId

if TYPE_CHECKING:
    from cohesion.core.observatory import Observatory

#: Levels whose territories the analyses compare (France alone has nothing to compare).
#: Broader levels come later: a partition must be broader than the analysed level.
LEVEL_ORDER = {"COM": 0, "ARM": 0, "EPCI": 1, "EPT": 1, "ARR": 1, "DEP": 2, "REG": 3}


class AnalysisRequestError(CohesionError):
    """A request the analyses cannot answer as asked."""


@dataclass(frozen=True)
class Parent:
    """The territory an analysis is restricted to."""

    id: str
    level: str
    code: str
    name: str


@dataclass(frozen=True)
class Selection:
    """The territories an analysis compares.

    Attributes
    ----------
    level : str
    vintage : int
    parent : Parent or None
        The territory they lie in, if any.
    codes : frozenset or None
        Codes of the territories kept (None: every territory of the level).
    metropole : bool
        Whether only metropolitan France is kept.
    """

    level: str
    vintage: int
    parent: Parent | None
    codes: frozenset[str] | None
    metropole: bool

    def describe(self, labels: dict[str, str]) -> dict[str, Any]:
        """JSON-ready description of the selection."""
        return {"level": self.level, "level_label": labels.get(self.level, self.level),
                "vintage": self.vintage, "metropole": self.metropole,
                "parent": None if self.parent is None else {
                    "id": self.parent.id, "level": self.parent.level, "name": self.parent.name}}


def closest_period_on_or_before(periods: Iterable[str], period: str) -> str:
    """The period of ``periods`` closest to ``period`` on or before it, else the earliest.

    Periods are ordered by :func:`~cohesion.indicators.periods.period_key` (the day they
    end, then the day they start), never as text.

    Parameters
    ----------
    periods : iterable of str
        The loaded periods of the weights (at least one).
    period : str
        The period of the values.

    Returns
    -------
    str
        ``period`` itself when among ``periods``; else the latest of ``periods`` that
        ends before it; else, when all end after it, the earliest of ``periods``.

    Examples
    --------
    >>> closest_period_on_or_before(["2013", "2018", "2020"], "2019")
    '2018'
    >>> closest_period_on_or_before(["2013", "2018", "2020"], "2020")
    '2020'
    >>> closest_period_on_or_before(["2018", "2020"], "2013")
    '2018'
    >>> closest_period_on_or_before(["2013-2018", "2021"], "2019")
    '2013-2018'
    """
    loaded = list(periods)
    on_or_before = [p for p in loaded if period_key(p) <= period_key(period)]
    return latest_period(on_or_before) if on_or_before else min(loaded, key=period_key)


class AnalysisInputs:
    """The checks of a request and the inputs of an analysis, read from the observatory.

    Parameters
    ----------
    observatory : Observatory
        Where values, names, contours and the référentiel are read (cached).
    """

    def __init__(self, observatory: Observatory) -> None:
        self.observatory = observatory

    def catalogue(self) -> dict[str, dict[str, Any]]:
        """Indicators with at least one period loaded, by id."""
        return {i["id"]: i for i in self.observatory.indicators() if i["periods"]}

    def levels(self, vintage: int) -> list[str]:
        """Levels of ``vintage`` the analyses can compare, finest first."""
        def compute() -> list[str]:
            found = self.observatory.reader().levels_of(vintage)
            return [level for level in LEVEL_ORDER if level in found]

        return self.observatory.cache.get(("analysis-levels", vintage,
                                           self.observatory.version()), compute)

    def partitions(self, level: str, vintage: int) -> list[str]:
        """Levels that can group the territories of ``level``: broader ones and zonings."""
        def compute() -> list[str]:
            available = set(self.observatory.reader().commune_parent_levels(vintage))
            broader = [p for p in ("DEP", "REG") if p in available
                       and LEVEL_ORDER[p] > LEVEL_ORDER.get(level, 0)]
            zonings = sorted(p for p in available if p not in LEVEL_ORDER and p != "FRA")
            return broader + zonings

        return self.observatory.cache.get(("analysis-partitions", level, vintage,
                                           self.observatory.version()), compute)

    def metropolitan(self, level: str, vintage: int) -> set[str]:
        """Codes of the territories of ``level`` in metropolitan France.

        EPCI and EPT have no zone in the référentiel: they are metropolitan when their
        communes are.
        """
        def compute() -> set[str]:
            return self.observatory.reader().metropolitan_codes(level, vintage)

        return self.observatory.cache.get(("analysis-metropolitan", level, vintage,
                                           self.observatory.version()), compute)

    def indicator(self, indicator_id: str) -> dict[str, Any]:
        """One loaded indicator's catalogue record, or a 404 error in French."""
        found = self.catalogue().get(indicator_id)
        if found is None:
            known = ", ".join(sorted(self.catalogue())[:12])
            raise UnknownIndicatorError(
                f"indicateur inconnu ou sans données chargées : {indicator_id!r} "
                f"(indicateurs disponibles : {known}…) ; voir /api/indicators")
        return found

    def period(self, indicator_id: str, period: str | None) -> str:
        """``period`` if loaded for the indicator, else its latest period.

        Raises
        ------
        AnalysisRequestError
            ``period`` is not loaded for the indicator.
        """
        periods = self.indicator(indicator_id)["periods"]
        if period is None:
            return latest_period(periods)
        if period not in periods:
            raise AnalysisRequestError(
                f"la période {period} n'est pas chargée pour {indicator_id} (périodes "
                f"disponibles : {', '.join(sorted(periods, key=period_key))})")
        return period

    def select(self, level: str, vintage: int | None = None, parent: str | None = None,
               metropole: bool = False) -> Selection:
        """Check the level, vintage and parent territory of a request.

        Raises
        ------
        AnalysisRequestError
            An unknown vintage or level, a parent of another vintage, or a parent
            holding no territory of the level.
        UnknownTerritoryError
            A parent that does not exist.
        """
        parent_record = None
        if parent is not None:
            parent_id = TerritoryId.parse(parent)
            if vintage is not None and vintage != parent_id.vintage:
                raise AnalysisRequestError(
                    f"le territoire {parent} est du millésime {parent_id.vintage}, l'analyse "
                    f"est demandée dans le millésime {vintage} : utilisez le même")
            vintage = parent_id.vintage
            found = self.observatory.territory(parent_id)
            parent_record = Parent(found["id"], found["level"], found["code"], found["name"])
        vintages = self.observatory.vintages()
        vintage = vintage or self.observatory.latest_vintage()
        if vintage not in vintages:
            raise AnalysisRequestError(
                f"millésime {vintage} inconnu (millésimes disponibles : "
                f"{', '.join(map(str, vintages))})")
        levels = self.levels(vintage)
        if level not in levels:
            raise AnalysisRequestError(
                f"échelon {level!r} non analysable (échelons disponibles : {', '.join(levels)})")
        codes: set[str] | None = None
        if parent_record is not None:
            codes = set(self.observatory.engine().members(
                (parent_record.level, parent_record.code), level, vintage))
            ranks = LEVEL_ORDER | {"FRA": max(LEVEL_ORDER.values()) + 1}
            # the engine lists the région overlapping a département: not "inside" it
            if not codes or ranks.get(parent_record.level, 99) <= ranks[level]:
                raise AnalysisRequestError(
                    f"{parent_record.name} ({parent}) ne contient aucun territoire de "
                    f"l'échelon {level} : choisissez un territoire plus large ou un échelon "
                    "plus fin")
        if metropole:
            metro = self.metropolitan(level, vintage)
            codes = metro if codes is None else codes & metro
        return Selection(level, vintage, parent_record,
                         None if codes is None else frozenset(codes), metropole)

    def values(self, indicator_id: str, period: str | None,
               selection: Selection) -> tuple[pd.Series, dict[str, Any]]:
        """Values of an indicator for the selected territories, and what they are.

        Returns
        -------
        Series
            Values by territory code (NaN where missing).
        dict
            ``id, label, unit, source, producer, period`` and the engine's ``notes``.
        """
        chosen = self.period(indicator_id, period)
        result = self.observatory.values(indicator_id, selection.level, selection.vintage,
                                         chosen)
        frame = result.frame
        series = pd.Series(pd.to_numeric(frame["value"], errors="coerce").to_numpy(float),
                           index=pd.Index(frame["code"].to_numpy(), dtype=object),
                           name=indicator_id)
        if selection.codes is not None:
            series = series[series.index.isin(selection.codes)]
        summary = self.observatory.indicator_summary(result)
        return series, {**summary, "producer": producers(summary["source"]),
                        "period": result.period, "notes": list(result.notes)}

    def weight_period(self, weights_id: str, period: str, asked: str | None = None) -> str:
        """The period of the weights of values of ``period``.

        ``asked`` if loaded for the weights, else :func:`closest_period_on_or_before`
        ``period`` among the weights' loaded periods.
        """
        if asked is not None:
            return self.period(weights_id, asked)
        return closest_period_on_or_before(self.indicator(weights_id)["periods"], period)

    def weights(self, weights_id: str | None, period: str, selection: Selection,
                index: pd.Index, asked: str | None = None
                ) -> tuple[pd.Series | None, dict[str, Any] | None]:
        """Weights aligned with ``index``, of :meth:`weight_period`."""
        if weights_id is None:
            return None, None
        chosen = self.weight_period(weights_id, period, asked)
        found, described = self.values(weights_id, chosen, selection)
        return found.reindex(index), described

    def names(self, level: str, vintage: int) -> dict[str, str]:
        """Code → name of the territories of a level."""
        return self.observatory.names(level, vintage)

    def partition(self, partition_level: str | None, selection: Selection, values: pd.Series
                  ) -> tuple[pd.Series | None, list[str], dict[str, Any] | None]:
        """The group of each territory, the notes, and the partition's description."""
        if partition_level is None:
            return None, [], None
        allowed = self.partitions(selection.level, selection.vintage)
        if partition_level not in allowed:
            raise AnalysisRequestError(
                f"les territoires de l'échelon {selection.level} ne peuvent pas être "
                f"regroupés par {partition_level} (partitions possibles : "
                f"{', '.join(allowed) or 'aucune'})")
        parts, note = read_partition(self.observatory.reader(), selection.level,
                                     partition_level, selection.vintage)
        labels = self.observatory.level_labels()
        return (parts.reindex(values.index), [note] if note else [],
                {"level": partition_level, "label": labels.get(partition_level,
                                                               partition_level)})
