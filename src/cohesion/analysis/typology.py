"""Typologies of territories: PCA, Ward clustering and k-means consolidation (HCPC).

The approach French statisticians know from FactoMineR's ``HCPC``:

1. a principal component analysis of the standardised indicators (numpy SVD);
2. a Ward hierarchical clustering of the territories' principal coordinates (scipy);
   on many territories (all communes) the tree is built, as HCPC's ``kk`` option does,
   on the centres of a first k-means partition into a few hundred groups, each
   weighted by its size (an exact weighted Ward, see :func:`weighted_ward`);
3. the tree is cut into the chosen number of classes and the partition is consolidated
   by k-means started from the classes' centres;
4. each class is described by the indicators that characterise it (v-tests), its
   paragons (the territories closest to its centre) and its stability (mean adjusted
   Rand index between the partition and the partitions of bootstrap resamples).

Classes are numbered 1 to K by increasing coordinate on the first principal component,
so the same data give the same numbers. Territories with a missing indicator are left
out and listed; an indicator that does not vary cannot be standardised and raises an
error naming it.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from cohesion.analysis import typology
>>> rng = np.random.default_rng(0)
>>> data = pd.DataFrame(np.r_[rng.normal(0, 1, (30, 3)), rng.normal(5, 1, (30, 3))],
...                     columns=["revenu", "chomage", "vacance"])
>>> result = typology(data, 2, bootstrap=5, seed=0)
>>> result.sizes.tolist(), round(result.stability.mean_adjusted_rand, 2)
([30, 30], 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.cluster import hierarchy

from cohesion.analysis._inputs import as_generator
from cohesion.analysis.errors import AnalysisInputError, NotEnoughDataError

__all__ = [
    "PrincipalComponents",
    "Stability",
    "Typology",
    "adjusted_rand_index",
    "class_profiles",
    "principal_components",
    "typology",
    "weighted_ward",
]

#: Above this many territories, Ward runs on the centres of a k-means pre-partition.
DIRECT_WARD_LIMIT = 5000

#: Size of the pre-partition when one is used and none is given.
DEFAULT_PRE_CLUSTERS = 500


def _checked(data: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise AnalysisInputError("data doit être un DataFrame : une ligne par territoire, "
                                 "une colonne par indicateur")
    numeric = data.apply(pd.to_numeric, errors="coerce").astype(float)
    if np.isinf(numeric.to_numpy()).any():
        raise AnalysisInputError("data contient des valeurs infinies ; utilisez NaN pour une "
                                 "valeur manquante")
    return numeric


# -- principal component analysis --------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class PrincipalComponents:
    r"""Principal component analysis of standardised indicators.

    Each indicator is centred and divided by its standard deviation (without
    :math:`n - 1` correction, as FactoMineR): :math:`Z = (X - \bar X) / s`. The singular
    value decomposition :math:`Z / \sqrt n = U S V'` gives the eigenvalues of the
    correlation matrix :math:`\lambda_k = S_k^2` (they sum to the number of
    indicators), the axes (rows of :math:`V'`) and the coordinates of the territories
    :math:`F = Z V`. Each axis is oriented so that its largest loading is positive.

    Attributes
    ----------
    means, scales : Series
        Mean and standard deviation of each indicator.
    eigenvalues : ndarray
    explained_variance_ratio : ndarray
        :math:`\lambda_k / \sum_j \lambda_j`.
    loadings : DataFrame
        Axes × indicators: the unit eigenvectors.
    scores : DataFrame
        Territories × axes: the principal coordinates.
    """

    means: pd.Series
    scales: pd.Series
    eigenvalues: np.ndarray
    explained_variance_ratio: np.ndarray
    loadings: pd.DataFrame
    scores: pd.DataFrame

    @property
    def correlations(self) -> pd.DataFrame:
        r"""Correlation of each indicator with each axis: :math:`V_{jk} \sqrt{\lambda_k}`."""
        return self.loadings.T * np.sqrt(self.eigenvalues)

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """Coordinates of other territories on the same axes."""
        standardised = (_checked(data)[self.means.index] - self.means) / self.scales
        return standardised @ self.loadings.T


def principal_components(data: pd.DataFrame) -> PrincipalComponents:
    """Principal component analysis of standardised indicators.

    Parameters
    ----------
    data : DataFrame
        One row per territory, one column per indicator, no missing value.

    Returns
    -------
    PrincipalComponents

    Raises
    ------
    AnalysisInputError
        A missing value, or an indicator with the same value everywhere.
    NotEnoughDataError
        Fewer than two territories.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 3.0, 2.0, 4.0]})
    >>> pca = principal_components(data)
    >>> pca.eigenvalues.round(6).tolist(), pca.explained_variance_ratio.round(6).tolist()
    ([1.8, 0.2], [0.9, 0.1])
    """
    data = _checked(data)
    if data.isna().any().any():
        missing = data.isna().any(axis=1)
        raise AnalysisInputError(
            f"{int(missing.sum())} territoire(s) ont un indicateur manquant (par exemple "
            f"{data.index[missing][0]!r}) ; retirez-les d'abord ou utilisez typology(), "
            "qui le fait")
    if len(data) < 2:
        raise NotEnoughDataError(f"il faut au moins 2 territoires, {len(data)} seulement")
    means, scales = data.mean(), data.std(ddof=0)
    constant = scales.index[~(scales > 0)].tolist()
    if constant:
        raise AnalysisInputError(
            f"l'indicateur {constant[0]!r} a la même valeur pour tous les territoires : il ne "
            "peut pas être centré-réduit, retirez-le")
    standardised = ((data - means) / scales).to_numpy()
    _, singular, axes = np.linalg.svd(standardised / np.sqrt(len(data)), full_matrices=False)
    largest = np.abs(axes).argmax(axis=1)
    axes *= np.sign(axes[np.arange(len(axes)), largest])[:, None]
    eigenvalues = singular ** 2
    names = [f"PC{k + 1}" for k in range(len(eigenvalues))]
    return PrincipalComponents(
        means=means, scales=scales, eigenvalues=eigenvalues,
        explained_variance_ratio=eigenvalues / eigenvalues.sum(),
        loadings=pd.DataFrame(axes, index=names, columns=data.columns),
        scores=pd.DataFrame(standardised @ axes.T, index=data.index, columns=names))


# -- clustering -------------------------------------------------------------------------


def weighted_ward(centres: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    r"""Ward agglomeration of groups of territories given by their centres and sizes.

    At each step the two clusters :math:`a, b` whose merge increases the within-class
    inertia least are merged:

    .. math:: \Delta(a, b) = \frac{w_a w_b}{w_a + w_b} \lVert c_a - c_b \rVert^2

    With every size 1 this is scipy's ``ward``; the heights are scipy's too,
    :math:`\sqrt{2 \Delta}`, so the result works with
    :func:`scipy.cluster.hierarchy.fcluster` and ``dendrogram``.

    Parameters
    ----------
    centres : ndarray, shape (m, p)
    sizes : ndarray, shape (m,)
        Positive weights (territories in each group).

    Returns
    -------
    ndarray, shape (m - 1, 4)
        A linkage matrix in scipy's format: the merged clusters, the height and the
        number of groups (not territories) below.

    Examples
    --------
    >>> weighted_ward(np.array([[0.0], [1.0], [10.0]]), np.array([1, 1, 2])).round(3).tolist()
    [[0.0, 1.0, 1.0, 2.0], [2.0, 3.0, 13.435, 3.0]]
    """
    centres = np.array(centres, dtype=float)
    weights = np.array(sizes, dtype=float)
    m = len(centres)
    names = np.arange(m)
    leaves = np.ones(m)
    squared = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    cost = weights[:, None] * weights[None, :] / (weights[:, None] + weights[None, :]) * squared
    np.fill_diagonal(cost, np.inf)
    linkage = np.empty((m - 1, 4))
    for step in range(m - 1):
        a, b = divmod(int(np.argmin(cost)), m)
        linkage[step] = (min(names[a], names[b]), max(names[a], names[b]),
                         np.sqrt(2 * cost[a, b]), leaves[a] + leaves[b])
        centres[a] = (weights[a] * centres[a] + weights[b] * centres[b]) / (weights[a] + weights[b])
        weights[a] += weights[b]
        leaves[a] += leaves[b]
        names[a] = m + step
        cost[b, :] = cost[:, b] = np.inf
        active = np.isfinite(cost[:, a])
        active[b] = False
        distance = ((centres[active] - centres[a]) ** 2).sum(axis=1)
        cost[a, active] = cost[active, a] = (weights[active] * weights[a]
                                             / (weights[active] + weights[a]) * distance)
    return linkage


def _nearest(points: np.ndarray, centres: np.ndarray,
             rows: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centre of each point, and the squared distance to it."""
    # ‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖²; ‖x‖² does not change which centre is nearest, so
    # it is added to the chosen distance only; blocks of rows keep the work in cache
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    scaled = -2 * centres.T
    nearest = np.empty(len(points), dtype=np.intp)
    squared = np.empty(len(points))
    for start in range(0, len(points), rows):
        scores = points[start:start + rows] @ scaled
        scores += centre_norms
        block = scores.argmin(axis=1)
        nearest[start:start + rows] = block
        squared[start:start + rows] = scores[np.arange(len(block)), block]
    squared += np.einsum("ij,ij->i", points, points)
    return nearest, np.maximum(squared, 0)


def _kmeans(points: np.ndarray, centres: np.ndarray, max_iter: int,
            weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means from given centres; an emptied class restarts at the worst point."""
    k, dims = centres.shape
    weights = np.ones(len(points)) if weights is None else weights
    labels = np.full(len(points), -1)
    for _ in range(max_iter):
        new_labels, distance = _nearest(points, centres)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        mass = np.bincount(labels, weights, minlength=k)
        sums = np.column_stack([np.bincount(labels, weights * points[:, j], minlength=k)
                                for j in range(dims)])
        for empty in np.flatnonzero(mass == 0):
            worst = int(distance.argmax())
            sums[empty], mass[empty], distance[worst] = points[worst], 1.0, 0.0
        centres = sums / mass[:, None]
    return labels, centres


def _kmeans_plus_plus(points: np.ndarray, k: int, generator: np.random.Generator,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """k-means++ seeding: each new centre drawn in proportion to weight × squared distance."""
    norms = np.einsum("ij,ij->i", points, points)
    mass = np.ones(len(points)) if weights is None else weights

    def squared_distance(index: int) -> np.ndarray:
        return np.maximum(norms - 2 * points @ points[index] + norms[index], 0)

    cumulative = np.cumsum(mass)
    chosen = [int(np.searchsorted(cumulative, generator.random() * cumulative[-1],
                                  side="right"))]
    distance = squared_distance(chosen[0])
    for _ in range(1, k):
        cumulative = np.cumsum(mass * distance)
        if cumulative[-1] == 0:  # fewer distinct points than centres
            break
        drawn = np.searchsorted(cumulative, generator.random() * cumulative[-1], side="right")
        chosen.append(int(min(drawn, len(points) - 1)))
        np.minimum(distance, squared_distance(chosen[-1]), out=distance)
    return points[chosen]


@dataclass(frozen=True, eq=False)
class _Partition:
    labels: np.ndarray
    centres: np.ndarray
    linkage: np.ndarray


def _hcpc(points: np.ndarray, n_classes: int, pre_clusters: int | None,
          generator: np.random.Generator, weights: np.ndarray | None = None) -> _Partition:
    """Ward tree (on pre-cluster centres if asked), cut, then k-means consolidation.

    ``weights`` (a multiplicity per point) is only supported with a pre-partition, whose
    groups are weighted anyway: it lets a bootstrap resample be clustered on its distinct
    points, the same result for about two thirds of the work.
    """
    mass = np.ones(len(points)) if weights is None else weights
    if pre_clusters is not None and len(points) > pre_clusters:
        seeds = _kmeans_plus_plus(points, pre_clusters, generator, mass)
        # ten Lloyd iterations, as R's kmeans that HCPC calls for its pre-partition
        groups, centres = _kmeans(points, seeds, max_iter=10, weights=mass)
        sizes = np.bincount(groups, mass, minlength=len(centres))
        used = sizes > 0
        linkage = weighted_ward(centres[used], sizes[used])
        leaf_class = hierarchy.fcluster(linkage, n_classes, criterion="maxclust") - 1
        renumber = np.cumsum(used) - 1
        point_class = leaf_class[renumber[groups]]
    elif weights is None:
        linkage = hierarchy.ward(points)
        point_class = hierarchy.fcluster(linkage, n_classes, criterion="maxclust") - 1
    else:
        raise AnalysisInputError("des points pondérés exigent une pré-partition")
    found = point_class.max() + 1
    if found < n_classes:
        raise NotEnoughDataError(
            f"l'arbre ne se divise qu'en {found} classes distinctes, moins que les "
            f"{n_classes} demandées (trop de territoires identiques)")
    initial = np.vstack([np.average(points[point_class == c], axis=0,
                                    weights=mass[point_class == c]) for c in range(n_classes)])
    labels, centres = _kmeans(points, initial, max_iter=100, weights=mass)
    return _Partition(labels, centres, linkage)


# -- description of classes -------------------------------------------------------------


def class_profiles(data: pd.DataFrame, classes: pd.Series) -> pd.DataFrame:
    r"""Which indicators characterise each class, by v-test (FactoMineR's ``catdes``).

    For class :math:`q` of :math:`n_q` territories among :math:`N`, with overall mean
    :math:`\bar x` and variance :math:`s^2` (no :math:`n - 1` correction):

    .. math::

        v_q = \frac{\bar x_q - \bar x}
                    {\sqrt{\dfrac{s^2}{n_q} \dfrac{N - n_q}{N - 1}}}

    the class mean standardised under random drawing without replacement. :math:`|v|`
    above 1.96 (two-sided p-value below 0.05) marks an indicator that characterises the
    class: higher than elsewhere if positive, lower if negative.

    Parameters
    ----------
    data : DataFrame
        Indicators of the territories (rows aligned with ``classes``).
    classes : Series
        Class of each territory.

    Returns
    -------
    DataFrame
        One row per class × indicator: ``class, indicator, class_mean, overall_mean,
        class_std, overall_std, v_test, p_value``, sorted by class and decreasing
        v-test.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"revenu": [1.0, 2.0, 9.0, 10.0]})
    >>> profile = class_profiles(data, pd.Series([1, 1, 2, 2]))
    >>> profile[["class", "v_test"]].round(3).to_dict("records")
    [{'class': 1, 'v_test': -1.719}, {'class': 2, 'v_test': 1.719}]
    """
    data = _checked(data)
    classes = pd.Series(np.asarray(classes), index=data.index)
    total = len(data)
    overall_mean, overall_std = data.mean(), data.std(ddof=0)
    grouped = data.groupby(classes, sort=True)
    class_mean, class_std, size = grouped.mean(), grouped.std(ddof=0), grouped.size()
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt(np.outer((total - size) / (size * (total - 1)),
                                  overall_std.to_numpy() ** 2))
        v_test = (class_mean - overall_mean) / spread
    frame = pd.DataFrame({
        "class": np.repeat(class_mean.index.to_numpy(), data.shape[1]),
        "indicator": np.tile(data.columns.to_numpy(), len(class_mean)),
        "class_mean": class_mean.to_numpy().ravel(),
        "overall_mean": np.tile(overall_mean.to_numpy(), len(class_mean)),
        "class_std": class_std.to_numpy().ravel(),
        "overall_std": np.tile(overall_std.to_numpy(), len(class_mean)),
        "v_test": v_test.to_numpy().ravel()})
    frame["p_value"] = 2 * stats.norm.sf(frame["v_test"].abs())
    return frame.sort_values(["class", "v_test"], ascending=[True, False],
                             ignore_index=True)


def adjusted_rand_index(first: Any, second: Any) -> float:
    r"""Adjusted Rand index of two partitions of the same territories (Hubert and Arabie).

    .. math::

        ARI = \frac{\sum_{ij} \binom{n_{ij}}{2} - E}
                    {\frac12 \big[\sum_i \binom{a_i}{2} + \sum_j \binom{b_j}{2}\big] - E},
        \qquad
        E = \frac{\sum_i \binom{a_i}{2} \sum_j \binom{b_j}{2}}{\binom{n}{2}}

    for the contingency table :math:`n_{ij}` with margins :math:`a_i, b_j`: 1 for the
    same partition, about 0 for unrelated ones. Two partitions that are both a single
    class (or both all singletons) agree perfectly: 1.

    Parameters
    ----------
    first, second : array-like
        A class label per territory.

    Returns
    -------
    float

    Examples
    --------
    >>> adjusted_rand_index([1, 1, 2, 2], ["b", "b", "a", "a"])
    1.0
    >>> round(adjusted_rand_index([1, 1, 2, 2], [1, 2, 1, 2]), 3)
    -0.5
    """
    a, a_classes = pd.factorize(np.asarray(first, dtype=object))
    b, b_classes = pd.factorize(np.asarray(second, dtype=object))
    if len(a) != len(b):
        raise AnalysisInputError(f"partitions de {len(a)} et de {len(b)} territoires : "
                                 "elles doivent porter sur les mêmes territoires")
    table = np.bincount(a * len(b_classes) + b, minlength=len(a_classes) * len(b_classes))

    def pairs(counts: np.ndarray) -> float:
        return float(np.sum(counts * (counts - 1) / 2))

    together = pairs(table)
    rows = pairs(np.bincount(a))
    columns = pairs(np.bincount(b))
    expected = rows * columns / (len(a) * (len(a) - 1) / 2) if len(a) > 1 else 0.0
    ceiling = (rows + columns) / 2
    return 1.0 if ceiling == expected else (together - expected) / (ceiling - expected)


# -- the typology -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class Stability:
    r"""How much a typology changes when territories are resampled.

    Each resample draws the territories with replacement, rebuilds the classes on it,
    then assigns every territory to the nearest of the new classes' centres.

    Attributes
    ----------
    adjusted_rand : ndarray
        Adjusted Rand index between the typology and each resample's partition.
    class_jaccard : Series
        For each class, the mean over resamples of its best Jaccard similarity
        :math:`|A \cap B| / |A \cup B|` with a class of the resample (Hennig's
        ``clusterboot``): below 0.6 a class is usually not a stable pattern.
    """

    adjusted_rand: np.ndarray
    class_jaccard: pd.Series

    @property
    def mean_adjusted_rand(self) -> float:
        """Mean adjusted Rand index over resamples (1: perfectly stable)."""
        return float(self.adjusted_rand.mean())


@dataclass(frozen=True, kw_only=True, eq=False)
class Typology:
    """Classes of territories and their description.

    Attributes
    ----------
    classes : Series
        Class (1 to K) of each territory used.
    pca : PrincipalComponents
    n_components : int
        Principal coordinates the clustering used.
    linkage : ndarray
        The Ward tree in scipy's format, over the territories or over the
        ``pre_clusters`` groups of the pre-partition.
    pre_clusters : int or None
    centres : DataFrame
        Classes × principal coordinates, after consolidation.
    profiles : DataFrame
        :func:`class_profiles` of the indicators.
    paragons : DataFrame
        ``class, rank, id, distance``: the territories closest to each centre.
    between_inertia_share : float
        Share of the inertia (in the space clustered) between classes.
    inertia_gains : Series
        Share of the inertia lost by merging down to :math:`k - 1` classes, indexed by
        :math:`k`: a large gain at :math:`k` and a small one at :math:`k + 1` suggest
        :math:`k` classes.
    excluded : tuple
        Territories left out for a missing indicator.
    stability : Stability or None
    """

    classes: pd.Series
    pca: PrincipalComponents
    n_components: int
    linkage: np.ndarray
    pre_clusters: int | None
    centres: pd.DataFrame
    profiles: pd.DataFrame
    paragons: pd.DataFrame
    between_inertia_share: float
    inertia_gains: pd.Series
    excluded: tuple[Any, ...]
    stability: Stability | None

    @property
    def sizes(self) -> pd.Series:
        """Number of territories in each class."""
        return self.classes.value_counts().sort_index()

    def characteristic(self, alpha: float = 0.05) -> pd.DataFrame:
        """The profiles rows whose v-test is significant at ``alpha``."""
        return self.profiles[self.profiles["p_value"] < alpha].reset_index(drop=True)


def _resample_stability(points: np.ndarray, labels: np.ndarray, n_classes: int,
                        pre_clusters: int | None, resamples: int,
                        generator: np.random.Generator) -> Stability:
    rand, jaccard = np.empty(resamples), np.empty((resamples, n_classes))
    members = labels[:, None] == np.arange(n_classes)[None, :]
    for r in range(resamples):
        drawn = generator.integers(0, len(points), len(points))
        if pre_clusters is not None and len(points) > pre_clusters:
            # a resample holds about 63 % of the territories, some several times:
            # cluster those, each weighted by its number of draws
            counts = np.bincount(drawn, minlength=len(points))
            distinct = np.flatnonzero(counts)
            partition = _hcpc(points[distinct], n_classes, pre_clusters, generator,
                              counts[distinct].astype(float))
        else:
            partition = _hcpc(points[drawn], n_classes, pre_clusters, generator)
        assigned, _ = _nearest(points, partition.centres)
        rand[r] = adjusted_rand_index(labels, assigned)
        other = assigned[:, None] == np.arange(len(partition.centres))[None, :]
        both = members.T.astype(float) @ other
        either = members.sum(axis=0)[:, None] + other.sum(axis=0)[None, :] - both
        jaccard[r] = (both / np.where(either > 0, either, 1)).max(axis=1)
    return Stability(adjusted_rand=rand, class_jaccard=pd.Series(
        jaccard.mean(axis=0), index=pd.RangeIndex(1, n_classes + 1, name="class")))


def typology(data: pd.DataFrame, n_classes: int, *, n_components: int | None = None,
             pre_clusters: int | Literal["auto"] | None = "auto", bootstrap: int = 20,
             seed: int | np.random.Generator | None = None,
             paragons: int = 5) -> Typology:
    """Classes of territories from several indicators (PCA, Ward, k-means: HCPC).

    Parameters
    ----------
    data : DataFrame
        One row per territory (index: codes), one column per indicator.
    n_classes : int
        Number of classes, at least 2.
    n_components : int, optional
        Principal coordinates to cluster on (default all, which is the same as
        clustering the standardised indicators; fewer drops the noise of the last axes).
    pre_clusters : int, "auto" or None
        Size of the k-means pre-partition Ward runs on; ``"auto"``:
        :data:`DEFAULT_PRE_CLUSTERS` above :data:`DIRECT_WARD_LIMIT` territories, none
        below (Ward on every territory, whose memory grows with the square of their
        number).
    bootstrap : int
        Resamples for the stability measure (0: none).
    seed : int or numpy.random.Generator, optional
        Seed of the k-means seeding and of the resamples.
    paragons : int
        Paragons listed per class.

    Returns
    -------
    Typology

    Raises
    ------
    AnalysisInputError
        Fewer than 2 classes, an indicator with the same value everywhere.
    NotEnoughDataError
        Fewer complete territories than classes.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"x": [0.0, 0.1, 0.2, 5.0, 5.1, 5.3]},
    ...                     index=["a", "b", "c", "d", "e", "f"])
    >>> typology(data, 2, bootstrap=0).classes.to_dict()
    {'a': 1, 'b': 1, 'c': 1, 'd': 2, 'e': 2, 'f': 2}
    """
    if n_classes < 2:
        raise AnalysisInputError(f"n_classes doit valoir au moins 2 ; reçu {n_classes}")
    data = _checked(data)
    complete = data.notna().all(axis=1)
    used = data[complete]
    if len(used) <= n_classes:
        raise NotEnoughDataError(
            f"{len(used)} territoire(s) ont tous les indicateurs, trop peu pour {n_classes} "
            "classes")
    pca = principal_components(used)
    width = len(pca.eigenvalues) if n_components is None else n_components
    if not 1 <= width <= len(pca.eigenvalues):
        raise AnalysisInputError(
            f"n_components doit être compris entre 1 et {len(pca.eigenvalues)} ; "
            f"reçu {n_components}")
    if pre_clusters == "auto":
        pre_clusters = DEFAULT_PRE_CLUSTERS if len(used) > DIRECT_WARD_LIMIT else None
    if pre_clusters is not None and pre_clusters < n_classes:
        raise AnalysisInputError(
            f"pre_clusters ({pre_clusters}) doit être au moins égal à n_classes ({n_classes})")
    generator = as_generator(seed)
    points = pca.scores.to_numpy()[:, :width]
    partition = _hcpc(points, n_classes, pre_clusters, generator)
    # number classes by their position on the first axis, so that numbers are stable
    order = np.argsort(np.argsort(partition.centres[:, 0], kind="stable"))
    labels = order[partition.labels]
    centres = partition.centres[np.argsort(order)]
    class_index = pd.RangeIndex(1, n_classes + 1, name="class")
    classes = pd.Series(labels + 1, index=used.index, name="class")
    own = np.sqrt(((points - centres[labels]) ** 2).sum(axis=1))
    nearest = (pd.DataFrame({"class": labels + 1, "id": used.index, "distance": own})
               .sort_values(["class", "distance"], kind="stable")
               .groupby("class").head(paragons))
    nearest.insert(1, "rank", nearest.groupby("class").cumcount() + 1)
    total_inertia = ((points - points.mean(axis=0)) ** 2).sum()
    within = ((points - centres[labels]) ** 2).sum()
    heights = partition.linkage[::-1, 2]
    gains = pd.Series(heights[:min(15, len(heights))] ** 2 / 2 / total_inertia,
                      index=pd.RangeIndex(2, 2 + min(15, len(heights)), name="classes"))
    stability = None if not bootstrap else _resample_stability(
        points, labels, n_classes, pre_clusters, bootstrap, generator)
    return Typology(
        classes=classes, pca=pca, n_components=width, linkage=partition.linkage,
        pre_clusters=pre_clusters,
        centres=pd.DataFrame(centres, index=class_index, columns=pca.scores.columns[:width]),
        profiles=class_profiles(used, classes), paragons=nearest.reset_index(drop=True),
        between_inertia_share=float(1 - within / total_inertia), inertia_gains=gains,
        excluded=tuple(data.index[~complete]), stability=stability)
