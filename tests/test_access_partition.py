"""The cut by département with a halo gives the whole network's times, bit for bit."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from cohesion.access import DRIVE, WALK, Network, read_network
from cohesion.access.partition import (
    halo_metres,
    nearest_by_part,
    nearest_on_dask,
    partition,
    solve_part,
    top_speed_kmh,
)
from cohesion.access.routing import origin_times, snap, times_to_nearest
from cohesion.errors import CohesionError
from cohesion.geo.distributed import local_client
from conftest import OSM_SAINT_BARTHELEMY, shared

WALK_KMH = 5.0


def synthetic_network(side: int, seed: int) -> Network:
    """The benchmark's generated road grid (``benchmarks/bench_access.py``), not a copy."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("benchmarks.bench_access").synthetic_network(side, seed=seed)


def whole_network(network: Network, lon: np.ndarray, lat: np.ndarray,
                  equipment_lon: np.ndarray, equipment_lat: np.ndarray,
                  limit: float) -> np.ndarray:
    """The reference: one Dijkstra over the whole network, walk included, inf beyond."""
    node, metres = snap(network, lon, lat)
    equipment, _ = snap(network, equipment_lon, equipment_lat)
    seconds = origin_times(node, metres,
                           times_to_nearest(network, equipment[equipment >= 0], limit),
                           WALK_KMH)
    seconds[seconds > limit] = np.inf
    return seconds


class Case:
    """A network, origins in three longitude terciles, equipment and a short cut-off.

    The origins are 3,000 points within about 20 m of random nodes (addresses along the
    streets), so that the walk to the network leaves time to drive.
    """

    def __init__(self, network: Network, limit: float, seed: int, equipment: int) -> None:
        rng = np.random.default_rng(seed)
        self.network, self.limit = network, limit
        near = rng.integers(0, network.node_count, 3000)
        self.lon = network.lon[near] + rng.uniform(-2e-4, 2e-4, 3000)
        self.lat = network.lat[near] + rng.uniform(-1.5e-4, 1.5e-4, 3000)
        chosen = rng.choice(network.node_count, equipment, replace=False)
        self.equipment_lon, self.equipment_lat = network.lon[chosen], network.lat[chosen]
        terciles = np.quantile(self.lon, [1 / 3, 2 / 3])
        self.group = np.array(["ouest", "centre", "est"])[np.digitize(self.lon, terciles)]
        self.reference = whole_network(network, self.lon, self.lat, self.equipment_lon,
                                       self.equipment_lat, limit)

    def points(self) -> tuple[np.ndarray, ...]:
        return self.lon, self.lat, self.equipment_lon, self.equipment_lat


@pytest.fixture(scope="module", params=["saint_barthelemy", "synthetic"])
def case(request: pytest.FixtureRequest) -> Case:
    if request.param == "saint_barthelemy":  # 3,678 nodes by car, 8 km wide
        return Case(read_network(shared(OSM_SAINT_BARTHELEMY), DRIVE), 60.0, 1, 20)
    return Case(synthetic_network(60, seed=3), 60.0, 2, 80)  # 3,600 nodes, 12 km wide


@pytest.fixture(scope="module")
def client():
    with local_client(workers=2) as dask_client:
        yield dask_client


def test_halo_is_the_distance_at_top_speed() -> None:
    assert halo_metres(900, WALK) == 1251.0
    assert halo_metres(900, DRIVE) == pytest.approx(900 * 200 / 3.6 + 1)  # maxspeed tags
    assert halo_metres(0, DRIVE) == 1.0
    network = read_network(shared(OSM_SAINT_BARTHELEMY), DRIVE)
    fastest = top_speed_kmh(network)
    assert 60 < fastest < 70.0001  # straight lines: not above the fastest road's 70
    assert halo_metres(120, DRIVE, network) == pytest.approx(120 * fastest / 3.6 + 1)


def test_by_part_equals_the_whole_network(case: Case) -> None:
    parts = partition(case.network, case.lon, case.lat, case.group, case.limit)
    assert [part.name for part in parts] == ["centre", "est", "ouest"]
    owned = np.sort(np.concatenate([part.origins for part in parts]))
    assert np.array_equal(owned, np.arange(len(case.lon)))
    # the cut matters: no part holds the whole network
    assert all(0 < len(part.nodes) < 0.8 * case.network.node_count for part in parts)
    result = nearest_by_part(case.network, parts, *case.points(), case.limit, WALK_KMH)
    assert np.array_equal(result, case.reference)
    reached = np.isfinite(case.reference)
    assert 0.2 < reached.mean() < 0.98  # the cut-off bites, and most origins are reached
    node, metres = snap(case.network, case.lon, case.lat)
    equipment, _ = snap(case.network, case.equipment_lon, case.equipment_lat)
    one = parts[1]
    assert np.array_equal(solve_part(case.network, one, node, metres, equipment, case.limit,
                                     WALK_KMH), case.reference[one.origins])


def test_a_halo_too_small_would_give_other_times(case: Case) -> None:
    halo = halo_metres(case.limit, DRIVE, case.network) / 10
    parts = partition(case.network, case.lon, case.lat, case.group, case.limit, halo=halo)
    result = nearest_by_part(case.network, parts, *case.points(), case.limit, WALK_KMH)
    wrong = result != case.reference
    assert wrong.sum() > 20
    # a subgraph can only lengthen paths: too long, or not found at all
    assert np.all(result[wrong] > case.reference[wrong])


def test_dask_equals_the_whole_network(case: Case, client) -> None:
    parts = partition(case.network, case.lon, case.lat, case.group, case.limit)
    on_client = nearest_on_dask(case.network, parts, *case.points(), case.limit, WALK_KMH,
                                client=client)
    assert np.array_equal(on_client, case.reference)
    by_address = nearest_on_dask(case.network, parts, *case.points(), case.limit, WALK_KMH,
                                 address=client.scheduler.address)
    assert np.array_equal(by_address, case.reference)


def test_dask_starts_and_stops_its_own_local_cluster() -> None:
    case = Case(synthetic_network(40, seed=4), 90.0, 5, 5)
    parts = partition(case.network, case.lon, case.lat, case.group, case.limit)
    result = nearest_on_dask(case.network, parts, *case.points(), case.limit, WALK_KMH)
    assert np.array_equal(result, case.reference)


def test_origins_off_the_network_stay_unknown() -> None:
    network = synthetic_network(20, seed=6)
    lon = np.array([network.lon[5], 0.0, network.lon[300], np.nan])
    lat = np.array([network.lat[5], 0.0, network.lat[300], np.nan])
    group = np.array(["a", "a", "b", "c"])  # "c": only a point without coordinates
    parts = partition(network, lon, lat, group, 60)
    assert [len(part.nodes) > 0 for part in parts] == [True, True, False]
    result = nearest_by_part(network, parts, lon, lat, network.lon[[5]], network.lat[[5]], 60)
    reference = whole_network(network, lon, lat, network.lon[[5]], network.lat[[5]], 60)
    assert np.array_equal(result, reference, equal_nan=True)
    assert result[0] == 0.0 and np.isnan(result[1]) and np.isnan(result[3])


def test_bad_arguments_are_refused_in_french() -> None:
    network = synthetic_network(5, seed=7)
    with pytest.raises(CohesionError, match="un groupe par origine"):
        partition(network, network.lon, network.lat, np.array(["a"]), 60)
    with pytest.raises(CohesionError, match="temps limite invalide"):
        partition(network, network.lon, network.lat, np.zeros(25), -1)
    with pytest.raises(CohesionError, match="halo invalide"):
        partition(network, network.lon, network.lat, np.zeros(25), 60, halo=-5.0)
    with pytest.raises(CohesionError, match="pas les deux"):
        nearest_on_dask(network, [], network.lon, network.lat, network.lon, network.lat, 60,
                        client=object(), address="tcp://127.0.0.1:8786")
