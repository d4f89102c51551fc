"""Benchmark: travel time to the nearest equipment, against pandana, and at scale.

Each comparison with pandana runs both sides end to end from an OSM file, each side in
its own child process (after its imports; the peak resident memory is the child's
``VmHWM``, the kernel's high-water mark that ``ru_maxrss`` reports, which counts C
allocations, unlike ``tracemalloc``), on the same origin points and the same equipment
points (random nodes, chosen once by the parent from its own parse of the file).

Product: ``read_network`` (PBF files read by :mod:`cohesion.access.pbf`) → ``snap`` of
the origins and the equipment → ``times_to_nearest`` with the cut-off (one multi-source
Dijkstra, scipy) → ``origin_times`` (walk from the point to its node, 5 km/h) → inf
beyond the cut-off.

Baseline: pandana 0.8, which has no OpenStreetMap reader of its own offline: the same
``read_network`` parse (so both route on the very same edges), node coordinates
projected in the CRS ``snap`` uses, node and edge ``DataFrame``, ``pandana.Network``
(contraction hierarchies), ``set_pois`` of the equipment, ``nearest_pois`` with the
cut-off, the origins attached to their nearest node with pandana's own k-d tree (what
``get_node_ids`` does, keeping the distance), plus the same walk. ``precompute`` (the
range queries of aggregations) is not used by ``nearest_pois``: it is left out of the
timed pipeline (fair to pandana) and timed apart on the small extracts.

pandana's units: it stores each impedance as a C ``int`` of 1/1000 of its unit
(truncated), adds them up in ``int`` while contracting, and returns float32. Given
milliseconds, any trip longer than 2^31 µs (35.8 min) overflows: on the 50 km synthetic
network its contraction hierarchy then never finished (still running after 10 minutes on
190,000 nodes), against 3 s in centiseconds. Each network is therefore given the finest
unit among 1, 2, 5, 10, 20, 50… ms in which its longest shortest path fits in an
``int`` (:func:`pandana_unit`): 1 ms on the small extracts, 5 ms on the synthetic file.
Its times are then within about 1/1000 of that unit per edge, plus float32 rounding, of
the exact ones.

Part 1, real OpenStreetMap extracts (Saint-Barthélemy by car, Paris 9e/10e on foot):
10,000 random origin points within the network's extent and 30 equipment; best of 10
runs of each side. Checks: the same node for every origin, snap distances within 1 m;
our node times equal to an exact float64 Dijkstra of networkx within 1e-6 s; our origin
times equal to pandana's within :data:`PANDANA_TOLERANCE_S`, inf at the same origins
except within that tolerance of the cut-off. These files are small (4,000 nodes): both
sides spend most of their time in the same parse, so the ratio says little.

Part 2, the target (synthetic, labelled as such): an OSM PBF file of realistic size
written with pyosmium (:func:`synthetic_osm`: a perturbed street grid over a 50 km
square around Bordeaux, drawn in Lambert-93, about 1 M nodes, residential, secondary and
primary ways, some one-way), deleted after the run; 100,000 origins, 300 equipment, a
15-minute cut-off by car. Two runs of the product and of pandana with 1 OpenMP thread,
one of pandana with 2 threads, interleaved, each in its own process, the best of each
kept (the file is in the page cache for all); the ratio is taken against pandana's
faster setting, and CPU times are reported too (they move less with the load of other
processes on the machine). The same checks against pandana; the exact networkx check is
left to part 1 and the tests (it would take minutes here).

Part 3, synthetic (labelled as such): a generated road grid of about 1 M nodes
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

from benchmarks.common import REPO, BenchmarkResult, Context, check, load_average
from cohesion.access.network import GEOD, Network
from cohesion.access.profiles import DRIVE, Profile

NAME = "access"
TITLE = "Nearest equipment by road (OSM), vs pandana"
MIN_RATIO = 10.0
TARGET = (f">= {MIN_RATIO:.0f}× pandana end to end from a ~1 M-node OSM file (synthetic), "
          "lower peak memory")
OSM_CASES = (  # file, profile, cut-off (s)
    ("osm/saint_barthelemy.osm.pbf", "voiture", 300.0),
    ("osm/paris_map.osm", "marche", 600.0),
)
ORIGINS = 10_000
#: Timed runs of each side in its child process (after one cold run): tens of ms each.
OSM_RUNS = 10
EQUIPMENT = 30
WALK_KMH = 5.0
#: pandana's resolution on these paths (1/1000 of its unit per edge, float32 output).
PANDANA_TOLERANCE_S = 1e-3
EXACT_TOLERANCE_S = 1e-6
SNAP_TOLERANCE_M = 1.0
#: Part 2: the synthetic OSM file (intersections per side, shape nodes per block).
PBF_SIDE = 448
PBF_SHAPE_NODES = 2
PBF_EXTENT_M = 50_000.0
PBF_CENTRE = (-0.5792, 44.8378)  # Bordeaux, WGS84
PBF_PROFILE = "voiture"
PBF_LIMIT_S = 900.0
PBF_ORIGINS = 100_000
PBF_EQUIPMENT = 300
#: OpenMP threads pandana is run with on the synthetic file (one child process each).
PBF_THREADS = (1, 2)
#: Runs of each setting on the synthetic file, interleaved, each in its own process (the
#: best is kept): about 5 s for the product, 40 to 60 s for pandana.
PBF_RUNS: dict[str | int, int] = {"product": 2, 1: 2, 2: 1}
SYNTHETIC_SIDE = 1024  # 1,048,576 nodes
SYNTHETIC_PARTS = 10
SYNTHETIC_ORIGINS = 500_000
SYNTHETIC_EQUIPMENT = 300
SYNTHETIC_LIMIT_S = 900.0
SEED = 20261203

#: Synthetic road classes: every ``n``-th row and column of the lattice, first match.
_LINES = ((100, "motorway"), (25, "primary"), (5, "tertiary"))
#: pandana's largest impedance sum (a C ``int``), in 1/1000 of its unit.
_PANDANA_INT = 2**31 - 1


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




# -- a synthetic OpenStreetMap file of realistic size ------------------------------------

#: Classes of the synthetic OSM file: every ``n``-th row and column, first match.
_PBF_CLASSES = ("primary", "secondary", "residential")


def synthetic_osm(path: Path, side: int = PBF_SIDE, shape_nodes: int = PBF_SHAPE_NODES,
                  extent_m: float = PBF_EXTENT_M,
                  centre: tuple[float, float] = PBF_CENTRE, seed: int = 0) -> dict[str, int]:
    """Write a synthetic OpenStreetMap PBF file of a street grid, with pyosmium's writer.

    The geometry is drawn in Lambert-93 (EPSG:2154) and written in WGS84, as OSM files
    are: ``side × side`` intersections over a square ``extent_m`` wide centred on
    ``centre``, each moved at random by up to a quarter of the spacing; between two
    neighbouring intersections, a block of ``shape_nodes`` shape nodes (the geometry
    points of real ways) along a curve bent sideways by up to 8 % of its chord. Every
    20th row and column is a primary road, every 5th a secondary one, the rest are
    residential streets, 8 % of whose blocks are missing. A way follows its row or
    column over consecutive blocks (a new way starts with probability 1/6 at each
    intersection) and shares its crossing and end nodes with the other ways; 10 % of the
    residential ways are one-way (``oneway=yes`` or ``oneway=-1``). The nodes of the ways
    are written first, by id, then the ways.

    Returns
    -------
    dict
        ``nodes`` and ``ways`` written, ``oneway`` ways, ``intersections``, file ``bytes``.
    """
    import osmium
    from osmium.osm.mutable import Node, Way

    from cohesion.territory.crs import LAMBERT_93, WGS84, transformer

    rng = np.random.default_rng(seed)
    centre_x, centre_y = transformer(WGS84, LAMBERT_93).transform(*centre)
    step = extent_m / (side - 1)
    row, col = np.divmod(np.arange(side * side), side)
    x = centre_x - extent_m / 2 + (col + rng.uniform(-0.25, 0.25, side * side)) * step
    y = centre_y - extent_m / 2 + (row + rng.uniform(-0.25, 0.25, side * side)) * step
    ids = np.arange(side * side).reshape(side, side)
    # blocks line after line: rows west to east, then columns south to north
    start = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].T.ravel()])
    end = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].T.ravel()])
    line = np.repeat(np.arange(2 * side), side - 1)
    blocks = len(start)
    kind = np.full(blocks, 2)
    kind[line % side % 5 == 0] = 1
    kind[line % side % 20 == 0] = 0
    present = (kind < 2) | (rng.random(blocks) >= 0.08)
    along = np.arange(1, shape_nodes + 1) / (shape_nodes + 1)
    bend = rng.uniform(-0.08, 0.08, (blocks, 1)) * np.sin(np.pi * along)
    dx, dy = (x[end] - x[start])[:, None], (y[end] - y[start])[:, None]
    shape_x = x[start][:, None] + dx * along - dy * bend
    shape_y = y[start][:, None] + dy * along + dx * bend
    lon, lat = transformer(LAMBERT_93, WGS84).transform(
        np.concatenate([x, shape_x.ravel()]), np.concatenate([y, shape_y.ravel()]))

    # ways: runs of present blocks of one line, cut at random intersections
    first = np.ones(blocks, dtype=bool)
    first[1:] = (line[1:] != line[:-1]) | ~present[:-1] | (rng.random(blocks - 1) < 1 / 6)
    kept = np.flatnonzero(present)
    starts = np.flatnonzero(first[kept])
    lasts = np.append(starts[1:], len(kept)) - 1
    shapes = side * side + kept[:, None] * shape_nodes + np.arange(shape_nodes)
    nodes = np.column_stack([start[kept], shapes]).ravel()
    width = 1 + shape_nodes
    nodes = np.insert(nodes, (lasts + 1) * width, end[kept[lasts]])
    bounds = np.concatenate([[0], np.cumsum((lasts - starts + 1) * width + 1)])
    way_kind = kind[kept[starts]]
    oneway = (way_kind == 2) & (rng.random(len(starts)) < 0.10)
    backward = rng.random(len(starts)) < 0.5
    used = np.unique(nodes)
    refs = (nodes + 1).tolist()
    with osmium.SimpleWriter(str(path)) as writer:
        for index, node_lon, node_lat in zip(used.tolist(), lon[used].tolist(),
                                             lat[used].tolist(), strict=True):
            writer.add_node(Node(id=index + 1, location=(node_lon, node_lat)))
        for number in range(len(starts)):
            tags = {"highway": _PBF_CLASSES[way_kind[number]]}
            if oneway[number]:
                tags["oneway"] = "-1" if backward[number] else "yes"
            writer.add_way(Way(id=number + 1, nodes=refs[bounds[number]:bounds[number + 1]],
                               tags=tags))
    return {"intersections": side * side, "nodes": len(used), "ways": len(starts),
            "oneway": int(oneway.sum()), "bytes": path.stat().st_size}


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
                     points: dict[str, np.ndarray]) -> dict:
    """The product, end to end from the OSM file."""
    from cohesion.access import origin_times, profile, read_network, snap, times_to_nearest

    start, cpu_start = time.perf_counter(), time.process_time()
    network = read_network(osm, profile(profile_name))
    parsed = time.perf_counter()
    node, metres = snap(network, points["origin_lon"], points["origin_lat"])
    equipment, _ = snap(network, points["equipment_lon"], points["equipment_lat"])
    snapped = time.perf_counter()
    node_times = times_to_nearest(network, equipment[equipment >= 0], limit)
    seconds = origin_times(node, metres, node_times, WALK_KMH)
    seconds[seconds > limit] = np.inf
    done = time.perf_counter()
    return {"seconds": seconds, "node": node, "metres": metres,
            "cpu_s": time.process_time() - cpu_start,
            "stages": {"parse_s": parsed - start, "snap_s": snapped - parsed,
                       "route_s": done - snapped}}


def _crs_of(network: Network) -> str:
    """The projected CRS ``snap`` measures this network's points in."""
    from cohesion.access.routing import _by_zone

    return _by_zone(network.lon[:1], network.lat[:1])[0][0]


def baseline_pipeline(osm: Path, profile_name: str, limit: float,
                      points: dict[str, np.ndarray], unit_s: float = 1e-3,
                      precompute: bool = True) -> dict:
    """pandana on the same parse, end to end from the OSM file.

    Impedances are given to pandana in units of ``unit_s`` seconds (see
    :func:`pandana_unit`). ``precompute`` is timed apart, after the pipeline.
    """
    import pandana
    import pandas as pd

    from cohesion.access import profile, read_network
    from cohesion.territory.crs import WGS84, transformer

    start, cpu_start = time.perf_counter(), time.process_time()
    network = read_network(osm, profile(profile_name))
    parsed = time.perf_counter()
    project = transformer(WGS84, _crs_of(network)).transform
    x, y = project(network.lon, network.lat)
    edges = pd.DataFrame({"from": network.tails(), "to": network.indices,
                          "impedance": network.seconds / unit_s})
    framed = time.perf_counter()
    net = pandana.Network(pd.Series(x), pd.Series(y), edges["from"], edges["to"],
                          edges[["impedance"]], twoway=False)
    contracted = time.perf_counter()
    limit_units = limit / unit_s
    ex, ey = project(points["equipment_lon"], points["equipment_lat"])
    net.set_pois("equipement", limit_units, 1, pd.Series(ex), pd.Series(ey))
    ox, oy = project(points["origin_lon"], points["origin_lat"])
    metres, node = net.kdtree.query(np.column_stack([ox, oy]))  # as get_node_ids does
    metres, node = metres[:, 0], node[:, 0]
    node_units = net.nearest_pois(limit_units, "equipement", num_pois=1,
                                  max_distance=np.inf)[1].to_numpy(dtype=np.float64)
    seconds = node_units[node] * unit_s + metres / (WALK_KMH / 3.6)
    seconds[seconds > limit] = np.inf
    done = time.perf_counter()
    found = {"seconds": seconds, "node": node, "metres": metres,
             "cpu_s": time.process_time() - cpu_start,
             "stages": {"parse_s": parsed - start, "frames_s": framed - parsed,
                        "network_s": contracted - framed, "pois_s": done - contracted}}
    if precompute:
        start_precompute = time.perf_counter()
        net.precompute(limit_units)
        found["precompute_s"] = time.perf_counter() - start_precompute
    return found


def _child_osm(parameters: Path, output: Path) -> None:
    """One side of one OSM case (child process): a cold run, then ``runs`` timed ones.

    With ``runs`` 0 the one run is the measure (the large synthetic file).
    """
    case = json.loads(parameters.read_text())
    side, runs = case["side"], case["runs"]
    started = time.perf_counter()
    if side == "baseline":
        import pandana  # noqa: F401  (imports are not timed, on either side)
    import cohesion.access  # noqa: F401
    import_s = time.perf_counter() - started
    points = _inputs(Path(case["inputs"]))
    osm, profile_name, limit = Path(case["osm"]), case["profile"], case["limit"]
    base = _reset_peak()
    times, stages, cpu = [], [], []
    for _ in range(1 + runs):
        if side == "product":
            found = product_pipeline(osm, profile_name, limit, points)
        else:
            found = baseline_pipeline(osm, profile_name, limit, points, case["unit_s"],
                                      case["precompute"])
        cpu.append(found["cpu_s"])
        stages.append(found["stages"])
        times.append(sum(found["stages"].values()))
    peak = _status_mib("VmHWM")
    np.savez(output.with_suffix(".npz"), **{k: found[k] for k in ("seconds", "node", "metres")})
    timed = slice(1, None) if runs else slice(None)
    best = min(range(len(times))[timed], key=times.__getitem__)
    output.write_text(json.dumps({
        "import_s": import_s, "cold_s": times[0], "times": times[timed],
        "cpu_s": cpu[best],
        "stages": stages[best], "parse_s": stages[best]["parse_s"],
        "rest_s": times[best] - stages[best]["parse_s"],
        "precompute_s": found.get("precompute_s"), "peak_mib": peak,
        "work_peak_mib": peak - base, "omp_threads": os.environ.get("OMP_NUM_THREADS")}))


def _run_child(arguments: list[str], output: Path, threads: int = 1) -> dict:
    """Run one child process (``python -m benchmarks.bench_access --child …``).

    ``threads`` sets ``OMP_NUM_THREADS``: pandana builds its contraction hierarchies and
    answers ``nearest_pois`` with OpenMP. On the small extracts it gets one thread: its
    two threads made ``pandana.Network`` 30 to 200 times slower there when the two cores
    were shared (1.7 s instead of 0.01 to 0.06 s). The product is single-threaded either
    way.
    """
    completed = subprocess.run([sys.executable, "-m", "benchmarks.bench_access", "--child",
                                *arguments, str(output)], cwd=REPO, capture_output=True,
                               text=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    check(completed.returncode == 0, f"child {arguments[:2]} failed: "
          f"{completed.stderr[-1500:]}")
    return json.loads(output.read_text())


def _run_side(context: Context, stem: str, side: str, case: dict, threads: int = 1) -> dict:
    """One side of a case in its own child process; its figures and result arrays."""
    label = side if side == "product" else f"{side}_{threads}t"
    parameters = context.work / f"{stem}_{label}_parameters.json"
    parameters.write_text(json.dumps({**case, "side": side}))
    output = context.work / f"{stem}_{label}.json"
    figures = _run_child(["osm", str(parameters)], output, threads)
    figures["arrays"] = _inputs(output.with_suffix(".npz"))
    return figures


def pandana_unit(network: Network) -> float:
    """The unit, in seconds, in which to give this network's impedances to pandana.

    pandana keeps each impedance as a C ``int`` of 1/1000 of its unit and adds them up
    in ``int``: the longest shortest path must stay under 2^31 - 1 of those. It is
    bounded by the time from the farthest node to a central node plus the time from
    there to the farthest node (two Dijkstras). The unit is the finest of 1, 2, 5, 10,
    20, 50… ms that keeps that bound within an ``int``: the finer the unit, the closer
    pandana's truncated times to the exact ones.
    """
    from scipy.sparse.csgraph import dijkstra

    matrix = network.matrix()
    centre = int(np.argmin((network.lon - np.median(network.lon)) ** 2
                           + (network.lat - np.median(network.lat)) ** 2))
    bound = 0.0
    for graph in (matrix, matrix.T.tocsr()):
        times = dijkstra(graph, indices=centre)
        bound += float(times[np.isfinite(times)].max())
    for exponent in range(-3, 3):
        for mantissa in (1, 2, 5):
            unit = mantissa * 10.0**exponent
            if bound / unit * 1000 <= _PANDANA_INT:
                return unit
    return unit


# -- part 1: real OSM extracts, product vs pandana ---------------------------------------


def _case_inputs(network: Network, seed: int, origins: int = ORIGINS,
                 equipment: int = EQUIPMENT) -> dict[str, np.ndarray]:
    """Random origin points in the network's extent, random nodes as equipment.

    Equipment nodes are chosen among nodes at distinct coordinates, so that both k-d
    trees can only attach each to its own node.
    """
    rng = np.random.default_rng(seed)
    _, first, count = np.unique(np.column_stack([network.lon, network.lat]), axis=0,
                                return_index=True, return_counts=True)
    chosen = rng.choice(np.sort(first[count == 1]), equipment, replace=False)
    return {"origin_lon": rng.uniform(network.lon.min(), network.lon.max(), origins),
            "origin_lat": rng.uniform(network.lat.min(), network.lat.max(), origins),
            "equipment_lon": network.lon[chosen], "equipment_lat": network.lat[chosen]}


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


def _compare_pandana(limit: float, ours: dict[str, np.ndarray],
                     theirs: dict[str, np.ndarray], label: str = "pandana") -> dict:
    """Check our results against pandana's: same nodes, snaps, times, reachability."""
    same_node = ours["node"] == theirs["node"]
    check(bool(same_node.all()), f"{int((~same_node).sum())} origins attached elsewhere "
          f"by {label}")
    snap_gap = float(np.max(np.abs(ours["metres"] - theirs["metres"])))
    check(snap_gap <= SNAP_TOLERANCE_M, f"snap distances {snap_gap:.3f} m from {label}'s")
    both = np.isfinite(ours["seconds"]) & np.isfinite(theirs["seconds"])
    gap = float(np.max(np.abs(ours["seconds"][both] - theirs["seconds"][both]), initial=0.0))
    check(gap <= PANDANA_TOLERANCE_S, f"times {gap:.2e} s from {label}'s")
    one = np.isfinite(ours["seconds"]) != np.isfinite(theirs["seconds"])
    finite = np.where(np.isfinite(ours["seconds"]), ours["seconds"], theirs["seconds"])
    check(bool(np.all(np.abs(finite[one] - limit) <= PANDANA_TOLERANCE_S)),
          f"{label} and the product disagree on reachability away from the cut-off")
    return {"max_gap_pandana_s": gap, "max_snap_gap_m": snap_gap,
            "reached": int(np.isfinite(ours["seconds"]).sum()),
            "reached_only_one_side_at_cutoff": int(one.sum())}


def _compare_osm(network: Network, points: dict[str, np.ndarray], limit: float,
                 ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> dict:
    """Check our results against an exact Dijkstra and against pandana."""
    from cohesion.access import snap

    equipment, _ = snap(network, points["equipment_lon"], points["equipment_lat"])
    exact = _exact_node_times(network, equipment, limit)[ours["node"]] \
        + ours["metres"] / (WALK_KMH / 3.6)
    exact[exact > limit] = np.inf
    finite = np.isfinite(exact)
    check(np.array_equal(finite, np.isfinite(ours["seconds"])),
          "inf at other origins than networkx's exact Dijkstra")
    exact_gap = float(np.max(np.abs(ours["seconds"][finite] - exact[finite]), initial=0.0))
    check(exact_gap <= EXACT_TOLERANCE_S, f"{exact_gap:.2e} s from networkx's exact times")
    return {"max_gap_exact_s": exact_gap, **_compare_pandana(limit, ours, theirs)}


def _verdict(ratio: float, lower: bool) -> str:
    return "PASS" if ratio >= MIN_RATIO and lower else "FAIL"


def run_osm(context: Context, result: BenchmarkResult) -> None:
    """Part 1: both pipelines on each real OSM extract (reported; the target is part 2's)."""
    from cohesion.access import profile, read_network

    product_runs = np.zeros(OSM_RUNS)
    baseline_runs = np.zeros(OSM_RUNS)
    for relative, profile_name, limit in OSM_CASES:
        osm = context.sample(relative)
        network = read_network(osm, profile(profile_name))
        points = _case_inputs(network, SEED)
        inputs = context.work / f"{osm.stem}_inputs.npz"
        np.savez(inputs, **points)
        unit = pandana_unit(network)
        print(f"  {osm.name} ({profile_name}): {network.node_count:,} nodes, "
              f"{network.edge_count:,} edges, {ORIGINS:,} origins, {EQUIPMENT} equipment, "
              f"cut-off {limit:.0f} s; pandana in units of {unit * 1e3:g} ms, 1 thread",
              flush=True)
        case = {"osm": str(osm), "profile": profile_name, "limit": limit,
                "inputs": str(inputs), "runs": OSM_RUNS, "unit_s": unit, "precompute": True}
        ours = _run_side(context, osm.stem, "product", case)
        theirs = _run_side(context, osm.stem, "baseline", case)
        compared = _compare_osm(network, points, limit, ours["arrays"], theirs["arrays"])
        best_ours, best_theirs = min(ours["times"]), min(theirs["times"])
        ratio = best_theirs / best_ours
        lower = (ours["peak_mib"] < theirs["peak_mib"]
                 and ours["work_peak_mib"] < theirs["work_peak_mib"])
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
              f"{compared['max_snap_gap_m']:.2e} m -> {_verdict(ratio, lower)} (small "
              "extract, reported: the parse both sides share dominates)", flush=True)
        result.checks.append(
            f"{osm.name}: same node for {ORIGINS:,} origins (snap within "
            f"{compared['max_snap_gap_m']:.1e} m), times within "
            f"{compared['max_gap_exact_s']:.1e} s of networkx and "
            f"{compared['max_gap_pandana_s']:.1e} s of pandana "
            f"({compared['reached']:,} reached)")
        result.details[osm.stem] = {
            "nodes": network.node_count, "edges": network.edge_count, "limit_s": limit,
            "profile": profile_name, "pandana_unit_s": unit,
            "product": {k: v for k, v in ours.items() if k != "arrays"},
            "baseline": {k: v for k, v in theirs.items() if k != "arrays"},
            "ratio_end_to_end": ratio, "ratio_after_parse": routing_ratio,
            "lower_peak_memory": lower, "status": _verdict(ratio, lower), **compared}
    result.details["osm_extracts_runs"] = {
        "product_s": [round(float(t), 4) for t in product_runs],
        "baseline_s": [round(float(t), 4) for t in baseline_runs]}


# -- part 2: a synthetic OSM file of realistic size, product vs pandana (the target) -----


def _stages(figures: dict) -> str:
    return " + ".join(f"{name.removesuffix('_s')} {seconds:.2f}"
                      for name, seconds in figures["stages"].items())


def _best(runs: list[dict]) -> dict:
    """The figures of the fastest of some runs, with every run's time and the largest peaks."""
    best = dict(min(runs, key=lambda figures: figures["times"][0]))
    best.update(best_s=best["times"][0], times=[figures["times"][0] for figures in runs],
                peak_mib=max(figures["peak_mib"] for figures in runs),
                work_peak_mib=max(figures["work_peak_mib"] for figures in runs))
    return best


def _runs(figures: dict) -> str:
    times = figures["times"]
    if len(times) == 1:
        return "one run"
    return f"best of {len(times)}: {', '.join(f'{t:.2f}' for t in times)}"


def run_pbf(context: Context, result: BenchmarkResult) -> None:
    """Part 2: both pipelines end to end from a synthetic PBF file of about 1 M nodes."""
    from cohesion.access import profile, read_network

    pbf = context.work / "synthetique_bordeaux.osm.pbf"
    start = time.perf_counter()
    written = synthetic_osm(pbf, seed=SEED)
    generate_s = time.perf_counter() - start
    network = read_network(pbf, profile(PBF_PROFILE))  # untimed: the parent's inputs
    points = _case_inputs(network, SEED, PBF_ORIGINS, PBF_EQUIPMENT)
    inputs = context.work / "synthetique_inputs.npz"
    np.savez(inputs, **points)
    unit = pandana_unit(network)
    limit = PBF_LIMIT_S
    load_before = load_average()
    print(f"  SYNTHETIC OSM file (PBF written by pyosmium in {generate_s:.1f} s, deleted "
          f"after): a {PBF_EXTENT_M / 1000:.0f} km street grid around Bordeaux, "
          f"{written['nodes']:,} nodes, {written['ways']:,} ways ({written['oneway']:,} "
          f"one-way), {written['bytes'] / 2**20:.1f} MiB; {PBF_PROFILE}: "
          f"{network.node_count:,} nodes, {network.edge_count:,} edges; {PBF_ORIGINS:,} "
          f"origins, {PBF_EQUIPMENT} equipment, cut-off {limit:.0f} s; pandana in units of "
          f"{unit * 1e3:g} ms; load average {load_before}",
          flush=True)
    case = {"osm": str(pbf), "profile": PBF_PROFILE, "limit": limit, "inputs": str(inputs),
            "runs": 0, "unit_s": unit, "precompute": False}
    runs: dict = {"product": [], **{threads: [] for threads in PBF_THREADS}}
    for number in range(max(PBF_RUNS.values())):  # interleaved: load hits both sides
        for setting, count in PBF_RUNS.items():
            if number < count:
                side = "product" if setting == "product" else "baseline"
                runs[setting].append(_run_side(context, f"synthetique{number}", side, case,
                                               1 if setting == "product" else setting))
    ours = _best(runs["product"])
    print(f"    product           : {ours['best_s']:6.2f} s end to end ({_runs(ours)}), CPU "
          f"{ours['cpu_s']:.2f} s ({_stages(ours)}), "
          f"peak {ours['peak_mib']:.0f} MiB (work {ours['work_peak_mib']:.0f} MiB)",
          flush=True)
    pandanas, compared = {}, {}
    for threads in PBF_THREADS:
        label = f"pandana, {threads} thread{'s' if threads > 1 else ''}"
        theirs = pandanas[threads] = _best(runs[threads])
        compared[threads] = _compare_pandana(limit, ours["arrays"], theirs["arrays"], label)
        print(f"    {label:<18}: {theirs['best_s']:6.2f} s end to end ({_runs(theirs)}), CPU "
              f"{theirs['cpu_s']:.2f} s ({_stages(theirs)}), "
              f"peak {theirs['peak_mib']:.0f} MiB (work {theirs['work_peak_mib']:.0f} MiB); "
              f"ratio {theirs['best_s'] / ours['best_s']:.1f}; max gap "
              f"{compared[threads]['max_gap_pandana_s']:.2e} s, snap "
              f"{compared[threads]['max_snap_gap_m']:.1e} m", flush=True)
    fastest = min(PBF_THREADS, key=lambda threads: pandanas[threads]["best_s"])
    theirs = pandanas[fastest]
    ratio = theirs["best_s"] / ours["best_s"]
    after_parse = theirs["rest_s"] / ours["rest_s"]
    lower = all(ours["peak_mib"] < figures["peak_mib"]
                and ours["work_peak_mib"] < figures["work_peak_mib"]
                for figures in pandanas.values())
    result.passed = ratio >= MIN_RATIO and lower
    print(f"    ratio pandana/product: {ratio:.1f} end to end against pandana's faster "
          f"setting ({fastest} thread{'s' if fastest > 1 else ''}), {after_parse:.1f} after "
          f"the shared parse ({ours['parse_s']:.2f} s), {theirs['cpu_s'] / ours['cpu_s']:.1f} "
          f"in CPU time; peak memory "
          f"{'lower' if lower else 'NOT lower'} -> {_verdict(ratio, lower)}", flush=True)
    reached = compared[fastest]["reached"]
    result.checks.append(
        f"SYNTHETIC OSM file, {network.node_count:,} nodes: same node for {PBF_ORIGINS:,} "
        "origins, times within "
        f"{max(c['max_gap_pandana_s'] for c in compared.values()):.1e} s of pandana "
        f"({reached:,} reached)")
    result.product_times = [round(t, 4) for t in ours["times"]]
    result.baseline_times = [round(t, 4) for t in theirs["times"]]
    result.product_s, result.baseline_s = ours["best_s"], theirs["best_s"]
    result.details["synthetic_osm"] = {
        "file": {**written, "generate_s": generate_s, "extent_km": PBF_EXTENT_M / 1000,
                 "centre_wgs84": PBF_CENTRE},
        "nodes": network.node_count, "edges": network.edge_count, "limit_s": limit,
        "profile": PBF_PROFILE, "origins": PBF_ORIGINS, "equipment": PBF_EQUIPMENT,
        "pandana_unit_s": unit, "product": {k: v for k, v in ours.items() if k != "arrays"},
        "baseline_by_threads": {str(threads): {
            **{k: v for k, v in figures.items() if k != "arrays"}, **compared[threads]}
            for threads, figures in pandanas.items()},
        "fastest_pandana_threads": fastest, "ratio_end_to_end": ratio,
        "ratio_cpu": theirs["cpu_s"] / ours["cpu_s"],
        "load_average_before_after": [load_before, load_average()],
        "ratio_after_parse": after_parse, "lower_peak_memory": lower,
        "status": _verdict(ratio, lower)}
    pbf.unlink()  # not kept until the end of the run


# -- part 3: a synthetic national-scale network, by part and on Dask ---------------------


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
    """Part 3: the synthetic run in a child process, checked and reported."""
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
    """The three parts; the target is part 2's (parts 1 and 3 are reported, and exact)."""
    run_osm(context, result)
    run_pbf(context, result)
    run_scale(context, result)


def _facts() -> dict:
    """Machine and package facts for the results file (no git command)."""
    import platform
    from datetime import datetime
    from importlib import metadata

    from benchmarks.common import _cpu_model, _memory_gib

    versions = {}
    for package in ("cohesion", "numpy", "scipy", "pandas", "osmium", "pandana", "networkx",
                    "dask", "distributed"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "nproc": os.cpu_count(), "cpu_model": _cpu_model(), "ram_gib": _memory_gib(),
            "python": platform.python_version(), "packages": versions,
            "load_average_at_start": load_average()}


def main(argv: list[str]) -> int:
    """Run alone (``python -m benchmarks.bench_access``), or as a child process.

    Alone, it also writes its result to ``benchmarks/results/access.json`` (the suite's
    format: machine facts and a list of one benchmark).
    """
    if argv[:1] == ["--child"]:
        if argv[1] == "scale":
            _child_scale(Path(argv[2]))
        else:
            _child_osm(Path(argv[2]), Path(argv[3]))
        return 0
    import tempfile

    from benchmarks.common import DEFAULT_DATA, RESULTS, print_result

    facts = _facts()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cohesion-bench-access-") as work:
        context = Context(data=DEFAULT_DATA, work=Path(work))
        result = BenchmarkResult(NAME, TITLE, TARGET)
        print(f"== {TITLE} (target {TARGET}); {facts['cpu_model']}, {facts['nproc']} CPUs, "
              f"{facts['ram_gib']} GiB; load average {facts['load_average_at_start']}",
              flush=True)
        run(context, result)
        print_result(result)
    facts["load_average_at_end"] = load_average()
    facts["wall_clock_s"] = round(time.perf_counter() - started, 1)
    print(f"  wall clock {facts['wall_clock_s']:.0f} s", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "access.json").write_text(json.dumps(
        {"machine": facts, "benchmarks": [result.to_dict()]}, indent=2, ensure_ascii=False,
        default=str) + "\n", encoding="utf-8")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
