"""A vectorised reader of OpenStreetMap PBF files, for :mod:`cohesion.access.network`.

pyosmium hands every way node to Python as two objects (a ``NodeRef`` and its
``Location``): about 2 µs per node, most of the time of a network read. This module
reads the same file with numpy instead, decoding the large arrays of each block in a
few vectorised passes, and returns the very arrays the pyosmium path builds.

The format (https://wiki.openstreetmap.org/wiki/PBF_Format)
------------------------------------------------------------
A ``.osm.pbf`` file is a sequence of *file blocks*: a 4-byte big-endian length, a
``BlobHeader`` message of that length (its ``type``, ``OSMHeader`` for the first block
and ``OSMData`` for the others, and the ``datasize`` of what follows), then a ``Blob``:
its payload ``raw``, or ``zlib_data`` with the ``raw_size`` it inflates to (lzma, lz4
and zstd exist too; at most 32 MiB once inflated).

Messages are Protocol Buffers (https://protobuf.dev/programming-guides/encoding/): a
sequence of fields, each a *key* varint ``field number << 3 | wire type`` then its
value: a varint (wire type 0), 8 or 4 bytes (1 and 5), or a varint length and that
many bytes (2: strings, sub-messages and *packed* arrays, i.e. varints end to end).
A varint holds 7 bits per byte, least significant group first; the high bit of a byte
says that another one follows. ``sint64`` values are zigzag encoded (0, -1, 1, -2… as
0, 1, 2, 3…) and most arrays of the format hold *deltas*, each value being the
difference from the previous one.

- ``HeaderBlock``: ``required_features`` (a reader must refuse a file needing a feature
  it lacks: ``HistoricalInformation``, for instance), ``osmosis_replication_timestamp``
  (the date of the data, in seconds).
- ``PrimitiveBlock``: a ``stringtable`` (every key, value and user name of the block,
  referred to by index), ``granularity`` (nanodegrees per coordinate unit, 100 by
  default), ``lat_offset`` and ``lon_offset`` (nanodegrees), ``date_granularity``
  (milliseconds per timestamp unit, 1000 by default), and ``primitivegroup`` messages,
  each of one kind of object:

  - ``dense``: a ``DenseNodes`` message, three packed delta-coded ``sint64`` arrays
    ``id``, ``lat``, ``lon`` (and ``denseinfo``, whose ``visible`` array marks deleted
    nodes);
  - ``nodes``: ``Node`` messages (``id``, ``lat``, ``lon``, not delta-coded);
  - ``ways``: ``Way`` messages, each with packed ``keys`` and ``vals`` (string table
    indices), an ``info`` (``timestamp``…) and its node ids ``refs``, delta-coded
    within the way;
  - ``relations`` (skipped here).

A node's longitude in 1e-7 degree, the fixed-point unit of libosmium and so of
pyosmium's ``Location.x``, is ``(lon × granularity + lon_offset) / 100``, truncated
toward zero and cast to a 32-bit integer: computed here in the same integer arithmetic.

How it reads
------------
Everything large is decoded with whole-block numpy operations: the ends of the varints
of a packed array are the bytes below 0x80, their 7-bit groups are combined a byte
rank at a time, deltas are undone with cumulative sums (reset at each way by
subtracting the sum reached before it). Even the sequence of ``Way`` messages of a
group is found without a Python loop: every byte holding the ``Way`` key is a candidate
start, each candidate points to the one after its message, and the chain that starts
at the group's first byte is followed by pointer doubling (log₂ of the number of ways
steps). The fields of all the ways of a group are then located together, one field
rank at a time. A travel profile reads a handful of tags: each way is reduced to the
values of those keys, and the profile judges each distinct combination once.

Memory. Node coordinates are kept (id, x, y: **16 bytes per node**) while their number
stays under ``node_budget`` (2^26 by default, 1 GiB), then looked up for the way nodes
with a binary search. Past the budget (a national file: France has about 500 M nodes,
8 GB at 16 bytes), the reader switches to two passes: the nodes already kept are
filtered down to those the kept ways use, and the remaining node blocks are read again
after the ways, keeping only the way nodes (16 bytes per distinct way node, plus 8 for
the sorted set of their ids). The price is inflating those blocks twice: on a 1 M-node
file read entirely in two passes, about 20 % more time. One pass is kept below the
budget because it is the fastest there. Whatever the mode, the result holds 16 bytes
per way node (``refs``, ``x``, ``y``), and blocks are decoded one at a time.

Exactly as pyosmium's ``FileProcessor.with_locations()`` does, a way node missing from
the file, or with a negative id (pyosmium indexes only positive ids), or deleted, gets
libosmium's undefined location (x = y = 2^31 - 1), which
:func:`cohesion.access.network.read_network` treats as missing.

What this reader leaves to pyosmium
-----------------------------------
It raises :class:`PbfUnsupported` (and :mod:`~cohesion.access.network` then reads the
file with pyosmium) for anything outside the common case, rather than guess what
libosmium would make of it: required features other than ``OsmSchema-V0.6`` and
``DenseNodes``, lzma, lz4 or zstd blobs, blob types other than ``OSMHeader`` then
``OSMData``, ways carrying their own coordinates (``LocationsOnWays``) or unpacked
repeated fields, nodes that come after ways, node ids repeated in the file, a group
holding several kinds of objects, and travel profiles whose judgement of a way is not
:class:`~cohesion.access.profiles.Profile`'s own. A damaged file (truncated block,
corrupt zlib stream, malformed message) raises
:class:`~cohesion.errors.InputFileError`, with the block number and its byte offset.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cohesion.access.profiles import Profile
from cohesion.errors import InputFileError

__all__ = ["NODE_BUDGET", "UNDEFINED", "PbfUnsupported", "PbfWays", "read_pbf_ways"]

#: libosmium's undefined coordinate, the ``x`` and ``y`` of a node it does not know.
UNDEFINED = 2**31 - 1
#: Nodes whose coordinates are kept in the first pass (16 bytes each, 1 GiB): past
#: them, the other node blocks are read again, for the way nodes only.
NODE_BUDGET = 2**26
#: What a PBF file must be, as said to users.
EXPECTED_PBF = "un fichier OpenStreetMap PBF (.osm.pbf) complet"

_MAX_BLOB_HEADER = 64 * 1024
_MAX_BLOB = 32 * 1024 * 1024
#: libosmium refuses longer strings (osmium::max_osm_string_length).
_MAX_STRING = 256 * 4
_KNOWN_FEATURES = frozenset({"OsmSchema-V0.6", "DenseNodes"})
_COMPRESSIONS = {4: "lzma", 5: "bzip2", 6: "lz4", 7: "zstd"}
#: Way nodes located at a time (bounds the temporary arrays to about 100 MiB).
_LOOKUP_CHUNK = 2**22
#: Blocks between two progress messages (a few million objects).
_PROGRESS_BLOCKS = 400

# One-byte keys (field number << 3 | wire type) of the fields read.
_KEY_STRING = 0x0A  # StringTable.s, PrimitiveBlock.stringtable: 1, bytes
_GROUP_NODES, _GROUP_DENSE, _GROUP_WAYS = 0x0A, 0x12, 0x1A  # PrimitiveGroup fields 1-3
_GROUP_OTHERS = frozenset({0x22, 0x2A})  # relations, changesets: skipped
_WAY_KEYS, _WAY_VALS, _WAY_INFO, _WAY_REFS = 0x12, 0x1A, 0x22, 0x42
#: Way fields this reader does not decode: unpacked keys, vals, refs; lat, lon.
_WAY_REFUSED = (0x10, 0x18, 0x40, 0x48, 0x4A, 0x50, 0x52)
_NODE_ID, _NODE_INFO, _NODE_LAT, _NODE_LON = 0x08, 0x22, 0x40, 0x48
_INFO_TIMESTAMP, _INFO_VISIBLE = 0x10, 0x30


class PbfUnsupported(Exception):
    """A file this reader leaves to pyosmium; the message says why, in French."""


class _Corrupt(Exception):
    """A damaged block; the reader adds the block number and offset."""


@dataclass(frozen=True, eq=False)
class PbfWays:
    """The ways a profile may use, as :mod:`cohesion.access.network` collects them.

    Attributes
    ----------
    refs : ndarray of int64
        OSM id of every node of the kept ways, way after way.
    x, y : ndarray of int32
        Their coordinates in 1e-7 degree (:data:`UNDEFINED` when unknown).
    sizes : ndarray of int64
        Number of nodes of each kept way.
    speeds : ndarray of float64
        Speed of each kept way, km/h.
    directions : ndarray of int8
        Its directions (:meth:`~cohesion.access.profiles.Profile.direction`).
    highways : int
        Number of ways with a ``highway`` tag read.
    newest : float
        Newest timestamp of those ways (POSIX seconds, 0 if none), when the header has
        no replication timestamp; 0 otherwise.
    replication : str or None
        The header's ``osmosis_replication_timestamp`` (ISO 8601), if any.
    """

    refs: np.ndarray
    x: np.ndarray
    y: np.ndarray
    sizes: np.ndarray
    speeds: np.ndarray
    directions: np.ndarray
    highways: int
    newest: float
    replication: str | None


def read_pbf_ways(path: Path | str, profile: Profile,
                  say: Callable[[str], None] | None = None,
                  node_budget: int = NODE_BUDGET) -> PbfWays:
    """Read the ``highway`` ways a profile may use from an OSM PBF file.

    Parameters
    ----------
    path : Path or str
        A ``.osm.pbf`` file.
    profile : Profile
        The travel profile that judges each way.
    say : callable, optional
        Called with short French progress messages on large files.
    node_budget : int, optional
        Node coordinates kept in the first pass before switching to two passes.

    Returns
    -------
    PbfWays
        What pyosmium's ``FileProcessor`` path of
        :func:`~cohesion.access.network.read_network` collects, array for array.

    Raises
    ------
    PbfUnsupported
        For a file or a profile this reader leaves to pyosmium.
    InputFileError
        For a damaged file.
    """
    if (type(profile).way_speed is not Profile.way_speed
            or type(profile).direction is not Profile.direction):
        raise PbfUnsupported("profil de déplacement personnalisé")
    reader = _Reader(Path(path), profile, say or (lambda message: None), node_budget)
    return reader.read()


# -- protobuf, one message at a time (headers, blocks: a few fields each) --------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Corrupt("entier varint tronqué")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes, start: int = 0, end: int | None = None
            ) -> Iterator[tuple[int, int, int]]:
    """``(key, value, end)`` of each field: the varint value, or the payload start.

    For a varint field ``end`` is the position after it; for a length-delimited one,
    the payload is ``data[value:end]``.
    """
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield key, value, pos
            continue
        if wire == 2:
            length, value = _varint(data, pos)
            pos = value + length
        elif wire in (1, 5):
            value, pos = pos, pos + (8 if wire == 1 else 4)
        else:
            raise _Corrupt(f"type de champ protobuf inconnu ({wire})")
        if pos > end:
            raise _Corrupt("champ protobuf plus long que son message")
        yield key, value, pos


def _int32(value: int) -> int:
    """A varint read as protobuf ``int32`` (its low 32 bits, signed)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _int64(value: int) -> int:
    """A varint read as protobuf ``int64``."""
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value


# -- protobuf, vectorised -------------------------------------------------------------


def _varint_at(buf: np.ndarray, pos: np.ndarray, strict: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """The varints starting at each position of ``pos``, and the positions after them.

    Bytes past the buffer read as its last byte (``mode="clip"``): a varint running
    off its message is then caught by the caller's bounds check. A varint of more than
    10 bytes is an error, or, unless ``strict``, has -1 as the position after it.
    """
    byte = np.take(buf, pos, mode="clip")
    value = (byte & 0x7F).astype(np.uint64)
    after = pos + 1
    more = np.flatnonzero(byte >= 0x80)
    shift = 7
    while more.size:
        if shift > 63:
            if not strict:
                after[more] = -1
                break
            raise _Corrupt("entier varint de plus de 10 octets")
        byte = np.take(buf, after[more], mode="clip")
        value[more] |= (byte & 0x7F).astype(np.uint64) << np.uint64(shift)
        after[more] += 1
        more = more[byte >= 0x80]
        shift += 7
    return value, after


def _varints(data: np.ndarray) -> np.ndarray:
    """Every varint of a packed array (uint64), decoded a byte rank at a time."""
    ends = np.flatnonzero(data < 0x80)
    if data.size and (not ends.size or ends[-1] != data.size - 1):
        raise _Corrupt("tableau d'entiers varint tronqué")
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    value = (data[starts] & 0x7F).astype(np.uint64)
    longer = np.flatnonzero(ends > starts)
    rank = 1
    while longer.size:
        if rank > 9:
            raise _Corrupt("entier varint de plus de 10 octets")
        at = starts[longer] + rank
        value[longer] |= (data[at] & 0x7F).astype(np.uint64) << np.uint64(7 * rank)
        longer = longer[ends[longer] > at]
        rank += 1
    return value


def _zigzag(value: np.ndarray) -> np.ndarray:
    """``sint64`` values from their zigzag encoding (0, 1, 2, 3 → 0, -1, 1, -2)."""
    return (value >> np.uint64(1)).astype(np.int64) ^ -(value & np.uint64(1)).astype(np.int64)


def _spans(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Indices of the bytes of several ranges, end to end."""
    lengths = ends - starts
    offsets = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - offsets, lengths)


def _packed(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """The varints of several packed arrays, end to end, and how many each holds."""
    data = buf[_spans(starts, ends)]
    filled = ends > starts
    if np.any(buf[ends[filled] - 1] >= 0x80):
        raise _Corrupt("tableau d'entiers varint tronqué")
    values = _varints(data)
    last = np.cumsum(ends - starts)  # each array's end in ``data``
    stops = np.concatenate([[0], np.cumsum(data < 0x80)])
    counts = stops[last] - stops[last - (ends - starts)]
    return values, counts


def _chain(buf: np.ndarray, start: int, end: int, key: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Payload ranges of the consecutive fields of one key that fill ``[start, end)``.

    Every byte equal to ``key`` may start a field; each such candidate points to the
    candidate right after its payload. The fields are the candidates reached from
    ``start``, found by pointer doubling: after step ``k`` every candidate within
    ``2^k`` links is marked. The chain must end exactly at ``end``, else the range
    holds other fields and the file is left to pyosmium.
    """
    if start == end:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    candidates = start + np.flatnonzero(buf[start:end] == key)
    if not candidates.size or candidates[0] != start:
        raise PbfUnsupported("groupe PBF de contenu inattendu")
    count = candidates.size
    # a candidate inside a payload may start any byte sequence: no error for it here
    length, payload = _varint_at(buf, candidates + 1, strict=False)
    after = np.where(payload < 0, -1,
                     payload + np.minimum(length, np.uint64(end)).astype(np.int64))
    following = np.searchsorted(candidates, after)
    found = following < count
    found[found] = candidates[following[found]] == after[found]
    # two sinks: ``count`` for the exact end of the range, ``count + 1`` for nowhere
    jump = np.where(found, following, np.where(after == end, count, count + 1))
    jump = np.append(jump, [count, count + 1])
    reached = np.zeros(count + 2, dtype=bool)
    reached[0] = True
    span = 1
    while span <= count:
        reached[jump[reached]] = True
        jump = jump[jump]
        span *= 2
    if reached[count + 1] or not reached[count]:
        raise PbfUnsupported("groupe PBF de contenu inattendu")
    members = np.flatnonzero(reached[:count])
    return payload[members], after[members]


def _message_fields(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                    keys: Sequence[int], refused: Sequence[int] = ()
                    ) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Locate some fields in many messages at once, one field rank at a time.

    Returns, for each key, whether each message has the field, and its value (a varint
    field) or its payload range (a length-delimited one): ``(present, value or payload
    start, payload end)``. As in libosmium, a repeated field's last occurrence wins.
    """
    count = starts.size
    found = {key: (np.zeros(count, dtype=bool), np.zeros(count, dtype=np.uint64),
                   np.zeros(count, dtype=np.int64)) for key in keys}
    position = starts.astype(np.int64)
    active = np.flatnonzero(position < ends)
    while active.size:
        key, at = _varint_at(buf, position[active])
        wire = key & np.uint64(7)
        value, after = _varint_at(buf, at)
        length = np.minimum(value, np.uint64(1 << 40)).astype(np.int64)
        following = np.select([wire == 0, wire == 2, wire == 1, wire == 5],
                              [after, after + length, at + 8, at + 4], -1)
        limit = ends[active]
        if np.any((following < 0) | (following > limit)):
            raise _Corrupt("champ protobuf invalide ou plus long que son message")
        if refused and np.isin(key, refused).any():
            raise PbfUnsupported("champs de voie non lus par ce lecteur (coordonnées sur "
                                 "les voies ou tableaux non compactés)")
        for wanted, (present, values, stops) in found.items():
            here = key == wanted
            if here.any():
                which = active[here]
                present[which] = True
                values[which] = value[here] if (wanted & 7) == 0 else after[here]
                stops[which] = following[here]
        position[active] = following
        active = active[following < limit]
    return found


def _coordinate(value: np.ndarray, granularity: int, offset: int) -> np.ndarray:
    """Coordinates in 1e-7 degree: ``int32_t((value * granularity + offset) / 100)``."""
    nano = value * granularity + offset
    truncated = np.where(nano < 0, -(-nano // 100), nano // 100)  # C++ rounds toward zero
    return truncated.astype(np.int32)


# -- the file -------------------------------------------------------------------------


@dataclass
class _Block:
    """One decoded ``PrimitiveBlock``: its bytes and the fields around its groups."""

    raw: bytes
    buf: np.ndarray
    strings: tuple[np.ndarray, np.ndarray]
    groups: list[tuple[int, int]]
    granularity: int = 100
    date_granularity: int = 1000
    lat_offset: int = 0
    lon_offset: int = 0

    @classmethod
    def decode(cls, raw: bytes) -> _Block:
        buf = np.frombuffer(raw, dtype=np.uint8)
        strings = None
        groups = []
        scalars = {}
        for key, value, end in _fields(raw):
            if key == 0x0A:
                if strings is not None:
                    raise PbfUnsupported("bloc PBF à plusieurs tables de chaînes")
                strings = (value, end)
            elif key == 0x12:
                groups.append((value, end))
            elif key in (0x88, 0x90, 0x98, 0xA0):  # fields 17-20, varints
                scalars[key] = value
        if strings is None:
            table = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
        else:
            table = _chain(buf, strings[0], strings[1], _KEY_STRING)
            if np.any(table[1] - table[0] > _MAX_STRING):
                raise PbfUnsupported("chaîne de plus de 1 024 octets")
        return cls(raw, buf, table, groups,
                   granularity=_int32(scalars.get(0x88, 100)),
                   date_granularity=_int32(scalars.get(0x90, 1000)),
                   lat_offset=_int64(scalars.get(0x98, 0)),
                   lon_offset=_int64(scalars.get(0xA0, 0)))

    def kind(self, group: tuple[int, int]) -> int:
        """The key of a group's first field: its kind of objects."""
        start, end = group
        return int(self.buf[start]) if end > start else 0

    def text(self, index: int) -> str:
        """A string of the table."""
        start, end = self.strings[0][index], self.strings[1][index]
        try:
            return self.raw[start:end].decode("utf-8")
        except UnicodeDecodeError as error:
            raise _Corrupt(f"chaîne de la table non UTF-8 ({error.reason})") from None

    def nodes(self, group: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ids and coordinates of a group's nodes (dense or not); deleted ones unlocated."""
        if self.kind(group) == _GROUP_DENSE:
            parts = [self._dense(start, end)
                     for start, end in zip(*_chain(self.buf, *group, _GROUP_DENSE), strict=True)]
        else:
            parts = [self._plain(*_chain(self.buf, *group, _GROUP_NODES))]
        ids, x, y = (np.concatenate(column) for column in zip(*parts, strict=True))
        return ids, x, y

    def _dense(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        arrays: dict[int, tuple[int, int]] = {}
        for key, value, stop in _fields(self.raw, start, end):
            if key in (0x08, 0x40, 0x48):
                raise PbfUnsupported("nœuds denses non compactés")
            if key in (0x0A, 0x2A, 0x42, 0x4A):  # id, denseinfo, lat, lon: last wins
                arrays[key] = (value, stop)
        ids, lat, lon = (self._deltas(*arrays.get(key, (0, 0))) for key in (0x0A, 0x42, 0x4A))
        if lat.size < ids.size or lon.size < ids.size:
            raise _Corrupt("nœuds denses sans latitude ou longitude")
        x = _coordinate(lon[:ids.size], self.granularity, self.lon_offset)
        y = _coordinate(lat[:ids.size], self.granularity, self.lat_offset)
        if 0x2A in arrays:
            visible = None
            for key, value, stop in _fields(self.raw, *arrays[0x2A]):
                if key == 0x30:
                    raise PbfUnsupported("nœuds denses non compactés")
                if key == 0x32:
                    visible = (value, stop)
            if visible is not None:
                flags = _varints(self.buf[visible[0]:visible[1]])[:ids.size]
                deleted = np.flatnonzero(flags == 0)
                x[deleted] = y[deleted] = UNDEFINED
        return ids, x, y

    def _deltas(self, start: int, end: int) -> np.ndarray:
        return np.cumsum(_zigzag(_varints(self.buf[start:end])))

    def _plain(self, starts: np.ndarray, ends: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fields = _message_fields(self.buf, starts, ends,
                                 (_NODE_ID, _NODE_INFO, _NODE_LAT, _NODE_LON))
        deleted = np.zeros(starts.size, dtype=bool)
        has_info, info_start, info_end = fields[_NODE_INFO]
        if has_info.any():
            which = np.flatnonzero(has_info)
            shown, flag, _ = _message_fields(self.buf, info_start[which].astype(np.int64),
                                             info_end[which], (_INFO_VISIBLE,))[_INFO_VISIBLE]
            deleted[which] = shown & (flag == 0)
        has_lat, lat, _ = fields[_NODE_LAT]
        has_lon, lon, _ = fields[_NODE_LON]
        if np.any(~deleted & ~(has_lat & has_lon)):
            raise _Corrupt("nœud sans latitude ou longitude")
        x = _coordinate(_zigzag(lon), self.granularity, self.lon_offset)
        y = _coordinate(_zigzag(lat), self.granularity, self.lat_offset)
        x[deleted] = y[deleted] = UNDEFINED
        return _zigzag(fields[_NODE_ID][1]), x, y


@dataclass
class _Found:
    """The kept ways of the file so far, block after block."""

    refs: list[np.ndarray] = field(default_factory=list)
    sizes: list[np.ndarray] = field(default_factory=list)
    speeds: list[np.ndarray] = field(default_factory=list)
    directions: list[np.ndarray] = field(default_factory=list)
    highways: int = 0
    newest: int = 0


class _Reader:
    """One reading of one file for one profile."""

    def __init__(self, path: Path, profile: Profile, say: Callable[[str], None],
                 node_budget: int) -> None:
        self.path = path
        self.profile = profile
        self.say = say
        self.node_budget = node_budget
        # the tags Profile.way_speed and Profile.direction read, ``highway`` first
        self.keys = tuple(dict.fromkeys(("highway", "area", *profile.access_keys,
                                         "maxspeed", "oneway", "junction")))
        self.encoded = [np.frombuffer(key.encode(), dtype=np.uint8) for key in self.keys]
        self.values: dict[str, int] = {}  # tag value → its number (from 1; 0: absent)
        self.texts: list[str] = [""]
        self.judged: dict[tuple[int, ...], tuple[float, int]] = {}
        self.found = _Found()
        self.nodes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.node_count = 0
        # blocks whose nodes the second pass reads: number, offset, blob offset and size
        self.deferred: list[tuple[int, int, int, int]] = []
        self.replication: str | None = None
        self.size = 0

    # -- the two passes ---------------------------------------------------------------

    def read(self) -> PbfWays:
        with self.path.open("rb") as stream:
            self.size = self.path.stat().st_size
            seen_ways = False
            for number, offset, start, blob in self._blobs(stream):
                with self._context(number, offset):
                    if number == 0:
                        self._header(blob)
                        continue
                    block = _Block.decode(_inflate(blob))
                    kinds = [block.kind(group) for group in block.groups]
                    keep_nodes = not self.deferred and self.node_count < self.node_budget
                    for group, kind in zip(block.groups, kinds, strict=True):
                        if kind in (_GROUP_NODES, _GROUP_DENSE):
                            if seen_ways:
                                raise PbfUnsupported("nœuds placés après des voies")
                            if keep_nodes:
                                self._keep(block.nodes(group))
                        elif kind == _GROUP_WAYS:
                            seen_ways = True
                            self._ways(block, group)
                        elif kind not in _GROUP_OTHERS and kind:
                            raise PbfUnsupported("groupe PBF de type inconnu")
                    if not keep_nodes and (_GROUP_NODES in kinds or _GROUP_DENSE in kinds):
                        self.deferred.append((number, offset, start, len(blob)))
                if number % _PROGRESS_BLOCKS == 0 and number:
                    self.say(f"lecture PBF : {100 * stream.tell() // self.size} % du "
                             f"fichier, {_count(self.found.highways)} voies « highway »…")
            found = self.found
            refs = _join(found.refs, np.int64)
            found.refs.clear()
            if self.deferred:
                self._second_pass(stream, refs)
        x, y = self._locate(refs)
        newest = float(found.newest) if self.replication is None else 0.0
        return PbfWays(refs, x, y, _join(found.sizes, np.int64), _join(found.speeds, np.float64),
                       _join(found.directions, np.int8), found.highways, newest,
                       self.replication)

    def _second_pass(self, stream: BinaryIO, refs: np.ndarray) -> None:
        """Keep only the way nodes: of the nodes kept so far, then of the other blocks."""
        needed = np.sort(refs[refs >= 0])  # not np.unique: its hash table is slower here
        first = np.ones(needed.size, dtype=bool)
        first[1:] = needed[1:] != needed[:-1]
        needed = needed[first]
        for index, part in enumerate(self.nodes):  # one part at a time: no second copy
            self.nodes[index] = _needed(part, needed)
        self.say(f"nœuds au-delà de {_count(self.node_budget)} : seconde lecture de "
                 f"{_count(len(self.deferred))} blocs pour les {_count(needed.size)} nœuds "
                 "des voies…")
        for done, (number, offset, start, size) in enumerate(self.deferred, 1):
            with self._context(number, offset):
                stream.seek(start)
                blob = _read_exactly(stream, size, "bloc PBF")
                block = _Block.decode(_inflate(blob))
                for group in block.groups:
                    if block.kind(group) in (_GROUP_NODES, _GROUP_DENSE):
                        self.nodes.append(_needed(block.nodes(group), needed))
            if done % _PROGRESS_BLOCKS == 0:
                self.say(f"seconde lecture : {100 * done // len(self.deferred)} % des blocs "
                         "de nœuds…")

    def _keep(self, nodes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        ids, x, y = nodes
        positive = ids >= 0  # pyosmium indexes no negative id: never located
        if not positive.all():
            ids, x, y = ids[positive], x[positive], y[positive]
        self.nodes.append((ids, x, y))
        self.node_count += ids.size

    def _locate(self, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates of the way nodes, UNDEFINED for those the file lacks."""
        total = sum(part[0].size for part in self.nodes)
        ids = np.empty(total, dtype=np.int64)
        xs, ys = np.empty(total, dtype=np.int32), np.empty(total, dtype=np.int32)
        done = 0
        self.nodes.reverse()
        while self.nodes:  # each part freed once copied: no second copy of all nodes
            part_ids, part_x, part_y = self.nodes.pop()
            stop = done + part_ids.size
            ids[done:stop], xs[done:stop], ys[done:stop] = part_ids, part_x, part_y
            done = stop
        if ids.size > 1 and not np.all(ids[1:] > ids[:-1]):
            order = np.argsort(ids, kind="stable")
            ids, xs, ys = ids[order], xs[order], ys[order]
            repeated = ids[1:][ids[1:] == ids[:-1]]
            # libosmium's index keeps the first or the last copy depending on its mode
            if np.isin(repeated, refs).any():
                raise PbfUnsupported("nœuds des voies présents plusieurs fois")
        x = np.full(refs.size, UNDEFINED, dtype=np.int32)
        y = np.full(refs.size, UNDEFINED, dtype=np.int32)
        if not ids.size:
            return x, y
        for start in range(0, refs.size, _LOOKUP_CHUNK):  # bounded temporary arrays
            chunk = slice(start, start + _LOOKUP_CHUNK)
            at = np.minimum(np.searchsorted(ids, refs[chunk]), ids.size - 1)
            known = ids[at] == refs[chunk]
            x[chunk] = np.where(known, xs[at], UNDEFINED)
            y[chunk] = np.where(known, ys[at], UNDEFINED)
        return x, y

    # -- blocks -----------------------------------------------------------------------

    def _blobs(self, stream: BinaryIO) -> Iterator[tuple[int, int, int, bytes]]:
        """``(number, offset, offset of the blob, blob)`` of every file block."""
        number = 0
        while True:
            offset = stream.tell()
            with self._context(number, offset):
                prefix = stream.read(4)
                if not prefix:
                    return
                if len(prefix) < 4:
                    raise _Corrupt("fichier tronqué dans la longueur d'un en-tête de bloc")
                length = int.from_bytes(prefix, "big")
                if not 0 < length <= _MAX_BLOB_HEADER:
                    raise _Corrupt(f"en-tête de bloc de {_count(length)} octets")
                header = _read_exactly(stream, length, "en-tête de bloc")
                kind, size = None, 0
                for key, value, end in _fields(header):
                    if key == 0x0A:
                        kind = header[value:end]
                    elif key == 0x18:
                        size = _int32(value)
                if not 0 < size <= _MAX_BLOB:
                    raise _Corrupt(f"bloc annoncé de {_count(size)} octets")
                expected = b"OSMHeader" if number == 0 else b"OSMData"
                if kind != expected:
                    raise PbfUnsupported(f"bloc de type {kind!r} (attendu {expected.decode()})")
                start = stream.tell()
                blob = _read_exactly(stream, size, "bloc")
            yield number, offset, start, blob
            number += 1

    def _header(self, blob: bytes) -> None:
        data = _inflate(blob)
        for key, value, end in _fields(data):
            if key == 0x22:  # required_features
                feature = data[value:end].decode("utf-8", "replace")
                if feature not in _KNOWN_FEATURES:
                    raise PbfUnsupported(f"fonctionnalité PBF requise « {feature} »")
            elif key == 0x100:  # osmosis_replication_timestamp (field 32, varint)
                seconds = _int64(value) & 0xFFFFFFFF  # osmium::Timestamp is 32-bit
                self.replication = (datetime.fromtimestamp(seconds, UTC)
                                    .strftime("%Y-%m-%dT%H:%M:%SZ") if seconds else None)

    def _context(self, number: int, offset: int) -> _BlockContext:
        return _BlockContext(self.path, number, offset)

    # -- ways -------------------------------------------------------------------------

    def _ways(self, block: _Block, group: tuple[int, int]) -> None:
        """Judge the ways of a group and keep those the profile may use."""
        buf = block.buf
        starts, ends = _chain(buf, *group, _GROUP_WAYS)
        fields = _message_fields(buf, starts, ends,
                                 (_WAY_KEYS, _WAY_VALS, _WAY_INFO, _WAY_REFS), _WAY_REFUSED)
        signature = self._signatures(block, fields[_WAY_KEYS], fields[_WAY_VALS], starts.size)
        highway = np.flatnonzero(signature[:, 0])
        found = self.found
        found.highways += highway.size
        if not highway.size:
            return
        if self.replication is None:  # the header's date wins: no need of the ways'
            found.newest = max(found.newest, self._newest(block, fields[_WAY_INFO], highway))
        combos, which = _distinct(signature[highway])
        judged = np.array([self._judge(tuple(combo)) for combo in combos.tolist()])
        speeds, directions = judged[which].T
        usable = ~np.isnan(speeds)
        ways = highway[usable]
        has_refs, ref_start, ref_end = fields[_WAY_REFS]
        values, sizes = _packed(buf, np.where(has_refs[ways], ref_start[ways], 0).astype(np.int64),
                                np.where(has_refs[ways], ref_end[ways], 0))
        kept = sizes >= 2
        if not kept.all():
            values = values[np.repeat(kept, sizes)]
            sizes = sizes[kept]
        if not sizes.size:
            return
        deltas = np.cumsum(_zigzag(values))
        firsts = np.cumsum(sizes) - sizes
        before = np.where(firsts > 0, deltas[np.maximum(firsts - 1, 0)], 0)
        found.refs.append(deltas - np.repeat(before, sizes))
        found.sizes.append(sizes)
        found.speeds.append(speeds[usable][kept])
        found.directions.append(directions[usable][kept].astype(np.int8))

    def _signatures(self, block: _Block, keys: tuple[np.ndarray, ...],
                    vals: tuple[np.ndarray, ...], count: int) -> np.ndarray:
        """For each way, the number of its value of each profile key (0: absent)."""
        signature = np.zeros((count, len(self.keys)), dtype=np.int64)
        key_codes, key_counts = _packed(block.buf, np.where(keys[0], keys[1], 0).astype(np.int64),
                                        np.where(keys[0], keys[2], 0))
        val_codes, val_counts = _packed(block.buf, np.where(vals[0], vals[1], 0).astype(np.int64),
                                        np.where(vals[0], vals[2], 0))
        # libosmium pairs keys and values while both last: extra ones are ignored
        pairs = np.minimum(key_counts, val_counts)
        key_codes = key_codes[_firsts(key_counts, pairs)]
        val_codes = val_codes[_firsts(val_counts, pairs)]
        table_size = block.strings[0].size
        if key_codes.size and max(key_codes.max(), val_codes.max()) >= table_size:
            raise _Corrupt("indice de chaîne hors de la table")
        column = self._key_columns(block)[key_codes.astype(np.int64)]
        relevant = np.flatnonzero(column >= 0)
        if not relevant.size:
            return signature
        way = np.repeat(np.arange(count), pairs)[relevant]
        cell = way * len(self.keys) + column[relevant]
        # a tag list's first value of a key is the one pyosmium's ``get`` returns
        first = np.full(signature.size, relevant.size, dtype=np.int64)
        np.minimum.at(first, cell, np.arange(relevant.size))
        cells = np.flatnonzero(first < relevant.size)
        first = first[cells]
        codes = val_codes[relevant[first]].astype(np.int64)
        numbers = np.zeros(table_size, dtype=np.int64)
        used = np.unique(codes)
        numbers[used] = [self._number(block.text(index)) for index in used.tolist()]
        signature.reshape(-1)[cells] = numbers[codes]
        return signature

    def _key_columns(self, block: _Block) -> np.ndarray:
        """Column of each string of the table among the profile keys, -1 for others."""
        starts, ends = block.strings
        columns = np.full(starts.size, -1, dtype=np.int64)
        lengths = ends - starts
        for column, encoded in enumerate(self.encoded):
            same = np.flatnonzero(lengths == encoded.size)
            if same.size:
                text = block.buf[starts[same, None] + np.arange(encoded.size)]
                columns[same[np.all(text == encoded, axis=1)]] = column
        return columns

    def _number(self, text: str) -> int:
        number = self.values.get(text)
        if number is None:
            number = self.values[text] = len(self.texts)
            self.texts.append(text)
        return number

    def _judge(self, combo: tuple[int, ...]) -> tuple[float, int]:
        """Speed (NaN if unusable) and direction of the ways with these tag values."""
        judged = self.judged.get(combo)
        if judged is None:
            tags = {key: self.texts[number]
                    for key, number in zip(self.keys, combo, strict=True) if number}
            speed = self.profile.way_speed(tags)
            judged = self.judged[combo] = (np.nan if speed is None else speed,
                                           self.profile.direction(tags))
        return judged

    def _newest(self, block: _Block, info: tuple[np.ndarray, ...], ways: np.ndarray) -> int:
        """Newest timestamp of some ways (POSIX seconds, 0 without any)."""
        present, starts, ends = (part[ways] for part in info)
        if not present.any():
            return 0
        has, stamp, _ = _message_fields(block.buf, starts[present].astype(np.int64),
                                        ends[present], (_INFO_TIMESTAMP,))[_INFO_TIMESTAMP]
        # libosmium: int64 timestamp * date_granularity / 1000, kept as 32-bit unsigned
        scaled = stamp.astype(np.int64) * block.date_granularity
        seconds = np.where(scaled < 0, -(-scaled // 1000), scaled // 1000)
        return int(np.where(has, seconds.astype(np.uint32), 0).max())


class _BlockContext:
    """Turns a damaged block into an InputFileError naming the block and its offset."""

    def __init__(self, path: Path, number: int, offset: int) -> None:
        self.path, self.number, self.offset = path, number, offset

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: object) -> None:
        if kind is None or issubclass(kind, PbfUnsupported | InputFileError):
            return
        if issubclass(kind, _Corrupt | zlib.error | IndexError | ValueError | OverflowError):
            raise InputFileError(
                self.path, f"fichier OpenStreetMap illisible ou tronqué (bloc PBF n° "
                f"{self.number}, octet {_count(self.offset)})", expected=EXPECTED_PBF,
                found=f"PBF : {error}") from None


def _read_exactly(stream: BinaryIO, size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise _Corrupt(f"{what} tronqué : {_count(len(data))} octets sur "
                       f"{_count(size)} annoncés")
    return data


def _inflate(blob: bytes) -> bytes:
    """The payload of a ``Blob``: raw, or inflated from zlib."""
    raw_size, compressed = None, None
    for key, value, end in _fields(blob):
        if key == 0x0A:  # raw
            return blob[value:end]
        if key == 0x10:
            raw_size = _int32(value)
        elif key == 0x1A:
            compressed = blob[value:end]
        elif key >> 3 in _COMPRESSIONS and key & 7 == 2:
            raise PbfUnsupported(f"blocs compressés en {_COMPRESSIONS[key >> 3]}")
    if compressed is None:
        raise _Corrupt("bloc sans données")
    if raw_size is None or not 0 < raw_size <= _MAX_BLOB:
        raise _Corrupt("taille décompressée absente ou invalide")
    try:
        data = zlib.decompress(compressed, bufsize=raw_size)
    except zlib.error as error:
        raise _Corrupt(f"données zlib invalides ({error})") from None
    if len(data) != raw_size:
        raise _Corrupt(f"{_count(len(data))} octets décompressés sur "
                       f"{_count(raw_size)} annoncés")
    return data


def _firsts(counts: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Mask of the first ``keep[i]`` of each run of ``counts[i]`` values."""
    starts = np.cumsum(counts) - counts
    rank = np.arange(int(counts.sum())) - np.repeat(starts, counts)
    return rank < np.repeat(keep, counts)


def _distinct(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a matrix of small non-negative integers, and each row's index.

    The columns are folded into one int64 code (re-ranked before it could overflow):
    a one-dimensional ``np.unique``, ten times faster than ``np.unique(axis=0)``, which
    sorts the rows as byte strings.
    """
    code = np.zeros(len(rows), dtype=np.int64)
    for column in rows.T:
        top = int(column.max())
        if not top:
            continue
        if int(code.max()) * (top + 1) + top >= 2**62:
            code = np.unique(code, return_inverse=True)[1].reshape(-1)
        code = code * (top + 1) + column
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    return rows[first], inverse.reshape(-1)


def _needed(nodes: tuple[np.ndarray, np.ndarray, np.ndarray], needed: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nodes whose id is in ``needed`` (sorted), without negative ids.

    Only the needed ids within the block's range are looked at: a block holds a few
    thousand consecutive ids, so both searches stay small.
    """
    ids, x, y = nodes
    if not ids.size:
        return nodes
    low, high = np.searchsorted(needed, [ids.min(), ids.max()], side="left")
    wanted = needed[low:high + 1]
    if not wanted.size:
        return ids[:0], x[:0], y[:0]
    at = np.minimum(np.searchsorted(wanted, ids), wanted.size - 1)
    keep = wanted[at] == ids
    return ids[keep], x[keep], y[keep]


def _join(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)


def _count(number: int) -> str:
    """A number with French thousands separators."""
    return f"{number:,}".replace(",", " ")
