"""Road and path networks read from OpenStreetMap, held as compressed sparse rows.

:func:`read_network` reads an OpenStreetMap extract (XML ``.osm``, ``.osm.gz``,
``.osm.bz2`` or PBF ``.osm.pbf``) and keeps, for one travel
:class:`~cohesion.access.profiles.Profile`, the ways the profile may use. Every pair of
consecutive way nodes becomes an edge (one per allowed direction), so that travel times
are exact without any geometry kept aside. Edge lengths are **geodesic distances on the
WGS84 ellipsoid** (:class:`pyproj.Geod`, Karney's algorithm), times are lengths divided
by the way's speed. Between two nodes joined by several ways the fastest edge is kept,
and only the largest weakly connected component of the graph: islands of paths (a
courtyard, a car park, a fragment cut by the extract's border) would otherwise give
points snapped onto them no access to anything.

PBF files are read by :mod:`cohesion.access.pbf`, a vectorised numpy reader (about 5
times faster than pyosmium, whose Python objects cost a couple of microseconds per way
node); XML files, and the rare PBF files that reader declines, by pyosmium. Both give
the same arrays.

The :class:`Network` is plain arrays (CSR row pointers, targets, seconds, metres, node
coordinates and OSM ids), ready for :mod:`scipy.sparse.csgraph`; :meth:`Network.save`
and :meth:`Network.load` keep it as one ``.npz`` file (no pickle), a cache that spares
reading the extract again.

Examples
--------
A line of three nodes, 100 m apart, walked at 5 km/h (72 s per edge):

>>> from cohesion.access.profiles import WALK
>>> network = Network.from_edges([0, 1, 1, 2], [1, 0, 2, 1], seconds=[72.0] * 4,
...                              metres=[100.0] * 4, lon=[2.35, 2.3514, 2.3528],
...                              lat=[48.85, 48.85, 48.85], profile=WALK)
>>> network.node_count, network.edge_count
(3, 4)
>>> network.indptr.tolist(), network.indices.tolist()
([0, 1, 3, 4], [1, 0, 2, 1])
>>> network.matrix().toarray()
array([[ 0., 72.,  0.],
       [72.,  0., 72.],
       [ 0., 72.,  0.]])
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from pyproj import Geod
from scipy.sparse.csgraph import connected_components

from cohesion.access.pbf import PbfUnsupported, PbfWays, read_pbf_ways
from cohesion.access.profiles import WALK, Profile
from cohesion.errors import CohesionError, InputFileError

__all__ = ["Network", "read_network"]

#: The ellipsoid on which edge lengths are measured (geodesic distances).
GEOD = Geod(ellps="WGS84")

#: What :func:`read_network` reads, as said to users.
EXPECTED_OSM = "un extrait OpenStreetMap : XML (.osm, .osm.gz, .osm.bz2) ou PBF (.osm.pbf)"
#: What :meth:`Network.load` reads.
EXPECTED_CACHE = "un réseau enregistré par Cohésion (fichier .npz de Network.save)"

_CACHE_FORMAT = "cohesion.access.Network"
_CACHE_VERSION = 1
_ARRAYS = ("indptr", "indices", "seconds", "metres", "lon", "lat", "osm_id")
#: libosmium's fixed-point coordinates: 1e-7 degree; larger magnitudes are undefined.
_PRECISION = 10_000_000
_MAX_X, _MAX_Y = 180 * _PRECISION, 90 * _PRECISION
_PROGRESS_WAYS = 200_000


@dataclass(frozen=True, eq=False)
class Network:
    """A directed travel-time graph in compressed sparse rows.

    The edges leaving node ``i`` are ``indptr[i]:indptr[i + 1]``, sorted by target.
    Arrays given as lists are converted to the dtypes below; shapes and values are
    checked (:class:`~cohesion.errors.CohesionError` otherwise).

    Attributes
    ----------
    indptr : ndarray of int64
        Row pointers, ``node_count + 1`` long.
    indices : ndarray of int32
        Target node of each edge.
    seconds : ndarray of float64
        Travel time of each edge, in seconds.
    metres : ndarray of float64
        Length of each edge, in metres: geodesic distance on the WGS84 ellipsoid
        between its two nodes.
    lon, lat : ndarray of float64
        Coordinates of each node (WGS84, degrees).
    osm_id : ndarray of int64
        OpenStreetMap id of each node.
    profile : Profile
        The travel profile the network was built for.
    source : str
        Name of the file it was read from.
    timestamp : str or None
        Date of the data (ISO 8601), when known: the extract's
        ``osmosis_replication_timestamp``, or else the newest timestamp of its ``highway``
        ways (other objects are not looked at).
    notes : tuple of str
        What was kept and dropped while building it, in French.
    """

    indptr: np.ndarray
    indices: np.ndarray
    seconds: np.ndarray
    metres: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    osm_id: np.ndarray
    profile: Profile
    source: str = ""
    timestamp: str | None = None
    notes: tuple[str, ...] = ()
    _cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        dtypes = {"indptr": np.int64, "indices": np.int32, "seconds": np.float64,
                  "metres": np.float64, "lon": np.float64, "lat": np.float64,
                  "osm_id": np.int64}
        for name, dtype in dtypes.items():
            values = np.asarray(getattr(self, name))
            if values.ndim != 1:
                raise CohesionError(f"réseau invalide : {name} doit être un tableau à une "
                                    f"dimension (reçu {values.ndim} dimensions)")
            if values.size and not np.can_cast(values.dtype, dtype, "same_kind"):
                raise CohesionError(f"réseau invalide : {name} de type {values.dtype} "
                                    f"(attendu {np.dtype(dtype)})")
            object.__setattr__(self, name, values.astype(dtype, copy=False))
        object.__setattr__(self, "notes", tuple(self.notes))
        nodes, edges = len(self.indptr) - 1, len(self.indices)
        problems = []
        if nodes < 0 or self.indptr[0] != 0 or self.indptr[-1] != edges \
                or np.any(np.diff(self.indptr) < 0):
            problems.append("indptr doit croître de 0 au nombre d'arcs")
        if not (len(self.seconds) == len(self.metres) == edges):
            problems.append("indices, seconds et metres doivent avoir une valeur par arc")
        if not (len(self.lon) == len(self.lat) == len(self.osm_id) == max(nodes, 0)):
            problems.append("lon, lat et osm_id doivent avoir une valeur par nœud")
        if edges and (self.indices.min() < 0 or self.indices.max() >= nodes):
            problems.append("indices désigne des nœuds inexistants")
        if edges and not (np.all(self.seconds >= 0) and np.all(self.metres >= 0)):
            problems.append("seconds et metres doivent être positifs ou nuls")
        if problems:
            raise CohesionError("réseau invalide : " + " ; ".join(problems))

    def __repr__(self) -> str:
        return (f"<Network {self.profile.name} {self.source or '(sans source)'} : "
                f"{self.node_count} nœuds, {self.edge_count} arcs>")

    @property
    def node_count(self) -> int:
        """Number of nodes."""
        return len(self.indptr) - 1

    @property
    def edge_count(self) -> int:
        """Number of directed edges."""
        return len(self.indices)

    def tails(self) -> np.ndarray:
        """Source node of each edge (int32), the companion of :attr:`indices`.

        Examples
        --------
        >>> Network.from_edges([0, 2, 1], [1, 1, 2], seconds=[1.0, 2.0, 3.0],
        ...                    metres=[1.0, 2.0, 3.0], lon=[0.0] * 3, lat=[45.0] * 3,
        ...                    profile=WALK).tails().tolist()
        [0, 1, 2]
        """
        return np.repeat(np.arange(self.node_count, dtype=np.int32), np.diff(self.indptr))

    def matrix(self) -> sp.csr_array:
        """The graph as an ``N × N`` sparse array of travel times (directed).

        ``matrix()[i, j]`` is the time of the edge from ``i`` to ``j``. Edges of zero
        time (two nodes at the same place) are stored explicitly and stay edges for
        :mod:`scipy.sparse.csgraph`.
        """
        n = self.node_count
        return sp.csr_array((self.seconds, self.indices, self.indptr), shape=(n, n))

    def _reverse(self) -> sp.csr_array:
        """The transposed graph (cached): its row ``i`` holds the edges arriving at ``i``."""
        if "reverse" not in self._cache:
            self._cache["reverse"] = self.matrix().T.tocsr()
        return self._cache["reverse"]

    def subgraph(self, keep: np.ndarray) -> tuple[Network, np.ndarray]:
        """The subgraph induced by some nodes.

        Parameters
        ----------
        keep : ndarray of bool
            One value per node: True for the nodes to keep.

        Returns
        -------
        Network
            The kept nodes (in their order) and the edges between two of them.
        ndarray of int64
            The index in this network of each node of the subgraph.

        Examples
        --------
        >>> line = Network.from_edges([0, 1, 1, 2], [1, 0, 2, 1], seconds=[1.0] * 4,
        ...                           metres=[1.0] * 4, lon=[0.0, 0.1, 0.2],
        ...                           lat=[45.0] * 3, profile=WALK)
        >>> part, original = line.subgraph(np.array([False, True, True]))
        >>> original.tolist(), part.tails().tolist(), part.indices.tolist()
        ([1, 2], [0, 1], [1, 0])
        """
        keep = np.asarray(keep)
        if keep.dtype != bool or keep.shape != (self.node_count,):
            raise CohesionError(f"sous-réseau : attendu un masque booléen de {self.node_count} "
                                f"valeurs, reçu {keep.dtype} de forme {keep.shape}")
        kept = np.flatnonzero(keep)
        renumber = np.full(self.node_count, -1, dtype=np.int32)
        renumber[kept] = np.arange(len(kept), dtype=np.int32)
        inside = np.repeat(keep, np.diff(self.indptr)) & keep[self.indices]
        # renumbering is increasing: rows stay sorted by source, then target; a dropped
        # row keeps no edge, so the kept edges before each row give the new row pointers
        before = np.zeros(self.edge_count + 1, dtype=np.int64)
        np.cumsum(inside, out=before[1:])
        indptr = before[self.indptr[np.append(kept, self.node_count)]]
        notes = self.notes
        if len(kept) < self.node_count:
            notes = (*notes, f"sous-réseau : {len(kept)} nœuds gardés sur {self.node_count}")
        network = Network(indptr, renumber[self.indices[inside]], self.seconds[inside],
                          self.metres[inside], self.lon[kept], self.lat[kept],
                          self.osm_id[kept], self.profile, self.source, self.timestamp, notes)
        return network, kept

    @classmethod
    def from_edges(cls, tails: Any, heads: Any, seconds: Any, metres: Any, lon: Any,
                   lat: Any, osm_id: Any = None, profile: Profile = WALK, source: str = "",
                   timestamp: str | None = None, notes: tuple[str, ...] = ()) -> Network:
        """A network from a list of directed edges, in any order.

        Self-loops are dropped; of several edges between the same two nodes in the same
        direction, the fastest is kept (with its length).

        Parameters
        ----------
        tails, heads : array-like of int
            Source and target node of each edge (indices into ``lon``/``lat``).
        seconds, metres : array-like of float
            Travel time and length of each edge.
        lon, lat : array-like of float
            Coordinates of each node.
        osm_id : array-like of int, optional
            OpenStreetMap id of each node (default: 0, 1, 2…).
        profile, source, timestamp, notes
            As in :class:`Network`.

        Examples
        --------
        >>> n = Network.from_edges([0, 0, 1], [1, 1, 1], seconds=[9.0, 4.0, 1.0],
        ...                        metres=[10.0, 5.0, 0.0], lon=[0.0, 0.0], lat=[45.0, 45.0])
        >>> n.edge_count, n.seconds.tolist(), n.metres.tolist()
        (1, [4.0], [5.0])
        """
        lon = np.asarray(lon, dtype=np.float64)
        count = len(lon)
        tails = np.asarray(tails, dtype=np.int64)
        heads = np.asarray(heads, dtype=np.int64)
        seconds = np.asarray(seconds, dtype=np.float64)
        metres = np.asarray(metres, dtype=np.float64)
        if not (tails.shape == heads.shape == seconds.shape == metres.shape):
            raise CohesionError("réseau invalide : tails, heads, seconds et metres doivent "
                                "avoir la même longueur")
        if tails.size and (min(tails.min(), heads.min()) < 0
                           or max(tails.max(), heads.max()) >= count):
            raise CohesionError("réseau invalide : des arcs désignent des nœuds inexistants")
        indptr, indices, seconds, metres, _ = _compress(tails, heads, seconds, metres, count)
        osm_id = np.arange(count) if osm_id is None else osm_id
        return cls(indptr, indices, seconds, metres, lon, lat, osm_id, profile, source,
                   timestamp, tuple(notes))

    def save(self, path: Path | str) -> None:
        """Write the network to one ``.npz`` file (arrays and JSON metadata, no pickle).

        The file is written under a temporary name and then renamed: an interrupted
        save leaves no partial file behind.
        """
        path = Path(path)
        meta = {"format": _CACHE_FORMAT, "version": _CACHE_VERSION,
                "profile": self.profile.to_dict(), "source": self.source,
                "timestamp": self.timestamp, "notes": list(self.notes)}
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                                 suffix=".tmp")
        try:
            os.fchmod(descriptor, 0o644)
            with os.fdopen(descriptor, "wb") as stream:
                np.savez(stream, meta=np.array(json.dumps(meta, ensure_ascii=False)),
                         **{name: getattr(self, name) for name in _ARRAYS})
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path | str) -> Network:
        """Read a network written by :meth:`save`.

        Raises
        ------
        InputFileError
            If the file is missing or is not a network saved by Cohésion.
        """
        path = Path(path)
        if not path.is_file():
            raise InputFileError(path, "fichier introuvable", expected=EXPECTED_CACHE)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in _ARRAYS}
                meta = json.loads(str(data["meta"]))
            if meta.get("format") != _CACHE_FORMAT or meta.get("version") != _CACHE_VERSION:
                raise ValueError(f"format {meta.get('format')} version {meta.get('version')}")
            profile = Profile.from_dict(meta["profile"])
            return cls(**arrays, profile=profile, source=meta["source"],
                       timestamp=meta["timestamp"], notes=tuple(meta["notes"]))
        except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError,
                zipfile.BadZipFile) as error:
            raise InputFileError(path, "ce fichier n'est pas un réseau enregistré par "
                                 "Cohésion, ou il est abîmé", expected=EXPECTED_CACHE,
                                 found=str(error) or type(error).__name__) from None


def _sort_order(keys: np.ndarray) -> np.ndarray:
    """Indices that sort integer keys, equal keys in no particular order.

    numpy sorts plain int64 values (with SIMD code) several times faster than it argsorts
    them: when a key, less the smallest, and a position fit in 63 bits together, the keys
    are sorted packed with their positions (equal keys then stay in position order).
    Otherwise, keys spread too widely for their number (the (tail, head) pairs of a network
    of more than about 1.5 million nodes), this is ``np.argsort(keys)``.
    """
    count = len(keys)
    if not count:
        return np.zeros(0, dtype=np.int64)
    low, high = int(keys.min()), int(keys.max())
    shift = (count - 1).bit_length()
    if (high - low).bit_length() + shift > 63:
        return np.argsort(keys)
    packed = np.subtract(keys, low, dtype=np.int64)
    packed <<= shift
    packed |= np.arange(count)
    packed.sort()
    packed &= (1 << shift) - 1
    return packed


def _compress(tails: np.ndarray, heads: np.ndarray, seconds: np.ndarray, metres: np.ndarray,
              count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """CSR arrays of edges: loops dropped, the fastest of parallel edges kept.

    Of parallel edges (same tail, same head), the one of least time is kept, and of those
    the shortest.

    Returns ``indptr, indices, seconds, metres`` and the number of parallel edges dropped.
    """
    proper = tails != heads
    if not proper.all():
        tails, heads = tails[proper], heads[proper]
        seconds, metres = seconds[proper], metres[proper]
    # one int64 key per (tail, head) pair, sorted alone: parallel edges are rare, so they
    # are put in order of time then length apart instead of sorting every edge on 3 keys
    pair = tails.astype(np.int64) * count + heads
    order = _sort_order(pair)
    pair = pair[order]
    first = np.ones(len(pair), dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    # the edges of runs of parallel edges: those that follow one and those followed
    parallel = ~first
    parallel[:-1] |= parallel[1:]
    if parallel.any():
        runs = np.flatnonzero(parallel)
        edges = order[runs]
        order[runs] = edges[np.lexsort((metres[edges], seconds[edges], pair[runs]))]
    duplicates = int(len(first) - np.count_nonzero(first))
    kept = order[first]
    indptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails[kept], minlength=count), out=indptr[1:])
    return indptr, heads[kept].astype(np.int32), seconds[kept], metres[kept], duplicates


# -- reading OpenStreetMap ------------------------------------------------------------


def _osm_format(path: Path) -> str:
    """The pyosmium format of a file, from its first bytes; InputFileError otherwise."""
    if not path.exists():
        raise InputFileError(path, "fichier introuvable", expected=EXPECTED_OSM)
    if not path.is_file():
        raise InputFileError(path, "ce chemin n'est pas un fichier", expected=EXPECTED_OSM)
    try:
        with path.open("rb") as stream:
            head = stream.read(4096)
    except OSError as error:
        raise InputFileError(path, "fichier illisible", expected=EXPECTED_OSM,
                             found=error.strerror) from None
    if not head:
        raise InputFileError(path, "fichier vide", expected=EXPECTED_OSM)
    if head.startswith(b"\x1f\x8b"):
        return "osm.gz"
    if head.startswith(b"BZh"):
        return "osm.bz2"
    if head[4:15] == b"\x0a\x09OSMHeader":
        return "pbf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"<?xml", b"<osm")):
        if b"<osmChange" in head:
            raise InputFileError(path, "fichier de modifications OpenStreetMap (osmChange), "
                                 "pas un extrait", expected=EXPECTED_OSM, found="<osmChange>")
        if b"<osm" not in head:
            raise InputFileError(path, "ce fichier XML n'est pas un extrait OpenStreetMap "
                                 "(pas d'élément <osm>)", expected=EXPECTED_OSM)
        return "osm"
    preview = head[:40].decode("utf-8", "replace")
    preview = "".join(c if c.isprintable() else "·" for c in preview)
    raise InputFileError(path, "ce fichier n'est pas un extrait OpenStreetMap",
                         expected=EXPECTED_OSM, found=preview)


@dataclass
class _Ways:
    """Way nodes collected by pyosmium, before any array work.

    The fields of :class:`~cohesion.access.pbf.PbfWays`, which the PBF reader fills
    with the same values.
    """

    refs: array = field(default_factory=lambda: array("q"))
    x: array = field(default_factory=lambda: array("i"))
    y: array = field(default_factory=lambda: array("i"))
    sizes: array = field(default_factory=lambda: array("q"))
    speeds: array = field(default_factory=lambda: array("d"))
    directions: array = field(default_factory=lambda: array("b"))
    highways: int = 0
    newest: float = 0.0
    replication: str | None = None


def _read_ways(path: Path, fmt: str, profile: Profile,
               say: Callable[[str], None]) -> _Ways | PbfWays:
    """The ways of the file: PBF by the vectorised reader, unless it declines the file."""
    if fmt == "pbf":
        try:
            return read_pbf_ways(path, profile, say)
        except PbfUnsupported as reason:
            say(f"lecture PBF rapide impossible ({reason}) : lecture par pyosmium…")
    return _collect(path, fmt, profile, say)


def _collect(path: Path, fmt: str, profile: Profile,
             say: Callable[[str], None]) -> _Ways:
    """Read the ``highway`` ways of the file the profile may use (pyosmium)."""
    import osmium
    import osmium.filter

    found = _Ways()
    with osmium.io.Reader(osmium.io.File(str(path), fmt), osmium.osm.NOTHING) as reader:
        found.replication = reader.header().get("osmosis_replication_timestamp") or None
    processor = (osmium.FileProcessor(osmium.io.File(str(path), fmt))
                 .with_locations()
                 .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
                 .with_filter(osmium.filter.KeyFilter("highway")))
    refs, xs, ys = found.refs, found.x, found.y
    for way in processor:
        found.highways += 1
        if found.highways % _PROGRESS_WAYS == 0:
            say(f"{found.highways:,} voies lues…".replace(",", " "))
        if found.replication is None:  # the header's date wins: no need of the ways'
            found.newest = max(found.newest, way.timestamp.timestamp())
        tags = way.tags
        speed = profile.way_speed(tags)
        if speed is None:
            continue
        nodes = way.nodes
        size = len(nodes)
        if size < 2:
            continue
        for node in map(nodes.__getitem__, range(size)):  # no generator frame per node
            location = node.location
            refs.append(node.ref)
            xs.append(location.x)
            ys.append(location.y)
        found.sizes.append(size)
        found.speeds.append(speed)
        found.directions.append(profile.direction(tags))
    return found


def _iso(seconds: float) -> str | None:
    """ISO 8601 UTC text of a POSIX time, None for the epoch (no timestamp)."""
    if seconds <= 0:
        return None
    return np.datetime_as_string(np.datetime64(int(seconds), "s")) + "Z"


def read_network(path: Path | str, profile: Profile,
                 progress: Callable[[str], None] | None = None) -> Network:
    """Read the network a travel profile may use from an OpenStreetMap extract.

    Parameters
    ----------
    path : Path or str
        An OSM extract: XML (``.osm``, ``.osm.gz``, ``.osm.bz2``) or PBF
        (``.osm.pbf``); the format is recognised from the content. Nodes must come
        before the ways (as in every extract).
    profile : Profile
        Which ways are usable, at what speed, in which directions
        (:data:`~cohesion.access.profiles.WALK`, :data:`~cohesion.access.profiles.DRIVE`).
    progress : callable, optional
        Called with short French messages while reading.

    Returns
    -------
    Network
        The largest weakly connected component of the graph of consecutive way nodes,
        with geodesic lengths (WGS84 ellipsoid) and times; :attr:`Network.notes` says
        how many ways were kept and what was dropped.

    Raises
    ------
    InputFileError
        Missing file, a file that is not an OSM extract, an unreadable or truncated
        one, or one without any way the profile may use. Nothing is written.

    Examples
    --------
    >>> import tempfile
    >>> from cohesion.access.profiles import DRIVE
    >>> xml = '''<?xml version="1.0"?><osm version="0.6">
    ...  <node id="1" lat="48.85" lon="2.35"/><node id="2" lat="48.85" lon="2.351"/>
    ...  <node id="3" lat="48.851" lon="2.351"/>
    ...  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    ...   <tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way></osm>'''
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "rue.osm"
    ...     _ = path.write_text(xml)
    ...     network = read_network(path, DRIVE)
    >>> network.osm_id.tolist(), network.tails().tolist(), network.indices.tolist()
    ([1, 2, 3], [0, 1], [1, 2])
    >>> network.metres.round(1).tolist(), network.seconds.round(1).tolist()
    ([73.4, 111.2], [8.8, 13.3])
    """
    path = Path(path)
    say = progress or (lambda message: None)
    fmt = _osm_format(path)
    say(f"lecture de {path.name} (réseau {profile.label})…")
    try:
        ways = _read_ways(path, fmt, profile, say)
    except (RuntimeError, OSError) as error:
        raise InputFileError(path, "fichier OpenStreetMap illisible ou tronqué",
                             expected=EXPECTED_OSM, found=str(error)) from None
    if not len(ways.sizes):
        raise InputFileError(
            path, f"aucune voie praticable {profile.label} dans ce fichier",
            expected=f"des voies « highway » ouvertes au profil « {profile.name} »",
            found=f"{ways.highways} voie{'s' if ways.highways > 1 else ''} « highway »")
    say(f"{len(ways.sizes)} voies retenues ; construction du graphe…")
    network = _build(path, profile, ways)
    say(f"réseau {profile.label} : {network.node_count} nœuds, {network.edge_count} arcs")
    return network


def _build(path: Path, profile: Profile, ways: _Ways | PbfWays) -> Network:
    """The network of the collected ways (vectorised)."""
    refs = np.frombuffer(ways.refs, dtype=np.int64)
    x = np.frombuffer(ways.x, dtype=np.int32)
    y = np.frombuffer(ways.y, dtype=np.int32)
    sizes = np.frombuffer(ways.sizes, dtype=np.int64)
    speeds = np.frombuffer(ways.speeds, dtype=np.float64)
    directions = np.frombuffer(ways.directions, dtype=np.int8)
    way_of = np.repeat(np.arange(len(sizes)), sizes)
    located = (np.abs(x) <= _MAX_X) & (np.abs(y) <= _MAX_Y)
    lon, lat = x / _PRECISION, y / _PRECISION

    # consecutive nodes of a way, both located and distinct
    first = np.flatnonzero((way_of[:-1] == way_of[1:]) & located[:-1] & located[1:]
                           & (refs[:-1] != refs[1:]))
    second = first + 1
    # in place: the four gathered arrays are fresh, pyproj need not copy them again
    metres = GEOD.inv(lon[first], lat[first], lon[second], lat[second], inplace=True)[2]
    way = way_of[first]
    seconds = metres / (speeds[way] / 3.6)
    forward, backward = directions[way] >= 0, directions[way] <= 0
    if not (forward.any() or backward.any()):
        raise InputFileError(path, f"aucune voie praticable {profile.label} dans ce fichier",
                             expected="des voies d'au moins deux nœuds situés",
                             found=f"{len(sizes)} voies sans tronçon utilisable")
    # nodes numbered in order of OSM id, from the way nodes that end a segment: each
    # sorted once, where np.unique on both ends of every segment sorts most of them twice
    at = np.zeros(len(refs), dtype=bool)
    at[first] = at[second] = True
    at = np.flatnonzero(at)
    at = at[_sort_order(refs[at])]
    ids = refs[at]
    new = np.ones(len(at), dtype=bool)
    new[1:] = ids[1:] != ids[:-1]
    node_of = np.empty(len(refs), dtype=np.int32)
    node_of[at] = np.cumsum(new) - 1
    # one way node per node: any will do, a node's location being looked up by its id
    where, osm_id = at[new], ids[new]
    count = len(osm_id)
    node_first, node_second = node_of[first], node_of[second]
    indptr, indices, seconds, metres, duplicates = _compress(
        np.concatenate([node_first[forward], node_second[backward]]),
        np.concatenate([node_second[forward], node_first[backward]]),
        np.concatenate([seconds[forward], seconds[backward]]),
        np.concatenate([metres[forward], metres[backward]]), count)

    notes = [f"{len(sizes)} voies retenues pour le profil « {profile.name} » "
             f"({profile.label}) sur {ways.highways} voies « highway » lues"]
    if profile.oneway:
        notes.append(f"dont {int(np.count_nonzero(directions))} à sens unique")
    missing = np.unique(refs[~located]).size
    if missing:
        notes.append(f"{missing} nœuds de voies absents du fichier (extrait découpé) : "
                     "tronçons correspondants ignorés")
    if duplicates:
        notes.append(f"{duplicates} arcs en double entre deux mêmes nœuds : le plus rapide "
                     "gardé")
    network = Network(indptr, indices, seconds, metres, lon[where], lat[where], osm_id,
                      profile, path.name, ways.replication or _iso(ways.newest))
    components, labels = connected_components(network.matrix(), directed=True,
                                              connection="weak")
    if components > 1:
        sizes_of = np.bincount(labels)
        largest = int(np.argmax(sizes_of))
        network, _ = network.subgraph(labels == largest)
        dropped = count - network.node_count
        where = ("d'une composante isolée" if components == 2
                 else f"répartis en {components - 1} composantes isolées")
        notes.append(f"composante connexe principale gardée ({network.node_count} nœuds) ; "
                     f"{dropped} nœuds {where} écartés")
    else:
        notes.append("réseau d'un seul tenant")
    notes.append(f"{network.node_count} nœuds, {network.edge_count} arcs ; longueurs "
                 "géodésiques (ellipsoïde WGS84)")
    return Network(network.indptr, network.indices, network.seconds, network.metres,
                   network.lon, network.lat, network.osm_id, profile, path.name,
                   network.timestamp, tuple(notes))
