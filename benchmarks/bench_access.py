"""Benchmark: travel time to the nearest equipment, against pandana, and at scale.

Part 1, real OpenStreetMap extracts (Saint-Barthélemy by car, Paris 9e/10e on foot),
end to end from the OSM file, each side in its own child process (after its imports;
the peak resident memory is the child's ``VmHWM``, which counts C allocations, unlike
``tracemalloc``). The same 10,000 random origin points within the network's extent and
the same 30 equipment points (random nodes, chosen once by the parent from the same
parse) for both.

Product: ``read_network`` (pyosmium) → ``snap`` of the origins and the equipment →
``times_to_nearest`` with the cut-off (one multi-source Dijkstra, scipy) →
``origin_times`` (walk from the point to its node, 5 km/h) → inf beyond the cut-off.

Baseline: pandana 0.8, which has no OpenStreetMap reader of its own offline: the same
``read_network`` parse (so both route on the very same edges), node coordinates
projected in the CRS ``snap`` uses, node and edge ``DataFrame``, ``pandana.Network``
(contraction hierarchies), ``set_pois`` of the equipment, ``nearest_pois`` with the
cut-off, the origins attached to their nearest node with pandana's own k-d tree (what
``get_node_ids`` does, keeping the distance), plus the same walk. ``precompute`` (the
range queries of aggregations) is not used by ``nearest_pois``: it is left out of the
timed pipeline (fair to pandana) and timed apart. pandana stores impedances as integers
of 1/1000 of their unit (truncated) and returns float32: it is given milliseconds, so
its times are within about 1 µs per edge plus float32 rounding of the exact ones.

Checks: the same node for every origin, snap distances within 1 m; our node times equal
to an exact float64 Dijkstra of networkx within 1e-6 s; our origin times equal to
pandana's within :data:`PANDANA_TOLERANCE_S` (its resolution), inf at the same origins
except within that tolerance of the cut-off.

Part 2, synthetic (labelled as such): a generated road grid of about 1 M nodes
(:func:`synthetic_network`: jittered lattice, motorway/primary/tertiary/residential
lines, some one-way and missing streets), cut into 10 département-sized parts of
origins; whole-network time and memory, then per part (time, nodes, peak memory above
the process's resident memory), then the same work on a local Dask cluster (2 worker
processes); all three results identical (``array_equal``, inf included).
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import REPO, BenchmarkResult, Context, check
from cohesion.access.network import GEOD, Network
from cohesion.access.profiles import DRIVE, Profile

NAME = "access"
TITLE = "Nearest equipment by road (OSM), vs pandana"
MIN_RATIO = 10.0
TARGET = f">= {MIN_RATIO:.0f}× pandana end to end, lower peak memory"
OSM_CASES = (  # file, profile, cut-off (s)
    ("osm/saint_barthelemy.osm.pbf", "voiture", 300.0),
    ("osm/paris_map.osm", "marche", 600.0),
)
ORIGINS = 10_000
#: Timed runs of each side in its child process (after one cold run): tens of ms each.
OSM_RUNS = 10
EQUIPMENT = 30
WALK_KMH = 5.0
#: pandana's resolution on these paths (1 µs per edge in milliseconds, float32 output).
PANDANA_TOLERANCE_S = 1e-3
EXACT_TOLERANCE_S = 1e-6
SNAP_TOLERANCE_M = 1.0
SYNTHETIC_SIDE = 1024  # 1,048,576 nodes
SYNTHETIC_PARTS = 10
SYNTHETIC_ORIGINS = 500_000
SYNTHETIC_EQUIPMENT = 300
SYNTHETIC_LIMIT_S = 900.0
SEED = 20261203

#: Synthetic road classes: every ``n``-th row and column of the lattice, first match.
_LINES = ((100, "motorway"), (25, "primary"), (5, "tertiary"))


def synthetic_network(side: int, spacing_m: float = 200.0, seed: int = 0,
                      profile: Profile = DRIVE, west: float = 0.5,
                      south: float = 45.5) -> Network:
    """A generated road grid of ``side × side`` nodes in metropolitan France (synthetic).

    A lattice ``spacing_m`` apart, each node moved at random by up to a quarter of the
    spacing, its south-west corner at (``west``, ``south``). Every 100th row and column
    is a motorway, every 25th a primary road, every 5th a tertiary road, the rest
    residential or unclassified streets, 8 % of which are missing and 3 % one-way.
    Lengths are geodesic and times are lengths at the class speed of ``profile``, as
    :func:`cohesion.access.network.read_network` makes them.
    """
    rng = np.random.default_rng(seed)
    lat_step = spacing_m / 111_320.0
    lon_step = spacing_m / (111_320.0 * np.cos(np.radians(south + side * lat_step / 2)))
    row, col = np.divmod(np.arange(side * side), side)
    lon = west + (col + rng.uniform(-0.25, 0.25, side * side)) * lon_step
    lat = south + (row + rng.uniform(-0.25, 0.25, side * side)) * lat_step
    ids = np.arange(side * side).reshape(side, side)
    tails = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    heads = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    line = np.concatenate([np.repeat(np.arange(side), side - 1),  # east-west: its row
                           np.tile(np.arange(side), side - 1)])   # north-south: its column
    speeds = np.where(rng.random(len(line)) < 0.5, profile.speeds_kmh["residential"],
                      profile.speeds_kmh["unclassified"])
    minor = np.ones(len(line), dtype=bool)
    for every, kind in reversed(_LINES):
        on_it = line % every == 0
        speeds[on_it] = profile.speeds_kmh[kind]
        minor &= ~on_it
    present = ~minor | (rng.random(len(line)) >= 0.08)
    oneway = minor & (rng.random(len(line)) < 0.03)
    tails, heads, speeds, oneway = tails[present], heads[present], speeds[present], oneway[present]
    metres = GEOD.inv(lon[tails], lat[tails], lon[heads], lat[heads])[2]
    seconds = metres / (speeds / 3.6)
    back = ~oneway
    return Network.from_edges(
        np.concatenate([tails, heads[back]]), np.concatenate([heads, tails[back]]),
        np.concatenate([seconds, seconds[back]]), np.concatenate([metres, metres[back]]),
        lon, lat, profile=profile, source=f"synthétique {side}×{side}",
        notes=(f"réseau synthétique : grille de {side}×{side} nœuds à {spacing_m:g} m",))


# -- memory of this process -------------------------------------------------------------


def _status_mib(field: str) -> float:
    """A memory line of ``/proc/self/status`` (``VmHWM``, ``VmRSS``), MiB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0]) / 1024


def _reset_peak() -> float:
    """Reset this process's ``VmHWM`` to its current resident memory; return it (MiB).

    glibc first gives the freed memory it still holds back to the system
    (``malloc_trim``): otherwise the next work would reuse it without raising the
    resident memory. Writing 5 to ``/proc/self/clear_refs`` (Linux ≥ 4.0) then resets the
    high-water mark, so that the next ``VmHWM`` is the peak of the work since, C
    allocations included.
    """
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


def _worker_peak_mib() -> float:
    """Peak resident memory of a Dask worker process (run on each worker)."""
    return _status_mib("VmHWM")


# -- the two pipelines, each run in its own child process --------------------------------


def _inputs(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def product_pipeline(osm: Path, profile_name: str, limit: float,
                     points: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The product, end to end from the OSM file."""
    from cohesion.access import origin_times, profile, read_network, snap, times_to_nearest

    start = time.perf_counter()
    network = read_network(osm, profile(profile_name))
    parsed = time.perf_counter()
    node, metres = snap(network, points["origin_lon"], points["origin_lat"])
    equipment, _ = snap(network, points["equipment_lon"], points["equipment_lat"])
    node_times = times_to_nearest(network, equipment[equipment >= 0], limit)
    seconds = origin_times(node, metres, node_times, WALK_KMH)
    seconds[seconds > limit] = np.inf
    done = time.perf_counter()
    return {"seconds": seconds, "node": node, "metres": metres,
            "parse_s": np.array(parsed - start), "rest_s": np.array(done - parsed)}


def _crs_of(network: Network) -> str:
    """The projected CRS ``snap`` measures this network's points in."""
    from cohesion.access.routing import _by_zone

    return _by_zone(network.lon[:1], network.lat[:1])[0][0]


def baseline_pipeline(osm: Path, profile_name: str, limit: float,
                      points: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """pandana on the same parse, end to end from the OSM file."""
    import pandana
    import pandas as pd

    from cohesion.access import profile, read_network
    from cohesion.territory.crs import WGS84, transformer

    start = time.perf_counter()
    network = read_network(osm, profile(profile_name))
    parsed = time.perf_counter()
    project = transformer(WGS84, _crs_of(network)).transform
    x, y = project(network.lon, network.lat)
    edges = pd.DataFrame({"from": network.tails(), "to": network.indices,
                          "ms": network.seconds * 1000.0})
    net = pandana.Network(pd.Series(x), pd.Series(y), edges["from"], edges["to"],
                          edges[["ms"]], twoway=False)
    limit_ms = limit * 1000.0
    ex, ey = project(points["equipment_lon"], points["equipment_lat"])
    net.set_pois("equipement", limit_ms, 1, pd.Series(ex), pd.Series(ey))
    ox, oy = project(points["origin_lon"], points["origin_lat"])
    metres, node = net.kdtree.query(np.column_stack([ox, oy]))  # as get_node_ids does
    metres, node = metres[:, 0], node[:, 0]
    node_ms = net.nearest_pois(limit_ms, "equipement", num_pois=1,
                               max_distance=np.inf)[1].to_numpy(dtype=np.float64)
    seconds = node_ms[node] / 1000.0 + metres / (WALK_KMH / 3.6)
    seconds[seconds > limit] = np.inf
    done = time.perf_counter()
    start_precompute = time.perf_counter()
    net.precompute(limit_ms)
    return {"seconds": seconds, "node": node, "metres": metres,
            "parse_s": np.array(parsed - start), "rest_s": np.array(done - parsed),
            "precompute_s": np.array(time.perf_counter() - start_precompute)}


def _child_osm(side: str, osm: Path, profile_name: str, limit: float, inputs: Path,
               output: Path, runs: int) -> None:
    """One side of one OSM case: a cold run, then ``runs`` timed ones (child process)."""
    pipeline = product_pipeline if side == "product" else baseline_pipeline
    started = time.perf_counter()
    if side == "baseline":
        import pandana  # noqa: F401  (imports are not timed, on either side)
    import cohesion.access  # noqa: F401
    import_s = time.perf_counter() - started
    points = _inputs(inputs)
    base = _reset_peak()
    times, splits = [], []
    for _ in range(1 + runs):
        found = pipeline(osm, profile_name, limit, points)
        splits.append((float(found["parse_s"]), float(found["rest_s"])))
        times.append(sum(splits[-1]))
    np.savez(output.with_suffix(".npz"), **{k: found[k] for k in ("seconds", "node", "metres")})
    output.write_text(json.dumps({
        "import_s": import_s, "cold_s": times[0], "times": times[1:],
        "parse_s": min(s[0] for s in splits[1:]), "rest_s": min(s[1] for s in splits[1:]),
        "precompute_s": float(found.get("precompute_s", np.nan)),
        "peak_mib": _status_mib("VmHWM"), "work_peak_mib": _status_mib("VmHWM") - base}))


def _run_child(arguments: list[str], output: Path) -> dict:
    """Run one child process (``python -m benchmarks.bench_access --child …``).

    One OpenMP thread: pandana builds its contraction hierarchies with OpenMP, and its
    two threads made ``pandana.Network`` 30 to 200 times slower on these small networks
    when the two cores were shared (1.7 s instead of 0.01 to 0.06 s): pandana gets its
    best setting. The product is single-threaded either way.
    """
    completed = subprocess.run([sys.executable, "-m", "benchmarks.bench_access", "--child",
                                *arguments, str(output)], cwd=REPO, capture_output=True,
                               text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    check(completed.returncode == 0, f"child {arguments[:2]} failed: "
          f"{completed.stderr[-1500:]}")
    return json.loads(output.read_text())


# -- part 1: OSM files, product vs pandana -----------------------------------------------


def _case_inputs(network: Network, seed: int) -> dict[str, np.ndarray]:
    """10,000 random origin points in the network's extent, 30 random nodes as equipment.

    Equipment nodes are chosen among nodes at distinct coordinates, so that both k-d
    trees can only attach each to its own node.
    """
    rng = np.random.default_rng(seed)
    _, first, count = np.unique(np.column_stack([network.lon, network.lat]), axis=0,
                                return_index=True, return_counts=True)
    equipment = rng.choice(np.sort(first[count == 1]), EQUIPMENT, replace=False)
    return {"origin_lon": rng.uniform(network.lon.min(), network.lon.max(), ORIGINS),
            "origin_lat": rng.uniform(network.lat.min(), network.lat.max(), ORIGINS),
            "equipment_lon": network.lon[equipment], "equipment_lat": network.lat[equipment]}


def _exact_node_times(network: Network, equipment: np.ndarray, limit: float) -> np.ndarray:
    """Time from each node to the nearest equipment node: networkx, float64, no shortcut."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(range(network.node_count))
    graph.add_weighted_edges_from(zip(network.indices.tolist(), network.tails().tolist(),
                                      network.seconds.tolist(), strict=True))  # reversed
    found = nx.multi_source_dijkstra_path_length(graph, set(equipment.tolist()), cutoff=limit)
    times = np.full(network.node_count, np.inf)
    times[list(found)] = list(found.values())
    return times


def _compare_osm(network: Network, points: dict[str, np.ndarray], limit: float,
                 ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> dict:
    """Check our results against an exact Dijkstra and against pandana."""
    from cohesion.access import snap

    equipment, _ = snap(network, points["equipment_lon"], points["equipment_lat"])
    exact_nodes = _exact_node_times(network, equipment, limit)
    exact = exact_nodes[ours["node"]] + ours["metres"] / (WALK_KMH / 3.6)
    exact[exact > limit] = np.inf
    finite = np.isfinite(exact)
    check(np.array_equal(finite, np.isfinite(ours["seconds"])),
          "inf at other origins than networkx's exact Dijkstra")
    exact_gap = float(np.max(np.abs(ours["seconds"][finite] - exact[finite]), initial=0.0))
    check(exact_gap <= EXACT_TOLERANCE_S, f"{exact_gap:.2e} s from networkx's exact times")
    same_node = ours["node"] == theirs["node"]
    check(bool(same_node.all()), f"{int((~same_node).sum())} origins attached elsewhere")
    snap_gap = float(np.max(np.abs(ours["metres"] - theirs["metres"])))
    check(snap_gap <= SNAP_TOLERANCE_M, f"snap distances {snap_gap:.3f} m apart")
    both = np.isfinite(ours["seconds"]) & np.isfinite(theirs["seconds"])
    gap = float(np.max(np.abs(ours["seconds"][both] - theirs["seconds"][both]), initial=0.0))
    check(gap <= PANDANA_TOLERANCE_S, f"times {gap:.2e} s from pandana's")
    one = np.isfinite(ours["seconds"]) != np.isfinite(theirs["seconds"])
    edge = np.where(np.isfinite(ours["seconds"]), ours["seconds"], exact_nodes[ours["node"]]
                    + ours["metres"] / (WALK_KMH / 3.6))
    check(bool(np.all(np.abs(edge[one] - limit) <= PANDANA_TOLERANCE_S)),
          "pandana and the product disagree on reachability away from the cut-off")
    return {"max_gap_exact_s": exact_gap, "max_gap_pandana_s": gap,
            "max_snap_gap_m": snap_gap, "reached": int(finite.sum()),
            "reached_only_one_side_at_cutoff": int(one.sum())}


def run_osm(context: Context, result: BenchmarkResult) -> bool:
    """Part 1: both pipelines on each OSM file; returns whether the targets are met."""
    from cohesion.access import profile, read_network

    met = True
    product_runs = np.zeros(OSM_RUNS)
    baseline_runs = np.zeros(OSM_RUNS)
    for relative, profile_name, limit in OSM_CASES:
        osm = context.sample(relative)
        network = read_network(osm, profile(profile_name))
        points = _case_inputs(network, SEED)
        inputs = context.work / f"{osm.stem}_inputs.npz"
        np.savez(inputs, **points)
        print(f"  {osm.name} ({profile_name}): {network.node_count:,} nodes, "
              f"{network.edge_count:,} edges, {ORIGINS:,} origins, {EQUIPMENT} equipment, "
              f"cut-off {limit:.0f} s", flush=True)
        figures = {}
        for side in ("product", "baseline"):  # each its own process, same inputs
            output = context.work / f"{osm.stem}_{side}.json"
            figures[side] = _run_child([side, str(osm), profile_name, str(limit),
                                        str(inputs), str(OSM_RUNS)], output)
            figures[side]["arrays"] = _inputs(output.with_suffix(".npz"))
        ours, theirs = figures["product"], figures["baseline"]
        compared = _compare_osm(network, points, limit, ours["arrays"], theirs["arrays"])
        best_ours, best_theirs = min(ours["times"]), min(theirs["times"])
        ratio = best_theirs / best_ours
        lower = (ours["peak_mib"] < theirs["peak_mib"]
                 and ours["work_peak_mib"] < theirs["work_peak_mib"])
        met &= ratio >= MIN_RATIO and lower
        product_runs += ours["times"]
        baseline_runs += theirs["times"]
        routing_ratio = theirs["rest_s"] / ours["rest_s"]
        print(f"    product : {best_ours * 1e3:7.1f} ms end to end (parse "
              f"{ours['parse_s'] * 1e3:.1f} + snap/route {ours['rest_s'] * 1e3:.1f}; cold "
              f"{ours['cold_s'] * 1e3:.1f}), "
              f"peak {ours['peak_mib']:.0f} MiB (work {ours['work_peak_mib']:.1f} MiB)",
              flush=True)
        print(f"    pandana : {best_theirs * 1e3:7.1f} ms end to end (parse "
              f"{theirs['parse_s'] * 1e3:.1f} + pandana {theirs['rest_s'] * 1e3:.1f}; cold "
              f"{theirs['cold_s'] * 1e3:.1f}; precompute, unused, +"
              f"{theirs['precompute_s'] * 1e3:.1f}), peak {theirs['peak_mib']:.0f} MiB "
              f"(work {theirs['work_peak_mib']:.1f} MiB)", flush=True)
        print(f"    ratio pandana/product: {ratio:.2f} end to end, {routing_ratio:.1f} after "
              f"the shared parse; max gap {compared['max_gap_pandana_s']:.2e} s to pandana, "
              f"{compared['max_gap_exact_s']:.2e} s to networkx, snap "
              f"{compared['max_snap_gap_m']:.2e} m -> "
              f"{'PASS' if ratio >= MIN_RATIO and lower else 'FAIL'}", flush=True)
        result.checks.append(
            f"{osm.name}: same node for {ORIGINS:,} origins (snap within "
            f"{compared['max_snap_gap_m']:.1e} m), times within "
            f"{compared['max_gap_exact_s']:.1e} s of networkx and "
            f"{compared['max_gap_pandana_s']:.1e} s of pandana "
            f"({compared['reached']:,} reached)")
        result.details[osm.stem] = {
            "nodes": network.node_count, "edges": network.edge_count, "limit_s": limit,
            "profile": profile_name, "product": {k: v for k, v in ours.items() if k != "arrays"},
            "baseline": {k: v for k, v in theirs.items() if k != "arrays"},
            "ratio_end_to_end": ratio, "ratio_after_parse": routing_ratio, **compared}
    # the suite's figures: both files, repetition by repetition
    result.product_times = [round(float(t), 4) for t in product_runs]
    result.baseline_times = [round(float(t), 4) for t in baseline_runs]
    result.product_s, result.baseline_s = float(product_runs.min()), float(baseline_runs.min())
    return met


# -- part 2: a synthetic national-scale network, by part and on Dask ---------------------


def _child_scale(output: Path) -> None:
    """The synthetic scaling run (child process): whole network, by part, on Dask."""
    from cohesion.access import origin_times, snap, times_to_nearest
    from cohesion.access.partition import nearest_by_part, nearest_on_dask, partition, solve_part
    from cohesion.geo.distributed import local_client

    figures: dict = {}
    start = time.perf_counter()
    network = synthetic_network(SYNTHETIC_SIDE, seed=SEED)
    figures["generate_s"] = time.perf_counter() - start
    figures.update(nodes=network.node_count, edges=network.edge_count)
    rng = np.random.default_rng(SEED)
    lon = rng.uniform(network.lon.min(), network.lon.max(), SYNTHETIC_ORIGINS)
    lat = rng.uniform(network.lat.min(), network.lat.max(), SYNTHETIC_ORIGINS)
    chosen = rng.choice(network.node_count, SYNTHETIC_EQUIPMENT, replace=False)
    equipment_lon, equipment_lat = network.lon[chosen], network.lat[chosen]
    # 10 "départements": 5 columns × 2 rows of origins, each about 41 × 102 km
    columns = SYNTHETIC_PARTS // 2
    column = np.minimum(((lon - lon.min()) / np.ptp(lon) * columns).astype(int), columns - 1)
    row = np.minimum(((lat - lat.min()) / np.ptp(lat) * 2).astype(int), 1)
    group = np.char.add("D", (column * 2 + row).astype(str))
    limit = SYNTHETIC_LIMIT_S

    start = time.perf_counter()
    node, metres = snap(network, lon, lat)
    equipment, _ = snap(network, equipment_lon, equipment_lat)
    figures["snap_s"] = time.perf_counter() - start
    base = _reset_peak()
    start = time.perf_counter()
    whole = origin_times(node, metres, times_to_nearest(network, equipment, limit), WALK_KMH)
    whole[whole > limit] = np.inf
    figures["whole_s"] = time.perf_counter() - start
    figures["whole_work_peak_mib"] = _status_mib("VmHWM") - base
    figures["process_rss_mib"] = base
    figures["reached"] = int(np.isfinite(whole).sum())

    start = time.perf_counter()
    parts = partition(network, lon, lat, group, limit)
    figures["partition_s"] = time.perf_counter() - start
    by_part = np.full(len(lon), np.nan)
    figures["parts"] = []
    for part in parts:
        base = _reset_peak()
        start = time.perf_counter()
        by_part[part.origins] = solve_part(network, part, node, metres, equipment, limit,
                                           WALK_KMH)
        figures["parts"].append({"name": part.name, "origins": len(part.origins),
                                 "nodes": len(part.nodes), "s": time.perf_counter() - start,
                                 "work_peak_mib": _status_mib("VmHWM") - base})
    figures["by_part_equal"] = bool(np.array_equal(by_part, whole))
    start = time.perf_counter()
    again = nearest_by_part(network, parts, lon, lat, equipment_lon, equipment_lat, limit,
                            WALK_KMH)
    figures["nearest_by_part_s"] = time.perf_counter() - start
    figures["nearest_by_part_equal"] = bool(np.array_equal(again, whole))

    start = time.perf_counter()
    with local_client(workers=2) as client:
        figures["cluster_start_s"] = time.perf_counter() - start
        client.run(importlib.import_module, "cohesion.access.partition")
        before = client.run(_reset_peak)  # each worker's resident memory, imports done
        runs = []
        for _ in range(2):  # the first run also unpickles the product's code on the workers
            start = time.perf_counter()
            on_dask = nearest_on_dask(network, parts, lon, lat, equipment_lon, equipment_lat,
                                      limit, WALK_KMH, client=client)
            runs.append(time.perf_counter() - start)
        figures["dask_first_s"], figures["dask_s"] = runs
        peaks = client.run(_worker_peak_mib)
        figures["dask_worker_rss_mib"] = sorted(before.values())
        figures["dask_worker_work_peak_mib"] = sorted(peaks[w] - before[w] for w in peaks)
    figures["dask_equal"] = bool(np.array_equal(on_dask, whole))
    figures["client_peak_mib"] = _status_mib("VmHWM")
    output.write_text(json.dumps(figures))


def run_scale(context: Context, result: BenchmarkResult) -> None:
    """Part 2: the synthetic run in a child process, checked and reported."""
    print(f"  SYNTHETIC network {SYNTHETIC_SIDE}×{SYNTHETIC_SIDE} "
          f"({SYNTHETIC_SIDE ** 2:,} nodes), {SYNTHETIC_ORIGINS:,} origins, "
          f"{SYNTHETIC_EQUIPMENT} equipment, {SYNTHETIC_PARTS} parts, cut-off "
          f"{SYNTHETIC_LIMIT_S:.0f} s by car", flush=True)
    scale = _run_child(["scale"], context.work / "scale.json")
    check(scale["by_part_equal"] and scale["nearest_by_part_equal"],
          "by part, the synthetic times differ from the whole network's")
    check(scale["dask_equal"], "on Dask, the synthetic times differ from the whole network's")
    print(f"    generated in {scale['generate_s']:.1f} s: {scale['nodes']:,} nodes, "
          f"{scale['edges']:,} edges; snap {scale['snap_s']:.1f} s", flush=True)
    print(f"    whole network: {scale['whole_s']:.2f} s, work peak "
          f"{scale['whole_work_peak_mib']:.0f} MiB (process {scale['process_rss_mib']:.0f} "
          f"MiB before); {scale['reached']:,} origins within the cut-off", flush=True)
    print(f"    partition: {scale['partition_s']:.1f} s", flush=True)
    for part in scale["parts"]:
        print(f"      part {part['name']}: {part['origins']:>7,} origins, {part['nodes']:>9,} "
              f"nodes ({part['nodes'] / scale['nodes']:.0%}), {part['s']:.2f} s, work peak "
              f"{part['work_peak_mib']:.0f} MiB", flush=True)
    parts_s = sum(part["s"] for part in scale["parts"])
    largest = max(part["work_peak_mib"] for part in scale["parts"])
    print(f"    by part: {parts_s:.2f} s in all (nearest_by_part, snap included: "
          f"{scale['nearest_by_part_s']:.2f} s), largest work peak {largest:.0f} MiB; "
          f"identical to the whole network", flush=True)
    print(f"    Dask, 2 local workers: {scale['dask_s']:.2f} s (first run "
          f"{scale['dask_first_s']:.2f} s, cluster start {scale['cluster_start_s']:.1f} s), "
          "worker work peaks "
          f"{', '.join(f'{p:.0f}' for p in scale['dask_worker_work_peak_mib'])} MiB (above "
          f"{', '.join(f'{p:.0f}' for p in scale['dask_worker_rss_mib'])} MiB), client peak "
          f"{scale['client_peak_mib']:.0f} MiB; identical to the whole network", flush=True)
    result.checks.append(f"SYNTHETIC {scale['nodes']:,} nodes: by part and on Dask "
                         "array_equal to the whole network (inf included)")
    result.details["synthetic"] = scale


def run(context: Context, result: BenchmarkResult) -> None:
    """Both parts; the target is part 1's (part 2 is reported, and must be exact)."""
    result.passed = run_osm(context, result)
    run_scale(context, result)


def main(argv: list[str]) -> int:
    """Run alone (``python -m benchmarks.bench_access``), or as a child process."""
    if argv[:1] == ["--child"]:
        if argv[1] == "scale":
            _child_scale(Path(argv[2]))
        else:
            side, osm, profile_name, limit, inputs, runs, output = argv[1:8]
            _child_osm(side, Path(osm), profile_name, float(limit), Path(inputs),
                       Path(output), int(runs))
        return 0
    import tempfile

    from benchmarks.common import DEFAULT_DATA, print_result

    with tempfile.TemporaryDirectory(prefix="cohesion-bench-access-") as work:
        context = Context(data=DEFAULT_DATA, work=Path(work))
        result = BenchmarkResult(NAME, TITLE, TARGET)
        print(f"== {TITLE} (target {TARGET})", flush=True)
        run(context, result)
        print_result(result)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
