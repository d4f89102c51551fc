"""Importers for INSEE's commune tables: Comparateur de territoires and Filosofi.

Both are ``;``-separated CSV files with a ``CODGEO`` column and one column per
variable, its year in the name (``P18_POP``, ``MED19``). The year becomes the period of
each value; secret (``s``) and unavailable (``nd``) cells become missing values with
that reason. The geography vintage is detected from the codes (see
:func:`~cohesion.importers.base.resolve_codes`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from cohesion.importers.base import ImportBatch, Importer, ImportOptions, resolve_codes
from cohesion.importers.reading import parse_numbers, read_table, require_columns
from cohesion.indicators.variables import (
    BY_ID,
    BY_STEM,
    split_insee_column,
    variable_for_stem,
)
from cohesion.store.warehouse import Warehouse

TIMELESS_PERIOD = "*"  # a quantity of the geography itself (area), valid for any period


def observations_from_wide(frame: pd.DataFrame, reasons: pd.DataFrame, codes: pd.Series,
                           levels: pd.Series, vintage: int,
                           columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Melt a wide table (one column per variable × period) into observations.

    The text columns are categorical: a million observations hold a few dozen
    variables and periods and one code per row of the file, so the melt repeats small
    integer codes instead of a million strings, and the warehouse reads them as such.

    Parameters
    ----------
    frame, reasons : DataFrame
        Parsed values and missing reasons (see :func:`parse_numbers`).
    codes, levels : Series
        Territory code and level of each row.
    vintage : int
        Geography vintage of the codes.
    columns : dict
        Column name → (variable id, period).
    """
    names = list(columns)
    return pd.DataFrame({
        "variable": _repeated([columns[c][0] for c in names], len(codes)),
        "level": _tiled(levels, len(names)),
        "code": _tiled(codes, len(names)),
        "vintage": vintage,
        "period": _repeated([columns[c][1] for c in names], len(codes)),
        "value": np.concatenate([frame[c].to_numpy(dtype="float64") for c in names]),
        "missing": union_categoricals([pd.Categorical(reasons[c]) for c in names]),
    })


def _repeated(labels: list[str], count: int) -> pd.Categorical:
    """Each label ``count`` times in a row, as a categorical."""
    categories, positions = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    return pd.Categorical.from_codes(np.repeat(positions, count), categories=categories)


def _tiled(labels: pd.Series, times: int) -> pd.Categorical:
    """The whole of ``labels`` ``times`` times over, as a categorical."""
    once = pd.Categorical(labels.to_numpy())
    return pd.Categorical.from_codes(np.tile(once.codes, times), categories=once.categories)


def insee_column_map(columns: list[str], default_period: str | None) -> dict[str, tuple[str, str]]:
    """Map each INSEE value column to (variable, period).

    Columns without a year in their name take ``default_period`` (or the timeless
    period for a known variable such as ``SUPERF``); other columns are not values.
    """
    mapping = {}
    for column in columns:
        split = split_insee_column(column)
        if split is not None:
            stem, period = split
            mapping[column] = (variable_for_stem(stem)[0], period)
        elif column.upper() in BY_STEM:
            mapping[column] = (BY_STEM[column.upper()].id, default_period or TIMELESS_PERIOD)
    return mapping


def variables_frame(columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Describe the variables of a column map for the ``variables`` table."""
    rows = {}
    for column, (variable, _) in columns.items():
        known = BY_ID.get(variable)
        stem = (split_insee_column(column) or (column.upper(), ""))[0]
        rows[variable] = (variable, known.label if known else column,
                          known.unit if known else "", variable_for_stem(stem)[1], column)
    return pd.DataFrame(list(rows.values()),
                        columns=["variable", "label", "unit", "additive", "source_column"])


class InseeCommuneTable(Importer):
    """A commune-level INSEE table with ``CODGEO`` and year-suffixed value columns.

    Reads the Comparateur de territoires (``base_cc_comparateur.CSV``) and Filosofi
    communes (``cc_filosofi_YYYY_COM.csv``), and any INSEE table of the same shape.
    """

    name = "insee-communes"
    title = "Table communale INSEE"
    producer = "INSEE"
    code_column = "CODGEO"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        table = read_table(path)
        require_columns(table, [self.code_column], "le code de commune (code officiel "
                        "géographique)")
        value_columns = insee_column_map(
            [c for c in table.columns if c != self.code_column], options.period)
        if not value_columns:
            raise table.error("aucune colonne de valeurs avec une année dans son nom", row=-1,
                              expected="des colonnes comme P18_POP ou MED19",
                              found=", ".join(table.columns[:8]))
        values, reasons = parse_numbers(table, list(value_columns))
        codes = table.column(self.code_column).astype(str).str.strip()
        vintage, levels = resolve_codes(warehouse, table, codes, self.code_column,
                                        options.vintage)
        duplicated = codes.duplicated()
        if duplicated.any():
            row = int(duplicated.to_numpy().argmax())
            raise table.error("code de territoire en double", row=row, column=self.code_column,
                              expected="une ligne par territoire", found=codes.iloc[row])
        observations = observations_from_wide(values, reasons, codes, levels, vintage,
                                              value_columns)
        periods = sorted({period for _, period in value_columns.values()})
        return ImportBatch(observations=observations, variables=variables_frame(value_columns),
                           vintage=vintage, periods=periods, rows=table.rows)


class Comparateur(InseeCommuneTable):
    """INSEE « Comparateur de territoires » (``base_cc_comparateur.CSV``)."""

    name = "comparateur"
    title = "Comparateur de territoires (recensement et Filosofi)"


class FilosofiCommunes(InseeCommuneTable):
    """INSEE Filosofi, communes (``cc_filosofi_YYYY_COM.csv``)."""

    name = "filosofi-communes"
    title = "Filosofi : revenus, pauvreté et niveau de vie des communes"
