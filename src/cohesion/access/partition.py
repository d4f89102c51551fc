"""A region, or all of France, cut by département with a halo: exact, in bounded memory.

The travel time from every origin (a 200 m cell, an address…) to its nearest equipment
over a national road network is one multi-source Dijkstra, but its memory grows with
the whole network. :func:`partition` cuts the work into one :class:`Part` per group of
origins (their département, as a rule): a part owns the results of its origins and keeps
only the network nodes within a **halo** around them. :func:`nearest_by_part` runs the
parts one after the other in this process; :func:`nearest_on_dask` runs them as tasks of
a Dask cluster (a local one by default, or an existing scheduler by address). Both give
exactly, bit for bit, the times of the whole network.

Why the halo makes the results exact
------------------------------------
Let :math:`v` be the fastest straight-line speed of any edge of the network: its
straight-line length (the chord between its two nodes, in geocentric coordinates,
EPSG:4978) divided by its time. A path of travel time :math:`t` covers at most
:math:`v t` of straight line (the chord of the path is at most the sum of the chords of
its edges: the triangle inequality), so **a path of at most the time limit** :math:`T`
**never leaves the ball of radius** :math:`v T` **around its first node**. A part keeps
every node within :math:`v T` (plus 1 m for rounding, :func:`halo_metres`) of the node
of one of its origins (a few more do no harm), and the edges between them. The best
path of an origin's node to its nearest equipment, when it takes at most :math:`T`,
therefore lies inside the part, and the part holds no path the whole network does not:
the time found in the part is the time of the whole network, down to the last bit (same
edges, same additions). Times above :math:`T` are infinite both ways. Equipment farther
than :math:`v T` from every origin of a part cannot be reached within :math:`T` and is
left out.

Distances are straight lines in geocentric (Earth-centred) coordinates rather than in a
projected CRS: a straight line is never longer than the geodesic, whatever the
territory, so no scale-factor margin and no CRS per territory are needed.

Memory and work
---------------
Origins and equipment are snapped once on the whole network
(:func:`~cohesion.access.routing.snap`), so that each keeps its node whatever the cut.
Routing then holds one part at a time: its subgraph (30 to 40 bytes per edge, its
reversed copy included) and the Dijkstra arrays of its nodes; on Dask each worker
receives only the arrays of its parts, and the client, which holds the whole network,
a few parts at a time. The parts overlap by their halos: the total work grows with the
halo's width relative to a département's (a 15-minute drive on motorways at 110 to
130 km/h is a 28 to 33 km halo).

Examples
--------
A street of six nodes, 100 m (72 s on foot) apart, one origin on each node, two
groups of three. Within 150 s one walks 208 m: each part keeps the two nearest nodes of
the other group, and no more.

>>> from cohesion.access.network import Network
>>> street = Network.from_edges(
...     [0, 1, 1, 2, 2, 3, 3, 4, 4, 5], [1, 0, 2, 1, 3, 2, 4, 3, 5, 4], seconds=[72.0] * 10,
...     metres=[100.0] * 10, lon=2.35 + 0.001364 * np.arange(6), lat=[48.85] * 6)
>>> parts = partition(street, street.lon, street.lat, np.array(list("AAABBB")), 150)
>>> [(part.name, part.origins.tolist(), part.nodes.tolist()) for part in parts]
[('A', [0, 1, 2], [0, 1, 2, 3, 4]), ('B', [3, 4, 5], [1, 2, 3, 4, 5])]
>>> nearest_by_part(street, parts, street.lon, street.lat, street.lon[[5]],
...                 street.lat[[5]], 150, 5.0).round(1).tolist()
[inf, inf, inf, 144.0, 72.0, 0.0]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from cohesion.access import routing
from cohesion.access.network import Network
from cohesion.access.profiles import MAX_SPEED_KMH, WALK_SPEED_KMH, Profile
from cohesion.errors import CohesionError, UnavailableError

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["HALO_MARGIN_METRES", "Part", "halo_metres", "nearest_by_part", "nearest_on_dask",
           "partition", "solve_part", "top_speed_kmh"]

#: Added to every halo: more than the rounding of chords and sums of times could ever
#: take (a millimetre over a million edges).
HALO_MARGIN_METRES = 1.0
#: WGS84 ellipsoid: semi-major axis (m) and first eccentricity squared.
_A, _E2 = 6_378_137.0, 6.694379990141317e-3
#: Edges whose chords are computed at once (3 float64 each: 100 Mo).
_EDGE_BLOCK = 1 << 22
#: Parts in flight on Dask per worker thread (the client builds the next while they run).
_IN_FLIGHT = 2


@dataclass(frozen=True, eq=False)
class Part:
    """One département-sized piece of work.

    Attributes
    ----------
    name : str
        The group's label (a département code such as ``33``).
    origins : ndarray of int64
        Indices, into the caller's origin arrays, of the origins whose results this
        part owns.
    nodes : ndarray of int64
        Indices in the whole network of the nodes kept for the part, increasing: those
        within the halo of its origins' nodes.
    """

    name: str
    origins: np.ndarray
    nodes: np.ndarray

    def __repr__(self) -> str:
        origins, nodes = len(self.origins), len(self.nodes)
        return (f"<Part {self.name} : {origins} origine{'s' if origins > 1 else ''}, "
                f"{nodes} nœud{'s' if nodes > 1 else ''}>")


# -- geometry -------------------------------------------------------------------------


def _geocentric(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Earth-centred x, y, z (metres, EPSG:4978) of points on the WGS84 ellipsoid."""
    lam, phi = np.radians(lon), np.radians(lat)
    sin_phi, cos_phi = np.sin(phi), np.cos(phi)
    n = _A / np.sqrt(1.0 - _E2 * sin_phi**2)
    return np.column_stack([n * cos_phi * np.cos(lam), n * cos_phi * np.sin(lam),
                            n * (1.0 - _E2) * sin_phi])


def top_speed_kmh(network: Network) -> float:
    """The fastest straight-line speed of any edge of the network, km/h.

    Each edge's chord (the straight line between its two nodes, in geocentric
    coordinates) divided by its time; inf if an edge joins two distinct places in no
    time. No path goes faster as the crow flies, whatever its edges' lengths say.

    Examples
    --------
    >>> from cohesion.access.network import Network
    >>> road = Network.from_edges([0, 1], [1, 0], seconds=[36.0, 72.0], metres=[1e3, 1e3],
    ...                           lon=[2.35, 2.35], lat=[48.85, 48.859])
    >>> round(top_speed_kmh(road), 1)
    100.1
    """
    if not network.edge_count:
        return 0.0
    xyz = _geocentric(network.lon, network.lat)
    tails, fastest = network.tails(), 0.0
    for start in range(0, network.edge_count, _EDGE_BLOCK):
        block = slice(start, start + _EDGE_BLOCK)
        chord = np.linalg.norm(xyz[network.indices[block]] - xyz[tails[block]], axis=1)
        seconds = network.seconds[block]
        moving = chord > 0
        if np.any(seconds[moving] == 0):
            return np.inf
        if np.any(moving):
            fastest = max(fastest, float(np.max(chord[moving] / seconds[moving])))
    return fastest * 3.6


def halo_metres(limit_seconds: float, profile: Profile, network: Network | None = None
                ) -> float:
    """The largest straight-line distance travelled within a time, plus a margin.

    ``limit_seconds × top speed + 1 m``. Without a network, the top speed is the
    profile's: its fastest class, or 200 km/h where a ``maxspeed`` tag may raise it.
    With the network, it is the fastest edge's (:func:`top_speed_kmh`): tighter, and
    right whatever profile the network was built with. Every node on a path of at most
    ``limit_seconds`` lies within this distance of the path's first node (see the
    module's documentation): keeping all of them makes a part's times exact.

    Parameters
    ----------
    limit_seconds : float
        Time limit of the computation (≥ 0; inf gives an infinite halo).
    profile : Profile
        The travel profile.
    network : Network, optional
        The network to measure the top speed on.

    Returns
    -------
    float
        Metres.

    Examples
    --------
    >>> from cohesion.access.profiles import DRIVE, WALK
    >>> halo_metres(900, WALK)
    1251.0
    >>> round(halo_metres(900, DRIVE))  # 200 km/h: maxspeed tags may say so
    50001
    """
    limit = routing.checked_limit(limit_seconds)
    speed = top_speed_kmh(network) if network is not None else max(
        [profile.speed_kmh, *profile.speeds_kmh.values(),
         *([MAX_SPEED_KMH] if profile.maxspeed else [])])
    if limit == 0:
        return HALO_MARGIN_METRES
    return limit * speed / 3.6 + HALO_MARGIN_METRES


# -- cutting --------------------------------------------------------------------------


def partition(network: Network, origin_lon: np.ndarray, origin_lat: np.ndarray,
              origin_group: np.ndarray, limit_seconds: float, *, halo: float | None = None
              ) -> list[Part]:
    """Cut the work into one part per group of origins, each with its halo of network.

    Parameters
    ----------
    network : Network
        The whole network.
    origin_lon, origin_lat : ndarray of float
        The origins (WGS84).
    origin_group : ndarray
        A label per origin: its département code, as a rule (computed by the caller).
    limit_seconds : float
        The time limit the parts will be computed with; they are exact for it and any
        smaller limit.
    halo : float, optional
        Halo in metres; by default :func:`halo_metres` of the network. A smaller one
        makes the parts smaller and the times of some origins wrong (too long, or
        infinite): for experiments and tests only.

    Returns
    -------
    list of Part
        One per distinct label, in the labels' sorted order. A part keeps every network
        node within ``halo`` (a straight line in geocentric coordinates) of the node of
        one of its origins, and a few more (the origins' nodes are grouped by cubes of
        an eighth of the halo, which keeps the search fast); origins off the network
        (:func:`~cohesion.access.routing.snap` gives -1) belong to their part but widen
        nothing.

    Raises
    ------
    CohesionError
        For arrays of different lengths or an invalid limit or halo.

    Examples
    --------
    >>> from cohesion.access.network import Network
    >>> line = Network.from_edges([0, 1, 1, 2], [1, 0, 2, 1], seconds=[72.0] * 4,
    ...                           metres=[100.0] * 4, lon=[2.35, 2.351364, 2.352728],
    ...                           lat=[48.85] * 3)
    >>> partition(line, line.lon, line.lat, np.array([1, 1, 2]), 60)
    [<Part 1 : 2 origines, 2 nœuds>, <Part 2 : 1 origine, 1 nœud>]
    """
    limit = routing.checked_limit(limit_seconds)
    origin_group = np.asarray(origin_group)
    if origin_group.shape != np.shape(origin_lon):
        raise CohesionError("découpage : un groupe par origine attendu (reçu "
                            f"{origin_group.shape} groupes pour {np.shape(origin_lon)} "
                            "origines)")
    if halo is None:
        halo = halo_metres(limit, network.profile, network)
    elif isinstance(halo, bool) or not isinstance(halo, int | float | np.number) \
            or not halo >= 0:
        raise CohesionError(f"halo invalide : {halo!r} (attendu des mètres, positif ou nul)")
    node, _ = routing.snap(network, origin_lon, origin_lat)
    labels, group_of = np.unique(origin_group, return_inverse=True)
    xyz = _geocentric(network.lon, network.lat)
    by_x = np.argsort(xyz[:, 0], kind="stable")
    sorted_x = xyz[by_x, 0]
    order = np.argsort(group_of, kind="stable")
    bounds = np.searchsorted(group_of[order], np.arange(len(labels) + 1))
    parts = []
    for number, label in enumerate(labels):
        origins = order[bounds[number]:bounds[number + 1]].astype(np.int64)
        seeds = np.unique(node[origins])
        seeds = seeds[seeds >= 0]
        parts.append(Part(str(label), origins,
                          _within(xyz, by_x, sorted_x, seeds, float(halo))))
    return parts


def _within(xyz: np.ndarray, by_x: np.ndarray, sorted_x: np.ndarray, seeds: np.ndarray,
            halo: float) -> np.ndarray:
    """The nodes (increasing) within ``halo`` of one of the ``seeds`` nodes."""
    if not len(seeds):
        return np.zeros(0, dtype=np.int64)
    if not np.isfinite(halo):
        return np.arange(len(xyz), dtype=np.int64)
    # the seeds grouped by cubes of an eighth of the halo: each cube's centre, with the
    # radius widened by its half-diagonal, covers its seeds' balls (a few more nodes
    # kept, never fewer) and the query is as fast for a whole département as for a town
    side = max(halo / 8, 1.0)
    cubes = np.unique(np.floor(xyz[seeds] / side), axis=0)
    centres = (cubes + 0.5) * side
    halo = halo + side * np.sqrt(3) / 2
    low, high = centres.min(axis=0) - halo, centres.max(axis=0) + halo
    start = np.searchsorted(sorted_x, low[0], side="left")
    stop = np.searchsorted(sorted_x, high[0], side="right")
    candidates = by_x[start:stop]
    box = xyz[candidates]
    candidates = candidates[np.all((box[:, 1:] >= low[1:]) & (box[:, 1:] <= high[1:]), axis=1)]
    # the query's bound is strict: the next float up keeps nodes at exactly ``halo``
    distance, _ = cKDTree(centres).query(xyz[candidates],
                                         distance_upper_bound=np.nextafter(halo, np.inf))
    return np.sort(candidates[np.isfinite(distance)]).astype(np.int64)


# -- routing a part -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _PartWork:
    """What a part's routing needs, in the subgraph's numbering (sent to Dask workers)."""

    network: Network
    origin_node: np.ndarray
    origin_metres: np.ndarray
    sources: np.ndarray
    limit: float
    walk_speed_kmh: float


def _prepare(network: Network, part: Part, origin_node: np.ndarray,
             origin_metres: np.ndarray, equipment_node: np.ndarray, limit: float,
             walk_speed_kmh: float) -> _PartWork:
    """The part's subgraph, its origins' and equipment's nodes renumbered into it."""
    keep = np.zeros(network.node_count, dtype=bool)
    keep[part.nodes] = True
    subnetwork, kept = network.subgraph(keep)
    nodes = origin_node[part.origins]
    local = np.full(len(nodes), -1, dtype=np.int64)
    attached = nodes >= 0
    if not np.all(keep[nodes[attached]]):
        raise CohesionError(f"découpage : la partie {part.name} ne contient pas les nœuds de "
                            "toutes ses origines (parties faites pour un autre réseau ?)")
    local[attached] = np.searchsorted(kept, nodes[attached])
    equipment = np.unique(equipment_node[equipment_node >= 0])
    equipment = equipment[keep[equipment]]
    return _PartWork(subnetwork, local, origin_metres[part.origins],
                     np.searchsorted(kept, equipment), limit, walk_speed_kmh)


def _run(work: _PartWork) -> np.ndarray:
    """Seconds from each origin of a part (inf beyond the limit, NaN off the network)."""
    node_times = routing.times_to_nearest(work.network, work.sources, work.limit)
    seconds = routing.origin_times(work.origin_node, work.origin_metres, node_times,
                                   work.walk_speed_kmh)
    seconds[seconds > work.limit] = np.inf
    return seconds


def solve_part(network: Network, part: Part, origin_node: np.ndarray,
               origin_metres: np.ndarray, equipment_node: np.ndarray, limit_seconds: float,
               walk_speed_kmh: float = WALK_SPEED_KMH) -> np.ndarray:
    """Time from each origin of one part to its nearest equipment, over the part only.

    The building block of :func:`nearest_by_part` and :func:`nearest_on_dask`, for
    those who schedule the parts themselves (and measure each one).

    Parameters
    ----------
    network : Network
        The whole network the parts were cut from.
    part : Part
    origin_node, origin_metres : ndarray
        :func:`~cohesion.access.routing.snap` of all the origins on the whole network.
    equipment_node : ndarray of int
        The equipment's nodes on the whole network (-1 ignored).
    limit_seconds : float
    walk_speed_kmh : float, default 5
        Speed of the walk from an origin to its node.

    Returns
    -------
    ndarray of float64
        Seconds for ``part.origins``, in their order: inf beyond the limit, NaN for
        origins off the network.
    """
    return _run(_prepare(network, part, np.asarray(origin_node, dtype=np.int64),
                         np.asarray(origin_metres, dtype=np.float64),
                         np.asarray(equipment_node, dtype=np.int64),
                         routing.checked_limit(limit_seconds), walk_speed_kmh))


def _snapped(network: Network, origin_lon: np.ndarray, origin_lat: np.ndarray,
             equipment_lon: np.ndarray, equipment_lat: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    origin_node, origin_metres = routing.snap(network, origin_lon, origin_lat)
    equipment_node, _ = routing.snap(network, equipment_lon, equipment_lat)
    return origin_node, origin_metres, equipment_node


def nearest_by_part(network: Network, parts: Sequence[Part], origin_lon: np.ndarray,
                    origin_lat: np.ndarray, equipment_lon: np.ndarray,
                    equipment_lat: np.ndarray, limit_seconds: float,
                    walk_speed_kmh: float = WALK_SPEED_KMH,
                    progress: Callable[[str], None] | None = None) -> np.ndarray:
    """Time from each origin to its nearest equipment, one part after the other.

    The single-process path: origins and equipment are snapped once on the whole
    network, then each part routes over its subgraph from the equipment inside it
    (:func:`~cohesion.access.routing.times_to_nearest`) and adds the walk from each of
    its origins to its node (:func:`~cohesion.access.routing.origin_times`).

    Parameters
    ----------
    network : Network
        The whole network.
    parts : sequence of Part
        From :func:`partition` with a limit at least ``limit_seconds``.
    origin_lon, origin_lat : ndarray of float
        The origins, as given to :func:`partition`.
    equipment_lon, equipment_lat : ndarray of float
        The equipment (WGS84); equipment off the network (``snap`` gives -1) is ignored.
    limit_seconds : float
        Time limit, walk included.
    walk_speed_kmh : float, default 5
        Speed of the walk from an origin to its node.
    progress : callable, optional
        Told « partie N/M (nom) » as each part is done.

    Returns
    -------
    ndarray of float64
        Seconds per origin, identical to the whole network's: inf where no equipment is
        reached within the limit, NaN for origins off the network or in no part.

    See Also
    --------
    nearest_on_dask : the same on a Dask cluster.
    """
    limit = routing.checked_limit(limit_seconds)
    origin_node, origin_metres, equipment_node = _snapped(
        network, origin_lon, origin_lat, equipment_lon, equipment_lat)
    seconds = np.full(len(origin_node), np.nan)
    for done, part in enumerate(parts, 1):
        seconds[part.origins] = _run(_prepare(network, part, origin_node, origin_metres,
                                              equipment_node, limit, walk_speed_kmh))
        if progress is not None:
            progress(f"partie {done}/{len(parts)} ({part.name})")
    return seconds


def nearest_on_dask(network: Network, parts: Sequence[Part], origin_lon: np.ndarray,
                    origin_lat: np.ndarray, equipment_lon: np.ndarray,
                    equipment_lat: np.ndarray, limit_seconds: float,
                    walk_speed_kmh: float = WALK_SPEED_KMH, *, client: Client | None = None,
                    address: str | None = None, workers: int = 2) -> np.ndarray:
    """The work of :func:`nearest_by_part` as one Dask task per part; identical results.

    The client snaps the points, builds each part's subgraph and scatters it to the
    cluster, a few parts ahead of the workers (its memory holds the whole network and
    those few parts); each task routes one part; the client gathers and assembles.

    Parameters
    ----------
    network, parts, origin_lon, origin_lat, equipment_lon, equipment_lat
        As for :func:`nearest_by_part`.
    limit_seconds, walk_speed_kmh
        As for :func:`nearest_by_part`.
    client : distributed.Client, optional
        A client of a running cluster (left open).
    address : str, optional
        Or the address of a running scheduler (``tcp://host:8786``), connected to for
        the call only. The workers must be able to import Cohésion.
    workers : int, default 2
        Without ``client`` nor ``address``: a local cluster of this many worker
        processes of one thread each
        (:func:`cohesion.geo.distributed.local_client`), started and stopped here, its
        worker processes stopped even after an interruption.

    Returns
    -------
    ndarray of float64
        Seconds per origin, as :func:`nearest_by_part`.

    Raises
    ------
    CohesionError
        When both ``client`` and ``address`` are given.
    UnavailableError
        When no scheduler answers at ``address``.
    """
    if client is not None and address is not None:
        raise CohesionError("Dask : donner un client ou une adresse d'ordonnanceur, pas les "
                            "deux")
    limit = routing.checked_limit(limit_seconds)
    work = (network, parts, origin_lon, origin_lat, equipment_lon, equipment_lat, limit,
            walk_speed_kmh)
    if client is not None:
        return _on_client(client, *work)
    if address is not None:
        from distributed import Client

        try:
            connected = Client(address, timeout="10s")
        except (OSError, TimeoutError) as error:
            raise UnavailableError(f"ordonnanceur Dask injoignable à l'adresse {address} "
                                   f"({error}) : vérifier qu'il tourne (dask scheduler) et "
                                   "l'adresse tcp://hôte:port") from None
        with connected:
            return _on_client(connected, *work)
    from cohesion.geo.distributed import local_client

    with local_client(workers=workers) as started:
        return _on_client(started, *work)


def _on_client(client: Client, network: Network, parts: Sequence[Part],
               origin_lon: np.ndarray, origin_lat: np.ndarray, equipment_lon: np.ndarray,
               equipment_lat: np.ndarray, limit: float, walk_speed_kmh: float) -> np.ndarray:
    """Scatter each part's arrays, route them on the workers, assemble the results."""
    origin_node, origin_metres, equipment_node = _snapped(
        network, origin_lon, origin_lat, equipment_lon, equipment_lat)
    seconds = np.full(len(origin_node), np.nan)
    window = _IN_FLIGHT * max(sum(client.nthreads().values()), 1)
    running: deque[tuple[Part, Future]] = deque()

    def collect() -> None:
        part, future = running.popleft()
        seconds[part.origins] = future.result()
        future.release()

    try:
        for part in parts:
            shipped = client.scatter(_prepare(network, part, origin_node, origin_metres,
                                              equipment_node, limit, walk_speed_kmh),
                                     hash=False)
            running.append((part, client.submit(_run, shipped, pure=False)))
            if len(running) >= window:
                collect()
        while running:
            collect()
    except BaseException:
        client.cancel([future for _, future in running])
        raise
    return seconds
