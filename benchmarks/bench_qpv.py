"""Benchmark: locating 5 million points in the QPV, and a 1,000,000-row CSV end to end.

The warehouse holds the référentiel and the QPV contours of the samples (2015: Occitanie
and Marseille, 142 QPV; 2024: Provence-Alpes-Côte d'Azur, 135 QPV), imported once,
untimed. The points are drawn with a fixed seed: half scattered around the QPV (normal
law, 1 km), half uniform over the south of France between them.

Product: ``QpvIndex.within`` for each generation (the exact point-in-polygon test on
longitude/latitude arrays, through the grid index), the index built once, untimed.

Baseline: ``geopandas.sjoin(points, contours, predicate="within")`` for each generation,
the points made once per repetition with ``geopandas.points_from_xy`` (timed: that is how
geopandas takes coordinates).

Checks: the same QPV for every point and generation. Also measured, product only: the
full ``QpvIndex.locate`` (quality, distance, band, commune) on 1,000,000 of the points,
and ``locate_file`` on a 1,000,000-row CSV in a child process (time and peak resident
memory, target under 1 GiB).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from benchmarks.common import (
    BenchmarkResult,
    Context,
    best_of_both,
    check,
    copy_file,
    record_timings,
)
from cohesion.geo import QpvIndex
from cohesion.importers.base import run_import
from cohesion.importers.qpv import QpvContours
from cohesion.store import Warehouse

NAME = "qpv"
TITLE = "QPV within, 5 M points × 2 generations"
MIN_RATIO = 2.0
MAX_RSS_GIB = 1.0
TARGET = f">= {MIN_RATIO:.0f}× geopandas.sjoin, identical; 1 M-row CSV < {MAX_RSS_GIB:.0f} GiB"
POINTS = 5_000_000
LOCATE_POINTS = 1_000_000
CSV_ROWS = 1_000_000
SAMPLES = ("qpv/hackaviz2021_occitanie/qp.geojson", "qpv/icu_mediapart/marseille.gpkg",
           "qpv/qpv2024_paca/qpv-paca.geojson")
LOOKUP = "qpv/qpv2024_communes/polygone-4326_qpv.geojson"

#: Run in a child process, so that its peak memory is the batch's alone. The peak is the
#: high-water mark of the child's own address space (``VmHWM``): ``ru_maxrss`` would
#: count the parent's memory too, as it survives the fork and exec of the child.
CHILD = """
import json, sys, time
from pathlib import Path
from cohesion.geo import PointColumns, QpvIndex, locate_file
from cohesion.store import Warehouse
warehouse, lookup, source, target = map(Path, sys.argv[1:5])
start = time.perf_counter()
with Warehouse(warehouse, read_only=True) as opened:
    index = QpvIndex.from_warehouse(opened, lookups=[lookup])
built = time.perf_counter()
summary = locate_file(index, source, target, PointColumns(lon="lon", lat="lat"))
done = time.perf_counter()
status = Path("/proc/self/status").read_text()
peak_kib = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"rows": summary.rows, "errors": summary.errors, "index_s": built - start,
                  "batch_s": done - built, "peak_rss_gib": peak_kib / 2**20}))
"""


def qpv_warehouse(context: Context) -> Path:
    """The référentiel plus the QPV contours of the samples (built once, untimed)."""
    path = copy_file(context.referentiel_file(), context.work / "qpv.duckdb")
    with Warehouse(path) as warehouse:
        for sample in SAMPLES:
            run_import(warehouse, QpvContours(), context.sample(sample))
    return path


def random_points(index: QpvIndex, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Half the points around the QPV (about 1 km), half uniform over their region."""
    rng = np.random.default_rng(seed)
    contours = np.concatenate([layer.geometries for layer in index.layers.values()])
    anchors = shapely.point_on_surface(contours)
    chosen = rng.integers(0, len(contours), count // 2)
    xmin, ymin, xmax, ymax = shapely.total_bounds(contours)
    lon = np.concatenate([shapely.get_x(anchors)[chosen] + rng.normal(0, 0.012, count // 2),
                          rng.uniform(xmin, xmax, count - count // 2)])
    lat = np.concatenate([shapely.get_y(anchors)[chosen] + rng.normal(0, 0.009, count // 2),
                          rng.uniform(ymin, ymax, count - count // 2)])
    return lon, lat


def product_within(index: QpvIndex, lon: np.ndarray, lat: np.ndarray) -> dict[int, np.ndarray]:
    """The product: the QPV of every point, for each generation."""
    return {g: index.within(lon, lat, g) for g in index.generations}


def baseline_within(index: QpvIndex, lon: np.ndarray, lat: np.ndarray) -> dict[int, np.ndarray]:
    """The baseline: geopandas points and one ``sjoin`` per generation."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    found = {}
    for generation, layer in index.layers.items():
        contours = gpd.GeoDataFrame({"code": layer.codes}, geometry=layer.geometries,
                                    crs="EPSG:4326")
        joined = gpd.sjoin(points, contours, predicate="within", how="left")
        joined = joined[~joined.index.duplicated()]
        codes = joined["code"].to_numpy(dtype=object)
        codes[pd.isna(codes)] = None
        found[generation] = codes
    return found


def end_to_end(context: Context, warehouse: Path, index: QpvIndex) -> dict[str, float]:
    """Write a 1,000,000-row CSV and locate it in a child process."""
    lon, lat = random_points(index, CSV_ROWS, seed=2)
    source = context.work / "points.csv"
    pd.DataFrame({"id": np.arange(CSV_ROWS), "lon": lon.round(6), "lat": lat.round(6),
                  "libelle": "point"}).to_csv(source, index=False)
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(warehouse), str(context.sample(LOOKUP)),
         str(source), str(context.work / "points_qpv.csv")],
        capture_output=True, text=True, check=True)
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["csv_mib"] = source.stat().st_size / 2**20
    return figures


def run(context: Context, result: BenchmarkResult) -> None:
    """Time both within tests on the same points, compare them, then the batch."""
    print("  (importing the QPV samples once, untimed)", flush=True)
    warehouse = qpv_warehouse(context)
    with Warehouse(warehouse, read_only=True) as opened:
        start = time.perf_counter()
        index = QpvIndex.from_warehouse(opened, lookups=[context.sample(LOOKUP)])
        index_s = time.perf_counter() - start
    lon, lat = random_points(index, POINTS, seed=1)
    timings = best_of_both(
        {"product": (lambda _: product_within(index, lon, lat), lambda: None),
         "baseline": (lambda _: baseline_within(index, lon, lat), lambda: None)},
        context.repeat, warmup=True)
    product, baseline = timings["product"], timings["baseline"]
    record_timings(result, product, baseline)
    inside = {}
    for generation in index.generations:
        same = product.result[generation] == baseline.result[generation]
        check(same.all(), f"{int((~same).sum())} points of {POINTS:,} in another QPV of "
              f"{generation} than geopandas says")
        inside[generation] = int(pd.notna(product.result[generation]).sum())
    counts = ", ".join(f"{g}: {n:,} inside" for g, n in inside.items())
    result.checks.append(f"same QPV for {POINTS:,} points × {len(index.generations)} "
                         f"generations ({counts})")

    start = time.perf_counter()
    index.locate(lon[:LOCATE_POINTS], lat[:LOCATE_POINTS])
    locate_s = time.perf_counter() - start
    print(f"    full locate of {LOCATE_POINTS:,} points: {locate_s:.2f} s", flush=True)
    batch = end_to_end(context, warehouse, index)
    print(f"    {CSV_ROWS:,}-row CSV: {batch['batch_s']:.1f} s, peak RSS "
          f"{batch['peak_rss_gib']:.2f} GiB", flush=True)
    check(batch["rows"] == CSV_ROWS, f"the batch wrote {batch['rows']} rows")
    result.checks.append(f"{CSV_ROWS:,}-row CSV ({batch['csv_mib']:.0f} MiB) located end to "
                         f"end, peak memory {batch['peak_rss_gib']:.2f} GiB")
    points_located = POINTS * len(index.generations)
    result.details.update({
        "points": POINTS, "generations": list(index.generations),
        "qpv": {g: len(layer.codes) for g, layer in index.layers.items()},
        "index_build_s": round(index_s, 2),
        "product_points_per_s": round(points_located / product.best),
        "baseline_points_per_s": round(points_located / baseline.best),
        "locate_points_per_s": round(LOCATE_POINTS / locate_s),
        "csv_rows": CSV_ROWS, "csv_mib": round(batch["csv_mib"], 1),
        "csv_index_s": round(batch["index_s"], 2), "csv_batch_s": round(batch["batch_s"], 2),
        "csv_rows_per_s": round(CSV_ROWS / batch["batch_s"]),
        "csv_peak_rss_gib": round(batch["peak_rss_gib"], 3)})
    result.passed = (baseline.best / product.best >= MIN_RATIO
                     and batch["peak_rss_gib"] < MAX_RSS_GIB)
