"""The embedded analytical store: one DuckDB file, no server.

:class:`Warehouse` is the single object every interface talks to. It owns the
connection, creates the schema, and makes every import a transaction: either the whole
file lands or nothing changes.

Examples
--------
>>> wh = Warehouse(":memory:")
>>> wh.query("SELECT count(*) AS n FROM territories")["n"].item()
0
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from cohesion.errors import CohesionError, ReferentielMissingError, WarehouseLockedError
from cohesion.store.schema import SCHEMA_VERSION, SERIES_VERSION, STATEMENTS

OBSERVATION_COLUMNS = ["variable", "level", "code", "vintage", "period", "value", "missing"]
#: The columns of a series, the unit the ``series`` table records.
SERIES_COLUMNS = ["variable", "level", "vintage", "period"]
#: Rows of a DuckDB row group (its default ``row_group_size``).
ROW_GROUP_ROWS = 122_880

#: Settings of a writing connection: every commit is checkpointed at once, without
#: being written to the log first, and bulk appends wait in memory for it, so that a
#: commit is made durable by the checkpoint's single header write. With DuckDB's
#: defaults, a large insert is written to the file before the commit and the log records
#: pointers to it: a process killed while the log was being written left those rows
#: replayed without the rest of their transaction (an import's observations without its
#: dataset: duckdb/duckdb#25931), which ``tests/test_crash_safety.py`` caught. A commit
#: that DuckDB cannot checkpoint at once (another connection's transaction under way)
#: is logged whole, with its rows, and checkpointed later. Measured on the Comparateur,
#: the import is faster so (0.88 s against 1.05 s with the defaults); leaving out the log
#: (50 MB of rows, written and synced, then deleted by the checkpoint) saves another
#: 0.1 s of CPU, a small commit is no slower.
DURABLE_COMMITS = ("SET enable_optimistic_write = false", "SET checkpoint_threshold = '1KB'",
                   "SET auto_checkpoint_skip_wal_threshold = 0")


@dataclass
class DatasetInfo:
    """Provenance of one imported file, stored in the ``datasets`` table.

    ``name`` is the catalogue name (for example ``comparateur``); ``importer`` the
    importer that read it. A file is identified by its SHA-256 ``checksum``.
    """

    name: str
    importer: str
    checksum: str
    title: str | None = None
    producer: str | None = None
    source: str | None = None
    licence: str | None = None
    url: str | None = None
    vintage: int | None = None
    periods: list[str] = field(default_factory=list)
    file_name: str | None = None
    size: int | None = None
    rows: int | None = None
    notes: str | None = None


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def distinct_rows(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The distinct combinations of ``columns`` in ``frame``, in no particular order.

    Each column is numbered (a categorical already is), the numbers of a row are
    combined into one and counted, so a million observations of a few dozen series take
    one linear pass instead of a hash of every row. Rows with a missing cell, or too
    many combinations to count, go through :meth:`DataFrame.drop_duplicates`.

    Examples
    --------
    >>> frame = pd.DataFrame({"v": ["a", "b", "a"], "p": ["2018", "2018", "2018"]})
    >>> distinct_rows(frame, ["v", "p"]).sort_values("v").to_numpy().tolist()
    [['a', '2018'], ['b', '2018']]
    """
    numbers, values = [], []
    for column in columns:
        cells = frame[column]
        if isinstance(cells.dtype, pd.CategoricalDtype):
            numbers.append(cells.cat.codes.to_numpy())
            values.append(cells.cat.categories)
        else:
            found, uniques = pd.factorize(cells)
            numbers.append(found)
            values.append(uniques)
    sizes = tuple(max(len(v), 1) for v in values)
    if len(frame) == 0 or any((n < 0).any() for n in numbers) or \
            np.prod(sizes, dtype=float) > 4 * len(frame) + 1024:
        return frame[columns].drop_duplicates(ignore_index=True)
    present = np.flatnonzero(np.bincount(np.ravel_multi_index(numbers, sizes),
                                         minlength=int(np.prod(sizes))))
    positions = np.unravel_index(present, sizes)
    return pd.DataFrame({column: pd.Index(v).take(p).to_numpy()
                         for column, v, p in zip(columns, values, positions, strict=True)})


class Warehouse:
    """An embedded DuckDB warehouse.

    Parameters
    ----------
    path : str or Path
        The DuckDB file (created if missing, with its folder), or ``":memory:"``.
    read_only : bool
        Open without the write lock, so several readers can share the file.
    """

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.connection = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            from cohesion.store.sharing import locked_error

            raise locked_error(self.path or Path(str(path)), str(error)) from None
        except duckdb.ConnectionException as error:
            if "different configuration" not in str(error):
                raise
            raise WarehouseLockedError(
                f"l'entrepôt {path} est déjà ouvert par ce processus "
                f"{'en écriture' if read_only else 'en lecture seule'} : fermez cette "
                "connexion avant d'en ouvrir une autre") from None
        if not read_only:
            written_by = self._schema_version()
            for statement in (*DURABLE_COMMITS, *STATEMENTS):
                self.connection.execute(statement)
            if written_by is not None and written_by < SERIES_VERSION:
                self.connection.execute(
                    "INSERT INTO series SELECT DISTINCT variable, level, vintage, period "
                    "FROM observations")
            self.connection.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])

    def _schema_version(self) -> int | None:
        """The schema version the file was written with (None for a new file)."""
        try:
            found = self.connection.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except duckdb.CatalogException:
            return None
        return int(found[0]) if found else None

    # -- plumbing ---------------------------------------------------------------------

    def cursor(self) -> Warehouse:
        """The same warehouse through a new DuckDB cursor, for use from another thread.

        A DuckDB connection must not be shared between threads; each cursor is its own
        connection to the same database.
        """
        view = object.__new__(Warehouse)
        view.path = self.path
        view.connection = self.connection.cursor()
        return view

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block in one transaction: commit if it succeeds, roll back otherwise."""
        self.connection.execute("BEGIN TRANSACTION")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run a read query and return a DataFrame."""
        return self.connection.execute(sql, params or []).df()

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        """Append a DataFrame to a table, matching columns by name."""
        if frame.empty:
            return
        self.connection.register("_incoming", frame)
        try:
            columns = ", ".join(f'"{c}"' for c in frame.columns)
            self.connection.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _incoming")
        finally:
            self.connection.unregister("_incoming")

    def replace_rows(self, table: str, key: Sequence[str], frame: pd.DataFrame) -> None:
        """Insert ``frame`` into ``table``, deleting first the rows with the same ``key``."""
        self.connection.register("_incoming_rows", frame)
        try:
            columns = ", ".join(key)
            self.connection.execute(
                f"DELETE FROM {table} WHERE ({columns}) IN "
                f"(SELECT ({columns}) FROM _incoming_rows)")
        finally:
            self.connection.unregister("_incoming_rows")
        self.insert_frame(table, frame)

    def write_geometries(self, frame: pd.DataFrame) -> None:
        """Write geometries (inside the caller's transaction), each distinct shape once.

        ``frame`` has ``level, code, vintage, geometry`` (shapely objects or WKB, in
        EPSG:4326) and optionally ``area_km2, area_crs, source, dataset_id``. Rows
        replace existing geometries of the same level × code × vintage.
        """
        if frame.empty:
            return
        geometries = frame["geometry"].to_numpy()
        import shapely

        wkb = geometries if isinstance(geometries[0], bytes) else shapely.to_wkb(geometries)
        shape_ids = [hashlib.blake2b(blob, digest_size=16).hexdigest() for blob in wkb]
        shapes = pd.DataFrame({"shape_id": shape_ids, "geometry": wkb}).drop_duplicates(
            "shape_id")
        rows = frame.drop(columns="geometry").assign(shape_id=shape_ids)
        self.connection.register("_incoming_shapes", shapes)
        try:
            self.connection.execute(
                "INSERT INTO shapes SELECT shape_id, geometry FROM _incoming_shapes "
                "WHERE shape_id NOT IN (SELECT shape_id FROM shapes)")
        finally:
            self.connection.unregister("_incoming_shapes")
        self.connection.register("_incoming_keys", rows[["level", "code", "vintage"]])
        try:
            self.connection.execute(
                "DELETE FROM geometries WHERE (level, code, vintage) IN "
                "(SELECT (level, code, vintage) FROM _incoming_keys)")
        finally:
            self.connection.unregister("_incoming_keys")
        self.insert_frame("geometries", rows)

    def geometries(self, level: str, vintage: int,
                   codes: list[str] | None = None) -> pd.DataFrame:
        """Geometries of a level and vintage: ``code, geometry`` (shapely), ``area_km2``."""
        sql = ("SELECT g.code, s.geometry, g.area_km2 FROM geometries g JOIN shapes s "
               "USING (shape_id) WHERE g.level = ? AND g.vintage = ?")
        params: list[Any] = [level, vintage]
        if codes is not None:
            sql += " AND list_contains(?, g.code)"
            params.append(codes)
        found = self.query(sql + " ORDER BY g.code", params)
        import shapely

        found["geometry"] = shapely.from_wkb([bytes(blob) for blob in found["geometry"]])
        return found

    # -- référentiel ------------------------------------------------------------------

    def vintages(self) -> list[int]:
        """Geography vintages whose référentiel has been built."""
        return [int(v) for v in self.query("SELECT vintage FROM vintages ORDER BY 1")["vintage"]]

    def require_vintage(self, vintage: int) -> int:
        """Return ``vintage`` if its référentiel is built, else raise a helpful error."""
        if vintage not in self.vintages():
            built = ", ".join(map(str, self.vintages())) or "aucun"
            raise ReferentielMissingError(
                f"le référentiel {vintage} n'est pas dans l'entrepôt (millésimes construits : "
                f"{built}) ; lancer `cohesion build`")
        return vintage

    def names(self, level: str, vintage: int | None = None,
              codes: Sequence[str] | None = None) -> dict[str, str]:
        """Code → name of the territories of a level.

        Parameters
        ----------
        level : str
            The level (``COM``, ``EPCI``, ``QPV``…).
        vintage : int, optional
            The geography vintage (for QPV, the generation). Without it, every vintage:
            each code is named as in the oldest vintage knowing it (the zones d'emploi
            2010 named by an imported table).
        codes : sequence of str, optional
            Only these codes (default: every territory of the level); unknown codes are
            left out.

        Returns
        -------
        dict
            Name by code.
        """
        sql = "SELECT code, arg_min(name, vintage) FROM territories WHERE level = ?"
        params: list[Any] = [level]
        if vintage is not None:
            sql += " AND vintage = ?"
            params.append(vintage)
        if codes is not None:
            sql += " AND list_contains(?, code)"
            params.append(list(codes))
        return dict(self.connection.execute(sql + " GROUP BY code", params).fetchall())

    def levels_summary(self) -> pd.DataFrame:
        """Every level with, per vintage, its territories and how many have a contour.

        Columns ``level, label, kind, description, vintage, territories, with_contours``.
        """
        return self.query(
            """SELECT l.level, l.label, l.kind, l.description, t.vintage,
                      count(*) AS territories, count(g.code) AS with_contours
               FROM levels l
               JOIN territories t USING (level)
               LEFT JOIN geometries g USING (level, code, vintage)
               GROUP BY ALL ORDER BY l.level, t.vintage""")

    def level_labels(self) -> dict[str, str]:
        """Level → its label, for the levels of the référentiel and the imported zonings."""
        return dict(self.connection.execute("SELECT level, label FROM levels").fetchall())

    def levels_of(self, vintage: int) -> set[str]:
        """The levels that have territories in ``vintage``."""
        return {row[0] for row in self.connection.execute(
            "SELECT DISTINCT level FROM territories WHERE vintage = ?", [vintage]).fetchall()}

    def commune_parent_levels(self, vintage: int) -> list[str]:
        """The levels communes belong to in ``vintage`` (EPCI, DEP…, imported zonings)."""
        return sorted(row[0] for row in self.connection.execute(
            "SELECT DISTINCT parent_level FROM memberships WHERE vintage = ? AND level = 'COM'",
            [vintage]).fetchall())

    def memberships(self, level: str, vintage: int, parent_levels: Sequence[str] | None = None,
                    codes: Sequence[str] | None = None) -> pd.DataFrame:
        """The territories that territories of ``level`` lie in, as the référentiel records.

        Parameters
        ----------
        level : str
            The level of the members (``COM``, ``ARM``, ``QPV``…).
        vintage : int
            The geography vintage (for QPV, the generation).
        parent_levels : sequence of str, optional
            Only the parents of these levels (default: every level).
        codes : sequence of str, optional
            Only the memberships of these members (default: every territory of ``level``).

        Returns
        -------
        DataFrame
            ``code, parent_level, parent_code``, one row per membership, sorted.

        See Also
        --------
        population_overlap : links two levels through their communes.
        """
        sql = ("SELECT code, parent_level, parent_code FROM memberships "
               "WHERE vintage = ? AND level = ?")
        params: list[Any] = [vintage, level]
        if parent_levels is not None:
            sql += " AND list_contains(?, parent_level)"
            params.append(list(parent_levels))
        if codes is not None:
            sql += " AND list_contains(?, code)"
            params.append(list(codes))
        return self.query(sql + " ORDER BY ALL", params)

    def population_overlap(self, level: str, other_level: str, vintage: int,
                           codes: Sequence[str] | None = None) -> pd.DataFrame:
        """How many inhabitants each territory of ``level`` shares with those of ``other_level``.

        Both levels are linked through the communes belonging to each: an EPCI over two
        départements shares the population of its communes in each of them.

        Parameters
        ----------
        level : str
            The level of the territories (``EPCI``…), one communes belong to.
        other_level : str
            The level or zoning they are compared with (``DEP``, ``REG``, ``DENS``…).
        vintage : int
            The geography vintage.
        codes : sequence of str, optional
            Only these territories of ``level`` (default: all).

        Returns
        -------
        DataFrame
            ``code, other_code, population`` (the legal population of the shared
            communes, 0 when unknown), sorted by ``code`` then largest population first
            (ties: smallest ``other_code``), so the first row of a code names the
            territory of ``other_level`` holding most of its inhabitants.
        """
        sql = """SELECT m.parent_code AS code, p.parent_code AS other_code,
                        sum(coalesce(t.population, 0)) AS population
                 FROM memberships m
                 JOIN memberships p ON p.vintage = m.vintage AND p.level = 'COM'
                      AND p.code = m.code AND p.parent_level = ?
                 JOIN territories t ON t.vintage = m.vintage AND t.level = 'COM'
                      AND t.code = m.code
                 WHERE m.vintage = ? AND m.level = 'COM' AND m.parent_level = ?"""
        params: list[Any] = [other_level, vintage, level]
        if codes is not None:
            sql += " AND list_contains(?, m.parent_code)"
            params.append(list(codes))
        return self.query(sql + " GROUP BY ALL ORDER BY code, population DESC, other_code",
                          params)

    def communes_in_vintage(self, codes: Iterable[str], vintage: int) -> set[str]:
        """Commune codes of ``vintage`` for codes of communes, arrondissements or former communes.

        A code that is a commune of ``vintage`` is kept; an arrondissement municipal becomes
        its commune (``13201`` → ``13055``); the code of a commune since merged becomes the
        code of the commune nouvelle. Codes unknown to the vintage, and values that are not
        text (missing values), are dropped.
        """
        wanted = sorted({code for code in codes if isinstance(code, str) and code})
        found = self.connection.execute(
            """SELECT DISTINCT coalesce(c.code, a.parent_code, f.code)
               FROM unnest(?::VARCHAR[]) AS w(code)
               LEFT JOIN territories c ON c.level = 'COM' AND c.vintage = ? AND c.code = w.code
               LEFT JOIN memberships a ON a.level = 'ARM' AND a.parent_level = 'COM'
                    AND a.vintage = ? AND a.code = w.code
               LEFT JOIN former_codes f ON f.level = 'COM' AND f.vintage = ?
                    AND f.former_code = w.code""", [wanted, vintage, vintage, vintage])
        return {row[0] for row in found.fetchall() if row[0] is not None}

    def metropolitan_codes(self, level: str, vintage: int) -> set[str]:
        """Codes of the territories of ``level`` in metropolitan France.

        Levels without a zone of their own (EPCI, EPT, zonings) are metropolitan when one
        of their communes is.
        """
        return {row[0] for row in self.connection.execute(
            """SELECT code FROM territories WHERE vintage = ? AND level = ?
               AND zone = 'metro'
               UNION
               SELECT DISTINCT m.parent_code FROM memberships m
               JOIN territories t ON t.vintage = m.vintage AND t.level = 'COM'
                    AND t.code = m.code
               WHERE m.vintage = ? AND m.level = 'COM' AND m.parent_level = ?
                     AND t.zone = 'metro'""", [vintage, level, vintage, level]).fetchall()}

    def level_vintages(self, level: str) -> list[int]:
        """The vintages holding territories of ``level`` (the QPV generations for QPV)."""
        return [int(row[0]) for row in self.connection.execute(
            "SELECT DISTINCT vintage FROM territories WHERE level = ? ORDER BY 1",
            [level]).fetchall()]

    def observed_codes(self, level: str, vintage: int) -> list[str]:
        """The territories of a level and vintage holding at least one observation."""
        return [row[0] for row in self.connection.execute(
            "SELECT DISTINCT code FROM observations WHERE level = ? AND vintage = ? "
            "ORDER BY 1", [level, vintage]).fetchall()]

    def contour_vintages(self, level: str) -> list[int]:
        """The vintages for which ``level`` has contours (the QPV generations for QPV)."""
        return [int(row[0]) for row in self.connection.execute(
            "SELECT DISTINCT vintage FROM geometries WHERE level = ? ORDER BY 1",
            [level]).fetchall()]

    def qpv_coverage(self, generation: int) -> set[str]:
        """The départements whose QPV of ``generation`` the imported contours hold, all.

        Each QPV contour file records, when imported, the départements it covers (those of
        its QPV codes, or the coverage declared with the import option ``couverture``);
        :data:`~cohesion.store.schema.WHOLE_COUNTRY` (``*``) stands for a national file.
        Files imported before this was recorded (a warehouse of schema version 1, even
        opened read-only without the ``qpv_coverage`` table) cover the départements of
        their QPV codes.

        Returns
        -------
        set of str
            Département codes (``34``, ``2A``, ``974``), or ``*``; the union over the
            files of the generation, empty when none is imported.

        Examples
        --------
        >>> Warehouse(":memory:").qpv_coverage(2015)
        set()
        """
        # the département of a QPV code: three characters after QP/QN, leading 0 dropped
        derived = """SELECT CASE WHEN substr(t.code, 3, 1) = '0' THEN substr(t.code, 4, 2)
                                 ELSE substr(t.code, 3, 3) END
                     FROM territories t WHERE t.level = 'QPV' AND t.vintage = ?"""
        recorded = self.connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'qpv_coverage'"
        ).fetchone()[0]
        if not recorded:
            return {row[0] for row in self.connection.execute(derived, [generation]).fetchall()}
        return {row[0] for row in self.connection.execute(
            f"""SELECT departement FROM qpv_coverage WHERE generation = ?
                UNION {derived} AND NOT EXISTS (SELECT 1 FROM qpv_coverage c
                                               WHERE c.dataset_id = t.dataset_id)""",
            [generation, generation]).fetchall()}

    def content_version(self) -> int:
        """A number that changes with every import: the last dataset id."""
        return int(self.connection.execute(
            "SELECT coalesce(max(dataset_id), 0) FROM datasets").fetchone()[0])

    def content_key(self) -> tuple[object, ...] | None:
        """What answers computed from the warehouse depend on: its file, last import, last build.

        Two files give two keys, and so does the same file after an import or a build of
        the référentiel (times to the microsecond tell apart two files built alike).
        None for an in-memory warehouse, whose answers are shared with no other.
        """
        if self.path is None:
            return None
        found = self.connection.execute(
            """SELECT (SELECT coalesce(max(dataset_id), 0) FROM datasets),
                      (SELECT max(imported_at) FROM datasets),
                      (SELECT max(built_at) FROM vintages)""").fetchone()
        return (str(self.path.resolve()), *found)

    # -- datasets ---------------------------------------------------------------------

    def find_dataset(self, importer: str, checksum: str) -> dict[str, Any] | None:
        """The dataset already imported from a file with this checksum, if any."""
        found = self.query("SELECT * FROM datasets WHERE importer = ? AND checksum = ?",
                           [importer, checksum])
        return None if found.empty else found.iloc[0].to_dict()

    def register_dataset(self, info: DatasetInfo) -> int:
        """Insert a dataset row (inside the caller's transaction) and return its id."""
        dataset_id = int(self.connection.execute("SELECT nextval('dataset_ids')").fetchone()[0])
        self.connection.execute(
            """INSERT INTO datasets (dataset_id, name, importer, title, producer, source,
               licence, url, vintage, periods, file_name, checksum, size, rows, imported_at,
               notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [dataset_id, info.name, info.importer, info.title, info.producer, info.source,
             info.licence, info.url, info.vintage, info.periods, info.file_name,
             info.checksum, info.size, info.rows, datetime.now(UTC).replace(tzinfo=None),
             info.notes])
        return dataset_id

    def datasets(self) -> pd.DataFrame:
        """Every imported dataset with its provenance, newest first."""
        return self.query("SELECT * FROM datasets ORDER BY imported_at DESC, dataset_id DESC")

    # -- observations -----------------------------------------------------------------

    def write_observations(self, dataset_id: int, frame: pd.DataFrame,
                           replace: bool = False) -> tuple[int, int]:
        """Add observations (inside the caller's transaction).

        Observations are keyed by variable × level × vintage × period × code, so that
        importing a new year adds a period without touching the others. A series
        (variable × level × vintage × period) that another dataset already holds is:

        - merged if no value differs (INSEE publishes Filosofi figures both in the
          Filosofi file and in the Comparateur de territoires): identical values are
          kept once, and a value one source gives where the other has it missing fills
          the gap (the row then names the dataset it came from);
        - refused if any value differs, unless ``replace`` is true, so two sources are
          never mixed silently.

        Returns
        -------
        written, skipped : int
            Observations written or filled, and observations skipped as duplicates.
        """
        frame = frame[OBSERVATION_COLUMNS].assign(dataset_id=dataset_id)
        batch_series = distinct_rows(frame, SERIES_COLUMNS)
        # DuckDB scans an Arrow table in parallel, without the GIL: a million observations
        # of categorical columns (the melted INSEE tables) are written in half the time;
        # cut in batches of a row group, each thread appends whole row groups (one batch
        # of a million rows took twice the CPU time, merged after the threads' appends)
        incoming = pa.Table.from_pandas(frame, preserve_index=False)
        self.connection.register("_incoming_obs", pa.Table.from_batches(
            incoming.to_batches(max_chunksize=ROW_GROUP_ROWS), incoming.schema))
        self.connection.register("_batch_series", batch_series)
        try:
            # the series of the batch that the warehouse already holds (read from the
            # small ``series`` table, not from every observation)
            self.connection.execute(
                """CREATE OR REPLACE TEMP TABLE _held_series AS
                   SELECT * FROM _batch_series SEMI JOIN series
                   USING (variable, level, vintage, period)""")
            self.connection.execute(
                """INSERT INTO series SELECT variable, level, vintage, period
                   FROM _batch_series ANTI JOIN series
                   USING (variable, level, vintage, period)""")
            if not self.connection.execute("SELECT count(*) FROM _held_series").fetchone()[0]:
                # the usual case: new series only
                self.connection.execute("INSERT INTO observations SELECT * FROM _incoming_obs")
                return len(frame), 0
            series = "(variable, level, vintage, period)"
            held = f"(SELECT {series} FROM _held_series)"
            differing = self.connection.execute(
                f"""SELECT n.variable, n.level, n.vintage, n.period,
                          bool_or(o.value <> n.value) AS differs,
                          any_value(o.dataset_id) AS dataset_id
                   FROM _incoming_obs n
                   LEFT JOIN observations o USING (variable, level, vintage, period, code)
                   WHERE (n.variable, n.level, n.vintage, n.period) IN {held}
                   GROUP BY ALL""").df()
            if not replace and differing["differs"].any():
                first = differing[differing["differs"]].iloc[0]
                raise CohesionError(
                    f"{int(differing['differs'].sum())} série(s) ont déjà d'autres valeurs venant "
                    f"d'un autre jeu de données, par exemple {first['variable']} à l'échelon "
                    f"{first['level']}, millésime {first['vintage']}, période {first['period']} "
                    f"(jeu {first['dataset_id']}) ; importer avec --replace pour les remplacer")
            if replace:
                self.connection.execute(f"DELETE FROM observations WHERE {series} IN {held}")
                self.connection.execute("INSERT INTO observations SELECT * FROM _incoming_obs")
                return len(frame), 0
            skipped = int(self.connection.execute(
                f"SELECT count(*) FROM _incoming_obs WHERE {series} IN {held}").fetchone()[0])
            filled = self.connection.execute(
                """UPDATE observations o SET value = n.value, missing = NULL,
                   dataset_id = n.dataset_id FROM _incoming_obs n
                   WHERE o.variable = n.variable AND o.level = n.level
                   AND o.vintage = n.vintage AND o.period = n.period AND o.code = n.code
                   AND o.value IS NULL AND n.value IS NOT NULL""").fetchone()[0]
            skipped -= int(filled)
            self.connection.execute(
                f"""INSERT INTO observations SELECT n.variable, n.level, n.code,
                    n.vintage, n.period, n.value, n.missing, n.dataset_id
                    FROM _incoming_obs n ANTI JOIN observations o
                    USING (variable, level, vintage, period, code)
                    WHERE (n.variable, n.level, n.vintage, n.period) IN {held}""")
            self.connection.execute(
                f"""INSERT INTO observations SELECT variable, level, code, vintage, period,
                    value, missing, dataset_id FROM _incoming_obs
                    WHERE {series} NOT IN {held}""")
        finally:
            self.connection.unregister("_incoming_obs")
            self.connection.unregister("_batch_series")
        return len(frame) - skipped, skipped

    def held_series(self) -> pd.DataFrame:
        """Every variable × level × vintage × period holding observations.

        Read from the ``series`` table; from the observations themselves in a file of a
        schema before it opened read-only.
        """
        try:
            return self.query("SELECT variable, period, vintage, level FROM series")
        except duckdb.CatalogException:
            return self.query(
                "SELECT DISTINCT variable, period, vintage, level FROM observations")

    def observations(self, variable: str, level: str) -> pd.DataFrame:
        """Every value of ``variable`` at ``level``: ``code, period, value, vintage``.

        All periods and geography vintages, sorted by vintage, period and code; ``value``
        is NaN where the value is missing.
        """
        return self.query("SELECT code, period, value, vintage FROM observations "
                          "WHERE variable = ? AND level = ? ORDER BY vintage, period, code",
                          [variable, level])

    def level_observations(self, level: str, vintage: int) -> pd.DataFrame:
        """Every value published at ``level`` in ``vintage``, with its variable's description.

        For the QPV, ``vintage`` is the generation. Returns ``code, variable, period,
        value, missing, label, unit, additive, source``, where ``source`` is the title
        of the dataset that brought the value (its producer in brackets), sorted by
        variable, period and code.
        """
        return self.query(
            """SELECT o.code, o.variable, o.period, o.value, o.missing, v.label, v.unit,
                      v.additive,
                      d.title || coalesce(' (' || d.producer || ')', '') AS source
               FROM observations o LEFT JOIN variables v USING (variable)
               LEFT JOIN datasets d ON d.dataset_id = o.dataset_id
               WHERE o.level = ? AND o.vintage = ? ORDER BY o.variable, o.period, o.code""",
            [level, vintage])

    def observed_variables(self, prefix: str = "") -> set[str]:
        """The variables holding at least one observation, those starting with ``prefix``."""
        return {row[0] for row in self.connection.execute(
            "SELECT DISTINCT variable FROM observations WHERE starts_with(variable, ?)",
            [prefix]).fetchall()}

    def write_variables(self, variables: pd.DataFrame) -> None:
        """Record or update the description of variables (label, unit, additivity)."""
        self.connection.register("_incoming_vars", variables)
        try:
            self.connection.execute(
                "INSERT OR REPLACE INTO variables SELECT variable, label, unit, additive, "
                "source_column FROM _incoming_vars")
        finally:
            self.connection.unregister("_incoming_vars")

    # -- what computations declare and measure ----------------------------------------

    def _has_table(self, name: str) -> bool:
        """Whether the file has ``name`` (a read-only file of an older schema may not)."""
        return bool(self.connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()[0])

    def indicator_definitions(self) -> pd.DataFrame:
        """The indicators datasets declared (``indicator_definitions``), by id."""
        if not self._has_table("indicator_definitions"):
            return pd.DataFrame(columns=["indicator", "kind", "label"])
        return self.query("SELECT * FROM indicator_definitions ORDER BY indicator")

    # -- equipment and population ---------------------------------------------------------

    def equipment_types(self) -> pd.DataFrame:
        """Every equipment type held: ``typequ, domain, label, count``, by type.

        Only the newest dataset of each type counts (a second BPE year replaces the
        first rather than doubling it), as in :meth:`equipment_points`.
        """
        return self.query(
            f"""SELECT typequ, any_value(domain) AS domain, mode(label) AS label,
                       count(*) AS count FROM ({self._NEWEST_EQUIPMENTS})
                GROUP BY typequ ORDER BY typequ""")

    _NEWEST_EQUIPMENTS = """SELECT * FROM equipments e WHERE dataset_id =
        (SELECT max(dataset_id) FROM equipments f WHERE f.typequ = e.typequ)"""

    def equipment_points(self, types: Sequence[str]) -> pd.DataFrame:
        """The équipements of ``types`` (type codes, or BPE domain letters such as ``D``).

        Returns
        -------
        DataFrame
            ``typequ, label, longitude, latitude, code_commune, dataset_id``, the newest
            dataset of each type only.
        """
        return self.query(
            f"""SELECT typequ, label, longitude, latitude, code_commune, dataset_id
                FROM ({self._NEWEST_EQUIPMENTS})
                WHERE list_contains(?, typequ) OR list_contains(?, domain)
                ORDER BY typequ, longitude, latitude""", [list(types), list(types)])

    def legal_populations(self, level: str, vintage: int) -> pd.Series:
        """The legal population of every territory of ``level`` in ``vintage``, by code."""
        found = self.query("SELECT code, population FROM territories WHERE level = ? "
                           "AND vintage = ? ORDER BY code", [level, vintage])
        return found.set_index("code")["population"].astype("float64")

    def grid_population(self) -> pd.DataFrame:
        """Every 200 m cell that has a population (``ind``), the newest file winning.

        Returns
        -------
        DataFrame
            ``cell_id, geometry`` (WKB bytes), ``crs, population, dataset_id``.
        """
        return self.query(
            """SELECT cell_id, arg_max(geometry, dataset_id) AS geometry,
                      arg_max(crs, dataset_id) AS crs,
                      arg_max(TRY_CAST(json_extract(properties, '$.ind') AS DOUBLE),
                              dataset_id) AS population,
                      max(dataset_id) AS dataset_id
               FROM grid_cells WHERE json_extract(properties, '$.ind') IS NOT NULL
               GROUP BY cell_id ORDER BY cell_id""")

    # -- funding lines ------------------------------------------------------------------

    #: How a funding line is attached to a territory: filter name → column.
    FUNDING_ATTACHMENTS: ClassVar[dict[str, str]] = {
        "departements": "departement", "regions": "region", "contrats": "contrat_ville",
        "communes": "code_commune", "sirens": "siren"}

    def funding_lines(self, years: Sequence[int] | None = None,
                      **attachments: Sequence[str]) -> pd.DataFrame:
        """The funding lines of ``years``, attached to any of the territories given.

        Parameters
        ----------
        years : sequence of int, optional
            Only these years (default: all).
        **attachments : sequence of str
            ``departements``, ``regions``, ``contrats`` (contrats de ville),
            ``communes`` (commune codes), ``sirens`` (beneficiaries' SIREN): a line is
            kept when one of its attachments is listed (every line when none is given).

        Returns
        -------
        DataFrame
            The columns of ``funding_lines``, sorted by year, dispositif and key; empty
            on a file of an older schema.
        """
        unknown = sorted(set(attachments) - set(self.FUNDING_ATTACHMENTS))
        if unknown:
            raise ValueError(f"unknown attachment {unknown[0]!r} (expected some of "
                             f"{', '.join(self.FUNDING_ATTACHMENTS)})")
        if not self._has_table("funding_lines"):
            return pd.DataFrame(columns=["line_key", "dispositif", "year", "amount"])
        sql, params = "SELECT * FROM funding_lines WHERE TRUE", []
        if years is not None:
            sql += " AND list_contains(?, year)"
            params.append([int(year) for year in years])
        if attachments:
            sql += " AND (" + " OR ".join(
                f"list_contains(?, {self.FUNDING_ATTACHMENTS[name]})" for name in attachments
            ) + ")"
            params += [list(codes) for codes in attachments.values()]
        return self.query(sql + " ORDER BY year, dispositif, line_key", params)

    def funding_totals(self) -> pd.DataFrame:
        """Amount, posts and lines of each dispositif, year and département.

        Returns
        -------
        DataFrame
            ``dispositif, year, departement, amount, posts, lines``; ``departement`` is
            None for the lines in none (Saint-Martin, French Polynesia, the Collectivité
            de Corse).
        """
        if not self._has_table("funding_lines"):
            return pd.DataFrame(columns=["dispositif", "year", "departement", "amount",
                                         "posts", "lines"])
        return self.query(
            """SELECT dispositif, year, departement, sum(amount) AS amount,
                      sum(posts) AS posts, count(*) AS lines
               FROM funding_lines GROUP BY ALL ORDER BY ALL""")

    # -- accessibility ------------------------------------------------------------------

    def access_runs(self) -> pd.DataFrame:
        """Every accessibility measure computed, newest first (see ``access_runs``)."""
        if not self._has_table("access_runs"):
            return pd.DataFrame(columns=["dataset_id", "measure"])
        return self.query(
            """SELECT r.*, d.imported_at AS computed_at FROM access_runs r
               JOIN datasets d USING (dataset_id)
               ORDER BY r.dataset_id DESC, r.measure""")

    def access_times(self, measure: str) -> pd.DataFrame:
        """The time from every origin to the nearest equipment of ``measure``."""
        if not self._has_table("access_times"):
            return pd.DataFrame(columns=["origin", "seconds"])
        return self.query(
            """SELECT origin, longitude, latitude, population, seconds, snap_metres,
                      reachable, fca, code_commune, qpv, zone FROM access_times
               WHERE measure = ? ORDER BY origin""", [measure])

    def summary(self) -> pd.DataFrame:
        """Row counts of the main tables, for a quick look at what the warehouse holds."""
        tables = ["vintages", "territories", "memberships", "geometries", "shapes", "passages",
                  "datasets", "observations", "equipments", "grid_cells"]
        counts = {t: self.connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in tables}
        return pd.DataFrame({"table": list(counts), "rows": list(counts.values())})
