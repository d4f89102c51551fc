"""Networks read from real OpenStreetMap extracts, and from tiny hand-made ones."""

from __future__ import annotations

import gzip
import itertools
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import osmium
import pytest
import scipy.sparse as sp
from pyproj import Geod
from scipy.sparse.csgraph import connected_components

from cohesion.access import DRIVE, WALK, Network, Profile, profile, read_network
from cohesion.access import network as network_module
from cohesion.access.network import _sort_order
from cohesion.access.pbf import UNDEFINED, PbfWays, read_pbf_ways
from cohesion.errors import CohesionError, ErrorKind, InputFileError
from conftest import shared

PARIS = "osm/paris_map.osm"
SAINT_BARTHELEMY = "osm/saint_barthelemy.osm.pbf"
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def paris_walk() -> Network:
    return read_network(shared(PARIS), WALK)


@pytest.fixture(scope="module")
def paris_drive() -> Network:
    return read_network(shared(PARIS), DRIVE)


@pytest.fixture(scope="module")
def stbarth_drive() -> Network:
    return read_network(shared(SAINT_BARTHELEMY), DRIVE)


@pytest.fixture(scope="module")
def stbarth_walk() -> Network:
    return read_network(shared(SAINT_BARTHELEMY), WALK)


def edges_of(network: Network) -> dict[tuple[int, int], tuple[float, float]]:
    """(tail OSM id, head OSM id) → (seconds, metres)."""
    tails = network.osm_id[network.tails()]
    heads = network.osm_id[network.indices]
    return {(int(a), int(b)): (float(s), float(m)) for a, b, s, m
            in zip(tails, heads, network.seconds, network.metres, strict=True)}


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance on the sphere of the WGS84 mean radius, metres."""
    radius = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def expected_edges(path: Path, chosen: Profile) -> dict[tuple[int, int], float]:
    """Every directed edge the profile allows, from the file read independently.

    One way at a time, node by node, no arrays: (tail, head) → fastest seconds.
    """
    fastest: dict[tuple[int, int], float] = {}
    for way in osmium.FileProcessor(str(path)).with_locations():
        if not isinstance(way, osmium.osm.Way):
            continue
        tags = dict(way.tags)
        speed = chosen.way_speed(tags)
        if speed is None:
            continue
        direction = chosen.direction(tags)
        nodes = [(n.ref, n.lon, n.lat) for n in way.nodes]
        for (a, lon1, lat1), (b, lon2, lat2) in itertools.pairwise(nodes):
            if a == b:
                continue
            seconds = GEOD.inv(lon1, lat1, lon2, lat2)[2] / (speed / 3.6)
            pairs = [(a, b)] if direction == 1 else [(b, a)] if direction == -1 \
                else [(a, b), (b, a)]
            for pair in pairs:
                fastest[pair] = min(fastest.get(pair, math.inf), seconds)
    return fastest


# -- the sample networks --------------------------------------------------------------


@pytest.mark.parametrize(("name", "low", "high"), [
    ("paris_walk", (450, 1000), (650, 1400)),
    ("paris_drive", (350, 420), (480, 600)),
    ("stbarth_drive", (3400, 7000), (4000, 8000)),
    ("stbarth_walk", (3500, 7200), (4100, 8200)),
])
def test_sample_networks_have_plausible_sizes(name: str, low: tuple[int, int],
                                              high: tuple[int, int],
                                              request: pytest.FixtureRequest) -> None:
    network: Network = request.getfixturevalue(name)
    assert low[0] <= network.node_count <= high[0]
    assert low[1] <= network.edge_count <= high[1]
    # CSR invariants: rows sorted by target, no loop, no parallel edge, one component
    tails = network.tails()
    assert np.all(np.diff(network.indptr) >= 0) and network.indptr[-1] == network.edge_count
    assert np.all((tails[1:] > tails[:-1]) | (network.indices[1:] > network.indices[:-1]))
    assert not np.any(tails == network.indices)
    assert len(np.unique(network.osm_id)) == network.node_count
    assert connected_components(network.matrix(), connection="weak")[0] == 1
    assert network.indices.dtype == np.int32 and network.indptr.dtype == np.int64
    assert np.all(network.metres > 0) and np.all(np.isfinite(network.seconds))


def test_paris_walk_is_symmetric_at_walking_speed(paris_walk: Network) -> None:
    matrix = paris_walk.matrix()
    assert (matrix != matrix.T).nnz == 0
    np.testing.assert_allclose(paris_walk.seconds, paris_walk.metres / (5.0 / 3.6), rtol=1e-12)
    assert paris_walk.timestamp is not None and paris_walk.timestamp.startswith("2021-")
    assert paris_walk.source == "paris_map.osm"
    # the extract's bounds (ways reach a little beyond them)
    assert paris_walk.lon.min() > 2.33 and paris_walk.lon.max() < 2.37
    assert paris_walk.lat.min() > 48.87 and paris_walk.lat.max() < 48.89
    assert any("composantes isolées écartés" in note for note in paris_walk.notes)


@pytest.mark.parametrize(("name", "sample", "chosen"), [
    ("paris_walk", PARIS, WALK),
    ("paris_drive", PARIS, DRIVE),
    ("stbarth_drive", SAINT_BARTHELEMY, DRIVE),
    ("stbarth_walk", SAINT_BARTHELEMY, WALK),
])
def test_edges_are_those_of_an_independent_reading(name: str, sample: str, chosen: Profile,
                                                   request: pytest.FixtureRequest) -> None:
    network: Network = request.getfixturevalue(name)
    expected = expected_edges(shared(sample), chosen)
    kept = set(network.osm_id.tolist())
    expected = {pair: s for pair, s in expected.items() if pair[0] in kept}
    found = edges_of(network)
    assert set(found) == set(expected)
    assert all(abs(found[pair][0] - seconds) <= 1e-9 * seconds
               for pair, seconds in expected.items())


def test_paris_excluded_ways_give_no_walking_edge(paris_walk: Network) -> None:
    # foot=no (the access ramps of the Gare du Nord car park), access=no, area=yes
    # squares and cycleways without foot=yes: none of their segments is walkable
    excluded = {112498457, 878359184, 143295526, 143296144, 732075777, 51110034}
    segments: dict[int, set[frozenset[int]]] = defaultdict(set)
    walkable: set[frozenset[int]] = set()
    for way in osmium.FileProcessor(str(shared(PARIS)), osmium.osm.WAY):
        refs = [n.ref for n in way.nodes]
        pairs = {frozenset(p) for p in itertools.pairwise(refs)}
        if way.id in excluded:
            segments[way.id] = pairs
        elif WALK.way_speed(way.tags) is not None:
            walkable |= pairs
    assert set(segments) == excluded
    edges = {frozenset(pair) for pair in edges_of(paris_walk)}
    for way_id, pairs in segments.items():
        own = pairs - walkable
        assert own, way_id
        assert not own & edges, way_id


def test_saint_barthelemy_roundabouts_are_one_way(stbarth_drive: Network,
                                                   stbarth_walk: Network) -> None:
    roundabouts = []
    for way in osmium.FileProcessor(str(shared(SAINT_BARTHELEMY)), osmium.osm.WAY):
        if way.tags.get("junction") == "roundabout":
            refs = [n.ref for n in way.nodes]
            roundabouts += list(itertools.pairwise(refs))
    assert len(roundabouts) >= 4
    drive, walk = edges_of(stbarth_drive), edges_of(stbarth_walk)
    for a, b in roundabouts:
        assert (a, b) in drive and (b, a) not in drive
        assert (a, b) in walk and (b, a) in walk
    matrix = stbarth_drive.matrix()
    assert (matrix != matrix.T).nnz == 2 * len(roundabouts)
    # driving at 30-70 km/h, not at walking speed
    speeds = stbarth_drive.metres / stbarth_drive.seconds * 3.6
    assert set(np.round(speeds, 6)) <= {20.0, 30.0, 40.0, 50.0, 60.0, 70.0}
    assert stbarth_drive.timestamp.startswith("2014-")


def test_paris_one_way_streets_bind_cars_only(paris_drive: Network, paris_walk: Network
                                              ) -> None:
    one_way = []
    for way in osmium.FileProcessor(str(shared(PARIS)), osmium.osm.WAY):
        if way.tags.get("oneway") == "yes" and DRIVE.way_speed(way.tags) is not None:
            refs = [n.ref for n in way.nodes]
            one_way += list(itertools.pairwise(refs))
    assert len(one_way) > 100
    drive = edges_of(paris_drive)
    forward = [pair for pair in one_way if pair in drive]
    assert len(forward) > 0.9 * len(one_way)  # the rest lies outside the kept component
    assert not any((b, a) in drive for a, b in forward)
    assert paris_drive.notes[1] == "dont 71 à sens unique"


# -- a tiny hand-made extract ---------------------------------------------------------

NODES = {1: (2.350, 48.850), 2: (2.351, 48.850), 3: (2.352, 48.850), 4: (2.353, 48.850),
         5: (2.351, 48.851), 6: (2.350, 48.851), 7: (2.352, 48.851), 8: (2.353, 48.851),
         9: (2.354, 48.851), 10: (2.360, 48.860)}
WAYS = [
    (101, [1, 2], {"highway": "footway", "footway": "crossing"}),
    (102, [2, 3], {"highway": "residential", "foot": "no"}),
    (103, [3, 4], {"highway": "motorway"}),
    (104, [2, 5], {"highway": "residential", "oneway": "yes"}),
    (105, [5, 6], {"highway": "residential", "oneway": "-1"}),
    (106, [1, 6], {"highway": "cycleway"}),
    (107, [5, 7], {"highway": "tertiary", "maxspeed": "45"}),
    (108, [7, 8, 9, 7], {"highway": "pedestrian", "area": "yes"}),
    (109, [7, 8], {"highway": "service", "access": "no", "foot": "yes"}),
    (110, [3, 7], {"highway": "cycleway", "foot": "designated"}),
    (111, [9, 10], {"highway": "residential"}),  # an island, dropped
    (112, [4, 4], {"highway": "residential"}),
    (113, [1, 3], {"building": "yes"}),
]


def osm_xml(nodes: dict[int, tuple[float, float]],
            ways: list[tuple[int, list[int], dict[str, str]]]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    lines += [f'  <node id="{i}" version="1" timestamp="2024-0{i % 9 + 1}-01T00:00:00Z" '
              f'lat="{lat}" lon="{lon}"/>' for i, (lon, lat) in nodes.items()]
    for way_id, refs, tags in ways:
        lines.append(f'  <way id="{way_id}" version="1" timestamp="2023-05-0{way_id % 9 + 1}'
                     'T10:00:00Z">')
        lines += [f'    <nd ref="{ref}"/>' for ref in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    return "\n".join([*lines, "</osm>", ""])


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "petit.osm"
    path.write_text(osm_xml(NODES, WAYS), encoding="utf-8")
    return path


def length(a: int, b: int) -> float:
    return haversine(*NODES[a], *NODES[b])


def test_tiny_walk_network_exactly(tiny: Path) -> None:
    network = read_network(tiny, WALK)
    found = edges_of(network)
    undirected = [(1, 2), (2, 5), (5, 6), (5, 7), (7, 8), (3, 7)]
    assert set(found) == {*undirected, *[(b, a) for a, b in undirected]}
    for (a, b), (seconds, metres) in found.items():
        assert metres == pytest.approx(length(a, b), rel=5e-3)
        assert metres == pytest.approx(GEOD.inv(*NODES[a], *NODES[b])[2], rel=1e-12)
        assert seconds == pytest.approx(metres / (5 / 3.6), rel=1e-12)
    assert network.osm_id.tolist() == [1, 2, 3, 5, 6, 7, 8]
    np.testing.assert_array_equal(network.lon, [NODES[i][0] for i in network.osm_id])
    assert network.timestamp == "2023-05-09T10:00:00Z"  # the newest way read (way 107)
    assert network.notes[0] == ("8 voies retenues pour le profil « marche » (à pied) sur "
                                "12 voies « highway » lues")
    assert network.notes[1] == ("composante connexe principale gardée (7 nœuds) ; 2 nœuds "
                                "d'une composante isolée écartés")


def test_tiny_drive_network_exactly(tiny: Path) -> None:
    network = read_network(tiny, DRIVE)
    found = edges_of(network)
    assert set(found) == {(2, 3), (3, 2), (3, 4), (2, 5), (6, 5), (5, 7), (7, 5)}
    speeds = {(2, 3): 30, (3, 2): 30, (3, 4): 110, (2, 5): 30, (6, 5): 30, (5, 7): 45,
              (7, 5): 45}
    for pair, (seconds, metres) in found.items():
        assert metres == pytest.approx(length(*pair), rel=5e-3)
        assert seconds == pytest.approx(metres / (speeds[pair] / 3.6), rel=1e-12)
    assert (5, 6) not in found and (5, 2) not in found and (4, 3) not in found
    assert network.osm_id.tolist() == [2, 3, 4, 5, 6, 7]


def test_profiles_judge_ways_by_their_tags() -> None:
    assert WALK.way_speed({"highway": "trunk"}) == 5.0
    assert WALK.way_speed({"highway": "trunk", "foot": "no"}) is None
    assert WALK.way_speed({"highway": "motorway", "foot": "yes"}) is None
    assert WALK.way_speed({"highway": "motorway_link"}) is None
    assert WALK.way_speed({"highway": "track"}) == 5.0
    assert WALK.way_speed({"highway": "cycleway", "foot": "yes"}) == 5.0
    assert WALK.way_speed({"highway": "residential", "access": "no"}) is None
    assert WALK.way_speed({"building": "yes"}) is None
    assert DRIVE.way_speed({"highway": "motorway"}) == 110.0
    assert DRIVE.way_speed({"highway": "primary_link"}) == pytest.approx(0.8 * 70)
    assert DRIVE.way_speed({"highway": "footway"}) is None
    assert DRIVE.way_speed({"highway": "residential", "maxspeed": "30 mph"}) == 30.0
    assert DRIVE.way_speed({"highway": "primary", "maxspeed": "50"}) == 50.0
    assert DRIVE.way_speed({"highway": "primary", "access": "no",
                            "motor_vehicle": "yes"}) == 70.0
    assert DRIVE.direction({"highway": "primary", "oneway": "true"}) == 1
    assert DRIVE.direction({"highway": "primary", "junction": "roundabout",
                            "oneway": "no"}) == 0
    assert DRIVE.direction({"highway": "motorway"}) == 1
    assert DRIVE.direction({"highway": "primary"}) == 0


def test_profile_names_and_speeds() -> None:
    assert profile("marche") is WALK and profile("WALK") is WALK and profile("piéton") is WALK
    assert profile("drive") is DRIVE and profile("voiture") is DRIVE
    assert profile("marche", 4.5).speeds_kmh["steps"] == 4.5
    assert profile("marche", 4.5).name == "marche"
    with pytest.raises(CohesionError, match=r"profil de déplacement inconnu.*marche, voiture"):
        profile("trottinette")
    for bad in (0, -1, 250, float("nan"), "5", True):
        with pytest.raises(CohesionError, match="vitesse invalide"):
            WALK.with_speed(bad)  # type: ignore[arg-type]
    assert Profile.from_dict(DRIVE.to_dict()) == DRIVE and hash(WALK) != hash(DRIVE)


# -- cache and subgraph ---------------------------------------------------------------


def test_save_and_load_give_identical_arrays(stbarth_drive: Network, tmp_path: Path) -> None:
    path = tmp_path / "reseau.npz"
    stbarth_drive.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["reseau.npz"]
    loaded = Network.load(path)
    for name in ("indptr", "indices", "seconds", "metres", "lon", "lat", "osm_id"):
        before, after = getattr(stbarth_drive, name), getattr(loaded, name)
        assert after.dtype == before.dtype
        np.testing.assert_array_equal(after, before)
    assert loaded.profile == DRIVE
    assert (loaded.source, loaded.timestamp, loaded.notes) == (
        stbarth_drive.source, stbarth_drive.timestamp, stbarth_drive.notes)
    with np.load(path, allow_pickle=False) as data:  # no pickle needed
        assert "meta" in data


def test_load_refuses_what_is_not_a_saved_network(tmp_path: Path) -> None:
    for name, content in [("texte.npz", b"pas un reseau"), ("vide.npz", b"")]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputFileError, match="n'est pas un réseau enregistré") as error:
            Network.load(path)
        assert name in str(error.value)
    other = tmp_path / "autre.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(InputFileError, match="n'est pas un réseau enregistré"):
        Network.load(other)
    with pytest.raises(InputFileError, match="introuvable"):
        Network.load(tmp_path / "absent.npz")


def test_subgraph_is_the_induced_subgraph(paris_walk: Network) -> None:
    keep = np.random.default_rng(0).random(paris_walk.node_count) < 0.7
    part, original = paris_walk.subgraph(keep)
    np.testing.assert_array_equal(original, np.flatnonzero(keep))
    np.testing.assert_array_equal(part.osm_id, paris_walk.osm_id[keep])
    np.testing.assert_array_equal(part.lat, paris_walk.lat[keep])
    expected = {pair: value for pair, value in edges_of(paris_walk).items()
                if keep[np.searchsorted(paris_walk.osm_id, pair[0])]
                and keep[np.searchsorted(paris_walk.osm_id, pair[1])]}
    assert edges_of(part) == expected
    assert 0 < part.edge_count < paris_walk.edge_count
    assert part.profile == WALK and part.source == paris_walk.source
    with pytest.raises(CohesionError, match="masque booléen"):
        paris_walk.subgraph(np.ones(3, dtype=bool))


def test_network_literals_are_checked() -> None:
    with pytest.raises(CohesionError, match="réseau invalide"):
        Network([0, 1], [5], [1.0], [1.0], [0.0], [45.0], [1], WALK)
    with pytest.raises(CohesionError, match="réseau invalide"):
        Network([0, 2], [0], [1.0], [1.0], [0.0], [45.0], [1], WALK)


# -- bad input ------------------------------------------------------------------------


def bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each bad input and the words its error must contain."""
    source = shared(SAINT_BARTHELEMY).read_bytes()
    truncated = tmp_path / "tronque.osm.pbf"
    truncated.write_bytes(source[: len(source) // 2])
    text = tmp_path / "equipements.osm.pbf"
    text.write_text("TYPEQU;LONGITUDE;LATITUDE\nD201;2.35;48.85\n", encoding="utf-8")
    buildings = tmp_path / "batiments.osm"
    buildings.write_text(osm_xml(NODES, [(113, [1, 2, 5, 6, 1], {"building": "yes"})]),
                         encoding="utf-8")
    half_xml = tmp_path / "coupe.osm"
    half_xml.write_text(osm_xml(NODES, WAYS)[:900], encoding="utf-8")
    gz = tmp_path / "coupe.osm.gz"
    gz.write_bytes(gzip.compress(osm_xml(NODES, WAYS).encode())[:200])
    empty = tmp_path / "vide.osm"
    empty.touch()
    gpx = tmp_path / "trace.gpx"
    gpx.write_text('<?xml version="1.0"?><gpx version="1.1"></gpx>', encoding="utf-8")
    motorway_only = tmp_path / "autoroute.osm"
    motorway_only.write_text(osm_xml(NODES, [(103, [3, 4], {"highway": "motorway"})]),
                             encoding="utf-8")
    return {
        "truncated PBF": (truncated, "illisible ou tronqué"),
        "text": (text, "n'est pas un extrait OpenStreetMap"),
        "buildings only": (buildings, "aucune voie praticable à pied"),
        "truncated XML": (half_xml, "illisible ou tronqué"),
        "truncated gzip": (gz, "illisible ou tronqué"),
        "empty": (empty, "fichier vide"),
        "GPX": (gpx, "n'est pas un extrait OpenStreetMap"),
        "motorway only": (motorway_only, "aucune voie praticable à pied"),
        "missing": (tmp_path / "absent.osm.pbf", "fichier introuvable"),
        "folder": (tmp_path, "n'est pas un fichier"),
    }


def test_bad_inputs_raise_french_errors_and_write_nothing(tmp_path: Path) -> None:
    cases = bad_inputs(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    for case, (path, words) in cases.items():
        with pytest.raises(InputFileError) as raised:
            read_network(path, WALK)
        error = raised.value
        assert words in str(error), (case, str(error))
        assert str(path) in str(error) and error.kind is ErrorKind.BAD_FILE, case
        assert error.expected, case
    assert sorted(tmp_path.rglob("*")) == before


def test_truncated_pbf_names_the_osmium_problem(tmp_path: Path) -> None:
    source = shared(SAINT_BARTHELEMY).read_bytes()
    path = tmp_path / "coupe.osm.pbf"
    path.write_bytes(source[:-1000])
    with pytest.raises(InputFileError, match=r"coupe\.osm\.pbf : fichier OpenStreetMap "
                       r"illisible ou tronqué") as raised:
        read_network(path, DRIVE)
    assert raised.value.found and "PBF" in raised.value.found


def test_compressed_xml_and_progress(tmp_path: Path, paris_walk: Network) -> None:
    path = tmp_path / "paris.osm.gz"
    path.write_bytes(gzip.compress(shared(PARIS).read_bytes()))
    messages: list[str] = []
    network = read_network(path, WALK, progress=messages.append)
    np.testing.assert_array_equal(network.indices, paris_walk.indices)
    np.testing.assert_array_equal(network.seconds, paris_walk.seconds)
    assert messages[0].startswith("lecture de paris.osm.gz")
    assert messages[-1] == (f"réseau à pied : {paris_walk.node_count} nœuds, "
                            f"{paris_walk.edge_count} arcs")


# -- the vectorised build, against a straightforward one ------------------------------


def straightforward_compress(tails: np.ndarray, heads: np.ndarray, seconds: np.ndarray,
                             metres: np.ndarray, count: int) -> dict[str, np.ndarray]:
    """CSR arrays as the network module first made them: the reference of ``_compress``.

    Loops dropped, then every edge sorted on three keys (pair, time, length) and the first
    of each (tail, head) pair kept.
    """
    proper = tails != heads
    tails, heads, seconds, metres = tails[proper], heads[proper], seconds[proper], metres[proper]
    pair = tails.astype(np.int64) * count + heads
    order = np.lexsort((metres, seconds, pair))
    tails, heads, seconds, metres, pair = (tails[order], heads[order], seconds[order],
                                           metres[order], pair[order])
    first = np.ones(len(pair), dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    indptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails[first], minlength=count), out=indptr[1:])
    return {"indptr": indptr, "indices": heads[first], "seconds": seconds[first],
            "metres": metres[first]}


def straightforward_subgraph(arrays: dict[str, np.ndarray],
                             keep: np.ndarray) -> dict[str, np.ndarray]:
    """The subgraph induced by the kept nodes, by renumbering every edge's two ends."""
    count = len(arrays["indptr"]) - 1
    renumber = np.cumsum(keep) - 1
    tails = np.repeat(np.arange(count), np.diff(arrays["indptr"]))
    inside = keep[tails] & keep[arrays["indices"]]
    indptr = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(np.bincount(renumber[tails[inside]], minlength=len(indptr) - 1),
              out=indptr[1:])
    return {"indptr": indptr, "indices": renumber[arrays["indices"][inside]],
            "seconds": arrays["seconds"][inside], "metres": arrays["metres"][inside],
            **{name: arrays[name][keep] for name in ("lon", "lat", "osm_id") if name in arrays}}


def straightforward_build(ways: PbfWays) -> dict[str, np.ndarray]:
    """The network's arrays as ``_build`` first made them: the reference it must equal.

    np.unique on both ends of every segment, :func:`straightforward_compress`, and the
    largest weakly connected component by :func:`straightforward_subgraph`.
    """
    refs, x, y = (np.asarray(values) for values in (ways.refs, ways.x, ways.y))
    sizes = np.asarray(ways.sizes)
    way_of = np.repeat(np.arange(len(sizes)), sizes)
    located = (np.abs(x) <= 180 * 10**7) & (np.abs(y) <= 90 * 10**7)
    lon, lat = x / 10**7, y / 10**7
    first = np.flatnonzero(way_of[:-1] == way_of[1:])
    second = first + 1
    usable = located[first] & located[second] & (refs[first] != refs[second])
    first, second = first[usable], second[usable]
    metres = GEOD.inv(lon[first], lat[first], lon[second], lat[second])[2]
    way = way_of[first]
    seconds = metres / (np.asarray(ways.speeds)[way] / 3.6)
    forward = np.asarray(ways.directions)[way] >= 0
    backward = np.asarray(ways.directions)[way] <= 0
    at = np.concatenate([first, second])
    osm_id, where, node = np.unique(refs[at], return_index=True, return_inverse=True)
    node_first, node_second = node[:len(first)], node[len(first):]
    arrays = straightforward_compress(
        np.concatenate([node_first[forward], node_second[backward]]),
        np.concatenate([node_second[forward], node_first[backward]]),
        np.concatenate([seconds[forward], seconds[backward]]),
        np.concatenate([metres[forward], metres[backward]]), len(osm_id))
    arrays.update(lon=lon[at[where]], lat=lat[at[where]], osm_id=osm_id)
    count = len(osm_id)
    matrix = sp.csr_array((arrays["seconds"], arrays["indices"], arrays["indptr"]),
                          shape=(count, count))
    labels = connected_components(matrix, directed=True, connection="weak")[1]
    return straightforward_subgraph(arrays, labels == np.argmax(np.bincount(labels)))


def assert_same_network(network: Network, expected: dict[str, np.ndarray]) -> None:
    """The network's arrays equal the expected ones, value for value (floats bit for bit)."""
    for name, values in expected.items():
        built = getattr(network, name)
        assert built.shape == values.shape, name
        assert np.array_equal(built, values), name
        if built.dtype.kind == "f":
            assert np.array_equal(built.view(np.int64), values.view(np.int64)), name


def grid_ways(side: int, ids: np.ndarray, seed: int) -> PbfWays:
    """Ways along the rows and columns of a jittered grid, with what real files hold.

    Ways of 2 to 5 crossings cut at random (consecutive ways share their end), random
    speeds and directions, a street drawn again reversed (at the same speed, then
    faster), a node repeated in a row, two crossings missing from the file, a way of one
    node and an island of two nodes. ``ids`` gives the OSM id of each of the ``side²``
    crossings and of the 2 island nodes.
    """
    rng = np.random.default_rng(seed)
    row, col = np.divmod(np.arange(side * side + 2), side)
    x = np.round((2.30 + col * 1e-3 + rng.uniform(-3e-4, 3e-4, len(row))) * 1e7)
    y = np.round((48.80 + row * 1e-3 + rng.uniform(-3e-4, 3e-4, len(row))) * 1e7)
    x[-2:], y[-2:] = x[-2:] + 1e6, y[-2:] + 1e6  # the island, 10 km away
    x, y = x.astype(np.int32), y.astype(np.int32)
    x[[side + 1, 2 * side + 3]] = y[[side + 1, 2 * side + 3]] = UNDEFINED
    grid = np.arange(side * side).reshape(side, side)
    ways: list[list[int]] = []
    for line in [*grid, *grid.T]:
        start = 0
        while start < side - 1:
            end = min(start + int(rng.integers(1, 5)), side - 1)
            ways.append(line[start:end + 1].tolist())
            start = end
    speeds = rng.choice([30.0, 50.0, 90.0], len(ways)).tolist()
    directions = rng.choice([-1, 0, 0, 0, 1], len(ways)).tolist()
    copied = int(rng.integers(len(ways)))
    for speed in (speeds[copied], speeds[copied] * 2):
        ways.append(ways[copied][::-1])
        speeds.append(speed)
        directions.append(0)
    ways += [[grid[3, 3], grid[3, 3], grid[4, 3]], [grid[5, 5]], [side * side, side * side + 1]]
    speeds += [50.0, 50.0, 50.0]
    directions += [0, 0, 1]
    nodes = np.concatenate(ways)
    return PbfWays(refs=ids[nodes], x=x[nodes], y=y[nodes],
                   sizes=np.array([len(way) for way in ways], dtype=np.int64),
                   speeds=np.array(speeds), directions=np.array(directions, dtype=np.int8),
                   highways=len(ways), newest=0.0, replication=None)


@pytest.mark.parametrize("fixture", ["stbarth_drive", "stbarth_walk"])
def test_saint_barthelemy_network_equals_the_straightforward_build(
        fixture: str, request: pytest.FixtureRequest) -> None:
    network: Network = request.getfixturevalue(fixture)
    ways = read_pbf_ways(shared(SAINT_BARTHELEMY), network.profile)
    assert_same_network(network, straightforward_build(ways))


def reverse_ties(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the build sort equal keys in reverse position order.

    The packed sort keeps equal keys in position order, np.argsort (its fallback) does not:
    the built network must not depend on it.
    """
    monkeypatch.setattr(network_module, "_sort_order",
                        lambda keys: np.lexsort((-np.arange(len(keys)), keys)))


@pytest.mark.parametrize("ties", ["position", "reversed"])
@pytest.mark.parametrize("spread", ["dense", "osm", "huge"])
def test_grid_network_equals_the_straightforward_build(
        spread: str, ties: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if ties == "reversed":
        reverse_ties(monkeypatch)
    side, seed = 40, {"dense": 1, "osm": 2, "huge": 3}[spread]
    rng = np.random.default_rng(seed)
    count = side * side + 2
    # ids in no particular order of the grid; "huge" ones are too spread for the packed
    # sort of the node numbering, which then falls back on np.argsort (ties in any order)
    ids = {"dense": rng.permutation(count) + 1,
           "osm": rng.choice(13_000_000_000, count, replace=False),
           "huge": rng.choice(2**62, count, replace=False) * rng.choice([-1, 1], count)}[spread]
    ways = grid_ways(side, ids.astype(np.int64), seed)
    network = network_module._build(Path("grille.osm.pbf"), DRIVE, ways)
    assert_same_network(network, straightforward_build(ways))
    # the grid holds what the build must deal with
    assert any("en double" in note for note in network.notes)
    assert any("absents du fichier" in note for note in network.notes)
    assert any("composante connexe principale" in note for note in network.notes)
    assert 1500 < network.node_count < count


@pytest.mark.parametrize("ties", ["position", "reversed"])
@pytest.mark.parametrize("seed", range(20))
def test_from_edges_and_subgraph_equal_the_straightforward_ones(
        seed: int, ties: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if ties == "reversed":
        reverse_ties(monkeypatch)
    rng = np.random.default_rng(seed)
    count, size = int(rng.integers(1, 40)), int(rng.integers(0, 300))
    tails, heads = rng.integers(0, count, size), rng.integers(0, count, size)
    # few distinct values: many parallel edges tied on time, some on time and length
    seconds = rng.integers(0, 4, size).astype(float)
    metres = rng.integers(0, 4, size).astype(float)
    lon, lat = rng.uniform(2, 3, count), rng.uniform(48, 49, count)
    network = Network.from_edges(tails, heads, seconds, metres, lon, lat)
    expected = straightforward_compress(tails, heads, seconds, metres, count)
    assert_same_network(network, expected)
    keep = rng.random(count) < 0.6
    part, kept = network.subgraph(keep)
    assert_same_network(part, straightforward_subgraph(
        {**expected, "lon": lon, "lat": lat, "osm_id": np.arange(count)}, keep))
    np.testing.assert_array_equal(kept, np.flatnonzero(keep))


@pytest.mark.parametrize(("dtype", "low", "high", "packed"), [
    (np.int32, 0, 5, True), (np.int32, -2**31, 2**31 - 1, True),
    (np.int64, -3, 10**12, True), (np.int64, 2**62, 2**62 + 7, True),
    (np.int64, -2**63, 2**63 - 1, False)])
def test_sort_order_sorts_the_keys(dtype: type, low: int, high: int, packed: bool) -> None:
    rng = np.random.default_rng(0)
    for size in (0, 1, 2, 1000, 70_000):
        keys = rng.integers(low, high, size, dtype=dtype, endpoint=True)
        order = _sort_order(keys)
        assert np.all(keys[order][1:] >= keys[order][:-1])
        np.testing.assert_array_equal(np.sort(order), np.arange(size))
        if packed:  # equal keys in position order
            np.testing.assert_array_equal(order, np.argsort(keys, kind="stable"))
