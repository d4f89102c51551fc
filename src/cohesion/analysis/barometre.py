"""Le baromètre de la cohésion des territoires: its figures, pure functions.

The baromètre's definition (its six factors and their indicators, ``barometre.yaml``)
is read and checked in :mod:`cohesion.analysis.barometre_definition`; its names, and
those of the factor scores, are exported here too, so that ``cohesion.analysis.barometre``
is the one import for the whole baromètre.

The figures are pure functions of :class:`IndicatorSeries` (one indicator at one level,
at two dates, with France's value):

- :func:`indicator_position`: a territory's value, evolution, gap to France, rank,
  percentile and decile among the territories of its level;
- :func:`indicator_fact_sheet`: the convergence fact sheet as the baromètre publishes
  it: interdecile ratio D9/D1 at each date (on the territories with a value at both
  dates), contrast between the extreme régions, the ranking;
- :func:`factor_score` (:mod:`cohesion.analysis.barometre_scores`, exported here): a
  factor's composite score with its uncertainty band (the interval of ranks across
  normalisations, weightings and aggregations, from
  :func:`~cohesion.analysis.composite.composite_uncertainty`).

Reading the warehouse is done at the edge, in :mod:`cohesion.analysis.barometre_data`.

Examples
--------
>>> from cohesion.analysis.barometre import load_barometre
>>> barometre = load_barometre()
>>> len(barometre.indicators), barometre.indicator("part_neet").direction
(25, 'lower_is_better')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cohesion.analysis.barometre_definition import (
    BAROMETRE_FILE,
    DIRECTIONS,
    Barometre,
    BarometreDefinitionError,
    BarometreIndicator,
    CatalogueSource,
    Factor,
    TableSource,
    UnknownBarometreItemError,
    load_barometre,
)
from cohesion.analysis.barometre_scores import FactorScore, factor_score
from cohesion.analysis.convergence import (
    ConvergenceFactSheet,
    Extremes,
    convergence_fact_sheet,
)
from cohesion.analysis.errors import AnalysisInputError, NotEnoughDataError
from cohesion.analysis.inequality import InterdecileRatio, interdecile_ratio

__all__ = [
    "BAROMETRE_FILE",
    "DIRECTIONS",
    "QUANTILE_METHOD",
    "Barometre",
    "BarometreDefinitionError",
    "BarometreIndicator",
    "CatalogueSource",
    "DateFigures",
    "Factor",
    "FactorScore",
    "IndicatorFactSheet",
    "IndicatorPosition",
    "IndicatorSeries",
    "RegionalContrast",
    "TableSource",
    "UnknownBarometreItemError",
    "factor_score",
    "indicator_fact_sheet",
    "indicator_position",
    "indicator_ranking",
    "load_barometre",
    "regional_contrast",
]


#: Quantile definition of the baromètre's deciles: linear interpolation between order
#: statistics (Hyndman & Fan type 7, R's default, Excel's ``CENTILE``). It is the one
#: that reproduces every interdecile ratio the CGET published for the 2018 tables
#: (INSEE's type 1/2 definition misses two of them); see ``docs/barometre.md``.
QUANTILE_METHOD = "linear"

NAN = float("nan")


# -- values of one indicator at one level -------------------------------------------------


@dataclass(frozen=True, eq=False)
class IndicatorSeries:
    """One indicator's values for the territories of one level, at one or two dates.

    Attributes
    ----------
    indicator : BarometreIndicator
    level : str
        Level of the territories (``ZE``, ``EPCI``, ``DEP``, ``REG``, ``COM``…).
    level_label : str
        Its French name, for display (« zones d'emploi 2010 »).
    second : Series
        Values at the latest date, indexed by territory code (NaN where missing).
    second_period : str
    first : Series or None
        Values at the earlier date, when published.
    first_period : str or None
    france_first, france_second : float
        France's values (NaN when not published).
    names : Series, optional
        Territory names by code.
    source : str
        The file or indicator the values come from, its producer and period, for display.
    """

    indicator: BarometreIndicator
    level: str
    level_label: str
    second: pd.Series
    second_period: str
    first: pd.Series | None = None
    first_period: str | None = None
    france_first: float = NAN
    france_second: float = NAN
    names: pd.Series | None = None
    source: str = ""

    def name(self, code: Any) -> str:
        """The name of territory ``code`` (its code when unknown)."""
        if self.names is not None and code in self.names.index and pd.notna(
                self.names.get(code)):
            return str(self.names[code])
        return str(code)


# -- a territory's position -------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorPosition:
    """Where one territory stands on one indicator.

    Attributes
    ----------
    code : str
        The territory whose value this is (its EPCI, zone d'emploi… for a commune).
    value, first_value : float
        At the latest and the earlier date (NaN when not published).
    change : float
        ``value - first_value`` (points for a rate).
    france, france_first, gap_to_france : float
        France's value, and ``value - france``.
    rank : int or None
        1 is the most favourable territory (highest value when higher is better, lowest
        when lower is better; highest for a neutral indicator).
    n : int
        Territories with a value at the latest date.
    percentile : float
        Share (%) of the territories with a lower value, ties counted half (the
        mid-rank percentile); 100 is the highest value.
    decile : int or None
        1 to 10, from the value's percentile: decile 1 holds the lowest tenth.
    favourable_share : float or None
        Share (%) of the territories in a less favourable position (None when neutral).
    first_rank : int or None
        Rank at the earlier date, among the territories with a value then.
    """

    code: str
    name: str
    value: float
    first_value: float
    change: float
    france: float
    france_first: float
    gap_to_france: float
    rank: int | None
    n: int
    percentile: float
    decile: int | None
    favourable_share: float | None
    first_rank: int | None


def _rank(values: pd.Series, code: Any, sign: int) -> int | None:
    known = values.dropna()
    if code not in known.index:
        return None
    ascending = sign < 0  # lower is better: the lowest value is rank 1
    return int(known.rank(ascending=ascending, method="min")[code])


def indicator_position(series: IndicatorSeries, code: Any) -> IndicatorPosition:
    """Position of territory ``code`` among the territories of ``series``.

    Parameters
    ----------
    series : IndicatorSeries
    code : str
        A territory of ``series`` (its value may be missing: the figures are then NaN
        and the ranks None).

    Returns
    -------
    IndicatorPosition

    Raises
    ------
    AnalysisInputError
        ``code`` is not a territory of the series.

    Examples
    --------
    >>> import pandas as pd
    >>> from cohesion.analysis.barometre import IndicatorSeries, indicator_position
    >>> neet = load_barometre().indicator("part_neet")
    >>> series = IndicatorSeries(neet, "EPCI", "EPCI", pd.Series({"a": 10.0, "b": 20.0,
    ...                          "c": 30.0, "d": 40.0}), "2014", france_second=25.0)
    >>> position = indicator_position(series, "b")
    >>> position.rank, position.percentile, position.decile, position.gap_to_france
    (2, 37.5, 4, -5.0)
    """
    if code not in series.second.index and (series.first is None
                                            or code not in series.first.index):
        raise AnalysisInputError(f"{code!r} n'est pas un territoire de la série "
                                 f"{series.indicator.id} ({series.level_label})")
    values = series.second.astype(float)
    value = float(values.get(code, NAN))
    first = series.first.astype(float) if series.first is not None else None
    first_value = float(first.get(code, NAN)) if first is not None else NAN
    known = values.dropna()
    sign = series.indicator.sign
    if math.isnan(value):
        percentile, decile, share = NAN, None, None
    else:
        below = float((known < value).sum()) + 0.5 * float((known == value).sum())
        percentile = 100.0 * below / len(known)
        decile = min(10, int(percentile // 10) + 1)
        share = None if sign == 0 else (percentile if sign > 0 else 100.0 - percentile)
    return IndicatorPosition(
        code=str(code), name=series.name(code), value=value, first_value=first_value,
        change=value - first_value, france=float(series.france_second),
        france_first=float(series.france_first),
        gap_to_france=value - float(series.france_second),
        rank=_rank(values, code, sign or 1), n=len(known), percentile=percentile,
        decile=decile, favourable_share=share,
        first_rank=None if first is None else _rank(first, code, sign or 1))


# -- the fact sheet ---------------------------------------------------------------------


@dataclass(frozen=True)
class DateFigures:
    """Dispersion of the territories at one date.

    Attributes
    ----------
    period : str
    n : int
        Territories counted.
    mean : float
        Unweighted mean of the territories' values.
    interdecile : InterdecileRatio
        D1, D9 and D9/D1 (quantiles of :data:`QUANTILE_METHOD`); the ratio is NaN when
        D1 is not positive (a rate that can be negative, such as a migration balance:
        then read ``interdecile.gap``, D9 − D1).
    extremes : Extremes
        Highest and lowest territory.
    """

    period: str
    n: int
    mean: float
    interdecile: InterdecileRatio
    extremes: Extremes


def _date_figures(values: pd.Series, period: str) -> DateFigures:
    known = values.dropna().astype(float)
    if len(known) < 2:
        raise NotEnoughDataError(f"{len(known)} territoires ont une valeur en {period} ; "
                                 "il en faut au moins 2")
    return DateFigures(
        period=str(period), n=len(known), mean=float(known.mean()),
        interdecile=interdecile_ratio(known, method=QUANTILE_METHOD),
        extremes=Extremes(highest=known.idxmax(), highest_value=float(known.max()),
                          lowest=known.idxmin(), lowest_value=float(known.min())))


@dataclass(frozen=True)
class RegionalContrast:
    """The gap between the extreme régions at each date (« l'écart entre les régions »).

    Attributes
    ----------
    first, second : DateFigures or None
        Each on every région with a value at that date (as the baromètre does).
    excluded : tuple of str
        Régions left out (for example Mayotte or Guyane, as some texts do).
    """

    first: DateFigures | None
    second: DateFigures | None
    excluded: tuple[str, ...] = ()

    @property
    def gap_change(self) -> float:
        """Change of the gap between the extreme régions (NaN without both dates)."""
        if self.first is None or self.second is None:
            return NAN
        return self.second.extremes.gap - self.first.extremes.gap


def regional_contrast(first: pd.Series | None, second: pd.Series | None, *,
                      first_period: str | None = None, second_period: str | None = None,
                      exclude: tuple[str, ...] = ()) -> RegionalContrast:
    """Extremes of the régions at each date, each date on the régions it has.

    Parameters
    ----------
    first, second : Series or None
        Values by région code.
    first_period, second_period : str, optional
    exclude : tuple of str
        Régions to leave out (``("03",)`` for Guyane).

    Returns
    -------
    RegionalContrast

    Examples
    --------
    >>> import pandas as pd
    >>> first = pd.Series({"11": 22180.0, "32": 18106.0, "84": 20340.0})
    >>> contrast = regional_contrast(first, first + 300, first_period="2012",
    ...                              second_period="2014")
    >>> round(contrast.first.extremes.ratio, 3), contrast.first.extremes.lowest
    (1.225, '32')
    """
    def figures(values: pd.Series | None, period: str | None) -> DateFigures | None:
        if values is None:
            return None
        kept = values.drop(index=[c for c in exclude if c in values.index])
        if kept.notna().sum() < 2:
            return None
        return _date_figures(kept, period or "")

    return RegionalContrast(first=figures(first, first_period),
                            second=figures(second, second_period), excluded=tuple(exclude))


@dataclass(frozen=True, eq=False)
class IndicatorFactSheet:
    """Everything the baromètre says about one indicator at one level.

    Attributes
    ----------
    series : IndicatorSeries
    first, second : DateFigures or None
        Dispersion at each date. With both dates, on the territories with a value at
        both (so that a change of dispersion never comes from a change of the set of
        territories: it is also how the CGET's published ratios are computed).
    n_dropped : int
        Territories with a value at one date only, left out of both.
    convergence : ConvergenceFactSheet or None
        Sigma- and beta-convergence, with both dates.
    regional : RegionalContrast or None
        When régional values are given.
    ranking : DataFrame
        ``rank, code, name, value, first_value, change``, best first.
    """

    series: IndicatorSeries
    first: DateFigures | None
    second: DateFigures
    n_dropped: int
    convergence: ConvergenceFactSheet | None
    regional: RegionalContrast | None
    ranking: pd.DataFrame

    @property
    def interdecile_ratio_change(self) -> float:
        """Change of D9/D1 between the dates (negative: the territories drew closer)."""
        if self.first is None:
            return NAN
        return self.second.interdecile.ratio - self.first.interdecile.ratio


def _years(first_period: str | None, second_period: str | None) -> float | None:
    """Years between two periods (``2012``, or the ends of ``1999-2009``)."""
    if not first_period or not second_period:
        return None
    try:
        return float(int(str(second_period)[-4:]) - int(str(first_period)[-4:])) or None
    except ValueError:
        return None


def indicator_fact_sheet(series: IndicatorSeries, regional: IndicatorSeries | None = None,
                         *, regional_exclude: tuple[str, ...] = ()) -> IndicatorFactSheet:
    """The convergence fact sheet of one indicator at the level of ``series``.

    Parameters
    ----------
    series : IndicatorSeries
        The territories (EPCI, zones d'emploi, départements…).
    regional : IndicatorSeries, optional
        The same indicator by région, for the contrast between régions.
    regional_exclude : tuple of str
        Régions left out of the regional contrast.

    Returns
    -------
    IndicatorFactSheet

    Raises
    ------
    NotEnoughDataError
        Fewer than two territories with a value.

    Examples
    --------
    >>> import pandas as pd
    >>> indicator = load_barometre().indicator("revenu_median_uc")
    >>> first = pd.Series({"a": 100.0, "b": 120.0, "c": 150.0, "d": None})
    >>> second = pd.Series({"a": 110.0, "b": 125.0, "c": 150.0, "d": 90.0})
    >>> sheet = indicator_fact_sheet(IndicatorSeries(indicator, "ZE", "ZE", second,
    ...                              "2014", first, "2012"))
    >>> sheet.first.n, sheet.n_dropped, round(sheet.first.interdecile.ratio, 3)
    (3, 1, 1.385)
    """
    second = series.second.astype(float)
    first = series.first.astype(float) if series.first is not None else None
    n_dropped = 0
    convergence = None
    if first is not None and first.notna().any():
        both = pd.concat([first.rename("first"), second.rename("second")], axis=1)
        complete = both.notna().all(axis=1)
        n_dropped = int((both.notna().any(axis=1) & ~complete).sum())
        kept = both[complete]
        first_figures = _date_figures(kept["first"], series.first_period or "")
        second_figures = _date_figures(kept["second"], series.second_period)
        years = _years(series.first_period, series.second_period)
        convergence = convergence_fact_sheet(
            kept["first"], kept["second"], series.first_period or "first",
            series.second_period, years=years,
            log=bool((kept > 0).all().all()))
    else:
        first_figures = None
        second_figures = _date_figures(second, series.second_period)
    regional_figures = None if regional is None else regional_contrast(
        regional.first, regional.second, first_period=regional.first_period,
        second_period=regional.second_period, exclude=regional_exclude)
    return IndicatorFactSheet(series=series, first=first_figures, second=second_figures,
                              n_dropped=n_dropped, convergence=convergence,
                              regional=regional_figures,
                              ranking=indicator_ranking(series))


def indicator_ranking(series: IndicatorSeries) -> pd.DataFrame:
    """The territories of ``series`` from the most to the least favourable.

    Neutral indicators are listed from the highest value. Territories without a value
    at the latest date come last, without a rank.
    """
    values = series.second.astype(float)
    sign = series.indicator.sign or 1
    frame = pd.DataFrame({"code": values.index.astype(str), "value": values.to_numpy()})
    frame["name"] = [series.name(code) for code in values.index]
    frame["first_value"] = (series.first.reindex(values.index).astype(float).to_numpy()
                            if series.first is not None else NAN)
    frame["change"] = frame["value"] - frame["first_value"]
    frame["rank"] = frame["value"].rank(ascending=sign < 0, method="min").astype("Int64")
    frame = frame.sort_values(["rank", "code"], na_position="last", kind="stable")
    return frame[["rank", "code", "name", "value", "first_value", "change"]].reset_index(
        drop=True)
