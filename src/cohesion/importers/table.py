"""The generic indicator-table importer: « importez vos propres données ».

Any table with a territory-code column and one or more value columns becomes
observations (variable × level × code × vintage × period). How to read it is described
by options or by a small YAML *mapping file* (see ``docs/import-your-own-data.md``):

.. code-block:: yaml

    code_column: codgeo
    level: ZE
    vintage: 2010
    variables:
      - column: value0
        period_column: year0
        id: revenu_median
        label: Revenu disponible médian par unité de consommation
        unit: €

Three layouts are read:

- *wide*: one column per variable (and period): ``taux_2008``, ``taux_2013``, INSEE
  names (``P18_POP``), or value/period column pairs (``year0``/``value0``);
- *wide with a period column*: one row per territory and period;
- *long*: one row per territory × variable × period (``variable_column``), or one row
  per territory × variable with value/period column pairs (``variable_column`` and
  ``variables`` without ids: the baromètre 2018's ``baro.csv``).

A table of a single territory (France) has no code column: ``code: FR`` names it. For a
level outside the référentiel (zones d'emploi 2010…), ``name_column`` records the names
of its territories, and the codes of later tables of that level are checked against them.

Territory codes are checked against the référentiel (communes, EPCI, départements,
régions…) or against the territories of a level already in the warehouse (a zoning);
a level the warehouse does not know yet (zones d'emploi ``ZE``) is registered, its
codes checked for their format only. CSV (also gzip-compressed) and XLSX files are read.

This module turns the table into observations; the mapping is read and checked by
:mod:`~cohesion.importers.table_mapping`, the file and its values by
:mod:`~cohesion.importers.table_reading`, and the territory codes are resolved by
:mod:`~cohesion.importers.table_territories`.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cohesion.importers.base import ImportBatch, Importer, ImportOptions
from cohesion.importers.reading import Table
from cohesion.importers.table_mapping import TableMapping, VariableSpec, mapping_from_options
from cohesion.importers.table_reading import find_column, parse_values, read_data_table
from cohesion.importers.table_territories import resolve_territories, territory_names
from cohesion.indicators.variables import BY_ID, split_insee_column, variable_for_stem
from cohesion.store.schema import MISSING_REASONS
from cohesion.store.warehouse import Warehouse

CODE_COLUMNS = ("codgeo", "code_geo", "code_insee", "insee_com", "code_commune", "depcom",
                "siren", "siren_epci", "code_epci", "code_departement", "code_dep",
                "insee_dep", "code_region", "code_reg", "insee_reg", "code_ze", "ze2020",
                "ze2010", "code", "dep", "reg", "com", "epci", "ze")
VARIABLE_COLUMNS = ("id_indicateur", "code_indicateur", "variable", "indicateur")
VALUE_COLUMNS = ("valeur", "value")
LABEL_COLUMNS = ("indicateur", "libelle_indicateur", "label", "libelle")
UNIT_COLUMNS = ("unite", "unit")
PERIOD_COLUMNS = ("date", "periode", "period", "annee", "year")

_PAIR_PERIOD = re.compile(r"^(year|annee|date|periode|period)_?(\d+)$", re.IGNORECASE)
_PAIR_VALUE = re.compile(r"^(value|valeur)_?(\d+)$", re.IGNORECASE)
_YEAR_SUFFIX = re.compile(r"^(?P<stem>.*?[A-Za-z].*?)[_\-. ]?(?P<year>(?:19|20)\d{2})$")


def slug(text: str) -> str:
    """A variable id from a column name or an indicator code.

    Examples
    --------
    >>> slug("Taux de pauvreté (%)")
    'taux_de_pauvrete'
    >>> slug("tx-detenus-formation")
    'tx_detenus_formation'
    >>> slug("2019 revenu")
    'v_2019_revenu'
    """
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return cleaned if cleaned[:1].isalpha() else f"v_{cleaned}"


def _auto_specs(table: Table, used: set[str]) -> list[VariableSpec]:
    """Value columns found without a mapping: value/period pairs or year-suffixed names."""
    columns = [c for c in table.frame.columns if c not in used]
    periods = {m[2]: c for c in columns if (m := _PAIR_PERIOD.match(c))}
    pairs = [VariableSpec(c, period_column=periods[m[2]]) for c in columns
             if (m := _PAIR_VALUE.match(c)) and m[2] in periods]
    if pairs:
        return pairs
    return [VariableSpec(c) for c in columns if _period_from_name(c) is not None]


def _period_from_name(column: str) -> tuple[str, str, bool] | None:
    """(variable id, period, is INSEE) from ``taux_2008`` or INSEE's ``P18_POP``."""
    if match := _YEAR_SUFFIX.match(column):
        return slug(match["stem"]), match["year"], False
    if column == column.upper() and (split := split_insee_column(column)) is not None:
        return variable_for_stem(split[0])[0], split[1], True
    return None


def wide_observations(table: Table, mapping: TableMapping, specs: list[VariableSpec],
                       markers: dict[str, str], default_variable: str,
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Melt the value columns into (row, variable, period, value, missing)."""
    parts = []
    described: dict[str, tuple] = {}
    frame = table.frame
    for spec in specs:
        find_column(table, spec.column, (), f"les valeurs de {spec.column}", key="column")
        from_name = _period_from_name(spec.column) if mapping.period_from_name else None
        insee = False
        named = False
        values, reasons = parse_values(table, spec.column, mapping.decimal, markers)
        rows = np.arange(len(frame), dtype=np.int64)
        if spec.period is not None:
            period: Any = spec.period
        elif spec.period_column is not None or mapping.period_column is not None:
            period_column = spec.period_column or mapping.period_column
            find_column(table, period_column, (), "la période", key="period_column")
            period = frame[period_column].astype(str).str.strip().to_numpy(object)
            empty = period == ""
            # a pair left empty (no first date for this indicator) holds no observation;
            # a value without its period is an error
            if (empty & ~np.isnan(values)).any():
                row = int(np.argmax(empty & ~np.isnan(values)))
                raise table.error("période absente", row=row, column=period_column,
                                  expected="une période comme 2019 ou 2021-06-30", found="")
            if empty.all():
                continue
            period, values, reasons, rows = (period[~empty], values[~empty],
                                             reasons[~empty], rows[~empty])
        elif from_name is not None:
            period, insee, named = from_name[1], from_name[2], True
        elif mapping.period is not None:
            period = mapping.period
        else:
            raise table.error(f"aucune période pour les valeurs de {spec.column}", row=-1,
                              column=spec.column, expected="une année dans le nom de la colonne "
                              "(taux_2019), ou la clé period ou period_column")
        # value0/year0, value1/year1 are one variable at two dates: named after the file
        variable = (spec.id or mapping.variable or (from_name[0] if named else None)
                    or (default_variable if spec.period_column is not None else None)
                    or slug(spec.column))
        variable = mapping.variable_prefix + variable
        parts.append(pd.DataFrame({"row": rows,
                                   "variable": variable, "period": period,
                                   "value": values, "missing": reasons}))
        base = BY_ID.get(variable)
        label = spec.label or mapping.label or (base.label if base and insee else None)
        unit = spec.unit or mapping.unit or (base.unit if base and insee else None)
        additive = spec.additive if spec.additive is not None else (
            mapping.additive if mapping.additive is not None else (
                base.additive if base and insee else False))
        previous = described.get(variable)
        described[variable] = (variable, label or (previous[1] if previous else None),
                               unit or (previous[2] if previous else None), bool(additive),
                               spec.column if previous is None else previous[4])
    if not parts:
        raise table.error("toutes les colonnes de valeurs sont vides et sans période", row=-1,
                          column=specs[0].column, expected="au moins une valeur avec sa "
                          "période")
    variables = pd.DataFrame(list(described.values()),
                             columns=["variable", "label", "unit", "additive", "source_column"])
    return pd.concat(parts, ignore_index=True), variables


def _long_observations(table: Table, mapping: TableMapping, markers: dict[str, str],
                       notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observations of a long table: one row per territory × variable × period."""
    frame = table.frame
    variable_column = find_column(table, mapping.variable_column, VARIABLE_COLUMNS,
                                   "la variable", True, "variable_column")
    assert variable_column is not None
    if mapping.variables:
        return _long_pair_observations(table, mapping, variable_column, markers)
    value_column = find_column(table, mapping.value_column, VALUE_COLUMNS, "les valeurs", True,
                                "value_column")
    assert value_column is not None
    label_column = find_column(table, mapping.label_column, tuple(
        c for c in LABEL_COLUMNS if c != variable_column.lower()), "les libellés")
    unit_column = find_column(table, mapping.unit_column, UNIT_COLUMNS, "les unités")
    raw = frame[variable_column].astype(str).str.strip()
    if (raw == "").any():
        row = int(np.argmax((raw == "").to_numpy()))
        raise table.error("variable absente", row=row, column=variable_column,
                          expected="un code de variable", found="")
    ids = raw.map(_variable_ids(mapping, pd.unique(raw)))
    if mapping.period_column is not None or mapping.period is None:
        period_column = find_column(table, mapping.period_column, PERIOD_COLUMNS, "la période",
                                     mapping.period is None, "period_column")
        period = frame[period_column].astype(str).str.strip().to_numpy(object)
        if (period == "").any():
            row = int(np.argmax(period == ""))
            raise table.error("période absente", row=row, column=period_column,
                              expected="une période comme 2019 ou 2021-06-30", found="")
    else:
        period = mapping.period
    values, reasons = parse_values(table, value_column, mapping.decimal, markers)
    observations = pd.DataFrame({"row": np.arange(len(frame), dtype=np.int64),
                                 "variable": ids.to_numpy(object), "period": period,
                                 "value": values, "missing": reasons})
    described = pd.DataFrame({"variable": ids.to_numpy(object), "source_column": raw})
    for name, column in (("label", label_column), ("unit", unit_column)):
        described[name] = frame[column].astype(str).str.strip() if column else None
    several = described.groupby("variable")["label"].nunique() if label_column else None
    described = described.drop_duplicates("variable")
    if several is not None and (several > 1).any():
        notes.append(f"{int((several > 1).sum())} variables ont plusieurs libellés dans le "
                     f"fichier (le premier est retenu), par exemple "
                     f"{several[several > 1].index[0]}")
    described["additive"] = bool(mapping.additive) if mapping.additive is not None else False
    return observations, described[["variable", "label", "unit", "additive", "source_column"]]


def _variable_ids(mapping: TableMapping, codes: Any) -> dict[str, str]:
    """Variable id of each code of a long table: ``variable_ids``, else prefix + slug.

    With a prefix, a code starting with a digit (``11``) needs no ``v_`` of its own.
    """
    ids = {}
    for code in codes:
        if code in mapping.variable_ids:
            ids[code] = mapping.variable_ids[code]
        elif mapping.variable_prefix and slug(code).startswith("v_"):
            ids[code] = mapping.variable_prefix + slug(code)[2:]
        else:
            ids[code] = mapping.variable_prefix + slug(code)
    return ids


def _long_pair_observations(table: Table, mapping: TableMapping, variable_column: str,
                            markers: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A long table whose rows give one variable at several dates (value/period pairs)."""
    frame = table.frame
    raw = frame[variable_column].astype(str).str.strip()
    if (raw == "").any():
        row = int(np.argmax((raw == "").to_numpy()))
        raise table.error("variable absente", row=row, column=variable_column,
                          expected="un code de variable", found="")
    ids = raw.map(_variable_ids(mapping, pd.unique(raw))).to_numpy(object)
    parts = []
    for spec in mapping.variables:
        find_column(table, spec.column, (), f"les valeurs de {spec.column}", key="column")
        values, reasons = parse_values(table, spec.column, mapping.decimal, markers)
        if spec.period is not None or mapping.period is not None:
            period: Any = np.full(len(frame), spec.period or mapping.period, dtype=object)
        else:
            period_column = spec.period_column or mapping.period_column
            if period_column is None:
                raise table.error(f"aucune période pour les valeurs de {spec.column}", row=-1,
                                  column=spec.column, expected="period_column ou period "
                                  "pour chaque paire de variables")
            find_column(table, period_column, (), "la période", key="period_column")
            period = frame[period_column].astype(str).str.strip().to_numpy(object)
        # a pair without a period (no first date for an indicator) has no value either
        empty = (period == "") | (period == "nan")
        if (empty & ~np.isnan(values)).any():
            row = int(np.argmax(empty & ~np.isnan(values)))
            raise table.error("une valeur sans période", row=row, column=spec.column,
                              expected="une période à côté de chaque valeur",
                              found=str(values[row]))
        parts.append(pd.DataFrame({"row": np.arange(len(frame), dtype=np.int64)[~empty],
                                   "variable": ids[~empty], "period": period[~empty],
                                   "value": values[~empty], "missing": reasons[~empty]}))
    described = pd.DataFrame({"variable": ids, "source_column": raw.to_numpy(object)})
    described = described.drop_duplicates("variable").assign(
        label=None, unit=mapping.unit, additive=bool(mapping.additive))
    return (pd.concat(parts, ignore_index=True),
            described[["variable", "label", "unit", "additive", "source_column"]])


def _drop_duplicates(table: Table, observations: pd.DataFrame, column: str,
                     notes: list[str]) -> pd.DataFrame:
    """Keep identical repeated values once; refuse a key given two different values."""
    key = ["variable", "code", "period"]
    repeated = observations.duplicated(key, keep=False)
    if not repeated.any():
        return observations
    group = observations[repeated]
    signature = group["value"].astype(str) + "|" + group["missing"].astype(str)
    differing = signature.groupby([group[k] for k in key]).transform("nunique") > 1
    if differing.any():
        conflicting = group[differing].sort_values("row")
        same = (conflicting[key] == conflicting[key].iloc[0]).all(axis=1)
        first = conflicting[same.to_numpy()].iloc[1]
        raise table.error(
            f"deux valeurs différentes pour {first['variable']}, territoire {first['code']}, "
            f"période {first['period']}", row=int(first["row"]), column=column,
            expected="une seule valeur par territoire, variable et période",
            found=f"{int(differing.sum())} lignes en conflit")
    removed = int(observations.duplicated(key).sum())
    notes.append(f"{removed} lignes répétant une valeur déjà donnée (même territoire, "
                 "variable, période et valeur) conservées une seule fois")
    return observations[~observations.duplicated(key)]


class IndicatorTable(Importer):
    """Any indicator table, described by a mapping (``docs/import-your-own-data.md``).

    Options (``options.extra``): ``mapping`` (path of a YAML mapping file) and any key of
    the mapping, which then overrides the file. ``options.vintage`` and
    ``options.period`` are the ``vintage`` and ``period`` keys.
    """

    name = "table"
    title = "Table d'indicateurs"
    producer = "fourni par l'utilisateur"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        mapping = mapping_from_options(options)
        table = read_data_table(path, mapping)
        if table.frame.empty:
            raise table.error("la table a un en-tête mais aucune ligne de données", row=0,
                              expected="une ligne par territoire", found="aucune ligne")
        notes: list[str] = []
        if mapping.code is not None:
            # one territory for the whole table (France): a column holding its code
            code_column = "code (mapping)"
            codes = pd.Series([mapping.code] * len(table.frame), dtype=object)
            table.frame[code_column] = codes.to_numpy(object)
        else:
            code_column = find_column(table, mapping.code_column, CODE_COLUMNS,
                                       "le code du territoire", True, "code_column")
            assert code_column is not None
            codes = table.frame[code_column].astype(str).str.strip()
        if (codes == "").any():
            row = int(np.argmax((codes == "").to_numpy()))
            raise table.error("code de territoire absent", row=row, column=code_column,
                              expected="un code de territoire", found="")
        markers = {**MISSING_REASONS, **{k.strip().lower(): v for k, v in
                                        mapping.missing.items()}}
        long = mapping.variable_column is not None or (
            not mapping.variables and mapping.variable is None
            and find_column(table, None, VARIABLE_COLUMNS, "") is not None
            and find_column(table, None, VALUE_COLUMNS, "") is not None)
        if long:
            observations, variables = _long_observations(table, mapping, markers, notes)
            value_column = mapping.value_column or find_column(table, None, VALUE_COLUMNS, "")
        else:
            used = {code_column, mapping.period_column, mapping.name_column}
            remaining = [c for c in table.frame.columns if c not in used]
            # a lone value column needs no naming once its period is known
            lone = len(remaining) == 1 and (mapping.period is not None
                                            or mapping.period_column is not None)
            specs = mapping.variables or _auto_specs(table, used) or (
                [VariableSpec(remaining[0])] if lone else [])
            if not specs:
                raise table.error("impossible de déterminer les colonnes de valeurs", row=-1,
                                  expected="des colonnes avec une année dans leur nom (taux_2019), "
                                  "des paires valeur/année, ou la clé value_columns",
                                  found=", ".join(table.frame.columns[:12]))
            observations, variables = wide_observations(
                table, mapping, specs, markers, slug(path.name.split(".")[0]))
            value_column = specs[0].column
        territories = resolve_territories(table, code_column, codes, mapping, warehouse,
                                          notes)
        rows = observations["row"].to_numpy()
        observations = observations.assign(
            code=codes.to_numpy(object)[rows], level=territories.row_levels[rows],
            vintage=territories.vintage)
        observations = observations[territories.keep[rows]]
        observations = _drop_duplicates(table, observations, value_column or code_column,
                                        notes)
        periods = sorted(pd.unique(observations["period"].astype(str)))
        missing = int(observations["missing"].notna().sum())
        if missing:
            counts = observations["missing"].value_counts()
            notes.append(f"{missing} valeurs manquantes conservées avec leur motif ("
                         + ", ".join(f"{reason}: {n}" for reason, n in counts.items()) + ")")
        notes.insert(0, f"{len(observations)} valeurs de {observations['variable'].nunique()} "
                        f"variables, échelon {territories.level}, géographie "
                        f"{territories.vintage}")
        tables = {} if territories.new_level is None else {"levels": territories.new_level}
        if mapping.name_column is not None:
            named = territory_names(table, mapping, codes, territories, warehouse, notes)
            if not named.empty:
                tables["territories"] = named
        return ImportBatch(
            observations=observations[["variable", "level", "code", "vintage", "period",
                                       "value", "missing"]].reset_index(drop=True),
            variables=variables, tables=tables, vintage=territories.vintage,
            periods=[str(p) for p in periods], rows=len(table.frame), notes=notes,
            provenance=mapping.provenance())
