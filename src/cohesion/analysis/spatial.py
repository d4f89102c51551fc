"""Spatial autocorrelation: contiguity weights, global Moran's I and local Moran (LISA).

Contiguity is read from the territories' contours (shapely geometries) with an
:class:`shapely.STRtree`: *queen* neighbours share at least a point of their borders,
*rook* neighbours a stretch of border (or overlap, which simplified contours sometimes
do). What cannot take part is reported, never silently dropped:

- a territory without a usable contour (None, empty) is listed in
  :attr:`ContiguityWeights.missing_geometry`;
- a territory without neighbours (an island such as Ouessant or Sein, the DROM) is
  listed in :attr:`ContiguityWeights.islands`; it has no spatial lag, so the statistics
  leave it out (``excluded["island"]``) rather than let it pull Moran's I towards 0;
- a territory with a missing value is removed with its links before anything is
  computed (``excluded["missing_value"]``); neighbours it leaves alone become islands.

Inference follows PySAL ``esda`` (Moran, Moran_Local) so that results can be checked
against it: analytical moments under normality and randomisation, folded pseudo
p-values from permutations, and *conditional* permutations for the local statistics
(the value of a territory stays, its neighbours are drawn among the others). Draws come
from a numpy generator seeded by ``seed``. Local p-values are many simultaneous tests:
they are corrected by the Benjamini-Hochberg false discovery rate before clusters are
called.

Examples
--------
>>> import shapely
>>> from cohesion.analysis import contiguity_weights, moran
>>> squares = [shapely.box(x, y, x + 1, y + 1) for y in range(3) for x in range(3)]
>>> weights = contiguity_weights(squares, ids=list("abcdefghi"), kind="rook")
>>> weights.neighbours()["e"]
['b', 'd', 'f', 'h']
>>> result = moran([1, 2, 3, 4, 5, 6, 7, 8, 9], weights, permutations=0)
>>> round(result.statistic, 4)
0.5556
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy import sparse, stats

from cohesion.analysis._inputs import as_generator, as_vector, check_option
from cohesion.analysis.errors import AnalysisInputError

__all__ = [
    "CLUSTER_LABELS",
    "ContiguityWeights",
    "GlobalMoran",
    "LocalMoran",
    "benjamini_hochberg",
    "contiguity_weights",
    "local_moran",
    "moran",
]

NAN = float("nan")

#: Territories needed for the moments of Moran's I (its variance divides by n - 3).
MIN_TERRITORIES = 4

#: Cluster of a territory in :meth:`LocalMoran.to_frame`, with its French label.
CLUSTER_LABELS = {
    "HH": "haut entouré de hauts",
    "LL": "bas entouré de bas",
    "HL": "haut entouré de bas",
    "LH": "bas entouré de hauts",
    "not_significant": "non significatif",
    "island": "sans voisin",
    "missing_value": "valeur manquante",
    "no_geometry": "contour absent",
}

#: Largest number of simulated values held at once by the local permutations.
_CHUNK_VALUES = 1 << 22


# -- weights ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ContiguityWeights:
    """Which territories share a border, as symmetric neighbour lists.

    Attributes
    ----------
    ids : ndarray
        Labels of the territories that have a contour, in input order.
    indptr, indices : ndarray
        Neighbours in compressed sparse row form: the neighbours of territory ``i`` are
        the positions ``indices[indptr[i]:indptr[i + 1]]``, sorted.
    kind : str
        ``"queen"`` or ``"rook"``.
    missing_geometry : tuple
        Labels given without a usable contour (None or empty).
    """

    ids: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    kind: str
    missing_geometry: tuple[Any, ...] = ()

    @property
    def n(self) -> int:
        """Number of territories with a contour."""
        return len(self.ids)

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of neighbours of each territory."""
        return np.diff(self.indptr)

    @property
    def islands(self) -> tuple[Any, ...]:
        """Labels of the territories without any neighbour."""
        return tuple(self.ids[self.cardinalities == 0])

    def neighbours(self) -> dict[Any, list[Any]]:
        """Neighbour labels of every territory (the form ``libpysal.weights.W`` takes)."""
        return {self.ids[i]: self.ids[self.indices[self.indptr[i]:self.indptr[i + 1]]].tolist()
                for i in range(self.n)}

    def matrix(self, transform: str = "row") -> sparse.csr_array:
        """The weights as a sparse matrix.

        Parameters
        ----------
        transform : {"row", "binary"}
            ``"row"``: each row sums to 1 (the spatial lag is the neighbours' mean; an
            island's row stays 0). ``"binary"``: 1 for each neighbour.
        """
        check_option(transform, ("row", "binary"), "transform")
        data = np.ones(len(self.indices))
        if transform == "row":
            cardinality = self.cardinalities
            data /= np.repeat(np.where(cardinality > 0, cardinality, 1), cardinality)
        return sparse.csr_array((data, self.indices, self.indptr), shape=(self.n, self.n))

    def subset(self, keep: np.ndarray) -> ContiguityWeights:
        """The weights among the territories where ``keep`` (a boolean mask) is true."""
        keep = np.asarray(keep, dtype=bool)
        position = np.cumsum(keep) - 1
        rows = np.repeat(np.arange(self.n), self.cardinalities)
        link = keep[rows] & keep[self.indices]
        kept_rows = position[rows[link]]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(kept_rows,
                                                            minlength=int(keep.sum())))])
        return ContiguityWeights(self.ids[keep], indptr, position[self.indices[link]],
                                 self.kind, self.missing_geometry)


def contiguity_weights(geometries: Any, ids: Any = None, *,
                       kind: str = "queen") -> ContiguityWeights:
    """Contiguity neighbours of territories from their contours.

    Parameters
    ----------
    geometries : sequence of shapely geometries
        One contour per territory; None or an empty geometry where it is missing.
    ids : sequence, optional
        Labels of the territories (codes); default their positions.
    kind : {"queen", "rook"}
        ``queen``: borders share at least one point. ``rook``: borders share a line
        (DE-9IM boundary intersection of dimension 1), or the contours overlap.

    Returns
    -------
    ContiguityWeights

    Examples
    --------
    >>> import shapely
    >>> squares = [shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 2), None]
    >>> queen = contiguity_weights(squares, ids=["a", "b", "c"])
    >>> queen.neighbours(), queen.missing_geometry
    ({'a': ['b'], 'b': ['a']}, ('c',))
    >>> contiguity_weights(squares, ids=["a", "b", "c"], kind="rook").islands
    ('a', 'b')
    """
    check_option(kind, ("queen", "rook"), "kind")
    shapes = np.asarray(geometries, dtype=object)
    labels = np.arange(len(shapes)) if ids is None else np.asarray(ids, dtype=object)
    if len(labels) != len(shapes):
        raise AnalysisInputError(f"{len(labels)} identifiants pour {len(shapes)} géométries")
    duplicated = pd.Series(labels)[pd.Series(labels).duplicated()]
    if len(duplicated):
        raise AnalysisInputError(
            f"ids doit citer chaque territoire une seule fois ; {duplicated.iloc[0]!r} "
            "apparaît deux fois")
    usable = ~(shapely.is_missing(shapes) | shapely.is_empty(shapes))
    shapes = shapes[usable]
    left, right = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    pair = left < right
    left, right = left[pair], right[pair]
    if kind == "rook" and len(left):
        matrix = np.asarray(shapely.relate(shapes[left], shapes[right]), dtype="U9")
        cells = matrix.view("U1").reshape(-1, 9)
        # cell 0: interior ∩ interior (2 when contours overlap); cell 4: boundary ∩ boundary
        shared_line = (cells[:, 0] == "2") | (cells[:, 4] == "1")
        left, right = left[shared_line], right[shared_line]
    rows, columns = np.concatenate([left, right]), np.concatenate([right, left])
    order = np.lexsort((columns, rows))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(shapes)))])
    return ContiguityWeights(labels[usable], indptr, columns[order], kind,
                             tuple(labels[~usable]))


# -- preparing a variable ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Prepared:
    """A variable aligned with weights, without missing values or islands."""

    values: np.ndarray
    weights: ContiguityWeights
    excluded: dict[str, tuple[Any, ...]]
    #: every territory known to the weights or the values, for tables and maps
    all_values: pd.Series = field(repr=False)


def _prepare(values: Any, weights: ContiguityWeights) -> _Prepared:
    if isinstance(values, pd.Series):
        given = pd.to_numeric(values, errors="coerce").astype(float)
        array = given.reindex(weights.ids).to_numpy(dtype=float)
        # values of territories the weights do not place: no contour to link them
        unplaced = given[~given.index.isin(weights.ids)]
    else:
        array = as_vector(values)
        if len(array) != weights.n:
            raise AnalysisInputError(
                f"{len(array)} valeurs pour {weights.n} territoires ayant un contour ; alignez "
                "les valeurs sur weights.ids ou passez une Series indexée par territoire")
        unplaced = pd.Series(dtype=float)
    without_contour = pd.concat([unplaced, pd.Series(NAN, index=pd.Index(
        [label for label in weights.missing_geometry if label not in unplaced.index],
        dtype=object))])
    known = ~np.isnan(array)
    with_values = weights.subset(known)
    linked = with_values.cardinalities > 0
    all_values = pd.concat([pd.Series(array, index=pd.Index(weights.ids, dtype=object)),
                            without_contour])
    return _Prepared(array[known][linked], with_values.subset(linked), {
        "missing_value": tuple(weights.ids[~known]),
        "island": tuple(with_values.ids[~linked]),
        "no_geometry": tuple(without_contour.index)}, all_values)


def _problem(values: np.ndarray) -> str | None:
    if len(values) < MIN_TERRITORIES:
        return (f"il faut au moins {MIN_TERRITORIES} territoires ayant une valeur et un voisin, "
                f"{len(values)} seulement")
    if np.ptp(values) == 0:
        return "tous les territoires ont la même valeur : il n'y a aucune variation à corréler"
    return None


def _folded_p_value(simulated: np.ndarray, observed: np.ndarray) -> np.ndarray:
    r"""Pseudo p-value of ``esda``: share of draws at least as extreme, on the observed side.

    .. math:: p = \frac{\min(m, P - m) + 1}{P + 1}, \qquad
              m = \#\{\text{draws} \ge \text{observed}\}
    """
    permutations = simulated.shape[-1]
    larger = (simulated >= observed[..., None]).sum(axis=-1)
    return (np.minimum(larger, permutations - larger) + 1) / (permutations + 1)


# -- global Moran's I -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class GlobalMoran:
    r"""Global Moran's I and its inference.

    With deviations from the mean :math:`z_i = y_i - \bar y`, weights :math:`w_{ij}`
    and :math:`S_0 = \sum_{ij} w_{ij}`:

    .. math::

        I = \frac{n}{S_0} \frac{\sum_{ij} w_{ij} z_i z_j}{\sum_i z_i^2}, \qquad
        E[I] = -\frac{1}{n - 1}

    Under normality
    :math:`V[I] = \frac{n^2 S_1 - n S_2 + 3 S_0^2}{(n^2 - 1) S_0^2} - E[I]^2`, with
    :math:`S_1 = \frac12 \sum_{ij} (w_{ij} + w_{ji})^2` and
    :math:`S_2 = \sum_i (w_{i\cdot} + w_{\cdot i})^2`; under randomisation the
    variance also involves the kurtosis of :math:`z` (Cliff and Ord), as in ``esda``.

    Attributes
    ----------
    statistic : float
        :math:`I` (NaN when undefined, see ``note``).
    expected : float
        :math:`E[I]`.
    variance_normality, z_normality, p_normality : float
        Moments and two-sided p-value under normality.
    variance_randomisation, z_randomisation, p_randomisation : float
        The same under randomisation.
    permutations : int
    p_permutation : float
        Folded pseudo p-value from the permutations (NaN without permutations).
    expected_permutation, std_permutation, z_permutation : float
        Mean and standard deviation of the permuted statistics, and the z-value of
        :math:`I` against them.
    n : int
        Territories used.
    transform : str
    excluded : dict of str to tuple
        Labels left out, by reason: ``missing_value``, ``island``, ``no_geometry``.
    note : str or None
        Why the figures are NaN, when they are.
    """

    statistic: float
    expected: float
    variance_normality: float
    z_normality: float
    p_normality: float
    variance_randomisation: float
    z_randomisation: float
    p_randomisation: float
    permutations: int
    p_permutation: float
    expected_permutation: float
    std_permutation: float
    z_permutation: float
    n: int
    transform: str
    excluded: dict[str, tuple[Any, ...]]
    note: str | None = None


def moran(values: Any, weights: ContiguityWeights, *, transform: str = "row",
          permutations: int = 999, seed: int | np.random.Generator | None = None
          ) -> GlobalMoran:
    """Global Moran's I of a variable over contiguous territories.

    Parameters
    ----------
    values : Series or array-like
        Values indexed by territory label (a Series), or aligned with ``weights.ids``;
        NaN for a missing one.
    weights : ContiguityWeights
    transform : {"row", "binary"}
        Row-standardised weights (default, as ``esda``) or binary ones.
    permutations : int
        Random permutations for the pseudo p-value (0: none).
    seed : int or numpy.random.Generator, optional
        Seed of the permutations, for reproducible p-values.

    Returns
    -------
    GlobalMoran

    Examples
    --------
    >>> import shapely
    >>> strip = [shapely.box(x, 0, x + 1, 1) for x in range(6)]
    >>> weights = contiguity_weights(strip)
    >>> result = moran([1, 2, 3, 4, 5, 6], weights, permutations=99, seed=1)
    >>> round(result.statistic, 4), round(result.expected, 4)
    (0.7143, -0.2)
    """
    check_option(transform, ("row", "binary"), "transform")
    if permutations < 0:
        raise AnalysisInputError(f"permutations doit être ≥ 0 ; reçu {permutations}")
    prepared = _prepare(values, weights)
    y, n = prepared.values, len(prepared.values)
    problem = _problem(y)
    nan_fields = dict.fromkeys((
        "statistic", "expected", "variance_normality", "z_normality", "p_normality",
        "variance_randomisation", "z_randomisation", "p_randomisation", "p_permutation",
        "expected_permutation", "std_permutation", "z_permutation"), NAN)
    context = {"permutations": permutations, "n": n, "transform": transform,
               "excluded": prepared.excluded}
    if problem:
        return GlobalMoran(**nan_fields, **context, note=problem)
    matrix = prepared.weights.matrix(transform)
    z = y - y.mean()
    squares = np.dot(z, z)
    s0 = matrix.sum()
    s1 = 0.5 * ((matrix + matrix.T) ** 2).sum()
    s2 = np.sum((matrix.sum(axis=1) + matrix.sum(axis=0)) ** 2)
    statistic = n / s0 * np.dot(z, matrix @ z) / squares
    expected = -1 / (n - 1)
    variance_normality = ((n * n * s1 - n * s2 + 3 * s0 * s0)
                          / ((n * n - 1) * s0 * s0) - expected ** 2)
    kurtosis = np.mean(z ** 4) / np.mean(z ** 2) ** 2
    variance_randomisation = (
        (n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0)
         - kurtosis * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0))
        / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - expected ** 2)
    z_normality = (statistic - expected) / np.sqrt(variance_normality)
    z_randomisation = (statistic - expected) / np.sqrt(variance_randomisation)
    permuted: dict[str, float] = dict.fromkeys(
        ("p_permutation", "expected_permutation", "std_permutation", "z_permutation"), NAN)
    if permutations:
        simulated = _permuted_moran(z, matrix, permutations, as_generator(seed)) \
            * n / s0 / squares
        spread = simulated.std()
        permuted = {
            "p_permutation": float(_folded_p_value(simulated, np.asarray(statistic))),
            "expected_permutation": float(simulated.mean()),
            "std_permutation": float(spread),
            "z_permutation": float((statistic - simulated.mean()) / spread) if spread else NAN}
    return GlobalMoran(
        statistic=float(statistic), expected=expected,
        variance_normality=float(variance_normality), z_normality=float(z_normality),
        p_normality=float(2 * stats.norm.sf(abs(z_normality))),
        variance_randomisation=float(variance_randomisation),
        z_randomisation=float(z_randomisation),
        p_randomisation=float(2 * stats.norm.sf(abs(z_randomisation))),
        **permuted, **context)


def _permuted_moran(z: np.ndarray, matrix: sparse.csr_array, permutations: int,
                    generator: np.random.Generator) -> np.ndarray:
    r""":math:`z_\pi' W z_\pi` for random permutations :math:`\pi` of the values."""
    chunk = max(1, _CHUNK_VALUES // len(z))
    results = []
    for start in range(0, permutations, chunk):
        size = min(chunk, permutations - start)
        shuffled = generator.permuted(np.broadcast_to(z, (size, len(z))), axis=1)
        results.append(np.einsum("pi,ip->p", shuffled, matrix @ shuffled.T))
    return np.concatenate(results)


# -- local Moran ------------------------------------------------------------------------


def benjamini_hochberg(p_values: Any) -> np.ndarray:
    r"""Benjamini-Hochberg adjusted p-values (q-values) controlling the false discovery rate.

    .. math:: q_{(i)} = \min_{j \ge i} \min\Big(1, \frac{m}{j} p_{(j)}\Big)

    for the :math:`m` p-values sorted increasingly; a test is significant at the false
    discovery rate :math:`\alpha` when :math:`q \le \alpha`. NaN p-values stay NaN and
    do not count in :math:`m`.

    Parameters
    ----------
    p_values : array-like

    Returns
    -------
    ndarray

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    p = as_vector(p_values, "p_values")
    adjusted = np.full(len(p), NAN)
    known = np.flatnonzero(~np.isnan(p))
    order = known[np.argsort(p[known], kind="stable")]
    m = len(order)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return adjusted


@dataclass(frozen=True, kw_only=True, eq=False)
class LocalMoran:
    r"""Local Moran statistics (LISA), their pseudo p-values and clusters.

    With standardised values :math:`z_i = (y_i - \bar y) / s` (:math:`s` without
    :math:`n - 1` correction) and the spatial lag :math:`l_i = \sum_j w_{ij} z_j`:

    .. math:: I_i = (n - 1) \frac{z_i\, l_i}{\sum_k z_k^2}

    A territory is *HH* when :math:`z_i > 0` and :math:`l_i > 0`, *LL* when both are
    :math:`\le 0`, *HL* / *LH* otherwise (a value equal to the mean counts as low, as
    in ``esda``). Its pseudo p-value comes from conditional permutations: its own value
    is kept and its neighbours' values are drawn without replacement from the others.
    ``q_value`` is the Benjamini-Hochberg adjustment; ``cluster`` is the quadrant where
    the test is significant, ``not_significant`` elsewhere.

    Attributes
    ----------
    ids : ndarray
        Territories used, in the order of the arrays below.
    values, z, lag, statistic : ndarray
    expectation, variance : ndarray
        Moments of :math:`I_i` under total randomisation (Sokal et al. 1998), as
        ``esda``'s ``EI`` and ``VI``.
    p_value, q_value : ndarray
        Pseudo p-value and its false-discovery adjustment (NaN without permutations).
    quadrant, cluster : ndarray of str
    significant : ndarray of bool
    permutations : int
    alpha : float
    fdr : bool
        Whether significance used ``q_value`` (default) or the raw ``p_value``.
    transform : str
    excluded : dict of str to tuple
        Labels left out, by reason: ``missing_value``, ``island``, ``no_geometry``.
    all_values : Series
        The value of every territory given or known to the weights, excluded ones
        included, for :meth:`to_frame`.
    note : str or None
        Why the statistics are NaN, when they are.
    """

    ids: np.ndarray
    values: np.ndarray
    z: np.ndarray
    lag: np.ndarray
    statistic: np.ndarray
    expectation: np.ndarray
    variance: np.ndarray
    p_value: np.ndarray
    q_value: np.ndarray
    quadrant: np.ndarray
    significant: np.ndarray
    cluster: np.ndarray
    permutations: int
    alpha: float
    fdr: bool
    transform: str
    excluded: dict[str, tuple[Any, ...]]
    all_values: pd.Series = field(repr=False)
    note: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per territory, excluded ones included with their reason as cluster.

        Columns: ``value, z, lag, statistic, expectation, variance, p_value, q_value,
        quadrant, significant, cluster``; the index holds the labels.
        """
        frame = pd.DataFrame({
            "value": self.values, "z": self.z, "lag": self.lag, "statistic": self.statistic,
            "expectation": self.expectation, "variance": self.variance,
            "p_value": self.p_value, "q_value": self.q_value, "quadrant": self.quadrant,
            "significant": self.significant, "cluster": self.cluster},
            index=pd.Index(self.ids, dtype=object))
        frame = frame.reindex(self.all_values.index)
        frame["value"] = self.all_values
        frame["significant"] = frame["significant"].eq(True)
        for reason, labels in self.excluded.items():
            frame.loc[list(labels), "cluster"] = reason
        return frame.rename_axis("id")

    def counts(self) -> pd.Series:
        """Number of territories in each cluster (excluded ones by reason)."""
        return self.to_frame()["cluster"].value_counts().reindex(
            list(CLUSTER_LABELS), fill_value=0)


def local_moran(values: Any, weights: ContiguityWeights, *, transform: str = "row",
                permutations: int = 999, seed: int | np.random.Generator | None = None,
                alpha: float = 0.05, fdr: bool = True) -> LocalMoran:
    """Local Moran statistics with conditional permutation inference.

    Parameters
    ----------
    values : Series or array-like
        Values indexed by territory label (a Series), or aligned with ``weights.ids``;
        NaN for a missing one.
    weights : ContiguityWeights
    transform : {"row", "binary"}
    permutations : int
        Conditional permutations per territory (0: no p-values, no clusters).
    seed : int or numpy.random.Generator, optional
        Seed of the draws.
    alpha : float
        Significance level (a false discovery rate when ``fdr``).
    fdr : bool
        Correct the p-values for multiple testing with Benjamini-Hochberg.

    Returns
    -------
    LocalMoran

    Examples
    --------
    >>> import shapely
    >>> strip = [shapely.box(x, 0, x + 1, 1) for x in range(6)]
    >>> result = local_moran([1, 2, 3, 4, 5, 6], contiguity_weights(strip), seed=0)
    >>> result.quadrant.tolist()
    ['LL', 'LL', 'LL', 'HH', 'HH', 'HH']
    """
    check_option(transform, ("row", "binary"), "transform")
    if permutations < 0:
        raise AnalysisInputError(f"permutations doit être ≥ 0 ; reçu {permutations}")
    if not 0 < alpha < 1:
        raise AnalysisInputError(f"alpha doit être strictement compris entre 0 et 1 ; reçu {alpha}")
    prepared = _prepare(values, weights)
    y, n = prepared.values, len(prepared.values)
    ids = prepared.weights.ids
    context = {"ids": ids, "values": y, "permutations": permutations, "alpha": alpha,
               "fdr": fdr, "transform": transform, "excluded": prepared.excluded,
               "all_values": prepared.all_values}
    problem = _problem(y)
    if problem:
        empty = np.full(n, NAN)
        return LocalMoran(z=empty, lag=empty, statistic=empty, expectation=empty,
                          variance=empty, p_value=empty, q_value=empty,
                          quadrant=np.full(n, None, dtype=object),
                          significant=np.zeros(n, dtype=bool),
                          cluster=np.full(n, None, dtype=object), note=problem, **context)
    matrix = prepared.weights.matrix(transform)
    z = (y - y.mean()) / y.std()
    lag = matrix @ z
    scaling = (n - 1) / np.dot(z, z)
    statistic = scaling * z * lag
    quadrant = np.where(z > 0, np.where(lag > 0, "HH", "HL"), np.where(lag > 0, "LH", "LL"))
    expectation, variance = _local_moments(z, matrix)
    if permutations:
        simulated_p = _conditional_p_values(z, statistic, matrix, scaling, permutations,
                                            as_generator(seed))
        q_value = benjamini_hochberg(simulated_p)
        significant = (q_value if fdr else simulated_p) <= alpha
        cluster = np.where(significant, quadrant, "not_significant").astype(object)
    else:
        simulated_p = q_value = np.full(n, NAN)
        significant = np.zeros(n, dtype=bool)
        cluster = np.full(n, None, dtype=object)
    return LocalMoran(z=z, lag=lag, statistic=statistic, expectation=expectation,
                      variance=variance, p_value=simulated_p, q_value=q_value,
                      quadrant=quadrant.astype(object), significant=significant,
                      cluster=cluster, **context)


def _local_moments(z: np.ndarray, matrix: sparse.csr_array) -> tuple[np.ndarray, np.ndarray]:
    r"""Expectation and variance of each :math:`I_i` under total randomisation.

    .. math::

        E[I_i] = -\frac{w_i}{n - 1}, \qquad
        V[I_i] = w_i^{(2)} \frac{n - b_2}{n - 1}
               + (w_i^2 - w_i^{(2)}) \frac{2 b_2 - n}{(n - 1)(n - 2)} - E[I_i]^2

    with :math:`w_i = \sum_j w_{ij}`, :math:`w_i^{(2)} = \sum_j w_{ij}^2` and the
    kurtosis :math:`b_2 = m_4 / m_2^2` (Sokal, Oden and Thomson 1998).
    """
    n = len(z)
    row_sum = np.asarray(matrix.sum(axis=1)).ravel()
    row_squares = np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()
    kurtosis = np.mean(z ** 4) / np.mean(z ** 2) ** 2
    expectation = -row_sum / (n - 1)
    variance = (row_squares * (n - kurtosis) / (n - 1)
                + (row_sum ** 2 - row_squares) * (2 * kurtosis - n) / ((n - 1) * (n - 2))
                - expectation ** 2)
    return expectation, variance


def _conditional_p_values(z: np.ndarray, statistic: np.ndarray, matrix: sparse.csr_array,
                          scaling: float, permutations: int,
                          generator: np.random.Generator) -> np.ndarray:
    """Folded pseudo p-values of the local statistics by conditional permutation.

    As in ``esda``, one table of draws serves every territory: row :math:`p` holds
    ``max_k`` distinct positions among the :math:`n - 1` *other* territories, and
    territory :math:`i` with :math:`k_i` neighbours takes the first :math:`k_i` of them
    (positions at or after :math:`i` are shifted by one to skip it).
    """
    n = len(z)
    cardinality = np.diff(matrix.indptr)
    most = int(cardinality.max())
    draws = np.stack([generator.choice(n - 1, size=most, replace=False)
                      for _ in range(permutations)])
    p_values = np.empty(n)
    for k in np.unique(cardinality):
        territories = np.flatnonzero(cardinality == k)
        drawn = draws[:, :k]
        # a territory's neighbour weights, in the order of its row of the matrix
        row_weights = matrix.data[matrix.indptr[territories][:, None] + np.arange(k)]
        chunk = max(1, _CHUNK_VALUES // (permutations * k))
        for start in range(0, len(territories), chunk):
            part = territories[start:start + chunk]
            positions = drawn[None, :, :] + (drawn[None, :, :] >= part[:, None, None])
            lags = np.einsum("tpk,tk->tp", z[positions], row_weights[start:start + chunk])
            simulated = scaling * z[part, None] * lags
            p_values[part] = _folded_p_value(simulated, statistic[part])
    return p_values
