"""The vectorised PBF reader gives exactly what pyosmium's path gives, on real files,
written files and hand-encoded blocks; damaged files get French errors."""

from __future__ import annotations

import itertools
import lzma
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import osmium
import pytest
from osmium.osm.mutable import Node, Way

from cohesion.access import DRIVE, WALK, Network, Profile, pbf, read_network
from cohesion.access import network as network_module
from cohesion.access.network import _collect
from cohesion.access.pbf import UNDEFINED, PbfUnsupported, PbfWays, read_pbf_ways
from cohesion.errors import ErrorKind, InputFileError
from conftest import shared

SAINT_BARTHELEMY = "osm/saint_barthelemy.osm.pbf"
PROFILES = [WALK, DRIVE, DRIVE.with_speed(35.0)]
ARRAYS = {"refs": np.int64, "x": np.int32, "y": np.int32, "sizes": np.int64,
          "speeds": np.float64, "directions": np.int8}


def assert_same_ways(path: Path, profile: Profile, **options: object) -> PbfWays:
    """The PBF reader's ways equal pyosmium's, array for array."""
    old = _collect(path, "pbf", profile, lambda message: None)
    new = read_pbf_ways(path, profile, **options)
    for name, dtype in ARRAYS.items():
        expected = np.frombuffer(getattr(old, name), dtype=dtype)
        found = getattr(new, name)
        assert found.dtype == dtype, name
        np.testing.assert_array_equal(found, expected, err_msg=name)
    assert (new.highways, new.newest, new.replication) == (
        old.highways, old.newest, old.replication)
    return new


def pyosmium_network(path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch) -> Network:
    """read_network through pyosmium only."""
    def decline(*args: object, **kwargs: object) -> PbfWays:
        raise PbfUnsupported("test")

    with monkeypatch.context() as patch:
        patch.setattr(network_module, "read_pbf_ways", decline)
        return read_network(path, profile)


def assert_same_network(first: Network, second: Network) -> None:
    for name in ("indptr", "indices", "seconds", "metres", "lon", "lat", "osm_id"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), err_msg=name)
    assert (first.timestamp, first.notes, first.source) == (
        second.timestamp, second.notes, second.source)


# -- a real extract -------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"{p.name}-{p.speed_kmh:g}")
@pytest.mark.parametrize("budget", [pbf.NODE_BUDGET, 1000], ids=["one-pass", "two-pass"])
def test_saint_barthelemy_ways_equal_pyosmium(profile: Profile, budget: int) -> None:
    ways = assert_same_ways(shared(SAINT_BARTHELEMY), profile, node_budget=budget)
    assert ways.sizes.size > 400 and ways.replication is None and ways.newest > 0


@pytest.mark.parametrize("profile", [WALK, DRIVE], ids=lambda p: p.name)
def test_saint_barthelemy_network_equals_pyosmium(profile: Profile,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = shared(SAINT_BARTHELEMY)
    messages: list[str] = []
    network = read_network(path, profile, progress=messages.append)
    assert not any("pyosmium" in message for message in messages)
    assert_same_network(network, pyosmium_network(path, profile, monkeypatch))
    assert network.timestamp.startswith("2014-")


@pytest.mark.parametrize("sample", ["osm/paris_map.osm", "osm/bondy_pantin_map.osm"])
def test_real_xml_extracts_written_as_pbf(sample: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "extrait.osm.pbf"
    with osmium.SimpleWriter(str(path)) as writer:
        osmium.apply(str(shared(sample)), writer)
    for profile in (WALK, DRIVE):
        assert_same_ways(path, profile)
        network = read_network(path, profile)
        assert_same_network(network, pyosmium_network(path, profile, monkeypatch))
        xml = read_network(shared(sample), profile)
        np.testing.assert_array_equal(network.seconds, xml.seconds)


# -- files written by pyosmium ---------------------------------------------------------

#: Nodes of the written extract: west of Greenwich, so that coordinates are negative.
NODES = {i: (-0.58 + 0.0011 * (i % 7) + 1e-7 * i, 44.83 + 0.0009 * (i // 7)) for i in range(1, 43)}
WAYS: list[tuple[int, list[int], list[tuple[str, str]]]] = [
    (1, [1, 2, 3, 4], [("highway", "residential"), ("oneway", "yes")]),
    (2, [4, 11, 18], [("highway", "primary"), ("maxspeed", "50"), ("name", "Cours")]),
    (3, [18, 17, 16, 15], [("highway", "secondary"), ("oneway", "-1")]),
    (4, [15, 8, 1], [("highway", "tertiary"), ("junction", "roundabout")]),
    (5, [2, 9, 999, 16], [("highway", "residential")]),  # 999: not in the file
    (6, [9, 10], [("highway", "footway")]),
    (7, [10, 3], [("highway", "cycleway"), ("foot", "designated")]),
    (8, [3, 10, 17, 3], [("highway", "pedestrian"), ("area", "yes")]),
    (9, [11, 12], [("highway", "service"), ("access", "private")]),
    (10, [12, 19], [("highway", "service"), ("access", "no"), ("foot", "yes")]),
    (11, [19, 26, 33], [("highway", "motorway")]),
    (12, [33, 34], [("highway", "motorway"), ("oneway", "no")]),
    (13, [26, 27], [("highway", "residential"), ("highway", "motorway")]),  # first wins
    (14, [27], [("highway", "residential")]),  # one node
    (15, [27, 28, 28, 29], [("highway", "unclassified"), ("motor_vehicle", "no")]),
    (16, [29, 36], [("building", "yes")]),
    (17, [36, 37], [("highway", "bus_stop")]),
    (18, [37, 38, 39], [("highway", "living_street"), ("maxspeed", "FR:urban")]),
    (19, [39, 40, -5], [("highway", "track"), ("oneway", "reverse")]),  # -5: negative id
    (20, [40, 41, 42, 35], [("highway", "trunk"), ("maxspeed", " 45.5 "), ("oneway", "1")]),
    (21, [], [("highway", "residential")]),
    (22, [35, 42], [("highway", "")]),
]


def write_osm(path: Path, options: str = "", header: dict[str, str] | None = None,
              ways_first: bool = False, history: bool = False,
              repeated: tuple[tuple[int, tuple[float, float]], ...] = ()) -> Path:
    """Write the extract with pyosmium (dense nodes and zlib unless ``options`` says)."""
    osm_header = osmium.io.Header()
    for key, value in (header or {}).items():
        osm_header.set(key, value)
    target = osmium.io.File(str(path), "pbf" + (f",{options}" if options else ""))
    target.has_multiple_object_versions = history
    with osmium.SimpleWriter(target, header=osm_header) as writer:
        def add_nodes() -> None:
            writer.add_node(Node(id=-5, location=(-0.57, 44.84)))
            for node_id, location in [*NODES.items(), *repeated]:
                writer.add_node(Node(id=node_id, location=location, version=1,
                                     timestamp=f"2021-0{node_id % 9 + 1}-01T00:00:00Z"))

        if not ways_first:
            add_nodes()
        for way_id, refs, tags in WAYS:
            writer.add_way(Way(id=way_id, nodes=refs, tags=tags, version=2,
                               timestamp=f"2022-{way_id % 12 + 1:02d}-0{way_id % 9 + 1}"
                                         "T12:00:00Z"))
        if ways_first:
            add_nodes()
    return path


@pytest.mark.parametrize("options", [
    "", "pbf_dense_nodes=false", "pbf_compression=none", "add_metadata=false",
    "pbf_dense_nodes=false,pbf_compression=none,add_metadata=false"])
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"{p.name}-{p.speed_kmh:g}")
def test_written_extract_equals_pyosmium(options: str, profile: Profile, tmp_path: Path) -> None:
    path = write_osm(tmp_path / "extrait.osm.pbf", options)
    ways = assert_same_ways(path, profile)
    assert_same_ways(path, profile, node_budget=10)
    # the missing node and the negative id are unlocated, as pyosmium leaves them
    missing = np.isin(ways.refs, [999, -5])
    assert missing.any() and np.all(ways.x[missing] == UNDEFINED)
    assert np.all(ways.y[missing] == UNDEFINED) and np.all(ways.x[~missing] != UNDEFINED)
    assert ways.x.min() < 0
    if profile.oneway:
        assert set(ways.directions.tolist()) == {-1, 0, 1}
    assert (ways.newest > 0) is ("add_metadata=false" not in options)


def test_written_extract_network_and_replication_date(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_osm(tmp_path / "extrait.osm.pbf",
                     header={"osmosis_replication_timestamp": "2024-03-05T06:07:08Z"})
    ways = assert_same_ways(path, DRIVE)
    assert (ways.replication, ways.newest) == ("2024-03-05T06:07:08Z", 0.0)
    for profile in (WALK, DRIVE):
        network = read_network(path, profile)
        assert_same_network(network, pyosmium_network(path, profile, monkeypatch))
        assert network.timestamp == "2024-03-05T06:07:08Z"
        assert any("nœuds de voies absents du fichier" in note for note in network.notes)


def test_benchmark_grid_equals_pyosmium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))  # the repository
    from benchmarks import bench_access
    path = tmp_path / "grille.osm.pbf"
    written = bench_access.synthetic_osm(path, side=40)
    ways = assert_same_ways(path, DRIVE)
    assert ways.sizes.size == written["ways"] and ways.highways == written["ways"]
    monkeypatch.setattr(pbf, "_LOOKUP_CHUNK", 1000)  # located a chunk at a time
    assert_same_ways(path, DRIVE, node_budget=0)  # every node block read twice
    monkeypatch.setattr(pbf, "_PROGRESS_BLOCKS", 2)
    messages: list[str] = []
    network = read_network(path, DRIVE, progress=messages.append)
    assert any(message.startswith("lecture PBF : ") for message in messages)
    assert_same_network(network, pyosmium_network(path, DRIVE, monkeypatch))


# -- hand-encoded blocks: granularity, offsets, deleted nodes, odd tag lists ------------


def varint(value: int) -> bytes:
    value &= 2**64 - 1
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    return varint(number << 3) + varint(value)


def packed(number: int, values: list[int]) -> bytes:
    return field(number, b"".join(varint(value) for value in values))


def deltas(values: list[int]) -> list[int]:
    return [zigzag(b - a) for a, b in itertools.pairwise([0, *values])]


def fileblock(kind: bytes, payload: bytes, compression: str = "zlib") -> bytes:
    if compression == "raw":
        blob = field(1, payload)
    elif compression == "lzma":
        blob = field(2, len(payload)) + field(4, lzma.compress(payload))
    else:
        blob = field(2, len(payload)) + field(3, zlib.compress(payload))
    header = field(1, kind) + field(3, len(blob))
    return len(header).to_bytes(4, "big") + header + blob


def header_block(features: tuple[str, ...] = ("OsmSchema-V0.6", "DenseNodes"),
                 replication: int | None = None) -> bytes:
    payload = b"".join(field(4, feature.encode()) for feature in features)
    payload += field(16, b"cohesion-test")
    if replication is not None:
        payload += field(32, replication)
    return fileblock(b"OSMHeader", payload)


STRINGS = [b"", b"highway", b"residential", b"oneway", b"-1", b"maxspeed", b"30",
           b"access", b"no", b"name", "Rue de l'Été".encode(), b"primary", b"yes",
           b"foot", b"junction", b"roundabout"]


def dense_group(ids: list[int], lat: list[int], lon: list[int], info: bytes = b"") -> bytes:
    return field(2, packed(1, deltas(ids)) + (field(5, info) if info else b"")
                 + packed(8, deltas(lat)) + packed(9, deltas(lon)))


def data_block(granularity: int = 1000, lat_offset: int = 123_456, lon_offset: int = -987_654,
               date_granularity: int = 500) -> bytes:
    """Two blocks with unusual parameters and fields libosmium skips.

    The first holds dense nodes; the second plain nodes, dense nodes no way uses, an
    empty group, then ways.
    """
    ids = [10, 11, 12, -3, 14, 15, 16]
    lat = [44_830_000 + 7 * i for i in range(7)]  # in granularity units
    lon = [-5_800_000 - 13 * i for i in range(7)]
    visible = [1, 1, 1, 1, 0, 1]  # node 14 deleted; the array is one short: 16 visible
    dense_info = packed(1, [1] * 7) + packed(2, deltas([3_000_000_000 + i for i in range(7)]))
    dense_info += packed(6, visible)
    dense = dense_group(ids, lat, lon, dense_info)
    plain = b""
    for node_id, shown in ((20, 1), (21, 0), (22, 1)):
        info = field(1, 1) + field(6, shown)
        plain += field(1, field(1, zigzag(node_id)) + field(4, info)
                       + field(8, zigzag(44_831_000 + node_id))
                       + field(9, zigzag(-5_790_000 - node_id)))
    unused = dense_group([500, 501], [44_000_000, 44_000_001], [-5_000_000, -5_000_001])
    ways = b""
    for way_id, refs, keys, vals, stamp in [
        (1, [10, 11, 12, 20], [1, 3], [2, 12], 3_300_000_000),
        (2, [12, -3, 14, 15], [1, 5, 9], [11, 6, 10], 100),
        (3, [15, 16, 21, 22], [1, 3, 7], [2, 4], 3_200_000_000),  # one key too many
        (4, [22, 20], [9, 1, 1], [10, 11, 2, 8], None),  # a value too many; highway twice
        (5, [20, 11], [1, 14], [2, 15], 5),
        (6, [11, 99, 10], [1, 13, 7], [2, 12, 8], 7),
    ]:
        info = field(1, 2) + (field(2, stamp) if stamp is not None else b"")
        unknown = varint(15 << 3 | 5) + bytes(4) + varint(16 << 3 | 1) + bytes(8)
        ways += field(3, field(1, way_id) + packed(2, keys) + packed(3, vals) + unknown
                      + field(4, info) + packed(8, deltas(refs)))
    table = field(1, b"".join(field(1, text) for text in STRINGS))
    parameters = (field(17, granularity) + field(18, date_granularity) + field(19, lat_offset)
                  + field(20, lon_offset) + varint(30 << 3 | 1) + bytes(8))
    first = table + field(2, dense) + parameters
    second = (table + field(2, plain) + field(2, unused) + field(2, b"") + field(2, ways)
              + parameters)
    return fileblock(b"OSMData", first) + fileblock(b"OSMData", second, "raw")


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"{p.name}-{p.speed_kmh:g}")
@pytest.mark.parametrize("parameters", [
    {}, {"granularity": 100, "lat_offset": 0, "lon_offset": 0, "date_granularity": 1000},
    {"granularity": 7, "lat_offset": -55, "lon_offset": 99_999_999_999}])
def test_encoded_blocks_equal_pyosmium(profile: Profile, parameters: dict[str, int],
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "code.osm.pbf"
    path.write_bytes(header_block() + data_block(**parameters))
    ways = assert_same_ways(path, profile)
    unlocated = set(ways.refs[ways.x == UNDEFINED].tolist())
    assert {-3, 14, 21} <= unlocated  # a negative id, deleted nodes
    assert 16 not in unlocated
    monkeypatch.setattr(pbf, "_PROGRESS_BLOCKS", 1)
    messages: list[str] = []
    assert_same_ways(path, profile, node_budget=2, say=messages.append)
    assert any(message.startswith("seconde lecture : 100 %") for message in messages)


def test_replication_timestamp_of_the_header(tmp_path: Path) -> None:
    path = tmp_path / "date.osm.pbf"
    path.write_bytes(header_block(replication=1_700_000_000) + data_block())
    assert assert_same_ways(path, WALK).replication == "2023-11-14T22:13:20Z"
    path.write_bytes(header_block(replication=0) + data_block())
    assert assert_same_ways(path, WALK).replication is None


# -- what the reader leaves to pyosmium -----------------------------------------------


@pytest.mark.parametrize("case", ["history", "feature", "lzma", "ways first", "repeated",
                                  "locations on ways", "profile"])
def test_declined_files_are_read_by_pyosmium(case: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "refuse.osm.pbf"
    profile: Profile = DRIVE
    if case == "history":
        write_osm(path, history=True)
    elif case == "feature":
        path.write_bytes(header_block(("OsmSchema-V0.6", "Nouveauté")) + data_block())
    elif case == "lzma":
        path.write_bytes(header_block() + fileblock(b"OSMData", b"\x00", "lzma"))
    elif case == "ways first":
        write_osm(path, ways_first=True)
    elif case == "repeated":
        write_osm(path, repeated=((4, (-0.5, 44.9)),))
    elif case == "locations on ways":
        write_osm(path, "locations_on_ways=true")
    else:
        class Odd(Profile):
            def way_speed(self, tags: object) -> float | None:
                return 5.0

        profile = Odd(**{**DRIVE.__dict__})
    if case == "profile":
        path = shared(SAINT_BARTHELEMY)
    reasons = {"history": "HistoricalInformation", "feature": "Nouveauté", "lzma": "lzma",
               "ways first": "nœuds placés après des voies", "repeated": "plusieurs fois",
               "locations on ways": "coordonnées sur les voies", "profile": "personnalisé"}
    with pytest.raises(PbfUnsupported, match=reasons[case]):
        read_pbf_ways(path, profile)
    messages: list[str] = []
    try:
        network = read_network(path, profile, progress=messages.append)
    except InputFileError as error:  # then pyosmium refuses it too, with the same words
        with pytest.raises(InputFileError) as expected:
            pyosmium_network(path, profile, monkeypatch)
        assert str(error) == str(expected.value)
        assert case in ("feature", "lzma", "ways first"), str(error)
        return
    assert any("lecture par pyosmium" in message for message in messages)
    assert_same_network(network, pyosmium_network(path, profile, monkeypatch))


def test_profile_keys_cover_what_profiles_read() -> None:
    """The reader gives the profile only some tags: every key it reads must be among them."""
    values = {"highway": ["residential", "cycleway", "motorway", "primary", "x", ""],
              "area": ["yes", "no"], "access": ["no", "yes", "private"],
              "foot": ["yes", "no"], "motor_vehicle": ["no", "yes"], "vehicle": ["no"],
              "motorcar": ["yes"], "maxspeed": ["30", "FR:urban"],
              "oneway": ["yes", "-1", "no", "maybe"], "junction": ["roundabout"],
              "name": ["Rue"], "surface": ["asphalt"]}

    class Recording(dict):
        def get(self, key: str, default: object = None) -> object:
            read.add(key)
            return super().get(key, default)

    rng = np.random.default_rng(0)
    for profile in PROFILES:
        keys = set(pbf._Reader(Path(), profile, print, 1).keys)
        for _ in range(2000):
            read: set[str] = set()
            tags = Recording({key: choices[rng.integers(len(choices))]
                              for key, choices in values.items() if rng.random() < 0.5})
            profile.way_speed(tags)
            profile.direction(tags)
            assert read <= keys, read - keys


# -- damaged files --------------------------------------------------------------------


def blocks(data: bytes) -> Iterator[tuple[int, int]]:
    """(offset of the blob, its size) of each file block."""
    position = 0
    while position < len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        header = data[position + 4:position + 4 + length]
        at = header.index(b"\x18") + 1  # BlobHeader.datasize, a varint
        size = shift = 0
        for byte in header[at:]:
            size |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        position += 4 + length
        yield position, size
        position += size


def damage(case: str) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        found = list(blocks(data))
        start, size = found[2]
        if case == "truncated blob":
            return data[:start + size // 2]
        if case == "bad zlib":
            middle = start + size // 2
            return (data[:middle] + bytes(b ^ 0x5A for b in data[middle:middle + 40])
                    + data[middle + 40:])
        if case == "truncated length":
            return data[:sum(found[1]) + 2]
        return data[:start] + b"\xff" * size + data[start + size:]  # garbage blob
    return apply


@pytest.mark.parametrize("case", ["truncated blob", "bad zlib", "truncated length", "garbage"])
def test_damaged_files_give_french_errors(case: str, tmp_path: Path) -> None:
    data = shared(SAINT_BARTHELEMY).read_bytes()
    path = tmp_path / "abime.osm.pbf"
    path.write_bytes(damage(case)(data))
    with pytest.raises(InputFileError) as raised:
        read_pbf_ways(path, WALK)
    error = raised.value
    assert error.kind is ErrorKind.BAD_FILE and str(path) in str(error)
    assert "fichier OpenStreetMap illisible ou tronqué (bloc PBF n° 2, octet " in str(error)
    assert error.found.startswith("PBF : ") and error.__suppress_context__
    if case == "bad zlib":
        assert "zlib" in error.found
    with pytest.raises(InputFileError, match="illisible ou tronqué") as raised:
        read_network(path, WALK)
    assert "bloc PBF n° 2" in str(raised.value)


TABLE = field(1, field(1, b"") + field(1, b"highway") + field(1, b"residential"))
WAY = packed(2, [1]) + packed(3, [2])


def way_block(*ways: bytes, table: bytes = TABLE) -> bytes:
    return table + field(2, b"".join(field(3, way) for way in ways))


def raw_fileblock(header: bytes, blob: bytes) -> bytes:
    return len(header).to_bytes(4, "big") + header + blob


DAMAGED = {  # a block after the header → the words of the error
    "truncated refs": (way_block(WAY + field(8, b"\x80\x80")), "varint tronqué"),
    "long varint": (way_block(WAY + field(8, b"\xff" * 11 + b"\x01")), "plus de 10 octets"),
    "string index": (way_block(packed(2, [7]) + packed(3, [0])), "hors de la table"),
    "wire type": (way_block(WAY + varint(9 << 3 | 3)), "champ protobuf invalide"),
    "block wire type": (varint(5 << 3 | 7), "type de champ protobuf inconnu"),
    "overlong field": (field(2, b"abcdef")[:-2], "plus long que son message"),
    "long key": (way_block(WAY + b"\xff" * 11), "plus de 10 octets"),
    "truncated ids": (field(2, field(2, field(1, b"\x80"))), "varint tronqué"),
    "not UTF-8": (way_block(WAY, table=field(1, field(1, b"") + field(1, b"highway")
                                             + field(1, b"r\xe9sidentiel"))), "non UTF-8"),
    "dense without lat": (field(2, field(2, packed(1, [2, 2]))), "sans latitude"),
    "node without lon": (field(2, field(1, field(1, 2) + field(8, 4))), "sans latitude"),
}
CORRUPT_BLOBS = {
    "raw size": (field(2, 99) + field(3, zlib.compress(b"abc")), "octets décompressés sur"),
    "no data": (field(2, 3), "bloc sans données"),
    "no raw size": (field(3, zlib.compress(b"abc")), "taille décompressée"),
}
DECLINED = {  # a block after the header → the words of PbfUnsupported
    "two tables": (TABLE + TABLE, "plusieurs tables"),
    "long string": (field(1, field(1, b"") + field(1, b"x" * 1025)), "1 024 octets"),
    "table field": (field(1, field(2, b"x")), "contenu inattendu"),
    "group kind": (field(2, field(9, b"")), "type inconnu"),
    "mixed group": (field(2, field(3, WAY) + field(4, b"")), "contenu inattendu"),
    "unpacked dense": (field(2, field(2, field(1, 2))), "non compactés"),
    "unpacked visible": (field(2, field(2, packed(1, [2]) + field(5, field(6, 1))
                                        + packed(8, [2]) + packed(9, [2]))), "non compactés"),
}


@pytest.mark.parametrize("case", [*DAMAGED, *CORRUPT_BLOBS, "header size", "blob size"])
def test_malformed_blocks_give_french_errors(case: str, tmp_path: Path) -> None:
    path = tmp_path / "mal.osm.pbf"
    if case in DAMAGED:
        block, words = DAMAGED[case]
        path.write_bytes(header_block() + fileblock(b"OSMData", block))
    elif case in CORRUPT_BLOBS:
        blob, words = CORRUPT_BLOBS[case]
        path.write_bytes(header_block()
                         + raw_fileblock(field(1, b"OSMData") + field(3, len(blob)), blob))
    elif case == "header size":
        path.write_bytes(header_block() + (70_000).to_bytes(4, "big") + bytes(70_000))
        words = "en-tête de bloc de 70 000 octets"
    else:
        path.write_bytes(header_block()
                         + raw_fileblock(field(1, b"OSMData") + field(3, 2**25 + 1), b""))
        words = "bloc annoncé de 33 554 433 octets"
    with pytest.raises(InputFileError, match=r"bloc PBF n° 1, octet") as raised:
        read_pbf_ways(path, WALK)
    assert words in raised.value.found


@pytest.mark.parametrize("case", [*DECLINED, "blob type"])
def test_unusual_blocks_are_declined(case: str, tmp_path: Path) -> None:
    path = tmp_path / "rare.osm.pbf"
    if case == "blob type":
        path.write_bytes(header_block() + fileblock(b"OSMIndex", TABLE))
        words = "OSMIndex"
    else:
        block, words = DECLINED[case]
        path.write_bytes(header_block() + fileblock(b"OSMData", block))
    with pytest.raises(PbfUnsupported, match=words):
        read_pbf_ways(path, WALK)


def test_blocks_without_usable_ways(tmp_path: Path) -> None:
    path = tmp_path / "vide.osm.pbf"
    named = packed(2, [1]) + packed(3, [2]) + packed(8, [2])  # one node: not kept
    others = field(1, field(1, b"") + field(1, b"name") + field(1, b"Rue"))
    path.write_bytes(header_block() + fileblock(b"OSMData", field(1, b"") + field(2, field(2, b"")))
                     + fileblock(b"OSMData", way_block(named))
                     + fileblock(b"OSMData", way_block(WAY, table=others)))
    ways = assert_same_ways(path, WALK)
    assert (ways.highways, ways.sizes.size) == (1, 0)
    assert_same_ways(path, WALK, node_budget=0)
    with pytest.raises(InputFileError, match="aucune voie praticable à pied"):
        read_network(path, WALK)


def test_distinct_rows_fold_large_values() -> None:
    rows = np.array([[1, 2**40, 0, 3], [1, 2**40, 0, 3], [2, 5, 0, 2**45], [1, 5, 0, 3]])
    distinct, which = pbf._distinct(rows)
    assert sorted(map(tuple, distinct.tolist())) == sorted({tuple(r) for r in rows.tolist()})
    np.testing.assert_array_equal(distinct[which], rows)
