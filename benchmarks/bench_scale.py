"""Benchmark: how the grouped pass of the indicator engine grows with rows.

The engine sums every input of every indicator over the territories of every level in
one sparse product (:func:`cohesion.indicators.engine.grouped_sums`). This benchmark
runs that pass on three real inputs of growing size, each against plain pandas
(``DataFrame.groupby(...).sum()``), and reports time, peak memory and time per row:

* communes → EPCI, ARR, DEP, REG, France (2021 geography): the additive counts of the
  Comparateur de territoires, one commune counted once per level;
* IRIS → communes: the national Filosofi 2020 file by IRIS (revenus déclarés,
  ``BASE_TD_FILO_DEC_IRIS_2020.xlsx``). It documents the IRIS of the communes of
  5,000 inhabitants or more, not the ≈ 50,000 IRIS of France: the benchmark measures
  the IRIS it holds, and says how many. Its statistics are medians and rates, which
  are never summed: what is summed is whether each IRIS has each statistic (how many
  IRIS of each commune are documented), at the same cost as a value;
* 200 m cells → communes: the 54,580 Filosofi cells of Gironde (``ind``, inhabitants),
  each in the commune containing its centre (located once, untimed, on the commune
  contours of the latest vintage).

Inputs are read from the warehouse before timing (the reads are those of the
aggregate benchmark). Checks: the same sums as pandas (relative 1e-9), for every group
and column; for the cells, the inhabitants of the located cells all counted.
Peak memory: the largest allocation traced (``tracemalloc``) during one call.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from benchmarks.common import BenchmarkResult, Context, best_of_both, check, loaded_warehouse
from cohesion.importers.base import run_import
from cohesion.importers.grid import FilosofiGrid
from cohesion.importers.iris import FilosofiIris
from cohesion.indicators.engine import IndicatorEngine, grouped_sums
from cohesion.store import Warehouse

NAME = "scale"
TITLE = "grouped sums: communes, IRIS, 200 m cells"
TARGET = "same sums as pandas, not slower than pandas at any size"
IRIS_2020 = "commune_indicators/filosofi_iris_dec_2017_2020/BASE_TD_FILO_DEC_IRIS_2020.xlsx"
CELLS_GIRONDE = "filosofi_carreaux/gironde_33_pop/carreaux_33.gpkg"
VINTAGE = 2021
LEVELS = ["EPCI", "ARR", "DEP", "REG", "FRA"]
REPEAT = 10


@dataclass(frozen=True)
class Case:
    """Rows to sum into groups: ``matrix`` rows, and for each link a row and a group."""

    name: str
    matrix: np.ndarray
    members: np.ndarray  # row of each link
    groups: np.ndarray  # group code of each link (strings)


def product_sums(case: Case) -> pd.DataFrame:
    """The engine's pass: groups numbered, then one sparse product."""
    number, codes = pd.factorize(case.groups, sort=True)
    sums = grouped_sums(case.matrix, case.members, number, len(codes))
    return pd.DataFrame(sums, index=pd.Index(codes))


def baseline_sums(case: Case) -> pd.DataFrame:
    """Plain pandas: one row per link, grouped by its group's code and summed."""
    return pd.DataFrame(case.matrix[case.members]).groupby(case.groups, sort=True).sum()


def peak_mib(function: Callable[[Case], pd.DataFrame], case: Case) -> float:
    """The peak of memory traced while ``function(case)`` runs, in MiB."""
    tracemalloc.start()
    try:
        function(case)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# -- the three inputs -----------------------------------------------------------------

def commune_case(warehouse: Warehouse) -> Case:
    """Additive counts of the Comparateur, communes → every level above them."""
    keys = list(warehouse.query(
        """SELECT DISTINCT o.variable || '@' || o.period AS key FROM observations o
           JOIN datasets d USING (dataset_id) JOIN variables v USING (variable)
           WHERE d.importer = 'comparateur' AND o.level = 'COM' AND v.additive
           ORDER BY key""")["key"])
    values = IndicatorEngine(warehouse).commune_values(keys, VINTAGE)[0].fillna(0.0)
    links = warehouse.query(
        "SELECT code, parent_level || ':' || parent_code AS parent FROM memberships "
        "WHERE vintage = ? AND level = 'COM' AND list_contains(?, parent_level)",
        [VINTAGE, LEVELS])
    rows = values.index.get_indexer(links["code"])
    check(bool((rows >= 0).all()), "a member commune has no row")
    return Case("communes → EPCI, ARR, DEP, REG, FRA", values.to_numpy(), rows,
                links["parent"].to_numpy(dtype=object))


def iris_case(warehouse: Warehouse) -> Case:
    """Which statistics each IRIS has, IRIS → commune (or arrondissement municipal)."""
    observations = warehouse.query(
        """SELECT o.code, o.variable || '@' || o.period AS key,
                  CAST(o.value IS NOT NULL AS DOUBLE) AS present
           FROM observations o WHERE o.level = 'IRIS'""")
    check(not observations.empty, "no IRIS observation imported")
    wide = observations.pivot(index="code", columns="key", values="present").fillna(0.0)
    links = warehouse.query(
        "SELECT DISTINCT code, parent_code FROM memberships WHERE level = 'IRIS' "
        "AND parent_level IN ('COM', 'ARM')")
    links = links[links["code"].isin(wide.index)].drop_duplicates("code")
    return Case(f"IRIS → communes ({len(wide):,} IRIS in the file)", wide.to_numpy(),
                wide.index.get_indexer(links["code"]),
                links["parent_code"].to_numpy(dtype=object))


def cell_case(warehouse: Warehouse) -> tuple[Case, float]:
    """Inhabitants of 200 m cells → the commune containing each cell's centre.

    Also returns the inhabitants of the cells that lie in no commune contour.
    """
    cells = warehouse.grid_population()
    check(len(cells["crs"].unique()) == 1, "cells in several CRS")
    centres = shapely.centroid(shapely.from_wkb([bytes(b) for b in cells["geometry"]]))
    to_degrees = Transformer.from_crs(cells["crs"].iloc[0], "EPSG:4326", always_xy=True)
    lon, lat = to_degrees.transform(shapely.get_x(centres), shapely.get_y(centres))
    latest = warehouse.vintages()[-1]
    communes = warehouse.geometries("COM", latest)
    points = shapely.points(lon, lat)
    found = shapely.STRtree(communes["geometry"].to_numpy()).query(points,
                                                                     predicate="within")
    # a centre on a border falls in two contours: the first one counts it
    cell, position = found[0], found[1]
    first = ~pd.Series(cell).duplicated().to_numpy()
    cell, position = cell[first], position[first]
    population = cells["population"].to_numpy(dtype="float64")
    outside = float(np.delete(population, cell).sum())
    return Case(f"200 m cells → communes ({len(cells):,} cells of Gironde)",
                population[:, None], cell,
                communes["code"].to_numpy(dtype=object)[position]), outside


def compare(case: Case, product: pd.DataFrame, baseline: pd.DataFrame) -> int:
    """Check both sums; return the number of groups."""
    check(list(product.index) == list(baseline.index), f"{case.name}: groups differ")
    close = np.isclose(product.to_numpy(), baseline.to_numpy(), rtol=1e-9, atol=0.0)
    check(bool(close.all()), f"{case.name}: {int((~close).sum())} sums differ")
    return len(product)


def run(context: Context, result: BenchmarkResult) -> None:
    """Import the IRIS file and the cells once, then time each case."""
    print("  (loading Comparateur, Filosofi, IRIS 2020 and the Gironde cells once, "
          "untimed)", flush=True)
    path = loaded_warehouse(context, "scale")
    with Warehouse(path) as warehouse:
        run_import(warehouse, FilosofiIris(), context.sample(IRIS_2020))
        run_import(warehouse, FilosofiGrid(), context.sample(CELLS_GIRONDE))
    with Warehouse(path, read_only=True) as warehouse:
        cells, outside = cell_case(warehouse)
        cases = [commune_case(warehouse), iris_case(warehouse), cells]
    product_total = baseline_total = 0.0
    rows_table = []
    passed = True
    for case in cases:
        print(f"  {case.name}", flush=True)
        # milliseconds each: more repetitions than the other benchmarks
        timings = best_of_both({"product": (product_sums, lambda c=case: c),
                                "baseline": (baseline_sums, lambda c=case: c)},
                               max(context.repeat, REPEAT), warmup=True)
        product, baseline = timings["product"], timings["baseline"]
        groups = compare(case, product.result, baseline.result)
        memory = (peak_mib(product_sums, case), peak_mib(baseline_sums, case))
        links = len(case.members)
        ratio = baseline.best / product.best
        passed &= ratio >= 1.0
        product_total += product.best
        baseline_total += baseline.best
        rows_table.append({
            "case": case.name, "rows": int(case.matrix.shape[0]), "links": links,
            "columns": int(case.matrix.shape[1]), "groups": groups,
            "product_s": round(product.best, 5), "baseline_s": round(baseline.best, 5),
            "ratio": round(ratio, 2), "product_peak_mib": round(memory[0], 1),
            "baseline_peak_mib": round(memory[1], 1),
            "product_ns_per_link_value": round(
                product.best * 1e9 / (links * case.matrix.shape[1]), 2)})
        print(f"    {links:,} links × {case.matrix.shape[1]} columns → {groups:,} groups: "
              f"product {product.best * 1e3:.1f} ms (peak {memory[0]:.1f} MiB), pandas "
              f"{baseline.best * 1e3:.1f} ms (peak {memory[1]:.1f} MiB), ratio "
              f"{ratio:.1f} -> {'PASS' if ratio >= 1.0 else 'FAIL'}", flush=True)
    located = cells.matrix[cells.members, 0].sum()
    check(bool(np.isclose(located + outside, cells.matrix[:, 0].sum())),
          "inhabitants of cells lost")
    result.checks.append(f"{len(cases)} cases, every group sum equal to pandas (rtol 1e-9); "
                         f"cells: {located:,.0f} inhabitants in communes, {outside:,.0f} in "
                         "cells whose centre is in no commune contour")
    result.product_s, result.baseline_s = product_total, baseline_total
    result.basis = "sum over the cases of each case's best"
    result.passed = passed
    result.details["cases"] = rows_table
