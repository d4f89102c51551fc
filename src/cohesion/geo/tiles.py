"""Mapbox vector tiles of the territories' contours, for the map page.

A GeoJSON of the 35,000 communes (a million vertices) takes seconds to parse and cut
in the browser. Vector tiles move that work to the server, once per zoom level: each
tile holds only the contours that cross it, simplified to the tile's resolution, in
integer tile coordinates, so the national map of the communes weighs a few hundred
kilobytes and is drawn at once. Values are joined by the browser on the ``code``
property (feature-state), as with ``/api/geometry``.

The encoder follows the Mapbox Vector Tile specification 2.1 (one layer named
``territoires``, extent 4096, polygon features with a ``code`` property; names come
with the values); the
geometry commands of every feature of a tile are built with numpy at once.

Functions here are framework-free: :class:`TileSet` takes a function that returns the
contours of a level and vintage (``Warehouse.geometries``) and answers tile bytes.
"""

from __future__ import annotations

import gzip
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from cohesion.errors import NotFoundError

EXTENT = 4096
BUFFER = 64
LAYER = "territoires"
#: Simplification tolerance, in tile units (8 units make a pixel on 512 px tiles).
TOLERANCE_UNITS = 6.0
#: Up to this zoom, contours simplified for the whole level are kept; above it, only the
#: contours of each tile are simplified, as the tile is made.
CACHED_ZOOM = 7
#: From this zoom on, contours are used as stored (no simplification).
FULL_DETAIL_ZOOM = 12
MAX_ZOOM = 14
EARTH_RADIUS = 6378137.0
HALF_WORLD = math.pi * EARTH_RADIUS
MAX_LATITUDE = 85.0511287798

Loader = Callable[[str, int], pd.DataFrame]


class TileError(NotFoundError):
    """A tile that does not exist (zoom or column/row out of range)."""


def mercator(geometries: np.ndarray) -> np.ndarray:
    """Project longitude/latitude geometries to Web Mercator (EPSG:3857), in metres."""
    def project(coordinates: np.ndarray) -> np.ndarray:
        lon = np.radians(coordinates[:, 0])
        lat = np.radians(np.clip(coordinates[:, 1], -MAX_LATITUDE, MAX_LATITUDE))
        return np.column_stack((EARTH_RADIUS * lon,
                                EARTH_RADIUS * np.log(np.tan(np.pi / 4 + lat / 2))))

    return shapely.transform(geometries, project)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web Mercator bounds (minx, miny, maxx, maxy) of tile ``z/x/y`` (XYZ scheme)."""
    if not 0 <= z <= MAX_ZOOM or not (0 <= x < 2**z and 0 <= y < 2**z):
        raise TileError(f"no tile {z}/{x}/{y} (zoom 0 to {MAX_ZOOM}, x and y below 2^z)")
    size = 2 * HALF_WORLD / 2**z
    minx = -HALF_WORLD + x * size
    maxy = HALF_WORLD - y * size
    return minx, maxy - size, minx + size, maxy


def tiles_covering(west: float, south: float, east: float, north: float,
                   z: int) -> list[tuple[int, int]]:
    """Column and row of the tiles of zoom ``z`` that cover a longitude/latitude box.

    Examples
    --------
    >>> tiles_covering(-5.5, 41.2, 9.8, 51.2, 5)
    [(15, 10), (15, 11), (16, 10), (16, 11)]
    """
    def column(lon: float) -> int:
        return min(2**z - 1, max(0, int((lon + 180) / 360 * 2**z)))

    def row(lat: float) -> int:
        lat = math.radians(max(-MAX_LATITUDE, min(MAX_LATITUDE, lat)))
        y = (1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2
        return min(2**z - 1, max(0, int(y * 2**z)))

    return [(x, y) for x in range(column(west), column(east) + 1)
            for y in range(row(north), row(south) + 1)]


@dataclass
class _Level:
    """The contours of one level and vintage, projected, indexed, simplified by zoom."""

    codes: np.ndarray
    geometries: np.ndarray
    tree: shapely.STRtree
    simplified: dict[int, np.ndarray] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at_zoom(self, z: int, index: np.ndarray) -> np.ndarray:
        """Contours ``index`` simplified to a fraction of a pixel at zoom ``z``."""
        if z >= FULL_DETAIL_ZOOM:
            return self.geometries[index]
        tolerance = 2 * HALF_WORLD / 2**z / EXTENT * TOLERANCE_UNITS
        if z > CACHED_ZOOM:
            return shapely.simplify(self.geometries[index], tolerance, preserve_topology=True)
        with self.lock:
            if z not in self.simplified:
                self.simplified[z] = shapely.simplify(self.geometries, tolerance,
                                                      preserve_topology=True)
            return self.simplified[z][index]


class TileSet:
    """Vector tiles of every level and vintage, computed on demand and kept.

    Parameters
    ----------
    load : callable
        ``load(level, vintage)`` returns the contours as a DataFrame with ``code`` and
        ``geometry`` (shapely, longitude/latitude).
    budget : int
        Bytes of encoded tiles kept in memory (least recently used ones are dropped).
    """

    def __init__(self, load: Loader, budget: int = 256 * 2**20) -> None:
        self.load = load
        self.budget = budget
        self.levels: dict[tuple[str, int, object], _Level] = {}
        self.preparing: dict[tuple[str, int, object], threading.Lock] = {}
        self.tiles: OrderedDict[tuple, bytes] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def level(self, level: str, vintage: int, version: object = None) -> _Level:
        """The prepared contours of a level (projected and indexed once).

        Each level is prepared under its own lock, so that the seconds it takes to
        prepare the communes never hold back the tiles of other levels or cached ones.
        """
        key = (level, vintage, version)
        with self.lock:
            prepared = self.levels.get(key)
            if prepared is not None:
                return prepared
            self.levels = {k: v for k, v in self.levels.items() if k[2] == version}
            self.preparing = {k: v for k, v in self.preparing.items() if k[2] == version}
            preparing = self.preparing.setdefault(key, threading.Lock())
        with preparing:
            with self.lock:
                prepared = self.levels.get(key)
            if prepared is None:
                prepared = self._prepare(level, vintage)
                with self.lock:
                    self.levels[key] = prepared
            return prepared

    def _prepare(self, level: str, vintage: int) -> _Level:
        shapes = self.load(level, vintage)
        if shapes.empty:
            raise TileError(f"no contours for level {level} in {vintage}")
        geometries = mercator(shapes["geometry"].to_numpy())
        return _Level(codes=shapes["code"].to_numpy(dtype=object), geometries=geometries,
                      tree=shapely.STRtree(geometries))

    def cached(self, level: str, vintage: int, z: int, x: int, y: int,
               version: object = None) -> bytes | None:
        """The tile if it was already made, else None (never computes)."""
        key = (level, vintage, version, z, x, y)
        with self.lock:
            if key in self.tiles:
                self.tiles.move_to_end(key)
                return self.tiles[key]
        return None

    def tile(self, level: str, vintage: int, z: int, x: int, y: int,
             version: object = None) -> bytes:
        """One tile, gzip-compressed (cached)."""
        found = self.cached(level, vintage, z, x, y, version)
        if found is not None:
            return found
        body = gzip.compress(encode_tile(self.level(level, vintage, version), z, x, y),
                             compresslevel=5)
        key = (level, vintage, version, z, x, y)
        with self.lock:
            if key not in self.tiles:
                self.tiles[key] = body
                self.size += len(body)
            while self.size > self.budget and self.tiles:
                _, dropped = self.tiles.popitem(last=False)
                self.size -= len(dropped)
        return body


def encode_tile(prepared: _Level, z: int, x: int, y: int) -> bytes:
    """The vector tile ``z/x/y`` of prepared contours (uncompressed protobuf bytes)."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    margin = (maxx - minx) * BUFFER / EXTENT
    found = np.sort(prepared.tree.query(shapely.box(minx - margin, miny - margin,
                                                    maxx + margin, maxy + margin)))
    if found.size == 0:
        return b""
    clipped = shapely.clip_by_rect(prepared.at_zoom(z, found), minx - margin, miny - margin,
                                   maxx + margin, maxy + margin)
    scale = EXTENT / (maxx - minx)
    clipped = shapely.transform(clipped, lambda c: np.column_stack(
        (np.rint((c[:, 0] - minx) * scale), np.rint((maxy - c[:, 1]) * scale))))
    clipped, found = _polygons_only(clipped, found)
    if not len(found):
        return b""
    commands, feature_of_slot = _polygon_commands(clipped)
    if commands.size == 0:
        return b""
    return _layer_bytes(prepared, found, commands, feature_of_slot)


def _polygons_only(geometries: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep polygonal parts (a clip may give lines or points along the tile's edge)."""
    kinds = shapely.get_type_id(geometries)
    keep = np.isin(kinds, (3, 6)) & ~shapely.is_empty(geometries)
    mixed = np.flatnonzero(kinds == 7)
    for position in mixed:
        parts = shapely.get_parts(geometries[position])
        polygons = [p for p in parts if shapely.get_type_id(p) in (3, 6)]
        if polygons:
            geometries[position] = shapely.multipolygons(
                shapely.get_parts(np.array(polygons, dtype=object)))
            keep[position] = True
    return geometries[keep], index[keep]


def _zigzag(values: np.ndarray) -> np.ndarray:
    return ((values << 1) ^ (values >> 63)).astype(np.uint64)


def _polygon_commands(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MVT geometry commands of polygons, all features at once.

    Returns the command integers of every feature, concatenated, and the feature index
    (position in ``geometries``) of each integer. Rings lose their closing point and
    repeated points; rings of fewer than 3 points or of zero area are dropped (with
    the holes of a dropped exterior ring); exterior rings get a positive area in tile
    coordinates (clockwise with y down) and holes a negative one, as the specification
    requires.
    """
    _, coordinates, (ring_offsets, polygon_offsets, part_offsets) = \
        shapely.to_ragged_array(_as_multipolygons(geometries))
    points = coordinates.astype(np.int64)
    ring_count = len(ring_offsets) - 1
    ring_of_point = np.repeat(np.arange(ring_count), np.diff(ring_offsets))
    polygon_of_ring = np.repeat(np.arange(len(polygon_offsets) - 1), np.diff(polygon_offsets))
    feature_of_polygon = np.repeat(np.arange(len(part_offsets) - 1), np.diff(part_offsets))
    exterior = np.zeros(ring_count, dtype=bool)
    exterior[polygon_offsets[:-1][np.diff(polygon_offsets) > 0]] = True

    # drop each ring's closing point and consecutive repeated points
    keep = np.ones(len(points), dtype=bool)
    keep[ring_offsets[1:] - 1] = False
    same = np.zeros(len(points), dtype=bool)
    same[1:] = (points[1:] == points[:-1]).all(axis=1) & (ring_of_point[1:] == ring_of_point[:-1])
    keep &= ~same
    points, ring_of_point = points[keep], ring_of_point[keep]
    lengths = np.bincount(ring_of_point, minlength=ring_count)

    # signed area of each ring (shoelace), with each ring's last point joined to its first
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    following = np.arange(1, len(points) + 1)
    ends = starts + lengths - 1
    following[ends[lengths > 0]] = starts[lengths > 0]
    following = following[: len(points)]
    cross = points[:, 0] * points[following, 1] - points[following, 0] * points[:, 1]
    area = np.bincount(ring_of_point, weights=cross, minlength=ring_count)
    valid = (lengths >= 3) & (area != 0)
    polygon_valid = np.zeros(len(polygon_offsets) - 1, dtype=bool)
    polygon_valid[polygon_of_ring[exterior & valid]] = True
    valid &= polygon_valid[polygon_of_ring]

    # orientation: reverse the rings whose sign is wrong
    reverse = valid & ((exterior & (area < 0)) | (~exterior & (area > 0)))
    order = np.arange(len(points))
    flip = reverse[ring_of_point]
    position = order - starts[ring_of_point]
    order[flip] = (starts + lengths - 1)[ring_of_point[flip]] - position[flip]
    points = points[order]
    kept_point = valid[ring_of_point]
    points, ring_of_point = points[kept_point], ring_of_point[kept_point]
    rings = np.flatnonzero(valid)
    if rings.size == 0:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    lengths = lengths[rings]
    feature_of_ring = feature_of_polygon[polygon_of_ring[rings]]

    # deltas from the cursor, which starts at (0, 0) for every feature
    deltas = np.diff(points, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    ring_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    first_of_feature = ring_starts[np.concatenate(
        ([True], feature_of_ring[1:] != feature_of_ring[:-1]))]
    deltas[first_of_feature] = points[first_of_feature]

    # command stream: MoveTo(1) x y, LineTo(n - 1) x y…, ClosePath, per ring
    sizes = 2 * lengths + 3
    slot_starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    commands = np.zeros(int(sizes.sum()), dtype=np.uint64)
    commands[slot_starts] = 9
    commands[slot_starts + 3] = (2 | ((lengths - 1) << 3)).astype(np.uint64)
    commands[slot_starts + sizes - 1] = 15
    index_in_ring = np.arange(len(points)) - np.repeat(ring_starts, lengths)
    slot_x = np.repeat(slot_starts, lengths) + np.where(index_in_ring == 0, 1,
                                                        2 * index_in_ring + 2)
    commands[slot_x] = _zigzag(deltas[:, 0])
    commands[slot_x + 1] = _zigzag(deltas[:, 1])
    return commands, np.repeat(feature_of_ring, sizes)


def _as_multipolygons(geometries: np.ndarray) -> np.ndarray:
    """Polygons as one-part multipolygons, so that the ragged arrays have one shape."""
    single = shapely.get_type_id(geometries) == 3
    if single.any():
        geometries = geometries.copy()
        geometries[single] = shapely.multipolygons(
            [[polygon] for polygon in geometries[single]])
    return geometries


def _varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varint bytes of unsigned integers, and the byte length of each."""
    values = values.astype(np.uint64)
    lengths = np.ones(len(values), dtype=np.int64)
    for shift in (7, 14, 21, 28, 35):
        lengths += values >= (np.uint64(1) << np.uint64(shift))
    groups = (values[:, None] >> (np.arange(6, dtype=np.uint64) * np.uint64(7))) \
        & np.uint64(0x7F)
    more = np.arange(6)[None, :] < (lengths[:, None] - 1)
    table = (groups | (more.astype(np.uint64) << np.uint64(7))).astype(np.uint8)
    used = np.arange(6)[None, :] < lengths[:, None]
    return table[used], lengths


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _layer_bytes(prepared: _Level, found: np.ndarray, commands: np.ndarray,
                 feature_of_slot: np.ndarray) -> bytes:
    data, byte_lengths = _varints(commands)
    features_present = np.unique(feature_of_slot)
    slot_bounds = np.searchsorted(feature_of_slot, np.append(features_present,
                                                             features_present[-1] + 1))
    byte_offsets = np.concatenate(([0], np.cumsum(byte_lengths)))
    buffer = data.tobytes()
    parts: list[bytes] = []
    values: list[bytes] = []
    for number, feature in enumerate(features_present):
        start = byte_offsets[slot_bounds[number]]
        end = byte_offsets[slot_bounds[number + 1]]
        source = found[feature]
        tags = _field(2, b"\x00" + _varint(number))  # key 0 (code) → value n
        geometry = buffer[start:end]
        parts.append(_field(2, tags + b"\x18\x03" + _varint(4 << 3 | 2)
                            + _varint(len(geometry)) + geometry))
        values.append(_field(4, _field(1, str(prepared.codes[source]).encode())))
    layer = (b"\x78\x02" + _field(1, LAYER.encode()) + b"".join(parts)
             + _field(3, b"code") + b"".join(values)
             + b"\x28" + _varint(EXTENT))
    return _field(3, layer)
