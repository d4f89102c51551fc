"""Compute indicators for any level, vintage and period from the warehouse.

The engine reads the base variables of an indicator at commune level, converts them to
the requested geography vintage if they were published in another one (through the
passage tables: counts are summed or shared, never ratios), sums them over the
communes of each territory of the requested level (memberships of that vintage), and
only then computes the indicator: a ratio is always a ratio of sums.

Each indicator is summed over the communes of a territory that have *all* its inputs
(numerator and denominator together), and the result carries its ``coverage``: the
share of the territory's communes that contributed (Mayotte has no census figures in
some files, so France's coverage is then below 1). A territory none of whose
communes has the inputs is missing with the reason ``no_data``. Non-additive
statistics (:class:`~cohesion.indicators.api.Published`) are never aggregated: they
are read at the level where they were published, or missing with the reason
``not_aggregable``.

Totals attached to other territories than communes (the money of a département, of a
contrat de ville: :class:`~cohesion.indicators.api.Total` and ``TotalRatio``) are read
at the level each indicator declares for each level, and summed over the territories of
that level lying in the one asked for; their denominator is summed on its own, at the
period its declared rule chooses (the nearest population loaded).

A quartier prioritaire (QPV) is no union of communes: its indicators are computed, as
a commune's, from the values published for it (the INSEE tables of the QPV), in its
generation (2015 or 2024) rather than a vintage of the référentiel
(:data:`OWN_LEVELS`).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse

from cohesion.errors import CohesionError, NotFoundError
from cohesion.indicators.api import (
    AREA,
    COMMUNES,
    SOURCED,
    AnnualGrowth,
    Indicator,
    Published,
    declared_indicator,
)
from cohesion.indicators.catalogue import builtin_indicators
from cohesion.indicators.periods import latest_period, period_key
from cohesion.indicators.variables import BY_ID, DERIVED
from cohesion.store.materialised import MaterialisedFiles, code_fingerprint
from cohesion.store.schema import WHOLE_COUNTRY
from cohesion.store.warehouse import Warehouse
from cohesion.territory.passage import chain, convert_counts

TIMELESS = "*"
#: Levels whose territories are not unions of communes: an indicator is computed there
#: from each territory's own values, and ``vintage`` is the level's generation.
OWN_LEVELS = ("QPV",)


class UnknownIndicatorError(NotFoundError):
    """An indicator id that is neither built in nor an imported variable."""


@dataclass
class IndicatorValues:
    """Values of one indicator for the territories of one level.

    Attributes
    ----------
    indicator : type[Indicator]
    level : str
    vintage : int
    period : str
    frame : DataFrame
        ``code, value, missing`` and the summed inputs, one row per territory.
    notes : list of str
        Conversions and approximations the user should know about.
    """

    indicator: type[Indicator]
    level: str
    vintage: int
    period: str
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def imported_indicator(variable: str, label: str | None, unit: str | None,
                       additive: bool) -> type[Indicator]:
    """An indicator for a variable imported from a user's table (shown as published)."""
    from cohesion.indicators.api import NEUTRAL, Count

    base = Count if additive else Published
    return type(variable, (base,), {"label": label if isinstance(label, str) else variable,
                                    "unit": unit if isinstance(unit, str) else "",
                                    "variable": variable, "direction": NEUTRAL,
                                    "source": "table importée"})


class IndicatorEngine:
    """Indicator computations over one warehouse.

    Parameters
    ----------
    warehouse : Warehouse
    """

    def __init__(self, warehouse: Warehouse) -> None:
        # imported here: the package cohesion.core imports this module
        from cohesion.core.caching import materialised

        self.warehouse = warehouse
        #: what every engine over the same content shares: held variables, commune
        #: inputs of a vintage (converted), memberships, passage tables (see
        #: :func:`~cohesion.core.caching.materialised`); an import gives a new store
        content = warehouse.content_key()
        self.store = materialised(content)
        #: the same values kept on disk for the next processes (an import gives new files)
        if ("files",) not in self.store:
            self.store[("files",)] = MaterialisedFiles.beside(warehouse.path, content,
                                                              _fingerprint())
        self.files: MaterialisedFiles = self.store[("files",)]
        self.indicators = dict(builtin_indicators())
        for row in warehouse.indicator_definitions().to_dict("records"):
            self.indicators[row["indicator"]] = declared_indicator(row)
        known = {v for ind in self.indicators.values() for v in ind.variables()}
        imported = warehouse.query("SELECT variable, label, unit, additive FROM variables")
        #: whether each variable can be summed: the definition, else what its importer said
        self.additive = {row.variable: bool(row.additive) for row in imported.itertuples()
                         if pd.notna(row.additive)}
        self.additive.update({variable.id: variable.additive for variable in BY_ID.values()})
        self.additive.update(dict.fromkeys(DERIVED, True))
        #: totals (money, posts): a commune without a value has none of them
        self.flows = {v for ind in self.indicators.values() if issubclass(ind, SOURCED)
                      for v in ind.flows()}
        for row in imported.itertuples(index=False):
            if row.variable not in self.indicators and row.variable not in known \
                    and row.variable not in BY_ID:
                self.indicators[row.variable] = imported_indicator(
                    row.variable, row.label, row.unit, bool(row.additive))

    # -- catalogue --------------------------------------------------------------------

    def indicator(self, indicator_id: str) -> type[Indicator]:
        """The definition of ``indicator_id``; raise with suggestions if unknown."""
        try:
            return self.indicators[indicator_id]
        except KeyError:
            close = difflib.get_close_matches(indicator_id, self.indicators, n=3)
            hint = f" (vouliez-vous dire {', '.join(close)} ?)" if close else \
                " (`cohesion indicators` en donne la liste)"
            raise UnknownIndicatorError(f"indicateur inconnu {indicator_id!r}{hint}") from None

    def catalogue(self) -> pd.DataFrame:
        """Every indicator with its definition and the periods available for it."""
        periods = self._periods_by_variable()
        rows = []
        for indicator in self.indicators.values():
            row = indicator.describe()
            row["periods"] = self.periods(indicator, periods)
            rows.append(row)
        return pd.DataFrame(rows)

    def periods(self, indicator: type[Indicator],
                by_variable: dict[str, list[str]] | None = None) -> list[str]:
        """Periods for which every variable of ``indicator`` has values, oldest first."""
        if by_variable is None:
            by_variable = self._periods_by_variable()
        # a ratio whose denominator period a rule chooses has its numerator's periods
        sets = [set(by_variable.get(v, [])) for v in indicator.period_variables() if v != AREA]
        if not sets:
            return []
        timeless = set.intersection(*[s | {TIMELESS} for s in sets]) - {TIMELESS}
        common = sorted((p for p in timeless if all(p in s or TIMELESS in s for s in sets)),
                        key=period_key)
        if issubclass(indicator, AnnualGrowth):
            years = sorted(p for p in common if p.isdigit())
            return [f"{a}-{b}" for i, a in enumerate(years) for b in years[i + 1:]]
        # where a rule reads another period (a denominator), that one must be held too
        return [p for p in common if all(
            held == AREA or chosen in by_variable.get(held, [])
            or TIMELESS in by_variable.get(held, [])
            for held, chosen in ((key.split("@")[0], chosen)
                                 for key, chosen in self._needed(indicator, p).items()))]

    # -- values -----------------------------------------------------------------------

    def values(self, indicator_id: str, level: str, vintage: int,
               period: str | None = None, parent: tuple[str, str] | None = None
               ) -> IndicatorValues:
        """Values of an indicator for every territory of ``level``.

        Parameters
        ----------
        indicator_id : str
        level : str
            ``COM``, ``EPCI``, ``DEP``, ``REG``, ``FRA``, a zoning level…
        vintage : int
            Geography vintage of the territories.
        period : str, optional
            Default: the latest available period.
        parent : (level, code), optional
            Keep only the territories inside this one.
        """
        return self.compute([indicator_id], [level], vintage, period, parent)[0]

    def compute(self, indicator_ids: list[str], levels: list[str], vintage: int,
                period: str | None = None, parent: tuple[str, str] | None = None
                ) -> list[IndicatorValues]:
        """Values of several indicators at several levels, reading each input once."""
        if any(level in OWN_LEVELS for level in levels):
            return self._own_values(indicator_ids, levels, vintage, period, parent)
        self.warehouse.require_vintage(vintage)
        indicators = [self.indicator(i) for i in indicator_ids]
        wanted: dict[str, tuple[str, str]] = {}
        chosen_period: dict[str, str] = {}
        for indicator in indicators:
            chosen = period or self._latest_period(indicator)
            chosen_period[indicator.id] = chosen
            for key, needed in self._needed(indicator, chosen).items():
                variable = key.split("@")[0]
                wanted[_input_key(variable, needed)] = (variable, needed)
        notes: list[str] = []
        inputs, reasons = self._commune_inputs(wanted, vintage, notes)
        results = []
        summed = [i for i in indicators if not issubclass(i, SOURCED) and i.is_additive()]
        all_sums = self._level_sums([self._keys(i, chosen_period[i.id]) for i in summed],
                                    inputs, [lv for lv in levels if lv != "COM"], vintage)
        for level in levels:
            groups = None if level == "COM" else self._groups(level, vintage)
            # totals read at declared levels never use the figures published at this one
            published = pd.DataFrame() if all(issubclass(i, SOURCED) for i in indicators) \
                else self._published(wanted, level, vintage)
            for indicator in indicators:
                chosen = chosen_period[indicator.id]
                own = [note for note in [indicator.period_note(
                    chosen, self._needed(indicator, chosen))] if note]
                if issubclass(indicator, SOURCED):
                    frame = self._sourced_frame(indicator, chosen, level, vintage, inputs,
                                                groups, own)
                elif level == "COM":
                    frame = self._commune_frame(indicator, chosen, inputs, reasons)
                elif not indicator.is_additive():
                    frame = self._published_frame(indicator, chosen, published, groups.codes)
                else:
                    frame = self._aggregated_frame(
                        indicator, chosen, all_sums[(level, tuple(self._keys(indicator, chosen)))],
                        published)
                if parent is not None:
                    frame = frame[frame["code"].isin(self.members(parent, level, vintage))
                                  ].reset_index(drop=True)
                results.append(IndicatorValues(indicator, level, vintage, chosen, frame,
                                               notes + own))
        return results

    def own_periods(self, indicator: type[Indicator], level: str, generation: int
                    ) -> list[str]:
        """Periods of ``indicator`` computable at an own level (:data:`OWN_LEVELS`)."""
        cache = self.__dict__.setdefault("_own_periods_cache", {})
        if (level, generation) not in cache:
            held = self._available()
            held = held[(held["level"] == level) & (held["vintage"] == generation)]
            cache[(level, generation)] = held.groupby("variable")["period"].agg(
                lambda p: sorted(set(p))).to_dict()
        return self.periods(indicator, cache[(level, generation)])

    def _own_values(self, indicator_ids: list[str], levels: list[str], generation: int,
                    period: str | None, parent: tuple[str, str] | None
                    ) -> list[IndicatorValues]:
        """:meth:`compute` at levels of :data:`OWN_LEVELS`, from each territory's values."""
        if any(level not in OWN_LEVELS for level in levels):
            raise CohesionError(
                f"{', '.join(OWN_LEVELS)} se calcule(nt) dans une génération, les autres "
                "échelons dans un millésime : les demander séparément")
        if parent is not None:
            raise CohesionError(f"{', '.join(levels)} : le filtre par territoire parent "
                                "n'est pas disponible à cet échelon")
        results = []
        for level in levels:
            if not len(self._codes(level, generation)):
                raise NotFoundError(f"aucun territoire {level} de la génération {generation} "
                                    "dans l'entrepôt")
            for indicator in (self.indicator(i) for i in indicator_ids):
                periods = self.own_periods(indicator, level, generation)
                chosen = period or (latest_period(periods) if periods else None)
                if chosen is None:
                    raise CohesionError(f"aucune donnée de {indicator.id} à l'échelon {level} "
                                        f"(génération {generation})")
                keys = self._keys(indicator, chosen)
                values, reasons = self._pivot(level, generation, keys)
                reasons = reasons.where(reasons.notna() | values.notna(), "no_data")
                frame = self._commune_frame(indicator, chosen, values, reasons)
                own = indicator.period_note(chosen, self._needed(indicator, chosen))
                results.append(IndicatorValues(indicator, level, generation, chosen, frame,
                                               [own] if own else []))
        return results

    def commune_values(self, keys: list[str], vintage: int
                       ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        """Commune values of ``variable@period`` keys in the geography of ``vintage``.

        Values published in another geography are converted through the passage tables
        (counts summed or shared, other statistics kept for unchanged communes only).
        Read and converted once per warehouse content, then shared by every engine.

        Returns
        -------
        (DataFrame, DataFrame, list of str)
            Values and missing reasons (one column per key, one row per commune of
            ``vintage``), and the notes on the conversions.
        """
        self.warehouse.require_vintage(vintage)
        notes: list[str] = []
        wanted = {key: (key.split("@", 1)[0], key.split("@", 1)[1]) for key in keys}
        values, reasons = self._commune_inputs(wanted, vintage, notes)
        return values, reasons, notes

    def members(self, parent: tuple[str, str], level: str, vintage: int) -> list[str]:
        """Codes of the territories of ``level`` inside ``parent`` (via communes)."""
        parent_level, parent_code = parent
        if parent_level == "FRA":
            found = self.warehouse.query(
                "SELECT code FROM territories WHERE level = ? AND vintage = ?", [level, vintage])
            return list(found["code"])
        found = self.warehouse.query(
            """SELECT DISTINCT coalesce(child.parent_code, p.code) AS code
               FROM memberships p
               LEFT JOIN memberships child ON child.vintage = p.vintage
                    AND child.level = 'COM' AND child.code = p.code
                    AND child.parent_level = ?
               WHERE p.vintage = ? AND p.level = 'COM' AND p.parent_level = ?
                 AND p.parent_code = ? AND (? = 'COM' OR child.parent_code IS NOT NULL)""",
            [level, vintage, parent_level, parent_code, level])
        return list(found["code"])

    def series(self, indicator_id: str, level: str, code: str,
               vintage: int) -> pd.DataFrame:
        """Every available period of an indicator for one territory, in one vintage."""
        indicator = self.indicator(indicator_id)
        rows = []
        for period in self.periods(indicator):
            frame = self.values(indicator_id, level, vintage, period).frame
            row = frame[frame["code"] == code]
            if not row.empty:
                rows.append({"period": period, "value": row["value"].iloc[0],
                             "missing": row["missing"].iloc[0]})
        return pd.DataFrame(rows, columns=["period", "value", "missing"])

    def zone_values(self, indicator_id: str, communes: list[str], vintage: int,
                    period: str | None = None) -> dict[str, object]:
        """An indicator over a custom zoning given as a list of commune codes."""
        indicator = self.indicator(indicator_id)
        if not indicator.is_additive():
            raise CohesionError(
                f"{indicator.id} est une statistique non additive ({indicator.aggregation}) : "
                "il ne peut pas être calculé sur une zone personnalisée")
        if issubclass(indicator, SOURCED):
            raise CohesionError(
                f"{indicator.id} somme des totaux publiés par territoire "
                f"({indicator.aggregation}) : il ne peut pas être calculé sur une zone "
                "personnalisée")
        known = set(self.warehouse.query(
            "SELECT code FROM territories WHERE level = 'COM' AND vintage = ?",
            [vintage])["code"])
        unknown = sorted(set(communes) - known)
        if unknown:
            raise CohesionError(f"codes de commune inconnus dans la géographie {vintage} : "
                                f"{', '.join(unknown[:10])}")
        chosen = period or self._latest_period(indicator)
        wanted = {_input_key(k.split("@")[0], p): (k.split("@")[0], p)
                  for k, p in self._needed(indicator, chosen).items()}
        notes: list[str] = []
        inputs, _ = self._commune_inputs(wanted, vintage, notes)
        chosen_rows = inputs.reindex(sorted(set(communes)))
        sums = chosen_rows.sum(min_count=1).where(chosen_rows.notna().all())
        frame = pd.DataFrame([sums.to_dict()])
        value = indicator.compute(self._inputs_for(indicator, chosen, frame))[0]
        return {"indicator": indicator.id, "period": chosen, "communes": len(set(communes)),
                "value": None if pd.isna(value) else float(value), "notes": notes}

    # -- internals --------------------------------------------------------------------

    def _needed(self, indicator: type[Indicator], period: str) -> dict[str, str]:
        """Input key → period to read, the indicator's declared period rules applied."""
        return indicator.periods_needed(period, self._periods_at)

    def _periods_at(self, variable: str, level: str) -> list[str]:
        """Periods of ``variable`` held at ``level``, in any vintage (cached)."""
        if not hasattr(self, "_periods_at_cache"):
            self._periods_at_cache = self._available().groupby(["variable", "level"])[
                "period"].agg(lambda p: sorted(set(p))).to_dict()
        return self._periods_at_cache.get((variable, level), [])

    def _latest_period(self, indicator: type[Indicator]) -> str:
        periods = self.periods(indicator, self._periods_by_variable())
        if not periods:
            raise CohesionError(
                f"aucune donnée chargée pour {indicator.id} (il faut "
                f"{', '.join(indicator.variables())}"
                f" ; source : {indicator.source})")
        return latest_period(periods)

    def _available(self) -> pd.DataFrame:
        """Which variable × period × vintage × level the warehouse holds.

        Read once per content (:attr:`store`): an engine answers from the warehouse as
        it was when created (create a new engine after an import).
        """
        if ("available",) not in self.store:
            available = self.warehouse.held_series()
            self.store[("available",)] = pd.concat(
                [available, *(_derived_availability(available, derived.id, derived.factors)
                              for derived in DERIVED.values())], ignore_index=True)
        return self.store[("available",)]

    def _periods_by_variable(self) -> dict[str, list[str]]:
        if not hasattr(self, "_periods_cache"):
            self._periods_cache = self._available().groupby("variable")["period"].agg(
                lambda p: sorted(set(p))).to_dict()
        return self._periods_cache

    def _commune_inputs(self, wanted: dict[str, tuple[str, str]], vintage: int,
                        notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Commune-level inputs in ``vintage``: values and missing reasons by key.

        Inputs published in another geography are read in the nearest vintage and
        converted through the passage tables, all variables of a vintage at once. Each
        input is read and converted once per engine (a year of money after another
        needs the same population), with the notes of its conversion.
        """
        index = pd.Index(self._codes("COM", vintage), name="code")
        cache = self.store
        missing = {k: found for k, found in wanted.items()
                   if ("input", k, vintage) not in cache}
        if missing and ("kept inputs", vintage) not in cache:
            for name in self.files.names(f"inputs-{vintage}-"):
                cache.update(_kept_inputs(self.files.read(name), vintage))
            cache[("kept inputs", vintage)] = True
            missing = {k: found for k, found in missing.items()
                       if ("input", k, vintage) not in cache}
        if missing:
            values, reasons, by_key = self._read_commune_inputs(missing, vintage, index)
            computed = {("input", key, vintage): (
                _frozen(values[key].to_numpy(dtype="float64")),
                _frozen(reasons[key].to_numpy(dtype=object)), by_key.get(key, ()))
                for key in missing}
            cache.update(computed)
            self.files.write(f"inputs-{vintage}-{_digest(sorted(missing))}",
                             _inputs_table(computed))
        found = [cache[("input", key, vintage)] for key in wanted]
        for _, _, own in found:
            notes.extend(note for note in own if note not in notes)
        values = pd.DataFrame({key: f[0] for key, f in zip(wanted, found, strict=True)},
                              index=index, columns=list(wanted), dtype="float64")
        reasons = pd.DataFrame({key: f[1] for key, f in zip(wanted, found, strict=True)},
                               index=index, columns=list(wanted), dtype=object)
        return values, reasons

    def _read_commune_inputs(self, wanted: dict[str, tuple[str, str]], vintage: int,
                             index: pd.Index
                             ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple[str, ...]]]:
        """Read and convert :meth:`_commune_inputs`; also the conversion notes by key."""
        by_key: dict[str, tuple[str, ...]] = {}
        reading = _with_factors(wanted)
        # columns gathered as arrays, the frames built once at the end
        values: dict[str, np.ndarray] = {}
        reasons: dict[str, np.ndarray] = {}
        available = self._available()
        available = available[(available["level"] == "COM")
                              & ~available["variable"].isin(list(DERIVED))]
        by_source: dict[int, dict[str, str]] = {}
        for key, (variable, period) in reading.items():
            if variable == AREA:
                area = self.warehouse.query(
                    "SELECT code, area_km2 FROM geometries WHERE level = 'COM' AND vintage = ?",
                    [vintage]).set_index("code")["area_km2"]
                values[key] = area.reindex(index).to_numpy(dtype="float64")
                continue
            rows = available[available["variable"] == variable]
            stored = period if (rows["period"] == period).any() else TIMELESS
            vintages = rows.loc[rows["period"] == stored, "vintage"].tolist()
            if not vintages:
                continue
            source = min(vintages, key=lambda v: (abs(v - vintage), -v))
            by_source.setdefault(int(source), {})[_input_key(variable, stored)] = key
        for source, keys in by_source.items():
            wide, why = self._pivot("COM", source, list(keys))
            if source != vintage:
                converting: list[str] = []
                wide, why = self._convert(wide, why, source, vintage, converting)
                by_key.update(dict.fromkeys(keys.values(), tuple(converting)))
            if not wide.index.equals(index):  # align once, not once per column
                wide, why = wide.reindex(index), why.reindex(index)
            for stored_key, key in keys.items():
                if stored_key in wide:
                    values[key] = wide[stored_key].to_numpy(dtype="float64")
                    reasons[key] = why[stored_key].to_numpy(dtype=object)
        for key, (variable, period) in wanted.items():
            if variable in DERIVED:
                rate, count = (_input_key(f, period) for f in DERIVED[variable].factors)
                if rate in values and count in values:
                    values[key] = values[rate] * values[count] / 100
                    reasons[key] = np.where(pd.notna(reasons.get(rate)), reasons.get(rate),
                                            reasons.get(count))
                by_key[key] = tuple(dict.fromkeys(by_key.get(rate, ()) + by_key.get(count, ())))
        nothing = np.full(len(index), np.nan)
        found = {key: values.get(key, nothing) for key in wanted}
        why_missing = {}
        for key, column in found.items():
            absent = np.isnan(column)
            given = reasons.get(key, np.full(len(index), None, dtype=object))[absent]
            given[pd.isna(given)] = "no_data"
            why_missing[key] = np.full(len(index), None, dtype=object)
            why_missing[key][absent] = given
        values = pd.DataFrame(found, index=index, columns=list(wanted), dtype="float64")
        reasons = pd.DataFrame(why_missing, index=index, columns=list(wanted), dtype=object)
        return values, reasons, by_key

    def _pivot(self, level: str, vintage: int,
               keys: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Observations of ``keys`` (variable@period) as one column each, by code.

        The database returns integer positions (territory, key) and values as Arrow
        columns, filtered on the variables first (observations are stored variable by
        variable, so most blocks are skipped); the wide table is filled with numpy. A
        missing reason is only read where the value is missing.
        """
        codes = self._codes(level, vintage)
        wanted = pd.DataFrame({"variable": [k.split("@", 1)[0] for k in keys],
                               "period": [k.split("@", 1)[1] for k in keys],
                               "key_index": np.arange(len(keys))})
        variables = sorted(set(wanted["variable"]))
        connection = self.warehouse.connection
        connection.register("_wanted_keys", wanted)
        try:
            # codes are numbered by the database, in the order of _codes
            found = connection.execute(
                f"""SELECT c.row, w.key_index, o.value,
                          CASE WHEN o.value IS NULL THEN o.missing END AS missing
                   FROM observations o
                   JOIN _wanted_keys w USING (variable, period)
                   JOIN ({_positions_sql(level)}) c USING (code)
                   WHERE o.level = ? AND o.vintage = ?
                     AND o.variable IN ({", ".join("?" * len(variables))})""",
                [level, vintage, level, vintage, *variables]).to_arrow_table()
        finally:
            connection.unregister("_wanted_keys")
        rows = found.column("row").to_numpy()
        columns = found.column("key_index").to_numpy()
        values = np.full((len(codes), len(keys)), np.nan)
        # NULLs arrive as NaN: they are missing values, not zeros
        values[rows, columns] = found.column("value").to_numpy().astype("float64")
        reasons = np.full((len(codes), len(keys)), None, dtype=object)
        missing = found.column("missing")
        if missing.null_count < len(missing):
            given = pc.is_valid(missing).to_numpy(zero_copy_only=False)
            reasons[rows[given], columns[given]] = pc.filter(missing, given).to_pandas(
            ).to_numpy()
        index = pd.Index(codes, name="code")
        return (pd.DataFrame(values, index=index, columns=keys),
                pd.DataFrame(reasons, index=index, columns=keys))

    def _codes(self, level: str, vintage: int) -> np.ndarray:
        """Codes that hold observations of a level in a vintage (cached)."""
        cache = self.store
        if ("codes", level, vintage) not in cache:
            name = f"codes-{level}-{vintage}"
            kept = self.files.read(name)
            if kept is None:
                kept = self.warehouse.connection.execute(
                    f"SELECT code FROM ({_positions_sql(level)}) ORDER BY row",
                    [level, vintage]).to_arrow_table()
                self.files.write(name, kept)
            cache[("codes", level, vintage)] = _frozen(
                kept.column("code").to_numpy(zero_copy_only=False))
        return cache[("codes", level, vintage)]

    def _convert(self, wide: pd.DataFrame, why: pd.DataFrame, source: int, vintage: int,
                 notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        passage = self._passage(source, vintage)
        additive = [k for k in wide.columns if self.additive.get(k.split("@")[0], False)]
        others = [k for k in wide.columns if k not in additive]
        parts = []
        if additive:
            flows = [k for k in additive if k.split("@")[0] in self.flows]
            converted = convert_counts(wide[additive].fillna(dict.fromkeys(flows, 0.0)),
                                       passage)
            for key in flows:
                # a merged commune has the money of its parts that had some, and none
                # when none had (rather than none as soon as one had none)
                reached = passage.loc[passage["from_code"].isin(wide.index[wide[key].notna()]),
                                      "to_code"]
                converted.values[key] = converted.values[key].where(
                    converted.values.index.isin(reached))
            parts.append(converted.values)
            notes.append(
                f"{', '.join(sorted({k.split('@')[0] for k in additive}))} : convertis de "
                f"la géographie {source} vers {vintage} ({len(converted.approximated)} "
                f"communes réparties après une scission, {len(converted.unmatched)} codes "
                "sans correspondance"
                + (f" : {', '.join(converted.unmatched[:5])})" if converted.unmatched
                   else ")"))
        if others:
            # a median or a rate is only carried over to an unchanged commune
            kept = passage[passage["kind"].isin(["same", "recode"])]
            parts.append(convert_counts(wide[others], kept).values)
        targets = pd.Index(passage["to_code"].unique(), name="code").sort_values()
        result = pd.concat(parts, axis=1).reindex(targets)
        # a converted value missing keeps its reason where the commune kept its code
        absent = np.isnan(result.to_numpy(dtype="float64"))
        given = why.reindex(index=result.index, columns=result.columns).to_numpy(dtype=object)
        kept = given[absent]
        kept[pd.isna(kept)] = "not_convertible"
        reasons = np.full(absent.shape, None, dtype=object)
        reasons[absent] = kept
        return result, pd.DataFrame(reasons, index=result.index, columns=result.columns)

    def _passage(self, source: int, target: int) -> pd.DataFrame:
        """The composed passage table between two vintages (cached per content)."""
        if ("passage", source, target) not in self.store:
            step = 1 if target > source else -1
            # every step of the way in one query
            found = self.warehouse.query(
                "SELECT from_vintage, from_code, to_vintage, to_code, weight, kind "
                "FROM passages WHERE to_vintage - from_vintage = ? "
                "AND from_vintage BETWEEN least(?, ?) AND greatest(?, ?) "
                "AND to_vintage BETWEEN least(?, ?) AND greatest(?, ?)",
                [step, *[source, target] * 4])
            steps = {(int(a), int(b)): rows.reset_index(drop=True) for (a, b), rows
                     in found.groupby(["from_vintage", "to_vintage"], sort=False)}
            self.store[("passage", source, target)] = chain(steps, source, target)
        return self.store[("passage", source, target)]

    def _step(self, from_vintage: int, to_vintage: int) -> pd.DataFrame:
        """The stored passage table between two adjacent vintages."""
        return self.warehouse.query(
            "SELECT from_vintage, from_code, to_vintage, to_code, weight, kind FROM passages "
            "WHERE from_vintage = ? AND to_vintage = ?", [from_vintage, to_vintage])

    def _steps(self) -> dict[tuple[int, int], pd.DataFrame]:
        """Every stored adjacent passage table, by (from, to) vintage."""
        pairs = self.warehouse.query(
            "SELECT DISTINCT from_vintage, to_vintage FROM passages")
        return {(int(a), int(b)): self._step(int(a), int(b))
                for a, b in pairs.itertuples(index=False)}

    def _groups(self, level: str, vintage: int) -> Groups:
        """The communes of each territory of ``level`` (cached)."""
        return self._level_groups([level], vintage)[0]

    def _level_groups(self, levels: list[str], vintage: int) -> list[Groups]:
        """The communes of each territory of each level, read in one query (cached).

        Communes are numbered as in :meth:`_codes` (the inputs' rows).
        """
        cache = self.store
        for level in levels:
            if ("groups", level, vintage) not in cache:
                kept = self.files.read(f"groups-{level}-{vintage}")
                if kept is not None:
                    cache[("groups", level, vintage)] = _kept_groups(kept)
        unread = [level for level in levels if ("groups", level, vintage) not in cache]
        if unread:
            # positions are computed by the database, and the territory codes arrive
            # dictionary-encoded: one Python string per territory, not per commune
            links = self.warehouse.connection.execute(
                f"""SELECT list_position(?::VARCHAR[], m.parent_level) AS level_number,
                           c.row, m.parent_code
                    FROM memberships m JOIN ({_positions_sql("COM")}) c USING (code)
                    WHERE m.vintage = ? AND m.level = 'COM'
                      AND m.parent_level IN ({", ".join("?" * len(unread))})""",
                [unread, "COM", vintage, vintage, *unread]).to_arrow_table().combine_chunks()
            number = links.column("level_number").to_numpy()
            rows = links.column("row").to_numpy()
            encoded = pc.dictionary_encode(links.column("parent_code")).chunk(0) \
                if links.num_rows else pa.array([], pa.string()).dictionary_encode()
            parent = encoded.indices.to_numpy()
            names = np.array(encoded.dictionary.to_pylist(), dtype=object)
            for position, level in enumerate(unread, start=1):
                own = number == position
                present, inverse = np.unique(parent[own], return_inverse=True)
                order = np.argsort(names[present])
                rank = np.empty(len(order), dtype="int64")
                rank[order] = np.arange(len(order))
                groups = Groups(_frozen(rows[own]), _frozen(rank[inverse]),
                                pd.Index(names[present][order], name="code"))
                cache[("groups", level, vintage)] = groups
                self.files.write(f"groups-{level}-{vintage}", _groups_table(groups))
        return [cache[("groups", level, vintage)] for level in levels]

    def _published(self, wanted: dict[str, tuple[str, str]], level: str,
                   vintage: int) -> pd.DataFrame:
        """Values published directly at ``level`` (upper-level files, user tables)."""
        if level == "COM":
            return pd.DataFrame()
        cache = self.__dict__.setdefault("_held_cache", {})
        if (level, vintage) not in cache:
            available = self._available()
            held = available[(available["level"] == level)
                             & (available["vintage"] == vintage)]
            cache[(level, vintage)] = set(held["variable"] + "@" + held["period"])
        keys = [k for k in wanted if k in cache[(level, vintage)]]
        if not keys:
            return pd.DataFrame()
        return self._pivot(level, vintage, keys)[0]

    def _inputs_for(self, indicator: type[Indicator], period: str,
                    frame: pd.DataFrame) -> dict[str, np.ndarray]:
        inputs: dict[str, np.ndarray] = {}
        for key, needed in self._needed(indicator, period).items():
            column = _input_key(key.split("@")[0], needed)
            inputs[key] = frame[column].to_numpy(dtype="float64") if column in frame else \
                np.full(len(frame), np.nan)
        if issubclass(indicator, AnnualGrowth):
            start, end = period.split("-")
            inputs["@years"] = np.full(len(frame), float(int(end) - int(start)))
        return inputs

    def _keys(self, indicator: type[Indicator], period: str) -> list[str]:
        return [_input_key(k.split("@")[0], p) for k, p in self._needed(indicator, period).items()]

    def _commune_frame(self, indicator: type[Indicator], period: str, inputs: pd.DataFrame,
                       reasons: pd.DataFrame) -> pd.DataFrame:
        keys = self._keys(indicator, period)
        value = indicator.compute(self._inputs_for(indicator, period, inputs))
        absent = np.isnan(value)
        # the first input's reason wins; a value missing without one is undefined
        missing = np.full(len(inputs), None, dtype=object)
        missing[absent] = "undefined"
        where = np.flatnonzero(absent)
        for key in reversed(keys):
            reason = reasons[key].to_numpy()[where]
            given = pd.notna(reason)
            missing[where[given]] = reason[given]
        return _frame(inputs.index, value, missing, np.where(absent, 0.0, 1.0),
                      {key: inputs[key].to_numpy() for key in keys})

    def _level_sums(self, key_sets: list[list[str]], inputs: pd.DataFrame, levels: list[str],
                    vintage: int) -> dict[tuple[str, tuple[str, ...]], LevelSums]:
        """Sums of every set of inputs over the territories of every level, in one pass.

        Each set (the inputs of an indicator) is summed over the communes that have all
        of it, so a ratio's numerator and denominator cover the same communes. The
        masked inputs of every set side by side make one matrix; the memberships of
        every level, stacked, one sparse matrix (territory × commune); their product
        holds every sum of every level.

        Returns
        -------
        dict
            ``(level, keys) →`` :class:`LevelSums`.
        """
        unique = list(dict.fromkeys(tuple(keys) for keys in key_sets))
        if not unique or not levels:
            return {}
        values = inputs.to_numpy(dtype="float64")
        position = {key: j for j, key in enumerate(inputs.columns)}
        blocks, starts = [], {}
        start = 0
        for keys in unique:
            own = values[:, [position[key] for key in keys]]
            complete = ~np.isnan(own).any(axis=1)
            blocks.append(np.where(complete[:, None], own, 0.0))
            blocks.append(complete[:, None].astype("float64"))
            starts[keys] = start
            start += len(keys) + 1
        matrix = np.hstack(blocks)
        groups = self._level_groups(levels, vintage)
        offsets = np.cumsum([0] + [len(g.codes) for g in groups])
        territories = np.concatenate([g.group + offset for g, offset in
                                      zip(groups, offsets, strict=False)])
        communes = np.concatenate([g.rows for g in groups])
        sums = grouped_sums(matrix, communes, territories, int(offsets[-1]))
        members = np.bincount(territories, minlength=int(offsets[-1]))
        found = {}
        for level, group, offset in zip(levels, groups, offsets, strict=False):
            rows = slice(int(offset), int(offset) + len(group.codes))
            for keys in unique:
                first = starts[keys]
                contributing = sums[rows, first + len(keys)]
                own = sums[rows, first:first + len(keys)].copy()
                own[contributing == 0] = np.nan
                found[(level, keys)] = LevelSums(
                    pd.DataFrame(own, index=group.codes, columns=list(keys)),
                    contributing / members[rows])
        return found

    def _aggregated_frame(self, indicator: type[Indicator], period: str, summed: LevelSums,
                          published: pd.DataFrame) -> pd.DataFrame:
        keys = self._keys(indicator, period)
        sums = summed.sums
        coverage = pd.Series(summed.coverage, index=sums.index)
        if not published.empty and set(keys) <= set(published.columns):
            # a figure the producer published at this level wins over our sum
            direct = published[keys].dropna()
            sums = direct.combine_first(sums)
            coverage = coverage.reindex(sums.index)
            coverage[direct.index] = 1.0
        value = indicator.compute(self._inputs_for(indicator, period, sums))
        return _frame(sums.index, value, np.where(np.isnan(value), "no_data", None),
                      coverage.reindex(sums.index).to_numpy(),
                      {key: sums[key].to_numpy() for key in keys})

    def _published_frame(self, indicator: type[Indicator], period: str,
                         published: pd.DataFrame, codes: pd.Index) -> pd.DataFrame:
        keys = self._keys(indicator, period)
        codes = codes.union(published.index) if not published.empty else codes
        base = published.reindex(index=codes, columns=keys) if not published.empty else \
            pd.DataFrame(index=codes, columns=keys, dtype="float64")
        value = indicator.compute(self._inputs_for(indicator, period, base))
        return _frame(base.index, value, np.where(np.isnan(value), "not_aggregable", None),
                      np.full(len(base), np.nan), {key: base[key].to_numpy() for key in keys})

    # -- totals read at declared levels (Total, TotalRatio) -----------------------------

    def _sourced_frame(self, indicator: type[Indicator], period: str, level: str,
                       vintage: int, inputs: pd.DataFrame, groups: Groups | None,
                       notes: list[str]) -> pd.DataFrame:
        """Values of a :class:`~cohesion.indicators.api.Total` or ``TotalRatio``.

        Each input is summed on its own, from the level the indicator declares for it
        (``source_level``): over the communes of each territory, or over the territories
        of the source level lying in it. A total's numerator and a denominator are thus
        each complete for the territory, rather than summed over the communes having
        both (a département's money has no commune).
        """
        if groups is None:
            groups = Groups(np.arange(len(inputs)), np.arange(len(inputs)), inputs.index)
        coverage = np.ones(len(groups.codes))
        sums: dict[str, np.ndarray] = {}
        by_key: dict[str, np.ndarray] = {}
        for key, chosen in self._needed(indicator, period).items():
            variable = key.split("@")[0]
            column = _input_key(variable, chosen)
            source = indicator.source_level(variable, level)
            flow = variable in indicator.flows()
            if source == COMMUNES:
                # the inputs of an engine do not change: a population is summed once
                cache = self.__dict__.setdefault("_sums_cache", {})
                if (column, level, vintage) not in cache:
                    cache[(column, level, vintage)] = _group_sums(
                        inputs[column].to_numpy(dtype="float64"), groups)
                sums[column], share = cache[(column, level, vintage)]
            else:
                sums[column] = self._nested_sums(variable, chosen, source, level, vintage,
                                                 groups.codes, flow, notes)
                share = np.where(np.isnan(sums[column]), 0.0, 1.0)
            by_key[key] = sums[column]
            if not flow:
                coverage = share
        value = indicator.compute(by_key)
        return pd.DataFrame({"code": groups.codes, "value": value,
                             "missing": np.where(np.isnan(value), "no_data", None),
                             "coverage": np.where(np.isnan(value), 0.0, coverage), **sums})

    def _nested_sums(self, variable: str, period: str, source: str, level: str, vintage: int,
                     targets: pd.Index, flow: bool, notes: list[str]) -> np.ndarray:
        """``variable`` of the territories of ``source`` summed over those of ``level``.

        Cached with its notes: indicators sharing a numerator (an amount per inhabitant,
        per poor person…) sum it once. The territories of a level in a vintage are
        those of the engine's warehouse, so they are no part of the key.
        """
        cache = self.__dict__.setdefault("_nested_cache", {})
        key = (variable, period, source, level, vintage, flow)
        if key not in cache:
            own: list[str] = []
            cache[key] = (self._nest(variable, period, source, level, vintage, targets, flow,
                                     own), own)
        sums, found = cache[key]
        notes.extend(found)
        return sums.copy()

    def _nest(self, variable: str, period: str, source: str, level: str, vintage: int,
              targets: pd.Index, flow: bool, notes: list[str]) -> np.ndarray:
        """Compute :meth:`_nested_sums`.

        A territory of ``level`` gets no value when none of the territories of
        ``source`` lying in it has one, or when one with a value overlaps it only
        partly (its value cannot be split). For a denominator (not a ``flow``), one
        territory without a value, or partly in it, is enough: a population must be
        complete. A ``flow`` (money, posts) sums what the files list, and the notes name
        the territories of ``source`` they list nothing for.
        """
        found = self._source_values(variable, period, source, vintage)
        if found is None:
            return np.full(len(targets), np.nan)
        values, source_vintage = found
        if source == level:
            return values.reindex(targets).to_numpy(dtype="float64")
        links = self._nesting(source, source_vintage, level, vintage)
        if links.empty:
            notes.append(f"{variable} : aucun territoire de l'échelon {source} n'est rattaché "
                         f"aux communes de la géographie {vintage} : pas de valeur à "
                         f"l'échelon {level}")
            return np.full(len(targets), np.nan)
        own = values.reindex(links["source"]).to_numpy(dtype="float64")
        present = ~np.isnan(own)
        partly = ~links["nested"].to_numpy()
        # a value partly in a territory blocks it; so does a missing part of a denominator
        blocking = partly & present if flow else partly | ~present
        position = targets.get_indexer(links["target"])
        keep = position >= 0
        position, own = position[keep], own[keep]
        present, blocking = present[keep], blocking[keep]
        size = len(targets)
        sums = np.bincount(position, np.where(present & ~blocking, own, 0.0), size)
        sums[np.bincount(position, blocking, size) > 0] = np.nan
        sums[np.bincount(position, present, size) == 0] = np.nan
        straddling = links.loc[partly & links["source"].isin(values.index).to_numpy(),
                               "source"].unique()
        if len(straddling):
            notes.append(f"{variable} : {len(straddling)} territoire(s) de l'échelon {source} "
                         f"à cheval sur plusieurs territoires de l'échelon {level} (par exemple "
                         f"{straddling[0]}) : ces territoires restent sans valeur")
        if flow:
            self._flow_notes(variable, period, source, level, vintage, values, links, notes)
        if source == "QPV":
            sums[~self._qpv_covered(source_vintage, level, vintage, targets)] = np.nan
        return sums

    @staticmethod
    def _flow_notes(variable: str, period: str, source: str, level: str, vintage: int,
                    values: pd.Series, links: pd.DataFrame, notes: list[str]) -> None:
        """Say which totals of ``source`` the sums of ``level`` leave out, and which lack."""
        silent = sorted(set(links["source"]) - set(values.index))
        if silent:
            named = ", ".join(silent[:10]) + (", …" if len(silent) > 10 else "")
            notes.append(f"{variable} : aucune valeur en {period} pour {len(silent)} "
                         f"territoire(s) de l'échelon {source} ({named}) : les sommes ne "
                         "comptent que ceux qui en ont une")
        # a total of a territory in no territory of the level (or unknown in the
        # geography) counts nowhere at that level: say how much
        lost = values[~values.index.isin(links["source"]) & (values != 0)]
        if len(lost):
            total = f"{lost.sum():,.2f}".replace(",", "\u202f").replace(".", ",")
            notes.append(f"{variable} : {len(lost)} territoire(s) de l'échelon {source} dans "
                         f"aucun territoire de l'échelon {level} en {vintage} (par exemple "
                         f"{lost.index[0]}), {total} au total : non compté(s) à cet échelon")

    def _source_values(self, variable: str, period: str, source: str,
                       vintage: int) -> tuple[pd.Series, int] | None:
        """Values of ``variable`` at ``source`` and the vintage read (the nearest one).

        Every period of the variable held there is read at once, and kept: a year of
        money after another asks for the next one.
        """
        available = self._available()
        held = available[(available["variable"] == variable) & (available["level"] == source)]
        vintages = held.loc[held["period"] == period, "vintage"]
        if vintages.empty:
            return None
        chosen = int(min(vintages, key=lambda v: (abs(v - vintage), -v)))
        cache = self.__dict__.setdefault("_sources_cache", {})
        if (variable, source, chosen) not in cache:
            keys = [_input_key(variable, p) for p in
                    sorted(set(held.loc[held["vintage"] == chosen, "period"]))]
            cache[(variable, source, chosen)] = self._pivot(source, chosen, keys)[0]
        return cache[(variable, source, chosen)][_input_key(variable, period)].dropna(), chosen

    def _nesting(self, source: str, source_vintage: int, level: str,
                 vintage: int) -> pd.DataFrame:
        """Which territories of ``level`` each territory of ``source`` overlaps (cached).

        Both are linked through communes: those of ``source`` in ``vintage`` (or, for a
        level inside communes such as QPV, the communes each of its territories lies in,
        in its own vintage) and the territory of ``level`` of each commune.

        Returns
        -------
        DataFrame
            ``source, target, nested``: one row per overlapping pair; ``nested`` when
            every commune of the source territory is in that one target. A source
            territory none of whose communes is in a territory of ``level`` has no row.
        """
        cache = self.__dict__.setdefault("_nesting_cache", {})
        key = (source, source_vintage, level, vintage)
        if key not in cache:
            inside = self.warehouse.memberships(source, source_vintage, [COMMUNES])
            if inside.empty:
                found = self.warehouse.memberships(COMMUNES, vintage, [source])
                pairs = pd.DataFrame({"source": found["parent_code"], "commune": found["code"]})
            else:
                pairs = pd.DataFrame({"source": inside["code"], "commune": inside["parent_code"]})
            merged = pairs.merge(self._commune_targets(level, vintage), on="commune",
                                 how="left")
            per_source = merged.groupby("source")["target"].agg(["count", "size", "nunique"])
            nested = (per_source["count"] == per_source["size"]) & (per_source["nunique"] == 1)
            links = merged.dropna(subset=["target"])[["source", "target"]].drop_duplicates()
            links["nested"] = links["source"].map(nested).astype(bool).to_numpy()
            cache[key] = links.reset_index(drop=True)
        return cache[key]

    def _commune_targets(self, level: str, vintage: int) -> pd.DataFrame:
        """``commune, target``: the territory of ``level`` of each commune of ``vintage``."""
        cache = self.__dict__.setdefault("_commune_targets_cache", {})
        if (level, vintage) not in cache:
            if level == COMMUNES:
                codes = self._codes(COMMUNES, vintage)
                cache[(level, vintage)] = pd.DataFrame({"commune": codes, "target": codes})
            else:
                found = self.warehouse.memberships(COMMUNES, vintage, [level])
                cache[(level, vintage)] = pd.DataFrame({"commune": found["code"],
                                                        "target": found["parent_code"]})
        return cache[(level, vintage)]

    def _qpv_covered(self, generation: int, level: str, vintage: int,
                     targets: pd.Index) -> np.ndarray:
        """Whether the QPV contours of every département of each target are loaded.

        Elsewhere the QPV of a territory are not all known, so neither are their
        inhabitants (:meth:`~cohesion.store.warehouse.Warehouse.qpv_coverage`).
        """
        covered = self.warehouse.qpv_coverage(generation)
        if WHOLE_COUNTRY in covered:
            return np.ones(len(targets), dtype=bool)
        departements = self._commune_targets("DEP", vintage).set_index("commune")["target"]
        communes = self._commune_targets(level, vintage)
        inside = communes["commune"].map(departements).isin(covered)
        return inside.groupby(communes["target"]).all().reindex(
            targets, fill_value=False).to_numpy(dtype=bool)


@dataclass(frozen=True)
class LevelSums:
    """Inputs summed over the territories of one level (see ``IndicatorEngine._level_sums``).

    ``sums`` has one column per input, indexed by territory code, missing where no
    commune has every input; ``coverage`` is the share of each territory's communes that
    have them all.
    """

    sums: pd.DataFrame
    coverage: np.ndarray


@dataclass(frozen=True)
class Groups:
    """Membership of communes in the territories of one level, as integer arrays."""

    rows: np.ndarray  # position of each member commune in the inputs
    group: np.ndarray  # position of its territory in ``codes``
    codes: pd.Index


def grouped_sums(matrix: np.ndarray, members: np.ndarray, groups: np.ndarray,
                 size: int) -> np.ndarray:
    """Sum rows of ``matrix`` into ``size`` groups, every column in one sparse product.

    ``members[i]`` is a row of ``matrix`` and ``groups[i]`` the group it counts in; a
    row may count in several groups (a commune in its EPCI and in its département),
    and a row in none is left out. Missing values must be replaced beforehand (a NaN
    would spread to its group).

    Examples
    --------
    >>> grouped_sums(np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 40.0]]),
    ...              np.array([0, 1, 2, 0]), np.array([0, 0, 1, 1]), 2)
    array([[ 3., 30.],
           [ 5., 50.]])
    """
    if matrix.shape[1] == 1:  # one column: a weighted count is cheaper than a matrix
        return np.bincount(groups, matrix[members, 0], size).astype("float64")[:, None]
    membership = scipy.sparse.csr_matrix(
        (np.ones(len(members)), (groups, members)), shape=(size, matrix.shape[0]))
    return np.asarray(membership @ matrix)


def _frame(codes: pd.Index, value: np.ndarray, missing: np.ndarray, coverage: np.ndarray,
           inputs: dict[str, np.ndarray]) -> pd.DataFrame:
    """The frame of :class:`IndicatorValues`, each column its own copy.

    Columns are not consolidated into blocks (``copy=False``): building a frame then
    costs the same for 18 régions as for 35,000 communes.
    """
    columns = {"code": np.array(codes, dtype=object), "value": np.array(value),
               "missing": np.array(missing, dtype=object), "coverage": np.array(coverage),
               **{key: np.array(column) for key, column in inputs.items()}}
    return pd.DataFrame(columns, copy=False)


def _positions_sql(level: str) -> str:
    """SQL of ``code, row``: the codes of ``level`` holding observations in a vintage.

    Numbered in code order; parameters: the level and the vintage. Communes are known
    from the référentiel, which is cheaper than a scan of the observations; so are the
    QPV of a generation, each listed even without a value (missing, not absent).
    """
    codes = ("SELECT code FROM territories WHERE level = ? AND vintage = ?"
             if level == "COM" or level in OWN_LEVELS
             else "SELECT DISTINCT code FROM observations WHERE level = ? AND vintage = ?")
    return f"SELECT code, row_number() OVER (ORDER BY code) - 1 AS row FROM ({codes})"


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only, to be shared between engines (:attr:`IndicatorEngine.store`)."""
    array.flags.writeable = False
    return array


def _input_key(variable: str, period: str) -> str:
    return f"{variable}@{period}"


def _group_sums(values: np.ndarray, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
    """Sums over the communes of each territory that have a value, and their share."""
    matrix = values[groups.rows]
    present = ~np.isnan(matrix)
    size = len(groups.codes)
    # float even without any member (bincount of nothing is an integer array)
    sums = np.bincount(groups.group, np.where(present, matrix, 0.0), size).astype(float)
    contributing = np.bincount(groups.group, present, size)
    sums[contributing == 0] = np.nan
    return sums, contributing / np.maximum(np.bincount(groups.group, minlength=size), 1)


def _with_factors(wanted: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The inputs to read: ``wanted``, derived variables replaced by their factors."""
    reading = {key: found for key, found in wanted.items() if found[0] not in DERIVED}
    for variable, period in wanted.values():
        if variable in DERIVED:
            for factor in DERIVED[variable].factors:
                reading.setdefault(_input_key(factor, period), (factor, period))
    return reading


def _derived_availability(available: pd.DataFrame, variable: str,
                          factors: tuple[str, str]) -> pd.DataFrame:
    """Where a derived variable can be computed: communes holding all its factors."""
    keys = ["period", "vintage", "level"]
    communes = available[available["level"] == COMMUNES]
    first, *others = (communes.loc[communes["variable"] == f, keys] for f in factors)
    for other in others:
        first = first.merge(other, on=keys)
    return first.assign(variable=variable)[["variable", *keys]]


@functools.cache
def _fingerprint() -> str:
    """The code that computes what the engine keeps in :class:`MaterialisedFiles`."""
    return code_fingerprint(["cohesion.indicators.engine", "cohesion.indicators.variables",
                             "cohesion.territory.passage"])


def _digest(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def _inputs_table(entries: dict[tuple, tuple[np.ndarray, np.ndarray, tuple[str, ...]]]
                  ) -> pa.Table:
    """Commune inputs (:meth:`IndicatorEngine._commune_inputs`) as a table to keep.

    Two columns by input, its values and its missing reasons; the notes of the
    conversions in the schema's metadata.
    """
    columns: dict[str, pa.Array] = {}
    notes = {}
    for (_, key, _), (values, reasons, own) in entries.items():
        columns[f"value {key}"] = pa.array(values, pa.float64())
        columns[f"missing {key}"] = pa.array(reasons, pa.string())
        notes[key] = list(own)
    return pa.table(columns).replace_schema_metadata({"notes": json.dumps(notes)})


def _kept_inputs(table: pa.Table | None, vintage: int) -> dict[tuple, tuple]:
    """The entries of :func:`_inputs_table` read back (values without a copy)."""
    if table is None:
        return {}
    notes = json.loads(table.schema.metadata[b"notes"])
    return {("input", key, vintage): (
        _frozen(table.column(f"value {key}").to_numpy()),
        _frozen(table.column(f"missing {key}").to_numpy(zero_copy_only=False)),
        tuple(own)) for key, own in notes.items()}


def _groups_table(groups: Groups) -> pa.Table:
    """:class:`Groups` as a table to keep: the territory of each member, dictionary-coded."""
    return pa.table({"row": groups.rows, "territory": pa.DictionaryArray.from_arrays(
        pa.array(groups.group, pa.int64()), pa.array(list(groups.codes), pa.string()))})


def _kept_groups(table: pa.Table) -> Groups:
    """:func:`_groups_table` read back."""
    territory = table.column("territory").combine_chunks()
    return Groups(_frozen(table.column("row").to_numpy()),
                  _frozen(territory.indices.to_numpy()),
                  pd.Index(territory.dictionary.to_pylist(), name="code", dtype=object))
