"""Benchmark: locating 5 million points in the QPV, and 1,000,000-row files end to end.

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
full ``QpvIndex.locate`` (quality, distance, band, commune) on 1,000,000 of the points.

Files end to end, each run in a child process (its index built untimed, then the peak
resident memory reset, so that the peak is the batch's): ``locate_file`` on a
1,000,000-row CSV to CSV (its resident memory sampled after each chunk: the second half
of the file must not need more than the first, chunks being streamed), the same rows
Parquet to Parquet; against a plain pandas pipeline
in the same run (``pandas.read_csv`` in chunks, ``QpvIndex.locate``, ``to_csv``: no
validation, no neutralised formulas), whose CSV must be byte for byte the product's.
Targets: at least 1 M rows/s CSV to CSV, memory bounded, Parquet faster than CSV.
"""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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
MIN_ROWS_PER_S = 1_000_000
#: The most the resident memory of the second half of the batch may exceed that of the
#: first half (bounded memory: the peak is reached within the first chunks, then flat).
MAX_RSS_GROWTH_MIB = 64
TARGET = (f">= {MIN_RATIO:.0f}× geopandas.sjoin, identical; 1 M-row CSV < {MAX_RSS_GIB:.0f} "
          f"GiB, >= {MIN_ROWS_PER_S / 1e6:.0f} M rows/s, memory bounded, Parquet faster")
POINTS = 5_000_000
LOCATE_POINTS = 1_000_000
CSV_ROWS = 1_000_000
SAMPLES = ("qpv/hackaviz2021_occitanie/qp.geojson", "qpv/icu_mediapart/marseille.gpkg",
           "qpv/qpv2024_paca/qpv-paca.geojson")
LOOKUP = "qpv/qpv2024_communes/polygone-4326_qpv.geojson"

#: Run in a child process, so that its peak memory is the batch's alone. The peak is the
#: high-water mark of the child's own address space (``VmHWM``), reset once the index is
#: built (``clear_refs``): ``ru_maxrss`` would count the parent's memory too, as it
#: survives the fork and exec of the child. ``pandas`` runs the plain pipeline instead.
CHILD = """
import json, sys, time
from pathlib import Path
import pandas as pd
from cohesion.geo import PointColumns, QpvIndex, locate_file
from cohesion.store import Warehouse
mode, resident = sys.argv[1], []
warehouse, lookup, source, target = map(Path, sys.argv[2:6])
start = time.perf_counter()
with Warehouse(warehouse, read_only=True) as opened:
    index = QpvIndex.from_warehouse(opened, lookups=[lookup])
Path("/proc/self/clear_refs").write_text("5")
built = time.perf_counter()
def sample(rows):
    status = Path("/proc/self/status").read_text()
    resident.append(int(status.split("VmRSS:")[1].split()[0]) / 1024)
if mode == "product":
    rows = locate_file(index, source, target, PointColumns(lon="lon", lat="lat"),
                       progress=sample).rows
else:
    rows, header = 0, True
    for chunk in pd.read_csv(source, chunksize=100_000):
        results = index.locate(chunk["lon"].to_numpy(), chunk["lat"].to_numpy()).to_frame()
        pd.concat([chunk.reset_index(drop=True), results], axis=1).to_csv(
            target, mode="w" if header else "a", header=header, index=False)
        rows, header = rows + len(chunk), False
done = time.perf_counter()
status = Path("/proc/self/status").read_text()
peak_kib = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"rows": rows, "index_s": built - start, "batch_s": done - built,
                  "peak_rss_gib": peak_kib / 2**20, "resident_mib": resident}))
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


def point_files(context: Context, index: QpvIndex) -> dict[str, Path]:
    """The 1,000,000 points as CSV and Parquet (untimed)."""
    lon, lat = random_points(index, CSV_ROWS, seed=2)
    frame = pd.DataFrame({"id": np.arange(CSV_ROWS), "lon": lon.round(6), "lat": lat.round(6),
                          "libelle": "point"})
    files = {"csv": context.work / "points.csv", "parquet": context.work / "points.parquet"}
    frame.to_csv(files["csv"], index=False)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), files["parquet"],
                   row_group_size=100_000)
    return files


def batch_run(context: Context, warehouse: Path, mode: str, source: Path,
              target: Path) -> dict[str, float]:
    """Locate one file in a child process: rows, seconds, peak memory of the batch, and
    the resident memory after each chunk (product only)."""
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(warehouse), str(context.sample(LOOKUP)),
         str(source), str(target)], capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def end_to_end(context: Context, warehouse: Path, index: QpvIndex) -> dict[str, dict]:
    """Each file located by the product, and the CSV by the plain pandas pipeline.

    Product and pandas runs alternate, the best of ``min(repeat, 2)`` kept for each.
    """
    files = point_files(context, index)
    work = {"csv": ("product", files["csv"], "points_qpv.csv"),
            "pandas": ("pandas", files["csv"], "points_pandas.csv"),
            "parquet": ("product", files["parquet"], "points_qpv.parquet")}
    best: dict[str, dict] = {}
    for _ in range(min(context.repeat, 2)):
        for label, (mode, source, output) in work.items():
            figures = batch_run(context, warehouse, mode, source, context.work / output)
            print(f"    {label:<8} {figures['rows']:,} rows: {figures['batch_s']:.2f} s, "
                  f"peak {figures['peak_rss_gib']:.2f} GiB", flush=True)
            if label not in best or figures["batch_s"] < best[label]["batch_s"]:
                best[label] = figures
            # the peak does not depend on the speed: the highest seen
            best[label]["peak_rss_gib"] = max(best[label]["peak_rss_gib"],
                                              figures["peak_rss_gib"])
    check(filecmp.cmp(context.work / "points_qpv.csv", context.work / "points_pandas.csv",
                      shallow=False), "the batch's CSV differs from the pandas pipeline's")
    written = pq.read_table(context.work / "points_qpv.parquet")
    expected = pd.read_csv(context.work / "points_qpv.csv",
                           dtype={"qpv_2015": str, "qpv_2024": str})
    check(written.num_rows == CSV_ROWS and np.allclose(
        written["distance_qpv_2024_m"].to_numpy(zero_copy_only=False),
        expected["distance_qpv_2024_m"].to_numpy(), equal_nan=True) and
        written["qpv_2015"].to_pandas().fillna("").tolist() ==
        expected["qpv_2015"].fillna("").tolist(), "the Parquet results differ from the CSV's")
    best["csv_mib"] = {"value": files["csv"].stat().st_size / 2**20}
    return best


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
    rates = {label: CSV_ROWS / batch[label]["batch_s"] for label in ("csv", "pandas", "parquet")}
    resident = batch["csv"]["resident_mib"]
    half = len(resident) // 2
    growth_mib = max(resident[half:]) - max(resident[:half])
    fast = rates["csv"] >= MIN_ROWS_PER_S
    bounded = growth_mib <= MAX_RSS_GROWTH_MIB and batch["csv"]["peak_rss_gib"] < MAX_RSS_GIB
    parquet_faster = rates["parquet"] > rates["csv"]
    for label, passed in ((f"CSV to CSV >= {MIN_ROWS_PER_S / 1e6:.0f} M rows/s: "
                           f"{rates['csv']:,.0f} rows/s", fast),
                          (f"memory bounded: peak {batch['csv']['peak_rss_gib']:.3f} GiB "
                           f"(under {MAX_RSS_GIB:.0f}), resident memory of the second half "
                           f"{growth_mib:+.0f} MiB from the first (at most "
                           f"{MAX_RSS_GROWTH_MIB})", bounded),
                          (f"Parquet faster: {rates['parquet']:,.0f} rows/s", parquet_faster)):
        print(f"    {'PASS' if passed else 'FAIL'}  {label}", flush=True)
    print(f"    plain pandas pipeline: {rates['pandas']:,.0f} rows/s (product CSV "
          f"{rates['csv'] / rates['pandas']:.2f}×, Parquet "
          f"{rates['parquet'] / rates['pandas']:.2f}×); in-memory full locate: "
          f"{LOCATE_POINTS / locate_s:,.0f} points/s", flush=True)
    check(all(batch[label]["rows"] == CSV_ROWS for label in ("csv", "pandas", "parquet")),
          "a batch did not write every row")
    result.checks.append(f"{CSV_ROWS:,}-row CSV ({batch['csv_mib']['value']:.0f} MiB) located "
                         f"end to end, byte for byte the plain pandas pipeline's; Parquet "
                         f"results the CSV's")
    points_located = POINTS * len(index.generations)
    result.details.update({
        "points": POINTS, "generations": list(index.generations),
        "qpv": {g: len(layer.codes) for g, layer in index.layers.items()},
        "index_build_s": round(index_s, 2),
        "product_points_per_s": round(points_located / product.best),
        "baseline_points_per_s": round(points_located / baseline.best),
        "locate_points_per_s": round(LOCATE_POINTS / locate_s),
        "csv_rows": CSV_ROWS, "csv_mib": round(batch["csv_mib"]["value"], 1),
        "csv_index_s": round(batch["csv"]["index_s"], 2),
        "csv_batch_s": round(batch["csv"]["batch_s"], 2),
        "csv_rows_per_s": round(rates["csv"]),
        "parquet_rows_per_s": round(rates["parquet"]),
        "pandas_csv_rows_per_s": round(rates["pandas"]),
        "csv_vs_pandas": round(rates["csv"] / rates["pandas"], 2),
        "csv_peak_rss_gib": round(batch["csv"]["peak_rss_gib"], 3),
        "parquet_peak_rss_gib": round(batch["parquet"]["peak_rss_gib"], 3),
        "pandas_peak_rss_gib": round(batch["pandas"]["peak_rss_gib"], 3),
        "second_half_rss_growth_mib": round(growth_mib, 1),
        "csv_at_least_1m_rows_per_s": fast, "memory_bounded": bounded,
        "parquet_faster": parquet_faster})
    result.passed = (baseline.best / product.best >= MIN_RATIO and fast and bounded
                     and parquet_faster)
