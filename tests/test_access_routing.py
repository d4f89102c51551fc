"""Travel times checked against independent implementations (networkx, brute force)."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from cohesion.access import (
    DRIVE,
    WALK,
    Network,
    crow_fly_counts,
    crow_fly_times,
    origin_times,
    reachable_counts,
    read_network,
    routing,
    snap,
    times_to_nearest,
    two_step_fca,
)
from cohesion.errors import CohesionError
from cohesion.territory.crs import WGS84, ZONES, transformer, zone_of
from conftest import shared

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def paris_walk() -> Network:
    return read_network(shared("osm/paris_map.osm"), WALK)


@pytest.fixture(scope="module")
def stbarth_drive() -> Network:
    return read_network(shared("osm/saint_barthelemy.osm.pbf"), DRIVE)


@pytest.fixture(params=["paris_walk", "stbarth_drive"])
def network(request: pytest.FixtureRequest) -> Network:
    return request.getfixturevalue(request.param)


def reversed_graph(network: Network) -> nx.DiGraph:
    """The network with every edge reversed: lengths from a source are times *to* it."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(network.node_count))
    graph.add_weighted_edges_from(zip(network.indices.tolist(), network.tails().tolist(),
                                      network.seconds.tolist(), strict=True))
    return graph


def some_nodes(network: Network, count: int = 20, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).choice(network.node_count, count, replace=False)


def as_array(lengths: dict[int, float], size: int) -> np.ndarray:
    times = np.full(size, np.inf)
    times[list(lengths)] = list(lengths.values())
    return times


# -- times to the nearest destination -------------------------------------------------


@pytest.mark.parametrize("limit", [np.inf, 60.0])
def test_times_to_nearest_equal_networkx(network: Network, limit: float) -> None:
    sources = some_nodes(network)
    lengths = nx.multi_source_dijkstra_path_length(
        reversed_graph(network), set(sources.tolist()),
        cutoff=None if math.isinf(limit) else limit)
    expected = as_array(lengths, network.node_count)
    found = times_to_nearest(network, sources, limit=limit)
    np.testing.assert_array_equal(np.isinf(found), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(found[finite], expected[finite], rtol=0, atol=1e-9)
    assert np.all(found[sources] == 0)
    if math.isinf(limit):
        assert finite.mean() > 0.95  # a connected network: (nearly) everything is reached
    else:
        assert 0.05 < finite.mean() < 0.95


def test_times_go_from_the_node_to_the_destination(stbarth_drive: Network) -> None:
    # on a one-way network the two directions differ: ours is node → destination
    matrix = stbarth_drive.matrix()
    one_way = np.flatnonzero((matrix != matrix.T).sum(axis=1))
    target = int(one_way[0])
    to_target = times_to_nearest(stbarth_drive, np.array([target]))
    forward = nx.single_source_dijkstra_path_length(
        nx.DiGraph((int(a), int(b), {"weight": s}) for a, b, s in zip(
            stbarth_drive.tails(), stbarth_drive.indices, stbarth_drive.seconds,
            strict=True)), target)
    from_target = as_array(forward, stbarth_drive.node_count)
    assert not np.allclose(to_target, from_target)


def test_one_dijkstra_call_and_empty_sources(paris_walk: Network,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = routing.dijkstra

    def counting(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(routing, "dijkstra", counting)
    times_to_nearest(paris_walk, some_nodes(paris_walk, 50), limit=600)
    assert len(calls) == 1 and calls[0]["min_only"] is True and calls[0]["limit"] == 600
    empty = times_to_nearest(paris_walk, np.array([], dtype=np.int64))
    assert empty.shape == (paris_walk.node_count,) and np.all(np.isinf(empty))
    assert len(calls) == 1


def test_bad_routing_arguments(paris_walk: Network) -> None:
    with pytest.raises(CohesionError, match="hors du réseau"):
        times_to_nearest(paris_walk, np.array([paris_walk.node_count]))
    with pytest.raises(CohesionError, match="temps limite invalide"):
        times_to_nearest(paris_walk, np.array([0]), limit=-1)
    with pytest.raises(CohesionError, match=r"décroissance inconnue.*none, linear, gaussian"):
        two_step_fca(paris_walk, np.array([0]), np.array([1.0]), np.array([1]),
                     np.array([1.0]), 600, decay="exponentielle")
    with pytest.raises(CohesionError, match="temps limite fini"):
        two_step_fca(paris_walk, np.array([0]), np.array([1.0]), np.array([1]),
                     np.array([1.0]), np.inf, decay="linear")
    with pytest.raises(CohesionError, match="vitesse invalide"):
        origin_times(np.array([0]), np.array([1.0]), np.array([0.0]), 0)


# -- counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_reachable_counts_equal_networkx(network: Network, weighted: bool) -> None:
    sources = some_nodes(network, 15, seed=1)
    sources = np.concatenate([sources, sources[:3]])  # two sites on one node count twice
    weights = np.random.default_rng(2).uniform(1, 10, len(sources)) if weighted else None
    limit = 120.0
    graph = reversed_graph(network)
    expected = np.zeros(network.node_count)
    for k, source in enumerate(sources.tolist()):
        reached = nx.single_source_dijkstra_path_length(graph, source, cutoff=limit)
        expected[list(reached)] += 1 if weights is None else weights[k]
    found = reachable_counts(network, sources, limit, weights=weights, chunk=4)
    if weighted:
        np.testing.assert_allclose(found, expected, rtol=1e-12)
    else:
        assert found.dtype == np.int64
        np.testing.assert_array_equal(found, expected)
    assert expected.max() >= 2 and (expected == 0).any()
    np.testing.assert_allclose(found, reachable_counts(network, sources, limit,
                                                       weights=weights), rtol=1e-12)


def test_reachable_counts_without_limit_count_only_reachable(stbarth_drive: Network) -> None:
    sources = some_nodes(stbarth_drive, 5)
    counts = reachable_counts(stbarth_drive, sources, np.inf)
    reachable = np.isfinite(times_to_nearest(stbarth_drive, sources))
    assert np.all(counts[reachable] >= 1) and np.all(counts[~reachable] == 0)


# -- 2SFCA ----------------------------------------------------------------------------


def decay_weight(t: float, limit: float, decay: str) -> float:
    if t > limit:
        return 0.0
    if decay == "none":
        return 1.0
    if decay == "linear":
        return 1 - t / limit
    return (math.exp(-0.5 * (t / limit) ** 2) - math.exp(-0.5)) / (1 - math.exp(-0.5))


@pytest.mark.parametrize("decay", ["none", "linear", "gaussian"])
def test_two_step_fca_equals_a_double_loop(network: Network, decay: str) -> None:
    rng = np.random.default_rng(3)
    supply_nodes = rng.choice(network.node_count, 8, replace=False)
    supply_nodes[1] = supply_nodes[0]  # two supply points on one node
    supply = rng.uniform(1, 5, 8)
    demand_nodes = rng.choice(network.node_count, 40)
    demand_nodes[:3] = demand_nodes[3]  # several origins on one node
    demand = rng.uniform(10, 500, 40)
    limit = 400.0
    graph = reversed_graph(network)
    # t[k][j]: time from demand point k to supply point j
    to_supply = [nx.single_source_dijkstra_path_length(graph, int(j)) for j in supply_nodes]
    t = [[to_supply[j].get(int(k), math.inf) for j in range(8)] for k in demand_nodes]
    ratio = []
    for j in range(8):
        reached = sum(decay_weight(t[k][j], limit, decay) * demand[k] for k in range(40))
        ratio.append(supply[j] / reached if reached > 0 else 0.0)
    expected = [sum(decay_weight(t[i][j], limit, decay) * ratio[j] for j in range(8))
                for i in range(40)]
    found = two_step_fca(network, supply_nodes, supply, demand_nodes, demand, limit, decay)
    np.testing.assert_allclose(found, expected, rtol=1e-9, atol=1e-15)
    assert (found > 0).sum() >= 3
    # the supply reached is shared out: Σ_i A_i D_i = Σ_j S_j over reached supply (no decay)
    if decay == "none":
        used = [j for j in range(8) if ratio[j] > 0]
        assert (found * demand).sum() == pytest.approx(supply[used].sum())


def test_two_step_fca_without_supply_or_demand(paris_walk: Network) -> None:
    none = np.array([], dtype=np.int64)
    assert two_step_fca(paris_walk, none, np.array([]), np.array([1, 2]),
                        np.array([1.0, 1.0]), 600).tolist() == [0.0, 0.0]
    assert two_step_fca(paris_walk, np.array([1]), np.array([1.0]), none, np.array([]),
                        600).shape == (0,)


# -- snapping and origins -------------------------------------------------------------


def projected(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    zone = zone_of(lon, lat)
    assert len(set(zone.tolist())) == 1 and zone[0] >= 0
    x, y = transformer(WGS84, list(ZONES)[zone[0]]).transform(lon, lat)
    return np.column_stack([x, y])


def test_snap_equals_a_brute_force_search(network: Network) -> None:
    rng = np.random.default_rng(4)
    lon = rng.uniform(network.lon.min(), network.lon.max(), 300)
    lat = rng.uniform(network.lat.min(), network.lat.max(), 300)
    node, metres = snap(network, lon, lat)
    points, nodes = projected(lon, lat), projected(network.lon, network.lat)
    distances = np.hypot(points[:, None, 0] - nodes[None, :, 0],
                         points[:, None, 1] - nodes[None, :, 1])
    np.testing.assert_allclose(metres, distances.min(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(node, distances.argmin(axis=1))
    geodesic = GEOD.inv(lon, lat, network.lon[node], network.lat[node])[2]
    np.testing.assert_allclose(metres, geodesic, rtol=5e-3)
    # outside France or without coordinates: not attached
    node, metres = snap(network, np.array([0.0, np.nan]), np.array([0.0, 48.0]))
    assert node.tolist() == [-1, -1] and np.isnan(metres).all()


def test_origin_times_walk_to_the_node(paris_walk: Network) -> None:
    sources = some_nodes(paris_walk, 5)
    node_times = times_to_nearest(paris_walk, sources)
    lon = np.array([2.3450, 2.3500, 10.0])
    lat = np.array([48.8790, 48.8800, 10.0])
    node, metres = snap(paris_walk, lon, lat)
    times = origin_times(node, metres, node_times, 4.0)
    assert times[:2] == pytest.approx(node_times[node[:2]] + metres[:2] / (4 / 3.6))
    assert np.isnan(times[2])


# -- crow fly -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gironde() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Real points of the BPE: 400 equipments as origins, the GPs (D201) as targets."""
    bpe = pd.read_csv(shared("bpe/gironde_ds_immo/categorie_bpe.csv"),
                      usecols=["TYPEQU", "LONGITUDE", "LATITUDE"])
    bpe = bpe[bpe["TYPEQU"].str.fullmatch(r"[A-G]\d{3}")].dropna()
    doctors = bpe[bpe["TYPEQU"] == "D201"]
    origins = bpe[bpe["TYPEQU"] != "D201"].sample(400, random_state=0)
    return (origins["LONGITUDE"].to_numpy(), origins["LATITUDE"].to_numpy(),
            doctors["LONGITUDE"].to_numpy(), doctors["LATITUDE"].to_numpy())


def geodesic_matrix(lon: np.ndarray, lat: np.ndarray, tlon: np.ndarray,
                    tlat: np.ndarray) -> np.ndarray:
    a, b = np.meshgrid(np.arange(len(lon)), np.arange(len(tlon)), indexing="ij")
    return GEOD.inv(lon[a.ravel()], lat[a.ravel()], tlon[b.ravel()], tlat[b.ravel()]
                    )[2].reshape(len(lon), len(tlon))


def test_crow_fly_times_match_geodesic_distances(gironde: tuple) -> None:
    lon, lat, tlon, tlat = gironde
    assert len(tlon) > 1900
    geodesic = geodesic_matrix(lon, lat, tlon, tlat)
    speed, detour = 30.0, 1.3
    expected = geodesic.min(axis=1) * detour / (speed / 3.6)
    seconds, nearest = crow_fly_times(lon, lat, tlon, tlat, speed, detour)
    np.testing.assert_allclose(seconds, expected, rtol=5e-3)
    # the nearest doctor, or one as near within the tolerance
    chosen = geodesic[np.arange(len(lon)), nearest]
    assert np.all(chosen <= geodesic.min(axis=1) * 1.005 + 1e-6)
    # a limit: beyond it, inf and -1
    limit = float(np.median(expected))
    seconds, nearest = crow_fly_times(lon, lat, tlon, tlat, speed, detour, limit=limit)
    clear = np.abs(expected - limit) > 0.005 * limit
    assert np.all(np.isinf(seconds[clear & (expected > limit)]))
    assert np.all(nearest[clear & (expected > limit)] == -1)
    assert np.all(seconds[clear & (expected < limit)] <= limit)
    assert np.all(nearest[clear & (expected < limit)] >= 0)


def test_crow_fly_counts_match_geodesic_distances(gironde: tuple) -> None:
    lon, lat, tlon, tlat = gironde
    seconds = geodesic_matrix(lon, lat, tlon, tlat) * 1.3 / (5.0 / 3.6)
    limit = 1800.0
    counts = crow_fly_counts(lon, lat, tlon, tlat, 5.0, 1.3, limit)
    assert counts.dtype == np.int64
    low = (seconds <= limit * 0.995).sum(axis=1)
    high = (seconds <= limit * 1.005).sum(axis=1)
    assert np.all((low <= counts) & (counts <= high))
    assert counts.max() > 20 and (counts == 0).any()


def test_crow_fly_overseas_and_outside(stbarth_drive: Network) -> None:
    # Saint-Barthélemy is measured in RGAF09 / UTM 20N, not Lambert-93
    lon, lat = stbarth_drive.lon[:50], stbarth_drive.lat[:50]
    tlon, tlat = stbarth_drive.lon[-5:], stbarth_drive.lat[-5:]
    seconds, nearest = crow_fly_times(lon, lat, tlon, tlat, 40.0, 1.0)
    geodesic = geodesic_matrix(lon, lat, tlon, tlat).min(axis=1)
    np.testing.assert_allclose(seconds, geodesic / (40 / 3.6), rtol=5e-3)
    seconds, nearest = crow_fly_times(np.array([0.0]), np.array([0.0]), tlon, tlat, 40.0)
    assert np.isnan(seconds[0]) and nearest[0] == -1
    assert crow_fly_counts(np.array([0.0]), np.array([0.0]), tlon, tlat, 40.0).tolist() == [-1]
    seconds, nearest = crow_fly_times(lon, lat, np.array([]), np.array([]), 40.0)
    assert np.all(np.isinf(seconds)) and np.all(nearest == -1)
