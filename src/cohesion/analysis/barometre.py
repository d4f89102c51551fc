"""Le baromètre de la cohésion des territoires: its definition and its figures.

The baromètre of the ANCT reads territorial cohesion through six *facteurs*
(solidarité, qualité de vie, coopération entre les territoires, capital social,
capacitation — or capacité de développement —, transition socio-environnementale), each
measured by a few headline indicators with a direction and a policy challenge (*enjeu*).
The definition is data: ``barometre.yaml`` beside this module, loaded and checked by
:func:`load_barometre` (unknown, missing or mistyped keys fail with the indicator's id).

Every indicator names where its values come from (``data``): a table of the 2018
edition published by the CGET (imported with the ``barometre-2018-*.yaml`` mappings of
the generic table importer) or an indicator of our catalogue. Those with neither are
kept in the definition and shown as « source non chargée », never hidden.

The figures are pure functions of :class:`IndicatorSeries` (one indicator at one level,
at two dates, with France's value):

- :func:`indicator_position`: a territory's value, evolution, gap to France, rank,
  percentile and decile among the territories of its level;
- :func:`indicator_fact_sheet`: the convergence fact sheet as the baromètre publishes
  it: interdecile ratio D9/D1 at each date (on the territories with a value at both
  dates), contrast between the extreme régions, the ranking;
- :func:`factor_score`: a factor's composite score with its uncertainty band (the
  interval of ranks across normalisations, weightings and aggregations, from
  :func:`~cohesion.analysis.composite.composite_uncertainty`).

Reading the warehouse is done at the edge, in :mod:`cohesion.analysis.barometre_data`.

Examples
--------
>>> from cohesion.analysis.barometre import load_barometre
>>> barometre = load_barometre()
>>> [factor.label for factor in barometre.factors][:2]
['Solidarité', 'Qualité de vie']
>>> len(barometre.indicators), len([i for i in barometre.indicators if i.anct_id])
(25, 24)
>>> barometre.indicator("part_neet").direction
'lower_is_better'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cohesion.analysis.composite import composite_index, composite_uncertainty
from cohesion.analysis.convergence import (
    ConvergenceFactSheet,
    Extremes,
    convergence_fact_sheet,
)
from cohesion.analysis.errors import AnalysisError, AnalysisInputError, NotEnoughDataError
from cohesion.analysis.inequality import InterdecileRatio, interdecile_ratio
from cohesion.indicators.engine import UnknownIndicatorError

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

#: The definition shipped with the package.
BAROMETRE_FILE = Path(__file__).with_name("barometre.yaml")

#: Directions an indicator may take; ``neutral`` ones are shown and ranked by value but
#: left out of factor scores (no level is better than another).
DIRECTIONS = ("higher_is_better", "lower_is_better", "neutral")

#: Quantile definition of the baromètre's deciles: linear interpolation between order
#: statistics (Hyndman & Fan type 7, R's default, Excel's ``CENTILE``). It is the one
#: that reproduces every interdecile ratio the CGET published for the 2018 tables
#: (INSEE's type 1/2 definition misses two of them); see ``docs/barometre.md``.
QUANTILE_METHOD = "linear"

NAN = float("nan")


class BarometreDefinitionError(AnalysisError, ValueError):
    """The baromètre definition file is not valid (the message names the item)."""


class UnknownBarometreItemError(UnknownIndicatorError, AnalysisError):
    """A factor or indicator id the baromètre does not define (exit code 4, HTTP 404)."""


# -- the definition ---------------------------------------------------------------------


@dataclass(frozen=True)
class TableSource:
    """A published table of the 2018 baromètre, imported into the warehouse.

    Attributes
    ----------
    variable : str
        Variable of the warehouse holding the values (at every level it was published).
    level : str
        Level of the map table: ``ZE`` (zones d'emploi 2010), ``EPCI`` or ``DEP``.
    vintage : int or None
        Geography of the codes (2010 for the zones d'emploi, 2017 or 2018 for EPCI).
    file, regional_file, class_file : str or None
        The CGET's file names (``carte_X_Y.csv``, ``histo_X_Y.csv``, ``zau_X_Y.csv``).
    anct_2018_id : str
        Id of the indicator in the 2018 edition (``baro.csv``).
    match : str
        ``same`` (the indicator itself) or ``related`` (the 2018 edition's indicator on
        the same theme, named by ``related_label``).
    related_label : str or None
    """

    variable: str
    level: str
    anct_2018_id: str
    file: str
    regional_file: str | None = None
    class_file: str | None = None
    vintage: int | None = None
    match: str = "same"
    related_label: str | None = None

    kind = "table"


@dataclass(frozen=True)
class CatalogueSource:
    """An indicator of our catalogue (:mod:`cohesion.indicators.catalogue`)."""

    indicator: str

    kind = "catalogue"


@dataclass(frozen=True)
class BarometreIndicator:
    """A headline indicator of the baromètre.

    Attributes
    ----------
    id : str
    anct_id : str or None
        Id in the 2020 specification (``init.json``); None for an indicator of the 2018
        edition only.
    edition : int
        The edition the indicator comes from.
    factor : str
        Id of its factor.
    theme, label, challenge : str
        As the ANCT names them; ``challenge`` is the policy challenge (*enjeu*).
    direction : str
        One of :data:`DIRECTIONS`.
    rationale : str
        Why that direction.
    definition, source, unit : str
    data : tuple of TableSource or CatalogueSource
        Where values come from; empty: « source non chargée ».
    """

    id: str
    anct_id: str | None
    edition: int
    factor: str
    theme: str
    label: str
    challenge: str
    direction: str
    rationale: str
    definition: str
    source: str
    unit: str
    data: tuple[TableSource | CatalogueSource, ...] = ()

    @property
    def table(self) -> TableSource | None:
        """The 2018 published table, if the indicator has one."""
        return next((d for d in self.data if isinstance(d, TableSource)), None)

    @property
    def catalogue(self) -> CatalogueSource | None:
        """The catalogue indicator, if the indicator has one."""
        return next((d for d in self.data if isinstance(d, CatalogueSource)), None)

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is better, 0 when neutral."""
        return {"higher_is_better": 1, "lower_is_better": -1}.get(self.direction, 0)

    def describe(self) -> dict[str, Any]:
        """The definition as plain data (for the API and the CLI)."""
        return {
            "id": self.id, "anct_id": self.anct_id, "edition": self.edition,
            "factor": self.factor, "theme": self.theme, "label": self.label,
            "challenge": self.challenge, "direction": self.direction,
            "rationale": self.rationale, "definition": self.definition,
            "source": self.source, "unit": self.unit,
            "data": [{"kind": d.kind, **{k: v for k, v in d.__dict__.items()}}
                     for d in self.data]}


@dataclass(frozen=True)
class Factor:
    """A factor of cohesion and its indicators."""

    id: str
    anct_id: str
    label: str
    cget_2018_label: str
    indicators: tuple[BarometreIndicator, ...]
    also_called: str | None = None

    def describe(self) -> dict[str, Any]:
        """The factor and its indicators as plain data."""
        return {"id": self.id, "anct_id": self.anct_id, "label": self.label,
                "also_called": self.also_called, "cget_2018_label": self.cget_2018_label,
                "indicators": [i.describe() for i in self.indicators]}


@dataclass(frozen=True)
class Barometre:
    """The whole baromètre: its factors, their indicators, where it comes from."""

    edition: int
    producer: str
    specification: str
    data_edition: str
    factors: tuple[Factor, ...]

    @property
    def indicators(self) -> tuple[BarometreIndicator, ...]:
        """Every indicator, factor after factor."""
        return tuple(i for f in self.factors for i in f.indicators)

    def indicator(self, indicator_id: str) -> BarometreIndicator:
        """The indicator ``indicator_id`` (also found by its ANCT id or 2018 id)."""
        for indicator in self.indicators:
            table = indicator.table
            if indicator_id in (indicator.id, indicator.anct_id) or (
                    table is not None and indicator_id in (table.anct_2018_id,
                                                           table.variable)):
                return indicator
        raise UnknownBarometreItemError(
            f"indicateur du baromètre inconnu : {indicator_id!r} ; les indicateurs sont "
            + ", ".join(i.id for i in self.indicators))

    def factor(self, factor_id: str) -> Factor:
        """The factor ``factor_id`` (or its ANCT id)."""
        for factor in self.factors:
            if factor_id in (factor.id, factor.anct_id):
                return factor
        raise UnknownBarometreItemError(
            f"facteur du baromètre inconnu : {factor_id!r} ; les facteurs sont "
            + ", ".join(f.id for f in self.factors))

    def describe(self) -> dict[str, Any]:
        """The definition as plain data."""
        return {"edition": self.edition, "producer": self.producer,
                "specification": self.specification, "data_edition": self.data_edition,
                "factors": [f.describe() for f in self.factors]}


_FACTOR_KEYS = {"id": str, "anct_id": str, "label": str, "cget_2018_label": str,
                "indicators": list}
_FACTOR_OPTIONAL = {"also_called": str}
_INDICATOR_KEYS = {"id": str, "anct_id": (str, type(None)), "theme": str, "label": str,
                   "challenge": str, "direction": str, "rationale": str, "definition": str,
                   "source": str, "unit": str, "data": list}
_INDICATOR_OPTIONAL = {"edition": int}
_TABLE_KEYS = {"table": str, "anct_2018_id": str, "file": str, "level": str}
_TABLE_OPTIONAL = {"regional_file": str, "class_file": str, "vintage": int, "match": str,
                   "related_label": str}


def _checked(item: Any, required: dict[str, Any], optional: dict[str, Any],
             where: str) -> dict[str, Any]:
    """``item`` as a dict whose keys and value types are the expected ones."""
    if not isinstance(item, dict):
        raise BarometreDefinitionError(f"{where} : attendu un ensemble de clés, trouvé "
                                       f"{type(item).__name__}")
    unknown = set(item) - set(required) - set(optional)
    if unknown:
        raise BarometreDefinitionError(
            f"{where} : clé inconnue {sorted(unknown)[0]!r} (clés possibles : "
            f"{', '.join(sorted({*required, *optional}))})")
    missing = [key for key in required if key not in item]
    if missing:
        raise BarometreDefinitionError(f"{where} : clé manquante {missing[0]!r}")
    for key, value in item.items():
        expected = required.get(key, optional.get(key))
        if not isinstance(value, expected) or isinstance(value, bool):
            raise BarometreDefinitionError(
                f"{where} : {key} a le type {type(value).__name__}, attendu "
                f"{getattr(expected, '__name__', 'texte ou null')}")
    return item


def _source(item: Any, where: str) -> TableSource | CatalogueSource:
    if isinstance(item, dict) and "catalogue" in item:
        return CatalogueSource(_checked(item, {"catalogue": str}, {}, where)["catalogue"])
    raw = _checked(item, _TABLE_KEYS, _TABLE_OPTIONAL, where)
    if raw.get("match", "same") not in ("same", "related"):
        raise BarometreDefinitionError(f"{where} : match vaut same ou related, trouvé "
                                       f"{raw['match']!r}")
    if raw.get("match") == "related" and not raw.get("related_label"):
        raise BarometreDefinitionError(f"{where} : un indicateur apparenté (match: related) "
                                       "nomme l'indicateur publié (related_label)")
    return TableSource(variable=raw["table"], **{k: v for k, v in raw.items()
                                                 if k != "table"})


def load_barometre(path: Path | str | None = None) -> Barometre:
    """Read and check a baromètre definition (default: the one shipped, ``barometre.yaml``).

    Parameters
    ----------
    path : Path or str, optional

    Returns
    -------
    Barometre

    Raises
    ------
    BarometreDefinitionError
        Naming the factor or indicator at fault: unknown or missing key, wrong type,
        unknown direction, duplicate id.
    """
    path = Path(path) if path is not None else BAROMETRE_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise BarometreDefinitionError(f"{path} : illisible ({error})") from None
    top = _checked(raw, {"version": int, "edition": int, "producer": str,
                         "specification": str, "data_edition": str, "factors": list}, {},
                   str(path))
    if top["version"] != 1:
        raise BarometreDefinitionError(f"{path} : version {top['version']} inconnue "
                                       "(attendu 1)")
    factors, seen = [], set()
    for position, raw_factor in enumerate(top["factors"]):
        factor = _checked(raw_factor, _FACTOR_KEYS, _FACTOR_OPTIONAL,
                          f"{path} : facteur n° {position + 1}")
        indicators = []
        for raw_indicator in factor["indicators"]:
            where = f"{path} : facteur {factor['id']}, indicateur " + str(
                raw_indicator.get("id") if isinstance(raw_indicator, dict) else "?")
            item = _checked(raw_indicator, _INDICATOR_KEYS, _INDICATOR_OPTIONAL, where)
            if item["direction"] not in DIRECTIONS:
                raise BarometreDefinitionError(
                    f"{where} : direction {item['direction']!r} inconnue (attendu "
                    f"{', '.join(DIRECTIONS)})")
            if item["id"] in seen:
                raise BarometreDefinitionError(f"{where} : identifiant en double")
            seen.add(item["id"])
            data = tuple(_source(d, f"{where}, données n° {n + 1}")
                         for n, d in enumerate(item["data"]))
            indicators.append(BarometreIndicator(
                factor=factor["id"], edition=item.get("edition", top["edition"]),
                data=data, **{k: v for k, v in item.items() if k not in ("data", "edition")}))
        if factor["id"] in seen:
            raise BarometreDefinitionError(f"{path} : facteur {factor['id']} en double")
        seen.add(factor["id"])
        factors.append(Factor(indicators=tuple(indicators),
                              **{k: v for k, v in factor.items() if k != "indicators"}))
    return Barometre(edition=top["edition"], producer=top["producer"],
                     specification=top["specification"], data_edition=top["data_edition"],
                     factors=tuple(factors))


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


# -- factor scores ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FactorScore:
    """A factor's composite score for one territory, with its uncertainty band.

    Attributes
    ----------
    factor : Factor
    code : str
    indicators : tuple of str
        The factor's indicators the score combines (oriented and available at this
        level); the others are listed in ``left_out`` with the reason.
    score : float
        0 to 100 among the territories of the level (min-max normalisation, equal
        weights, arithmetic mean); NaN when the territory lacks an indicator.
    rank : int or None
        Rank of the score (1 = most favourable) among ``n`` territories.
    n : int
    rank_low, rank_high : int or None
        The uncertainty band: the interval holding 90 % of the territory's ranks across
        the variants of normalisation, weighting and aggregation.
    best_rank, worst_rank : int or None
    scenarios : int
        Variants computed.
    left_out : dict of str to str
        Indicator → why it is not in the score.
    note : str or None
        Why there is no score.
    """

    factor: Factor
    code: str
    indicators: tuple[str, ...]
    score: float
    rank: int | None
    n: int
    rank_low: int | None
    rank_high: int | None
    best_rank: int | None
    worst_rank: int | None
    scenarios: int
    left_out: dict[str, str] = field(default_factory=dict)
    note: str | None = None


def factor_score(factor: Factor, data: pd.DataFrame, code: Any, *,
                 reference: Mapping[str, float] | None = None,
                 left_out: Mapping[str, str] | None = None,
                 coverage: float = 0.9) -> FactorScore:
    """Composite score of territory ``code`` on ``factor``, with its band of ranks.

    Parameters
    ----------
    factor : Factor
    data : DataFrame
        One row per territory of the level, one column per indicator id of the factor
        available there (latest values). Neutral indicators are left out.
    code : str
        The territory.
    reference : mapping, optional
        France's value of each indicator (for the distance-to-reference variants).
    left_out : mapping, optional
        Indicators already known to be missing at this level, with the reason.
    coverage : float
        Share of the variants' ranks the band holds.

    Returns
    -------
    FactorScore
        Without a score (``note`` says why) when no oriented indicator is available, or
        the territory lacks one of them, or fewer than two territories have them all.

    Examples
    --------
    >>> import pandas as pd
    >>> barometre = load_barometre()
    >>> data = pd.DataFrame({"part_65_ans_et_plus": [15.0, 20.0, 25.0, 30.0],
    ...                      "chomage_longue_duree": [40.0, 35.0, 45.0, 50.0]},
    ...                     index=list("abcd"))
    >>> score = factor_score(barometre.factor("solidarite"), data, "a")
    >>> score.rank, score.n, (score.rank_low, score.rank_high)
    (1, 4, (1, 1))
    """
    reasons = dict(left_out or {})
    directions = {}
    for indicator in factor.indicators:
        if indicator.id not in data.columns:
            reasons.setdefault(indicator.id, "pas de valeur à cet échelon")
        elif indicator.sign == 0:
            reasons[indicator.id] = "indicateur sans sens favorable (neutre)"
        else:
            directions[indicator.id] = indicator.sign
    used = data[list(directions)].apply(pd.to_numeric, errors="coerce") if directions else None

    def without(note: str) -> FactorScore:
        return FactorScore(factor=factor, code=str(code), indicators=tuple(directions),
                           score=NAN, rank=None, n=0, rank_low=None, rank_high=None,
                           best_rank=None, worst_rank=None, scenarios=0, left_out=reasons,
                           note=note)

    if used is None:
        return without("aucun indicateur orienté de ce facteur n'a de valeur à cet échelon")
    # an indicator equal everywhere does not discriminate: it is left out, not an error
    for column in list(used.columns):
        if used[column].notna().sum() == 0:
            reasons[column] = "pas de valeur à cet échelon"
            used = used.drop(columns=column)
            directions.pop(column)
        elif used[column].nunique(dropna=True) < 2:
            reasons[column] = "valeur identique pour tous les territoires"
            used = used.drop(columns=column)
            directions.pop(column)
    if used.empty:
        return without("aucun indicateur de ce facteur ne distingue les territoires")
    if code not in used.index or used.loc[code].isna().any():
        return without("le territoire n'a pas de valeur pour tous les indicateurs du facteur")
    complete = used.dropna()
    if len(complete) < 2:
        return without("moins de deux territoires ont toutes les valeurs")
    baseline = composite_index(complete, directions=directions, bounds=(0.0, 100.0))
    known_reference = None
    if reference is not None:
        known_reference = {k: float(v) for k, v in reference.items()
                           if k in directions and v is not None and not math.isnan(v)}
        if set(known_reference) != set(directions):
            known_reference = None
    normalisations = ("min-max", "z-score") + (
        ("distance-to-reference",) if known_reference else ())
    weightings = ("equal", "pca") if len(directions) > 1 else ("equal",)
    uncertainty = composite_uncertainty(
        complete, directions=directions, reference=known_reference,
        normalisations=normalisations, weightings=weightings, coverage=coverage)
    summary = uncertainty.summary.loc[code]
    return FactorScore(
        factor=factor, code=str(code), indicators=tuple(directions),
        score=float(baseline.scores[code]), rank=int(baseline.ranks[code]),
        n=len(complete), rank_low=int(summary["lower_rank"]),
        rank_high=int(summary["upper_rank"]), best_rank=int(summary["best_rank"]),
        worst_rank=int(summary["worst_rank"]), scenarios=len(uncertainty.scenarios),
        left_out=reasons)
