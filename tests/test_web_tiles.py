"""Vector tiles of the contours: hand-made polygons through the encoder and back."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import shapely

from cohesion.geo.tiles import EXTENT, TileError, TileSet, tile_bounds, tiles_covering


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        shift += 7
        if byte < 0x80:
            return value, position


def _fields(data: bytes) -> list[tuple[int, object]]:
    """(field number, value) of a protobuf message: ints or bytes."""
    found, position = [], 0
    while position < len(data):
        key, position = _varint(data, position)
        if key & 7 == 0:
            value, position = _varint(data, position)
        else:
            length, position = _varint(data, position)
            value, position = data[position:position + length], position + length
        found.append((key >> 3, value))
    return found


def _packed(data: bytes) -> list[int]:
    values, position = [], 0
    while position < len(data):
        value, position = _varint(data, position)
        values.append(value)
    return values


def decode(tile: bytes) -> dict[str, list[list[list[tuple[int, int]]]]]:
    """Code → rings (tile coordinates) of every feature of the ``territoires`` layer."""
    (number, layer), = _fields(tile)
    assert number == 3
    fields = _fields(layer)
    assert (15, 2) in fields and (5, EXTENT) in fields and (1, b"territoires") in fields
    keys = [v for n, v in fields if n == 3]
    values = [_fields(v)[0][1].decode() for n, v in fields if n == 4]
    assert keys == [b"code"]
    features = {}
    for feature in (_fields(v) for n, v in fields if n == 2):
        parts = dict(feature)
        assert parts[3] == 3  # polygon
        tags = _packed(parts[2])
        commands = _packed(parts[4])
        rings, x, y, i = [], 0, 0, 0
        while i < len(commands):
            command, count = commands[i] & 7, commands[i] >> 3
            i += 1
            if command == 7:
                continue
            if command == 1:
                rings.append([])
            for _ in range(count):
                dx, dy = commands[i], commands[i + 1]
                x += (dx >> 1) ^ -(dx & 1)
                y += (dy >> 1) ^ -(dy & 1)
                rings[-1].append((x, y))
                i += 2
        features[values[tags[1]]] = rings
    return features


def _area(ring: list[tuple[int, int]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1],
                                                               strict=True)) / 2


@pytest.fixture
def tileset() -> TileSet:
    """Two territories near Paris: a square with a hole, and a small square."""
    shell = [(2.0, 48.0), (2.6, 48.0), (2.6, 48.6), (2.0, 48.6)]
    hole = [(2.2, 48.2), (2.3, 48.2), (2.3, 48.3), (2.2, 48.3)]
    shapes = pd.DataFrame({"code": ["A", "B"], "geometry": [
        shapely.Polygon(shell, [hole]), shapely.box(2.7, 48.1, 2.8, 48.2)]})
    return TileSet(lambda level, vintage: shapes)


def test_tile_round_trip_keeps_codes_holes_and_orientation(tileset: TileSet) -> None:
    (x, y), = tiles_covering(2.0, 48.0, 2.8, 48.6, 6)
    features = decode(gzip.decompress(tileset.tile("COM", 2026, 6, x, y)))
    assert set(features) == {"A", "B"}
    shell, hole = features["A"]
    assert len(shell) == 4 and len(hole) == 4  # closing points are implied
    assert _area(shell) > 0 > _area(hole)  # exterior clockwise with y down, holes opposite
    minx, _, maxx, _ = tile_bounds(6, x, y)
    # longitude 2.0° lands where the Web Mercator transform puts it in the tile
    expected = (2.0 * np.pi / 180 * 6378137.0 - minx) / (maxx - minx) * EXTENT
    assert min(px for px, _ in shell) == pytest.approx(expected, abs=1)


def test_tiles_outside_the_data_are_empty_and_bad_tiles_are_refused(tileset: TileSet) -> None:
    assert gzip.decompress(tileset.tile("COM", 2026, 6, 0, 0)) == b""
    with pytest.raises(TileError):
        tileset.tile("COM", 2026, 3, 8, 0)
    with pytest.raises(TileError):
        tileset.tile("COM", 2026, 15, 0, 0)


def test_clipped_tiles_keep_every_territory_crossing_them(tileset: TileSet) -> None:
    # at zoom 10 the big square spans several tiles: each holds its clipped part
    tiles = tiles_covering(2.0, 48.0, 2.6, 48.6, 10)
    assert len(tiles) > 4
    seen = [decode(gzip.decompress(tileset.tile("COM", 2026, 10, x, y))) for x, y in tiles]
    assert all("A" in features for features in seen)
    assert sum("B" in features for features in seen) >= 1
