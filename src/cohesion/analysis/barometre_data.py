"""The baromètre read from the warehouse: the edge between the data and the figures.

:mod:`cohesion.analysis.barometre` computes on :class:`IndicatorSeries`; this module
builds them from the warehouse (the 2018 tables imported with the
``barometre-2018-*.yaml`` mappings, and the catalogue's indicators through the
:class:`~cohesion.indicators.engine.IndicatorEngine`), and assembles the baromètre of a
territory (:func:`territory_barometre`) and the fact sheet of an indicator
(:func:`fact_sheet`).

Which values describe a territory
---------------------------------
The 2018 tables are published by zone d'emploi 2010, EPCI or département, and all by
région. For each indicator, a territory is described by, in this order:

1. the territory of the table's level it is or lies in: itself, its EPCI (the SIREN of
   its EPCI today, looked up in the 2018 table: an EPCI merged since is not found), its
   département;
2. for a région, the régional table;
3. the catalogue's indicator at the territory's own level, when it is loaded;
4. its région's value, saying so (the warehouse cannot place a commune in the zones
   d'emploi 2010: no commune → zone table is loaded).

Factor scores compare territories of one level: the level of the territory (régions,
départements, EPCI); a commune gets the score of its EPCI, and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cohesion.analysis.barometre import (
    Barometre,
    BarometreIndicator,
    FactorScore,
    IndicatorFactSheet,
    IndicatorPosition,
    IndicatorSeries,
    factor_score,
    indicator_fact_sheet,
    indicator_position,
    load_barometre,
)
from cohesion.analysis.errors import AnalysisError, AnalysisInputError
from cohesion.errors import CohesionError, UnknownTerritoryError
from cohesion.indicators.periods import period_key
from cohesion.store.warehouse import Warehouse
from cohesion.territory.ids import TerritoryId
from cohesion.territory.levels import level_noun

__all__ = [
    "NOT_LOADED",
    "IndicatorReading",
    "TerritoryBarometre",
    "fact_sheet",
    "fact_sheet_summary",
    "loaded_sources",
    "loaded_tables",
    "regional_table_series",
    "table_series",
    "territory_barometre",
]

#: What the pages and tables say of an indicator whose source is not loaded.
NOT_LOADED = "source non chargée"

#: Levels a territory page can be built for.
TERRITORY_LEVELS = ("COM", "ARM", "EPCI", "DEP", "REG")

CGET_2018 = "CGET (ANCT), baromètre de la cohésion des territoires 2018"


def _level_label(level: str, vintage: int | None) -> str:
    label = level_noun(level, plural=True)
    if level == "EPCI" and vintage is not None and vintage < 2021:
        return f"EPCI de {vintage}"
    return label


def loaded_tables(warehouse: Warehouse) -> set[str]:
    """Variables of the warehouse that hold a 2018 baromètre table."""
    return warehouse.observed_variables("barometre2018_")


def loaded_sources(warehouse: Warehouse, barometre: Barometre) -> dict[str, bool]:
    """Whether each indicator of ``barometre`` has values in the warehouse.

    An indicator is loaded when its 2018 table is imported or its catalogue indicator
    has at least one period loaded.
    """
    from cohesion.indicators.engine import IndicatorEngine

    tables = loaded_tables(warehouse)
    engine = IndicatorEngine(warehouse)
    loaded = {}
    for indicator in barometre.indicators:
        table, catalogue = indicator.table, indicator.catalogue
        found = table is not None and table.variable in tables
        if not found and catalogue is not None:
            try:
                found = bool(engine.periods(engine.indicator(catalogue.indicator)))
            except CohesionError:
                found = False
        loaded[indicator.id] = found
    return loaded


def _observations(warehouse: Warehouse, variable: str, level: str
                  ) -> tuple[pd.DataFrame, int | None]:
    found = warehouse.observations(variable, level)
    vintage = int(found["vintage"].max()) if not found.empty else None
    return found[found["vintage"] == vintage] if vintage is not None else found, vintage


def _names(warehouse: Warehouse, level: str, codes: list[str]) -> pd.Series:
    """Names of codes from the warehouse (the oldest vintage knowing each code).

    The référentiel names communes, EPCI, départements and régions; the zones d'emploi
    2010 are named when a table with their names was imported (``name_column``).
    """
    names = warehouse.names(level, codes=codes)
    return pd.Series({code: names[code] for code in codes if code in names}, dtype=object)


def _france(warehouse: Warehouse, variable: str) -> dict[str, float]:
    found = warehouse.observations(variable, "FRA")
    return {row.period: float(row.value) for row in found.itertuples()
            if pd.notna(row.value)}


def _series_from(indicator: BarometreIndicator, observations: pd.DataFrame, level: str,
                 level_label: str, france: dict[str, float], names: pd.Series,
                 source: str) -> IndicatorSeries | None:
    wide = observations.pivot_table(index="code", columns="period", values="value",
                                    aggfunc="first", dropna=False)
    periods = sorted(p for p in wide.columns if wide[p].notna().any())
    if not periods:
        return None
    second_period = periods[-1]
    first_period = periods[-2] if len(periods) > 1 else None
    return IndicatorSeries(
        indicator=indicator, level=level, level_label=level_label,
        second=wide[second_period].astype(float), second_period=str(second_period),
        first=None if first_period is None else wide[first_period].astype(float),
        first_period=None if first_period is None else str(first_period),
        france_first=france.get(first_period, np.nan) if first_period else np.nan,
        france_second=france.get(second_period, np.nan), names=names,
        source=f"{source} ({', '.join(map(str, periods[-2:]))})")


def table_series(warehouse: Warehouse, indicator: BarometreIndicator
                 ) -> IndicatorSeries | None:
    """The 2018 map table of ``indicator`` (by zone d'emploi, EPCI or département).

    Returns None when the indicator has no table or it is not imported.
    """
    table = indicator.table
    if table is None:
        return None
    observations, vintage = _observations(warehouse, table.variable, table.level)
    if observations.empty:
        return None
    codes = sorted(observations["code"].unique())
    return _series_from(indicator, observations, table.level,
                        _level_label(table.level, table.vintage or vintage),
                        _france(warehouse, table.variable), _names(warehouse, table.level,
                                                                   codes),
                        f"{indicator.source} — {CGET_2018}, {table.file}")


def regional_table_series(warehouse: Warehouse, indicator: BarometreIndicator
                          ) -> IndicatorSeries | None:
    """The 2018 régional table of ``indicator`` (``histo_X_Y.csv``), if imported."""
    table = indicator.table
    if table is None or table.regional_file is None:
        return None
    observations, _ = _observations(warehouse, table.variable, "REG")
    if observations.empty:
        return None
    codes = sorted(observations["code"].unique())
    return _series_from(indicator, observations, "REG", level_noun("REG", plural=True),
                        _france(warehouse, table.variable), _names(warehouse, "REG", codes),
                        f"{indicator.source} — {CGET_2018}, {table.regional_file}")


#: Reads one catalogue indicator at one level: ``(indicator, level, vintage, period)`` →
#: :class:`~cohesion.indicators.engine.IndicatorValues` (the web passes its cached
#: :meth:`~cohesion.web.observatory.Observatory.values`).
ValuesReader = Callable[[str, str, int, str], Any]


def catalogue_series(warehouse: Warehouse, indicator: BarometreIndicator, level: str,
                     vintage: int, engine: Any = None,
                     values: ValuesReader | None = None) -> IndicatorSeries | None:
    """The catalogue indicator of ``indicator`` for every territory of ``level``.

    The two latest periods loaded, France's value from the same computation; None when
    the catalogue indicator has no period loaded.

    Parameters
    ----------
    warehouse : Warehouse
    indicator : BarometreIndicator
    level : str
    vintage : int
    engine : IndicatorEngine, optional
        Reused between calls (building one reads the variables of the warehouse).
    values : callable, optional
        Reads ``(indicator, level, vintage, period)``; default: the engine, computing
        the level and France together.
    """
    from cohesion.indicators.engine import IndicatorEngine

    source = indicator.catalogue
    if source is None:
        return None
    engine = engine or IndicatorEngine(warehouse)
    definition = engine.indicator(source.indicator)
    periods = engine.periods(definition)
    if not periods:
        return None
    by_period, france = {}, {}
    for period in periods[-2:]:
        try:
            if values is not None:
                computed = values(source.indicator, level, vintage, period)
                national = values(source.indicator, "FRA", vintage, period)
            else:
                computed, national = engine.compute([source.indicator], [level, "FRA"],
                                                    vintage, period)
        except CohesionError:
            continue
        by_period[period] = computed.frame.set_index("code")["value"].astype(float)
        if not national.frame.empty:
            france[period] = float(national.frame["value"].iloc[0])
    if not by_period or all(v.isna().all() for v in by_period.values()):
        return None
    loaded = sorted(by_period, key=period_key)
    names = pd.Series(warehouse.names(level, vintage), dtype=object)
    second_period = loaded[-1]
    first_period = loaded[-2] if len(loaded) > 1 else None
    return IndicatorSeries(
        indicator=indicator, level=level, level_label=level_noun(level, plural=True),
        second=by_period[second_period], second_period=second_period,
        first=by_period.get(first_period) if first_period else None,
        first_period=first_period,
        france_first=france.get(first_period, np.nan) if first_period else np.nan,
        france_second=france.get(second_period, np.nan), names=names,
        source=f"{definition.source} — indicateur du catalogue {source.indicator} "
               f"({', '.join(loaded)}), géographie {vintage}")


# -- a territory ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IndicatorReading:
    """One indicator of the baromètre for one territory.

    Attributes
    ----------
    indicator : BarometreIndicator
    status : str
        ``loaded`` (a position is given), ``not_loaded`` (« source non chargée ») or
        ``no_value`` (loaded, but nothing for this territory).
    series : IndicatorSeries or None
        The territories the position is read among.
    position : IndicatorPosition or None
    note : str or None
        How the value was found (« valeur de son EPCI »…) or why there is none.
    """

    indicator: BarometreIndicator
    status: str
    series: IndicatorSeries | None = None
    position: IndicatorPosition | None = None
    note: str | None = None


@dataclass(frozen=True, eq=False)
class TerritoryBarometre:
    """The baromètre of one territory.

    Attributes
    ----------
    territory : TerritoryId
    name : str
    units : dict of str to str
        The territory and those it lies in, by level (``EPCI``, ``DEP``, ``REG``).
    readings : list of IndicatorReading
        Every indicator of the baromètre, in the definition's order.
    scores : list of FactorScore
        One per factor.
    score_level : str
        The level the scores compare territories at.
    notes : list of str
    """

    barometre: Barometre
    territory: TerritoryId
    name: str
    units: dict[str, str]
    unit_names: dict[str, str]
    readings: list[IndicatorReading]
    scores: list[FactorScore]
    score_level: str
    notes: list[str] = field(default_factory=list)

    def reading(self, indicator_id: str) -> IndicatorReading:
        """The reading of one indicator."""
        wanted = self.barometre.indicator(indicator_id).id
        return next(r for r in self.readings if r.indicator.id == wanted)

    def to_frame(self) -> pd.DataFrame:
        """One row per indicator: value, France, evolution, rank, decile, source."""
        rows = []
        for reading in self.readings:
            position = reading.position
            series = reading.series
            rows.append({
                "facteur": reading.indicator.factor, "indicateur": reading.indicator.id,
                "libelle": reading.indicator.label, "unite": reading.indicator.unit,
                "statut": {"loaded": "chargé", "not_loaded": NOT_LOADED,
                           "no_value": "sans valeur"}[reading.status],
                "echelon": series.level_label if series else None,
                "territoire": position.name if position else None,
                "periode": series.second_period if series else None,
                "valeur": position.value if position else np.nan,
                "france": position.france if position else np.nan,
                "ecart_france": position.gap_to_france if position else np.nan,
                "periode_initiale": series.first_period if series else None,
                "valeur_initiale": position.first_value if position else np.nan,
                "evolution": position.change if position else np.nan,
                "rang": position.rank if position else None,
                "sur": position.n if position else None,
                "percentile": position.percentile if position else np.nan,
                "decile": position.decile if position else None,
                "source": series.source if series else reading.indicator.source,
                "remarque": reading.note})
        return pd.DataFrame(rows)

    def scores_frame(self) -> pd.DataFrame:
        """One row per factor: score, rank, band of ranks, indicators used."""
        return pd.DataFrame([{
            "facteur": s.factor.id, "libelle": s.factor.label, "score": s.score,
            "rang": s.rank, "sur": s.n, "rang_bas": s.rank_low, "rang_haut": s.rank_high,
            "variantes": s.scenarios, "indicateurs": ", ".join(s.indicators),
            "remarque": s.note or ""} for s in self.scores])


def _resolve(warehouse: Warehouse, territory: str | TerritoryId) -> tuple[TerritoryId, str]:
    from cohesion.territory.service import Referentiel

    referentiel = Referentiel(warehouse)
    try:
        found = (referentiel.get(territory) if isinstance(territory, TerritoryId)
                 else referentiel.resolve(territory))
    except UnknownTerritoryError as error:
        raise UnknownTerritoryError(f"territoire introuvable dans le référentiel : "
                                    f"{territory} ({error})") from None
    return found.id, found.name


def _units(warehouse: Warehouse, tid: TerritoryId) -> dict[str, str]:
    """The territory and the EPCI, département, région it lies in (most inhabitants)."""
    if tid.level not in TERRITORY_LEVELS:
        raise AnalysisInputError(
            f"le baromètre se lit pour une commune, un EPCI, un département ou une "
            f"région ; {tid} est de l'échelon {tid.level}")
    units = {tid.level: tid.code}
    commune_level = tid.level in ("COM", "ARM")
    if commune_level:
        parents = warehouse.memberships(tid.level, tid.vintage, codes=[tid.code])
        if tid.level == "ARM":
            # an arrondissement municipal lies in its commune's EPCI, département, région
            communes = parents.loc[parents["parent_level"] == "COM", "parent_code"]
            parents = warehouse.memberships("COM", tid.vintage, codes=list(communes))
        for row in parents.itertuples():
            if row.parent_level in ("EPCI", "DEP", "REG"):
                units.setdefault(row.parent_level, row.parent_code)
        return units
    for parent_level in ("DEP", "REG"):
        if parent_level in units or (tid.level == "REG"):
            continue
        # the overlap lists the most populated one first
        found = warehouse.population_overlap(tid.level, parent_level, tid.vintage, [tid.code])
        if not found.empty:
            units[parent_level] = found["other_code"].iloc[0]
    return units


def _reading(indicator: BarometreIndicator, tid: TerritoryId, units: dict[str, str],
             table: IndicatorSeries | None, regional: IndicatorSeries | None,
             catalogue: IndicatorSeries | None) -> IndicatorReading:
    """The values describing the territory on ``indicator`` (the order in the module doc)."""
    if not indicator.data:
        return IndicatorReading(indicator, "not_loaded", note=NOT_LOADED)
    if table is not None:
        code = units.get(table.level)
        if code is not None and code in table.second.index:
            own = code == tid.code and table.level == tid.level
            note = None if own else (
                f"valeur de son {'EPCI' if table.level == 'EPCI' else table.level_label}"
                f" ({table.name(code)})")
            if table.level == "EPCI" and not own:
                note = f"valeur de son EPCI ({table.name(code)}, SIREN {code})"
            elif table.level == "DEP" and not own:
                note = f"valeur de son département ({table.name(code)})"
            return IndicatorReading(indicator, "loaded", table,
                                    indicator_position(table, code), note)
    if tid.level == "REG" and regional is not None and tid.code in regional.second.index:
        return IndicatorReading(indicator, "loaded", regional,
                                indicator_position(regional, tid.code))
    if catalogue is not None and tid.code in catalogue.second.index and pd.notna(
            catalogue.second.get(tid.code)):
        return IndicatorReading(indicator, "loaded", catalogue,
                                indicator_position(catalogue, tid.code),
                                "indicateur du catalogue Cohésion, même définition")
    region = units.get("REG")
    if regional is not None and region is not None and region in regional.second.index:
        published = table.level_label if table is not None else "un autre échelon"
        why = ("le territoire n'est pas rattaché aux zones d'emploi 2010 dans "
               "l'entrepôt" if table is not None and table.level == "ZE" else
               f"pas de valeur publiée pour ce territoire à l'échelon des {published}")
        return IndicatorReading(indicator, "loaded", regional,
                                indicator_position(regional, region),
                                f"valeur de sa région ({regional.name(region)}) : {why}")
    if table is None and regional is None and catalogue is None:
        return IndicatorReading(indicator, "not_loaded", note=NOT_LOADED)
    return IndicatorReading(indicator, "no_value",
                            note="pas de valeur pour ce territoire dans les données chargées")


def _batched_values(engine: Any, barometre: Barometre, level: str,
                    vintage: int) -> ValuesReader:
    """A values reader computing every catalogue indicator of a period at once.

    The engine reads and converts the commune inputs once per call, so the indicators
    sharing a period are computed together, at ``level`` and for France.
    """
    by_period: dict[str, set[str]] = {}
    for indicator in barometre.indicators:
        if indicator.catalogue is None:
            continue
        try:
            periods = engine.periods(engine.indicator(indicator.catalogue.indicator))
        except CohesionError:
            continue
        for period in periods[-2:]:
            by_period.setdefault(period, set()).add(indicator.catalogue.indicator)
    results: dict[tuple[str, str, str], Any] = {}

    def read(indicator: str, wanted_level: str, wanted_vintage: int, period: str) -> Any:
        if period in by_period and not any(key[2] == period for key in results):
            for result in engine.compute(sorted(by_period[period]), [level, "FRA"], vintage,
                                         period):
                results[(result.indicator.id, result.level, period)] = result
        found = results.get((indicator, wanted_level, period))
        if found is None or wanted_vintage != vintage:
            return engine.values(indicator, wanted_level, wanted_vintage, period)
        return found

    return read


def territory_barometre(warehouse: Warehouse, territory: str | TerritoryId,
                        barometre: Barometre | None = None,
                        values: ValuesReader | None = None) -> TerritoryBarometre:
    """The baromètre of one territory: every indicator and every factor's score.

    Parameters
    ----------
    warehouse : Warehouse
    territory : str or TerritoryId
        An id (``COM:93014@2026``), a code or a name.
    barometre : Barometre, optional
        Default: the shipped definition.
    values : callable, optional
        Reads a catalogue indicator at a level (see :func:`catalogue_series`); the web
        passes its cache.

    Returns
    -------
    TerritoryBarometre

    Raises
    ------
    UnknownTerritoryError
        The territory is not in the référentiel.
    AnalysisInputError
        A level the baromètre is not read at (EPT, QPV…).
    """
    from cohesion.indicators.engine import IndicatorEngine

    barometre = barometre or load_barometre()
    tid, name = _resolve(warehouse, territory)
    units = _units(warehouse, tid)
    engine = IndicatorEngine(warehouse)
    if values is None:
        values = _batched_values(engine, barometre, tid.level, tid.vintage)
    readings = []
    by_level: dict[str, dict[str, IndicatorSeries]] = {}
    computed: dict[str, IndicatorSeries | None] = {}  # a catalogue indicator used twice
    for indicator in barometre.indicators:
        table = table_series(warehouse, indicator)
        regional = regional_table_series(warehouse, indicator)
        catalogue = None
        if indicator.catalogue is not None:
            key = indicator.catalogue.indicator
            if key not in computed:
                try:
                    computed[key] = catalogue_series(warehouse, indicator, tid.level,
                                                     tid.vintage, engine, values)
                except (CohesionError, KeyError):
                    computed[key] = None
            found = computed[key]
            catalogue = None if found is None else dataclasses.replace(
                found, indicator=indicator)
        reading = _reading(indicator, tid, units, table, regional, catalogue)
        readings.append(reading)
        for series in (table, regional, catalogue):
            if series is not None:
                by_level.setdefault(series.level, {}).setdefault(indicator.id, series)
    score_level = "EPCI" if tid.level in ("COM", "ARM") else tid.level
    score_code = units.get(score_level)
    notes = []
    if score_level != tid.level:
        notes.append("Les scores de facteur d'une commune sont ceux de son EPCI : les "
                     "indicateurs sont publiés par EPCI, zone d'emploi ou département")
    scores = []
    grid_series = by_level.get(score_level, {})
    grid = pd.DataFrame({i: s.second for i, s in grid_series.items()})
    reference = {i: s.france_second for i, s in grid_series.items()}
    for factor in barometre.factors:
        left_out = {i.id: NOT_LOADED for i in factor.indicators if not i.data}
        columns = [i.id for i in factor.indicators if i.id in grid.columns]
        try:
            scores.append(factor_score(factor, grid[columns], score_code, reference=reference,
                                       left_out=left_out))
        except AnalysisError as error:
            scores.append(FactorScore(factor=factor, code=str(score_code), indicators=(),
                                      score=np.nan, rank=None, n=0, rank_low=None,
                                      rank_high=None, best_rank=None, worst_rank=None,
                                      scenarios=0, left_out=left_out, note=str(error)))
    unit_names = {}
    for level, code in units.items():
        unit_names[level] = warehouse.names(level, tid.vintage, [code]).get(code, code)
    return TerritoryBarometre(barometre=barometre, territory=tid, name=name, units=units,
                              unit_names=unit_names, readings=readings, scores=scores,
                              score_level=score_level, notes=notes)


# -- a level ----------------------------------------------------------------------------


def fact_sheet(warehouse: Warehouse, indicator_id: str, level: str | None = None,
               barometre: Barometre | None = None,
               regional_exclude: tuple[str, ...] = ()) -> IndicatorFactSheet:
    """The convergence fact sheet of one indicator, from the imported 2018 tables.

    Parameters
    ----------
    warehouse : Warehouse
    indicator_id : str
        Our id, the ANCT id (``001000``), the 2018 id (``11``) or the variable.
    level : str, optional
        The table's level (default) or ``REG`` for the régions themselves.
    barometre : Barometre, optional
    regional_exclude : tuple of str
        Régions left out of the contrast between régions.

    Raises
    ------
    AnalysisInputError
        The indicator's source is not loaded, or not published at ``level``.
    """
    barometre = barometre or load_barometre()
    indicator = barometre.indicator(indicator_id)
    table = table_series(warehouse, indicator)
    regional = regional_table_series(warehouse, indicator)
    if table is None and regional is None:
        raise AnalysisInputError(
            f"{indicator.id} ({indicator.label}) : {NOT_LOADED} — importez les tableaux "
            "du baromètre 2018 (cohesion data import-samples)")
    wanted = (level or (table.level if table is not None else "REG")).upper()
    if wanted == "REG":
        main = regional
    elif table is not None and wanted == table.level:
        main = table
    else:
        available = [s.level for s in (table, regional) if s is not None]
        raise AnalysisInputError(
            f"{indicator.id} est publié à l'échelon {' et '.join(available)}, pas {wanted}")
    if main is None:
        raise AnalysisInputError(f"{indicator.id} : pas de tableau régional chargé")
    return indicator_fact_sheet(main, regional, regional_exclude=regional_exclude)


def fact_sheet_summary(warehouse: Warehouse, barometre: Barometre | None = None
                       ) -> pd.DataFrame:
    """One line per indicator: its fact sheet at the level of its 2018 table.

    Returns
    -------
    DataFrame
        ``indicateur, libelle, statut, echelon, periode_initiale, periode_finale,
        territoires, d9_d1_initial, d9_d1_final, evolution_d9_d1, d9_moins_d1_initial,
        d9_moins_d1_final, ecart_regions_initial,
        ecart_regions_final, convergence_sigma``; the indicators without a table say
        « source non chargée » (or « pas de tableau publié » when only the catalogue
        serves them).
    """
    barometre = barometre or load_barometre()
    rows = []
    for indicator in barometre.indicators:
        row: dict[str, Any] = {"indicateur": indicator.id, "libelle": indicator.label}
        try:
            sheet = fact_sheet(warehouse, indicator.id, barometre=barometre)
        except AnalysisInputError:
            row["statut"] = ("pas de tableau publié" if indicator.table is None
                             and indicator.catalogue is not None else NOT_LOADED)
            rows.append(row)
            continue
        series, regional = sheet.series, sheet.regional
        row.update({
            "statut": "chargé", "echelon": series.level_label,
            "periode_initiale": series.first_period, "periode_finale": series.second_period,
            "territoires": sheet.second.n,
            "d9_d1_initial": sheet.first.interdecile.ratio if sheet.first else np.nan,
            "d9_d1_final": sheet.second.interdecile.ratio,
            "evolution_d9_d1": sheet.interdecile_ratio_change,
            # D9 − D1: the figure of a rate that can be negative (migration balance)
            "d9_moins_d1_initial": sheet.first.interdecile.gap if sheet.first else np.nan,
            "d9_moins_d1_final": sheet.second.interdecile.gap,
            "ecart_regions_initial": (regional.first.extremes.gap if regional is not None
                                      and regional.first is not None else np.nan),
            "ecart_regions_final": (regional.second.extremes.gap if regional is not None
                                    and regional.second is not None else np.nan),
            "convergence_sigma": (sheet.convergence.sigma.converging
                                  if sheet.convergence is not None else None)})
        rows.append(row)
    return pd.DataFrame(rows)
