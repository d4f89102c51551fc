"""The import pipeline shared by every importer: read, validate, write atomically.

An importer only *reads*: it turns a file into an :class:`ImportBatch` (observations,
variable descriptions, and rows for other tables), raising
:class:`~cohesion.errors.InputFileError` at the first problem. :func:`run_import` then
writes the batch in a single transaction, so a file lands whole or not at all, and
skips a file already imported (same importer, same SHA-256): re-importing is a no-op.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa

from cohesion.errors import InputFileError
from cohesion.importers.reading import Table
from cohesion.store.warehouse import DatasetInfo, Warehouse, file_checksum


@dataclass
class ImportBatch:
    """Everything an importer read from one file.

    Attributes
    ----------
    observations : DataFrame or None
        Columns ``variable, level, code, vintage, period, value, missing``.
    variables : DataFrame or None
        Columns ``variable, label, unit, additive, source_column``.
    tables : dict
        Rows for other warehouse tables (``territories``, ``memberships``,
        ``geometries``, ``levels``, ``equipments``, ``grid_cells``…); each gets the
        dataset id in a ``dataset_id`` column.
    vintage : int or None
        Geography vintage of the file's codes.
    periods : list of str
        Periods the file covers.
    rows : int
        Data rows read.
    notes : list of str
        Things the user should know (values dropped on purpose, approximations…).
    provenance : Provenance or None
        What the file's own description says of it (a mapping's ``title``,
        ``producer``, ``licence``): recorded where the caller gave nothing, before the
        importer's defaults.
    """

    observations: pd.DataFrame | None = None
    variables: pd.DataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    vintage: int | None = None
    periods: list[str] = field(default_factory=list)
    rows: int = 0
    notes: list[str] = field(default_factory=list)
    provenance: Provenance | None = None


@dataclass
class ImportOptions:
    """Options every importer accepts; importers document which others they read."""

    vintage: int | None = None
    period: str | None = None
    replace: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Importer:
    """Base class of importers: subclasses set the class attributes and :meth:`read`.

    Attributes
    ----------
    name : str
        Identifier used on the command line (``cohesion import NAME FILE``).
    title, producer, licence : str
        Default provenance recorded with the dataset.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    producer: ClassVar[str]
    licence: ClassVar[str] = "Licence Ouverte / Etalab 2.0"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        """Read ``path`` into a batch; raise :class:`InputFileError` on bad input."""
        raise NotImplementedError


@dataclass
class ImportReport:
    """What an import did."""

    importer: str
    path: Path
    dataset_id: int
    already_imported: bool
    rows: int = 0
    observations: int = 0
    vintage: int | None = None
    periods: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Provenance:
    """What to record about a file beyond what its importer knows (all optional).

    The catalogue of official datasets and the samples list give the exact title and
    producer of a file; a generic importer (``table``, ``zonage``) cannot know them.
    """

    title: str | None = None
    producer: str | None = None
    licence: str | None = None
    source: str | None = None


def run_import(warehouse: Warehouse, importer: Importer, path: Path | str, *,
               name: str | None = None, options: ImportOptions | None = None,
               url: str | None = None, provenance: Provenance | None = None
               ) -> ImportReport:
    """Import one file with ``importer``, all or nothing.

    Parameters
    ----------
    warehouse : Warehouse
        Where to write.
    importer : Importer
        How to read the file.
    path : Path or str
        The file.
    name : str, optional
        Catalogue name recorded with the dataset (default: the importer's name).
    options : ImportOptions, optional
        Vintage, period, replace and importer-specific options.
    url : str, optional
        Where the file was downloaded from, recorded as provenance.
    provenance : Provenance, optional
        Title, producer, licence and source to record instead of the importer's
        defaults.

    Returns
    -------
    ImportReport
        ``already_imported`` is true (and nothing was written) when the same file was
        imported before with the same importer.
    """
    path = Path(path)
    options = options or ImportOptions()
    if not path.is_file():
        raise InputFileError(path, "fichier introuvable")
    checksum = file_checksum(path)
    previous = warehouse.find_dataset(importer.name, checksum)
    if previous is not None and not options.replace:
        return ImportReport(importer.name, path, int(previous["dataset_id"]), True,
                            rows=int(previous["rows"] or 0), vintage=previous["vintage"],
                            periods=list(previous["periods"]))
    batch = importer.read(path, warehouse, options)
    given = provenance or Provenance()
    described = batch.provenance or Provenance()
    info = DatasetInfo(
        name=name or importer.name, importer=importer.name, checksum=checksum,
        title=given.title or described.title or importer.title,
        producer=given.producer or described.producer or importer.producer,
        licence=given.licence or described.licence or importer.licence, source=given.source,
        url=url, vintage=batch.vintage, periods=batch.periods, file_name=path.name,
        size=path.stat().st_size, rows=batch.rows, notes="\n".join(batch.notes) or None)
    dataset_id, written = write_batch(warehouse, batch, info, replace=options.replace)
    return ImportReport(importer.name, path, dataset_id, False, batch.rows, written,
                        batch.vintage, batch.periods, batch.notes)


def write_batch(warehouse: Warehouse, batch: ImportBatch, info: DatasetInfo,
                replace: bool = False) -> tuple[int, int]:
    """Write a batch as one new dataset, in one transaction: all of it or nothing.

    Computations that produce a batch without reading a file (the accessibility
    measures) write through here too, so their results are datasets like any import.

    Returns
    -------
    dataset_id, written : int
        The new dataset and the number of observations written.
    """
    written = 0
    with warehouse.transaction():
        dataset_id = warehouse.register_dataset(info)
        if batch.variables is not None and not batch.variables.empty:
            warehouse.write_variables(batch.variables)
        if batch.observations is not None and not batch.observations.empty:
            written, skipped = warehouse.write_observations(
                dataset_id, batch.observations, replace=replace)
            if skipped:
                batch.notes.append(f"{skipped} valeurs déjà présentes dans l'entrepôt au titre "
                                   "d'un autre jeu de données, identiques, conservées "
                                   "une seule fois")
        for table, frame in batch.tables.items():
            if table == "geometries":  # shapes are stored once, see write_geometries
                warehouse.write_geometries(frame.assign(dataset_id=dataset_id))
            elif table in REPLACING_TABLES:
                warehouse.replace_rows(table, REPLACING_TABLES[table],
                                       frame.assign(dataset_id=dataset_id))
            else:
                warehouse.insert_frame(table, frame.assign(dataset_id=dataset_id))
    return dataset_id, written


#: Tables where a newer dataset's row replaces the row with the same key, rather than
#: sitting beside it: an indicator is declared once, an origin has one time per measure.
REPLACING_TABLES: dict[str, tuple[str, ...]] = {
    "indicator_definitions": ("indicator",),
    "access_times": ("measure", "origin"),
    "funding_lines": ("line_key",),
}


def commune_codes(warehouse: Warehouse, vintage: int,
                  levels: tuple[str, ...] = ("COM", "ARM")) -> pd.Series:
    """Map each code of ``levels`` in ``vintage`` to its level (communes first)."""
    found = warehouse.query(
        "SELECT code, level FROM territories WHERE vintage = ? AND list_contains(?, level)",
        [vintage, list(levels)])
    order = {level: rank for rank, level in enumerate(levels)}
    found = found.sort_values("level", key=lambda s: s.map(order))
    return found.drop_duplicates("code").set_index("code")["level"]


def score_vintages(warehouse: Warehouse, codes: np.ndarray, levels: list[str],
                   vintages: list[int]) -> pd.DataFrame:
    """For each vintage, codes unknown and territories of the levels absent from the file.

    One query for every candidate vintage: columns ``vintage``, ``unknown`` (distinct
    codes of ``codes`` that are no territory of ``levels`` in that vintage) and
    ``absent`` (territories of ``levels`` in that vintage that ``codes`` leaves out).
    """
    # Arrow, not pandas: DuckDB scans it without converting each code under the GIL
    frame = pa.table({"code": pa.array(pd.unique(codes).astype(object), pa.string(),
                                       from_pandas=True)})
    warehouse.connection.register("_table_codes", frame)
    try:
        # each vintage's codes joined once with the file's: the codes it knows among the
        # file's (matched), and its own territories (the rest are absent from the file)
        return warehouse.query(
            """WITH known AS (SELECT DISTINCT vintage, code FROM territories
                              WHERE list_contains(?, level) AND list_contains(?, vintage)),
               found AS (SELECT vintage, count(*) AS territories, count(c.code) AS matched
                         FROM known LEFT JOIN _table_codes c USING (code) GROUP BY vintage)
               SELECT v.vintage,
                      (SELECT count(*) FROM _table_codes) - coalesce(matched, 0) AS unknown,
                      coalesce(territories - matched, 0) AS absent
               FROM (SELECT unnest(?) AS vintage) v LEFT JOIN found USING (vintage)""",
            [levels, vintages, vintages])
    finally:
        warehouse.connection.unregister("_table_codes")


def closest_vintage(scores: pd.DataFrame) -> int:
    """The best vintage of :func:`score_vintages`' answer.

    The fewest unknown codes, then the fewest absent territories, then the latest.
    """
    ranked = scores.assign(latest=-scores["vintage"]).sort_values(
        ["unknown", "absent", "latest"])
    return int(ranked["vintage"].iloc[0])


def resolve_codes(warehouse: Warehouse, table: Table, codes: pd.Series, column: str,
                  vintage: int | None = None,
                  levels: tuple[str, ...] = ("COM", "ARM")) -> tuple[int, pd.Series]:
    """Find the geography vintage of a code column and the level of each code.

    ``codes`` are the codes of ``table``'s ``column``, one per row, stripped.

    When ``vintage`` is not given, every built vintage is tried (in one query, see
    :func:`score_vintages`) and the one that knows all codes and leaves the fewest of its
    own communes out is chosen, so a file in the 2021 geography is never read as 2024
    by accident.

    Returns
    -------
    vintage : int
    levels : Series
        Level of each row's code, aligned with ``table.frame``.

    Raises
    ------
    InputFileError
        Naming the line and column of the first unknown code in the best vintage.
    """
    candidates = [vintage] if vintage is not None else warehouse.vintages()
    if not candidates:
        raise table.error("le référentiel est vide : lancez `cohesion build` avant d'importer")
    chosen = closest_vintage(score_vintages(warehouse, codes.to_numpy(object), list(levels),
                                            candidates))
    row_levels = codes.map(commune_codes(warehouse, chosen, levels))
    unknown = int(row_levels.isna().sum())
    if unknown:
        row = int(np.argmax(row_levels.isna().to_numpy()))
        raise table.error(
            f"code de territoire inconnu ({unknown} codes inconnus dans la géographie {chosen}, "
            "la plus proche)", row=row, column=column,
            expected=f"un code d'échelon {' ou '.join(levels)} du COG {chosen}",
            found=codes.iloc[row])
    return chosen, row_levels


def check_options(path: Path, options: ImportOptions, keys: Collection[str],
                  importer: str) -> None:
    """Refuse an option the importer ``importer`` does not know (its keys: ``keys``)."""
    unexpected = sorted(set(options.extra) - set(keys))
    if unexpected:
        raise InputFileError(path, f"option inconnue {unexpected[0]!r} pour l'importeur "
                             f"{importer}", column=unexpected[0],
                             expected="l'une de " + ", ".join(sorted(keys)),
                             found=unexpected[0])
