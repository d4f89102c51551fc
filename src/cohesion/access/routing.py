"""Travel times over a :class:`~cohesion.access.network.Network`: arrays in, arrays out.

- :func:`snap` attaches points to their nearest network node, and
  :func:`origin_times` adds the walk from the point to that node;
- :func:`times_to_nearest` gives, for every node, the time to the nearest of some
  destination nodes (a service, an equipment), in one multi-source Dijkstra;
- :func:`reachable_counts` counts (or weighs) the destinations reachable within a time;
- :func:`two_step_fca` computes the two-step floating catchment area accessibility
  (supply per unit of demand, Luo & Wang 2003), with an optional distance decay;
- :func:`crow_fly_times` and :func:`crow_fly_counts` are the declared fallback when no
  network is available: straight-line distance times a detour factor.

Every time goes **from the origin to the destination** (the trip to the service): on a
network with one-way streets, Dijkstra runs from the destinations over the reversed
graph. Times are in seconds. Distances between points and nodes are measured in the
projected CRS of each point's territory (Lambert-93 in metropolitan France, the local
CRS of each overseas département: :data:`cohesion.territory.crs.ZONES`).

Examples
--------
A street of four nodes, 100 m (72 s at 5 km/h) apart, in Paris:

>>> from cohesion.access.network import Network
>>> street = Network.from_edges([0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2],
...                             seconds=[72.0] * 6, metres=[100.0] * 6,
...                             lon=[2.35, 2.35136, 2.35272, 2.35408], lat=[48.85] * 4)
>>> times_to_nearest(street, np.array([3])).tolist()
[216.0, 144.0, 72.0, 0.0]
>>> node, metres = snap(street, np.array([2.3501]), np.array([48.8503]))
>>> node.tolist(), metres.round(1).tolist()
([0], [34.2])
>>> origin_times(node, metres, times_to_nearest(street, np.array([3])), 5.0).round(1)
array([240.6])
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from cohesion.access.network import Network
from cohesion.errors import CohesionError
from cohesion.territory.crs import WGS84, ZONES, transformer, zone_of

__all__ = ["DECAYS", "crow_fly_counts", "crow_fly_times", "origin_times", "reachable_counts",
           "snap", "times_to_nearest", "two_step_fca"]

#: Distance decay functions of :func:`two_step_fca`.
DECAYS = ("none", "linear", "gaussian")
#: Largest block of Dijkstra results held at once, in float64 values (256 Mo).
_BLOCK_VALUES = 32 * 2**20
_ZONE_CRS = list(ZONES)


# -- checks ---------------------------------------------------------------------------


def _coordinates(lon: np.ndarray, lat: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.ndim != 1 or lon.shape != lat.shape:
        raise CohesionError(f"{what} : longitudes et latitudes doivent être deux tableaux à "
                            f"une dimension de même longueur (reçu {lon.shape} et {lat.shape})")
    return lon, lat


def _nodes(network: Network, nodes: np.ndarray, what: str) -> np.ndarray:
    nodes = np.asarray(nodes)
    if nodes.size == 0:
        return np.zeros(0, dtype=np.int64)
    if nodes.ndim != 1 or not np.issubdtype(nodes.dtype, np.integer):
        raise CohesionError(f"{what} : attendu un tableau d'indices de nœuds entiers "
                            f"(reçu {nodes.dtype} de forme {nodes.shape})")
    if nodes.min() < 0 or nodes.max() >= network.node_count:
        raise CohesionError(f"{what} : indices de nœuds hors du réseau (attendu de 0 à "
                            f"{network.node_count - 1}, reçu de {nodes.min()} à {nodes.max()})")
    return nodes.astype(np.int64, copy=False)


def checked_limit(limit: float) -> float:
    """A cut-off in seconds as a float; anything but a number ≥ 0 is refused in French."""
    if isinstance(limit, bool) or not isinstance(limit, int | float | np.number) \
            or not limit >= 0:
        raise CohesionError(f"temps limite invalide : {limit!r} (attendu un nombre de "
                            "secondes positif ou nul)")
    return float(limit)


def _speed(speed_kmh: float) -> float:
    if isinstance(speed_kmh, bool) or not isinstance(speed_kmh, int | float | np.number) \
            or not 0 < speed_kmh < np.inf:
        raise CohesionError(f"vitesse invalide : {speed_kmh!r} (attendu un nombre de km/h "
                            "strictement positif)")
    return float(speed_kmh)


def _weights(values: np.ndarray | None, size: int, what: str) -> np.ndarray | None:
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (size,) or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise CohesionError(f"{what} : attendu {size} valeurs finies positives ou nulles "
                            f"(reçu une forme {values.shape})")
    return values


def _block_rows(network: Network, chunk: int) -> int:
    """Sources per Dijkstra call: ``chunk``, fewer if a block would pass 256 Mo."""
    if isinstance(chunk, bool) or not isinstance(chunk, int | np.integer) or chunk < 1:
        raise CohesionError(f"taille de lot invalide : {chunk!r} (attendu un entier ≥ 1)")
    return int(max(1, min(chunk, _BLOCK_VALUES // max(network.node_count, 1))))


# -- projection -----------------------------------------------------------------------


def _by_zone(lon: np.ndarray, lat: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The projected CRS of each territory the points lie in, and the points' rows."""
    zone = zone_of(lon, lat)
    return [(_ZONE_CRS[number], np.flatnonzero(zone == number))
            for number in np.unique(zone[zone >= 0])]


def _project(crs: str, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x, y = transformer(WGS84, crs).transform(lon, lat)
    return np.column_stack([x, y])


def _finite_tree(crs: str, lon: np.ndarray, lat: np.ndarray) -> tuple[cKDTree, np.ndarray]:
    """A k-d tree of the points projected in ``crs``, and the rows it holds."""
    xy = _project(crs, lon, lat)
    rows = np.flatnonzero(np.isfinite(xy).all(axis=1))
    return cKDTree(xy[rows]), rows


def _node_tree(network: Network, crs: str) -> tuple[cKDTree, np.ndarray]:
    """The k-d tree of the network's nodes in ``crs``, built once per network."""
    key = ("tree", crs)
    if key not in network._cache:
        network._cache[key] = _finite_tree(crs, network.lon, network.lat)
    return network._cache[key]


# -- snapping -------------------------------------------------------------------------


def snap(network: Network, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest network node of each point, and the straight-line distance to it.

    Parameters
    ----------
    network : Network
    lon, lat : ndarray of float
        The points (WGS84).

    Returns
    -------
    node : ndarray of int64
        Index of the nearest node; -1 for points outside every French territory of
        :data:`~cohesion.territory.crs.ZONES` (or without coordinates).
    metres : ndarray of float64
        Distance to that node, in the projected CRS of the point's territory; NaN where
        ``node`` is -1.

    Examples
    --------
    >>> from cohesion.access.network import Network
    >>> square = Network.from_edges([0, 1], [1, 0], seconds=[1.0, 1.0], metres=[1.0, 1.0],
    ...                             lon=[2.35, 2.36], lat=[48.85, 48.85])
    >>> node, metres = snap(square, np.array([2.359, 2.0, np.nan]), np.array([48.85, 0.0, 1.0]))
    >>> node.tolist(), metres.round(1).tolist()
    ([1, -1, -1], [73.4, nan, nan])
    """
    lon, lat = _coordinates(lon, lat, "points à rattacher au réseau")
    node = np.full(len(lon), -1, dtype=np.int64)
    metres = np.full(len(lon), np.nan)
    for crs, rows in _by_zone(lon, lat):
        tree, held = _node_tree(network, crs)
        if not len(held):
            continue
        distance, found = tree.query(_project(crs, lon[rows], lat[rows]))
        ok = np.isfinite(distance)
        node[rows[ok]] = held[found[ok]]
        metres[rows[ok]] = distance[ok]
    return node, metres


def origin_times(node: np.ndarray, snap_metres: np.ndarray, node_times: np.ndarray,
                 walk_speed_kmh: float) -> np.ndarray:
    """Time from each origin point: the walk to its node, then the node's time.

    Parameters
    ----------
    node : ndarray of int
        Node of each origin (:func:`snap`); -1 for origins not attached.
    snap_metres : ndarray of float
        Distance from each origin to its node, walked.
    node_times : ndarray of float
        Time from each node (:func:`times_to_nearest`), seconds.
    walk_speed_kmh : float
        Walking speed for the distance to the node.

    Returns
    -------
    ndarray of float64
        ``node_times[node] + snap_metres / (walk_speed_kmh / 3.6)`` seconds; inf where the
        node reaches nothing, NaN for origins not attached.

    Examples
    --------
    >>> origin_times(np.array([1, -1]), np.array([50.0, np.nan]), np.array([0.0, 600.0]),
    ...              5.0).tolist()
    [636.0, nan]
    """
    speed = _speed(walk_speed_kmh)
    node = np.asarray(node, dtype=np.int64)
    snap_metres = np.asarray(snap_metres, dtype=np.float64)
    node_times = np.asarray(node_times, dtype=np.float64)
    if node.shape != snap_metres.shape:
        raise CohesionError("temps des points d'origine : nœuds et distances doivent avoir "
                            f"la même forme (reçu {node.shape} et {snap_metres.shape})")
    if node.size and node.max() >= len(node_times):
        raise CohesionError("temps des points d'origine : nœud hors du réseau "
                            f"({node.max()} pour {len(node_times)} nœuds)")
    attached = node >= 0
    times = np.full(node.shape, np.nan)
    times[attached] = node_times[node[attached]] + snap_metres[attached] / (speed / 3.6)
    return times


# -- network times --------------------------------------------------------------------


def times_to_nearest(network: Network, sources: np.ndarray, limit: float = np.inf
                     ) -> np.ndarray:
    """Time from every node to the nearest of some destination nodes.

    One multi-source Dijkstra (:func:`scipy.sparse.csgraph.dijkstra` with
    ``min_only=True``) from the destinations over the reversed graph, so that each time
    is that of the trip from the node to the destination, one-way streets included.

    Parameters
    ----------
    network : Network
    sources : ndarray of int
        Destination nodes (a service's sites snapped on the network); repeats are fine.
    limit : float, default inf
        Times above it, in seconds, are not computed (and left inf): faster.

    Returns
    -------
    ndarray of float64
        Seconds per node; inf where no destination is reachable within ``limit``, and
        everywhere when ``sources`` is empty.

    Examples
    --------
    A one-way loop 0 → 1 → 2 → 0, 10 s per edge:

    >>> from cohesion.access.network import Network
    >>> loop = Network.from_edges([0, 1, 2], [1, 2, 0], seconds=[10.0] * 3,
    ...                           metres=[50.0] * 3, lon=[2.35] * 3, lat=[48.85] * 3)
    >>> times_to_nearest(loop, np.array([0])).tolist()
    [0.0, 20.0, 10.0]
    >>> times_to_nearest(loop, np.array([0]), limit=15).tolist()
    [0.0, inf, 10.0]
    >>> times_to_nearest(loop, np.array([], dtype=int)).tolist()
    [inf, inf, inf]
    """
    sources = _nodes(network, sources, "destinations")
    limit = checked_limit(limit)
    if not len(sources):
        return np.full(network.node_count, np.inf)
    return dijkstra(network._reverse(), directed=True, indices=np.unique(sources),
                    min_only=True, limit=limit)


def _blocks(network: Network, nodes: np.ndarray, limit: float, chunk: int):
    """Successive ``(rows, times)``: ``times[r, i]`` from node ``i`` to ``nodes[rows[r]]``."""
    step = _block_rows(network, chunk)
    reverse = network._reverse()
    for start in range(0, len(nodes), step):
        rows = np.arange(start, min(start + step, len(nodes)))
        times = dijkstra(reverse, directed=True, indices=nodes[rows], limit=limit)
        yield rows, np.atleast_2d(times)


def reachable_counts(network: Network, sources: np.ndarray, limit: float,
                     weights: np.ndarray | None = None, chunk: int = 256) -> np.ndarray:
    """Number (or total weight) of destinations each node reaches within a time.

    Parameters
    ----------
    network : Network
    sources : ndarray of int
        Destination nodes; each occurrence counts (two sites on one node count twice).
    limit : float
        Seconds; a destination at exactly ``limit`` counts.
    weights : ndarray of float, optional
        Weight of each destination (places, staff…); counts when omitted.
    chunk : int, default 256
        Destinations per Dijkstra call, fewer on large networks (a block of times is
        kept under 256 Mo). Equal nodes are computed once.

    Returns
    -------
    ndarray
        Per node, int64 counts, or float64 sums of weights.

    Examples
    --------
    >>> from cohesion.access.network import Network
    >>> street = Network.from_edges([0, 1, 1, 2], [1, 0, 2, 1], seconds=[60.0] * 4,
    ...                             metres=[80.0] * 4, lon=[2.35] * 3, lat=[48.85] * 3)
    >>> reachable_counts(street, np.array([0, 0, 2]), limit=60).tolist()
    [2, 3, 1]
    >>> reachable_counts(street, np.array([0, 2]), 120, weights=np.array([1.5, 2.0])).tolist()
    [3.5, 3.5, 3.5]
    """
    sources = _nodes(network, sources, "destinations")
    limit = checked_limit(limit)
    weights = _weights(weights, len(sources), "poids des destinations")
    unique, inverse = np.unique(sources, return_inverse=True)
    multiplicity = np.bincount(inverse, weights=weights, minlength=len(unique))
    total = np.zeros(network.node_count)
    for rows, times in _blocks(network, unique, limit, chunk):
        total += multiplicity[rows] @ (np.isfinite(times) & (times <= limit))
    return total if weights is not None else np.rint(total).astype(np.int64)


def _decay(times: np.ndarray, limit: float, decay: str) -> np.ndarray:
    """Weight of each time within the limit (0 beyond it)."""
    within = np.isfinite(times) & (times <= limit)
    if decay == "none":
        return within.astype(np.float64)
    ratio = np.where(within, times / limit, 1.0)
    if decay == "linear":
        return np.where(within, 1.0 - ratio, 0.0)
    floor = np.exp(-0.5)
    return np.where(within, (np.exp(-0.5 * ratio**2) - floor) / (1.0 - floor), 0.0)


def two_step_fca(network: Network, supply_nodes: np.ndarray, supply: np.ndarray,
                 demand_nodes: np.ndarray, demand: np.ndarray, limit: float,
                 decay: str = "none") -> np.ndarray:
    r"""Two-step floating catchment area (2SFCA) accessibility of each demand point.

    Luo & Wang (2003), with the distance decay of the enhanced variants (E2SFCA, Luo &
    Qi 2009; kernel-density 2SFCA, Dai 2010). With :math:`t_{kj}` the time from demand
    point :math:`k` to supply point :math:`j` over the network, :math:`S_j` the supply
    (doctors, places…), :math:`D_k` the demand (population):

    .. math::

        R_j = \frac{S_j}{\sum_{k : t_{kj} \le T} f(t_{kj}) D_k}
        \qquad
        A_i = \sum_{j : t_{ij} \le T} f(t_{ij}) R_j

    :math:`R_j` is the supply-to-demand ratio of the catchment of :math:`j` (0 if no
    weighted demand reaches it), :math:`A_i` the supply per unit of demand available to
    :math:`i`. The decay :math:`f` of a time :math:`t \le T` is

    - ``none``: :math:`f(t) = 1` (the original 2SFCA);
    - ``linear``: :math:`f(t) = 1 - t/T`;
    - ``gaussian``: :math:`f(t) = (e^{-\frac{1}{2}(t/T)^2} - e^{-\frac{1}{2}})
      / (1 - e^{-\frac{1}{2}})`, 1 at 0 and 0 at :math:`T`.

    Parameters
    ----------
    network : Network
    supply_nodes : ndarray of int
        Node of each supply point.
    supply : ndarray of float
        Supply of each supply point (≥ 0).
    demand_nodes : ndarray of int
        Node of each demand point; several points may share a node.
    demand : ndarray of float
        Demand of each demand point (≥ 0).
    limit : float
        Catchment time :math:`T`, seconds (finite and positive with a decay).
    decay : {"none", "linear", "gaussian"}

    Returns
    -------
    ndarray of float64
        :math:`A_i` for each demand point, in supply per unit of demand.

    Examples
    --------
    Two villages on a road (60 s apart), 100 and 300 inhabitants, one doctor in the
    first: within 60 s both share her, within 30 s only the first has her.

    >>> from cohesion.access.network import Network
    >>> road = Network.from_edges([0, 1], [1, 0], seconds=[60.0, 60.0], metres=[900.0] * 2,
    ...                           lon=[2.35, 2.36], lat=[48.85] * 2)
    >>> two_step_fca(road, np.array([0]), np.array([1.0]), np.array([0, 1]),
    ...              np.array([100.0, 300.0]), limit=60).tolist()
    [0.0025, 0.0025]
    >>> two_step_fca(road, np.array([0]), np.array([1.0]), np.array([0, 1]),
    ...              np.array([100.0, 300.0]), limit=30).tolist()
    [0.01, 0.0]
    >>> two_step_fca(road, np.array([0]), np.array([1.0]), np.array([0, 1]),
    ...              np.array([100.0, 300.0]), limit=120, decay="linear").tolist()
    [0.004, 0.002]
    """
    if decay not in DECAYS:
        raise CohesionError(f"fonction de décroissance inconnue : {decay!r} (choix "
                            f"possibles : {', '.join(DECAYS)})")
    limit = checked_limit(limit)
    if decay != "none" and not 0 < limit < np.inf:
        raise CohesionError(f"la décroissance « {decay} » demande un temps limite fini et "
                            f"strictement positif (reçu {limit!r})")
    supply_nodes = _nodes(network, supply_nodes, "points d'offre")
    demand_nodes = _nodes(network, demand_nodes, "points de demande")
    supply = _weights(supply, len(supply_nodes), "offre")
    demand = _weights(demand, len(demand_nodes), "demande")
    if not len(supply_nodes) or not len(demand_nodes):
        return np.zeros(len(demand_nodes))
    # supply and demand sharing a node share their times: aggregate them by node
    supply_at, supply_of = np.unique(supply_nodes, return_inverse=True)
    demand_at, demand_of = np.unique(demand_nodes, return_inverse=True)
    node_supply = np.bincount(supply_of, weights=supply, minlength=len(supply_at))
    node_demand = np.bincount(demand_of, weights=demand, minlength=len(demand_at))
    # f(t) from each demand node (columns) to each supply node (rows), kept sparse
    parts = [csr_array(_decay(times[:, demand_at], limit, decay))
             for _, times in _blocks(network, supply_at, limit, 256)]
    weight = parts[0] if len(parts) == 1 else _vstack(parts)
    reached = weight @ node_demand
    ratio = np.divide(node_supply, reached, out=np.zeros(len(supply_at)), where=reached > 0)
    return (weight.T @ ratio)[demand_of]


def _vstack(parts: list[csr_array]) -> csr_array:
    from scipy.sparse import vstack

    return csr_array(vstack(parts, format="csr"))


# -- without a network ----------------------------------------------------------------


def _crow_fly_setup(lon: np.ndarray, lat: np.ndarray, target_lon: np.ndarray,
                    target_lat: np.ndarray, speed_kmh: float, detour: float, limit: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float]:
    lon, lat = _coordinates(lon, lat, "points d'origine")
    target_lon, target_lat = _coordinates(target_lon, target_lat, "destinations")
    speed = _speed(speed_kmh)
    if isinstance(detour, bool) or not isinstance(detour, int | float | np.number) \
            or not 1 <= detour < np.inf:
        raise CohesionError(f"coefficient de détour invalide : {detour!r} (attendu un nombre "
                            "≥ 1, par exemple 1,3)")
    metres_per_second = speed / 3.6 / float(detour)
    return lon, lat, target_lon, target_lat, metres_per_second, checked_limit(limit)


def crow_fly_times(lon: np.ndarray, lat: np.ndarray, target_lon: np.ndarray,
                   target_lat: np.ndarray, speed_kmh: float, detour: float = 1.3,
                   limit: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Time to the nearest destination as the crow flies, the fallback without a network.

    ``seconds = straight-line metres × detour / (speed_kmh / 3.6)``, the distance being
    measured in the projected CRS of the origin's territory (a k-d tree per territory).
    It is an estimate, to be declared as such: the detour factor (1.3 by default, a
    usual ratio of network to straight-line distance in built-up areas) stands for the
    shape of the network.

    Parameters
    ----------
    lon, lat : ndarray of float
        Origins (WGS84).
    target_lon, target_lat : ndarray of float
        Destinations (WGS84).
    speed_kmh : float
        Travel speed.
    detour : float, default 1.3
        Ratio of the travelled distance to the straight line (≥ 1).
    limit : float, default inf
        Seconds; farther destinations are ignored.

    Returns
    -------
    seconds : ndarray of float64
        Time to the nearest destination; inf if none within ``limit``, NaN for origins
        outside every territory of :data:`~cohesion.territory.crs.ZONES`.
    nearest : ndarray of int64
        Index of that destination, -1 if none (or the origin is outside).

    Examples
    --------
    >>> seconds, nearest = crow_fly_times(
    ...     np.array([2.35, 2.35]), np.array([48.85, 48.95]),
    ...     np.array([2.36, 2.40]), np.array([48.85, 48.85]), speed_kmh=5.0, limit=900)
    >>> seconds.round().tolist(), nearest.tolist()
    ([687.0, inf], [0, -1])
    """
    lon, lat, target_lon, target_lat, pace, limit = _crow_fly_setup(
        lon, lat, target_lon, target_lat, speed_kmh, detour, limit)
    seconds = np.full(len(lon), np.nan)
    nearest = np.full(len(lon), -1, dtype=np.int64)
    bound = np.nextafter(limit * pace, np.inf)
    for crs, rows in _by_zone(lon, lat):
        seconds[rows] = np.inf
        tree, held = _finite_tree(crs, target_lon, target_lat)
        if not len(held):
            continue
        distance, found = tree.query(_project(crs, lon[rows], lat[rows]),
                                     distance_upper_bound=bound)
        time = distance / pace
        ok = np.isfinite(distance) & (time <= limit)
        seconds[rows[ok]] = time[ok]
        nearest[rows[ok]] = held[found[ok]]
    return seconds, nearest


def crow_fly_counts(lon: np.ndarray, lat: np.ndarray, target_lon: np.ndarray,
                    target_lat: np.ndarray, speed_kmh: float, detour: float = 1.3,
                    limit: float = np.inf) -> np.ndarray:
    """Number of destinations reachable within a time, as the crow flies.

    The same estimate as :func:`crow_fly_times`: a destination counts when its
    straight-line distance × ``detour`` / speed is at most ``limit`` seconds.

    Returns
    -------
    ndarray of int64
        Per origin; -1 for origins outside every territory of
        :data:`~cohesion.territory.crs.ZONES` (or without coordinates).

    Examples
    --------
    >>> crow_fly_counts(np.array([2.35, 0.0]), np.array([48.85, 0.0]),
    ...                 np.array([2.351, 2.36, 2.40]), np.array([48.85] * 3),
    ...                 speed_kmh=5.0, detour=1.3, limit=900).tolist()
    [2, -1]
    """
    lon, lat, target_lon, target_lat, pace, limit = _crow_fly_setup(
        lon, lat, target_lon, target_lat, speed_kmh, detour, limit)
    counts = np.full(len(lon), -1, dtype=np.int64)
    for crs, rows in _by_zone(lon, lat):
        counts[rows] = 0
        tree, held = _finite_tree(crs, target_lon, target_lat)
        if not len(held):
            continue
        counts[rows] = tree.query_ball_point(_project(crs, lon[rows], lat[rows]),
                                             r=limit * pace, return_length=True)
    return counts
