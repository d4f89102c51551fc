r"""Inequality between territories: interdecile ratio, variation, Gini, Theil, Atkinson.

Besides, the concentration curve and index of one quantity ranked by another (the money
of a policy ranked by the territories' needs: :func:`concentration_curve`).

Every function takes one value per territory (an array or a Series) and optional
population weights (Series are matched to the values by label, arrays by position), and
returns a small result object that keeps, besides the figure, how many territories it
was computed on. With weights ``w`` (a population, or the denominator of a ratio
indicator), a territory counts in proportion to its weight: the population shares are
:math:`p_i = w_i / \sum_j w_j` and the mean is :math:`\mu = \sum_i p_i x_i`. Without
weights every territory counts once.

Policy for values a measure cannot handle (never a wrong number):

- a missing value (NaN) or a missing weight drops the territory; the result counts it in
  ``n_missing``;
- a measure needs at least two territories; with fewer it is NaN;
- a measure outside its domain is NaN: relative measures (coefficient of variation, Gini,
  Theil T) need non-negative values with a positive mean; log-based ones (Theil L,
  Atkinson with :math:`\varepsilon \ge 1`) need strictly positive values; a ratio
  (D9/D1, max/min) needs a positive denominator;
- whenever a figure is NaN, ``note`` says why;
- arguments that do not fit together (lengths, a negative weight, a territory with a
  value but no group) raise :class:`~cohesion.analysis.errors.AnalysisInputError`.

Examples
--------
>>> from cohesion.analysis import gini, theil
>>> round(gini([1, 2, 3, 4]).value, 4)
0.25
>>> decomposition = theil([1, 2, 3, 4], partition=["a", "a", "b", "b"])
>>> abs(decomposition.between + decomposition.within - decomposition.total) < 1e-12
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from cohesion.analysis._inputs import (
    Observations,
    aligned,
    as_vector,
    check_option,
    observations,
)
from cohesion.analysis.errors import AnalysisInputError

__all__ = [
    "Atkinson",
    "CoefficientOfVariation",
    "ConcentrationCurve",
    "Gini",
    "InequalitySummary",
    "InterdecileRatio",
    "LorenzCurve",
    "MaxMinRatio",
    "TheilIndex",
    "atkinson",
    "coefficient_of_variation",
    "concentration_curve",
    "gini",
    "inequality_summary",
    "interdecile_ratio",
    "lorenz_curve",
    "max_min_ratio",
    "theil",
]

#: Fewer territories than this make every measure NaN.
MIN_TERRITORIES = 2

NAN = float("nan")


@dataclass(frozen=True, kw_only=True, eq=False)
class InequalityResult:
    """What every inequality result reports besides its figures.

    Attributes
    ----------
    n : int
        Territories the figure was computed on.
    n_missing : int
        Territories dropped because their value or weight was missing.
    weighted : bool
        Whether territories were weighted (by population, a denominator…).
    note : str or None
        Why the figure is NaN, when it is.
    """

    n: int
    n_missing: int
    weighted: bool
    note: str | None = None


def _context(sample: Observations, note: str | None) -> dict[str, Any]:
    return {"n": sample.n, "n_missing": sample.n_missing, "weighted": sample.weighted,
            "note": note}


def _common_problem(sample: Observations) -> str | None:
    """Why no measure can be computed on this sample, if so."""
    if sample.n < MIN_TERRITORIES:
        return (f"il faut au moins {MIN_TERRITORIES} territoires ayant une valeur, "
                f"{sample.n} seulement")
    if not sample.weights.sum() > 0:
        return "tous les poids sont nuls"
    return None


def _domain_problem(sample: Observations, *, positive: bool) -> str | None:
    """Why a relative (``positive=False``) or log-based measure is undefined, if so."""
    problem = _common_problem(sample)
    if problem:
        return problem
    values = sample.values
    negative = int((values < 0).sum())
    if negative:
        return (f"{negative} valeur(s) négative(s) : la mesure n'est définie que pour des valeurs "
                "positives ou nulles")
    if positive and (values == 0).any():
        return (f"{int((values == 0).sum())} valeur(s) nulle(s) : la mesure prend le logarithme "
                "de chaque valeur et n'est définie que pour des valeurs strictement positives")
    if not np.dot(sample.shares, values) > 0:
        return "la moyenne est nulle"
    return None


def _mean(sample: Observations) -> float:
    return float(np.dot(sample.shares, sample.values))


# -- interdecile ratio ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class InterdecileRatio(InequalityResult):
    r"""First and ninth deciles of the territories' values and their ratio.

    .. math:: \text{ratio} = D_9 / D_1

    Attributes
    ----------
    d1, d9 : float
        The deciles (with weights, of the population's distribution).
    ratio : float
        :math:`D_9 / D_1`, NaN unless :math:`D_1 > 0`.
    method : str
        How quantiles between two values are placed (see :func:`numpy.quantile`).
    """

    d1: float
    d9: float
    ratio: float
    method: str

    @property
    def gap(self) -> float:
        """:math:`D_9 - D_1`, in the unit of the values (defined for any sign)."""
        return self.d9 - self.d1


def interdecile_ratio(values: Any, weights: Any = None, *,
                      method: str | None = None) -> InterdecileRatio:
    r"""Ratio of the ninth to the first decile of the territories' values.

    Parameters
    ----------
    values : array-like
        One value per territory; NaN for a missing one.
    weights : array-like, optional
        Weights of the territories. The deciles are then those of the population: 10 %
        of the population lives in territories at or below :math:`D_1`.
    method : str, optional
        Quantile method of :func:`numpy.quantile`. Default ``"linear"`` without weights
        (type 7 of R, Excel's ``CENTILE``), ``"inverted_cdf"`` with weights (the only one
        numpy supports with weights).

    Returns
    -------
    InterdecileRatio
        ``d1``, ``d9``, ``ratio`` (NaN if :math:`D_1 \le 0`) and ``gap``.

    Examples
    --------
    >>> result = interdecile_ratio([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110])
    >>> result.d1, result.d9, result.ratio
    (20.0, 100.0, 5.0)
    >>> interdecile_ratio([5.0, float("nan")]).note
    'il faut au moins 2 territoires ayant une valeur, 1 seulement'
    """
    sample = observations(values, weights)
    chosen = method or ("inverted_cdf" if sample.weighted else "linear")
    if sample.weighted and chosen != "inverted_cdf":
        raise AnalysisInputError(
            f"method={chosen!r} est incompatible avec weights : numpy ne calcule les quantiles "
            "pondérés qu'avec method='inverted_cdf'")
    problem = _common_problem(sample)
    if problem:
        return InterdecileRatio(d1=NAN, d9=NAN, ratio=NAN, method=chosen,
                                **_context(sample, problem))
    d1, d9 = np.quantile(sample.values, [0.1, 0.9], method=chosen,
                         weights=sample.weights if sample.weighted else None)
    note = None if d1 > 0 else (f"D1 = {d1:g} n'est pas strictement positif : le rapport "
                                  "D9/D1 n'a pas de sens")
    return InterdecileRatio(d1=float(d1), d9=float(d9), ratio=float(d9 / d1) if d1 > 0 else NAN,
                            method=chosen, **_context(sample, note))


# -- coefficient of variation -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class CoefficientOfVariation(InequalityResult):
    r"""Standard deviation over mean.

    .. math::

        \mu = \sum_i p_i x_i, \qquad
        \sigma = \sqrt{\sum_i p_i (x_i - \mu)^2}, \qquad
        CV = \sigma / \mu

    The standard deviation is that of the (weighted) distribution itself (no
    :math:`n - 1` correction), as for the Theil and Gini indices.

    Attributes
    ----------
    mean, std : float
        :math:`\mu` and :math:`\sigma` (``std`` is defined for values of any sign).
    value : float
        :math:`CV`, NaN for negative values or a zero mean.
    """

    mean: float
    std: float
    value: float


def coefficient_of_variation(values: Any, weights: Any = None) -> CoefficientOfVariation:
    """Coefficient of variation of the territories' values.

    Parameters
    ----------
    values : array-like
        One value per territory; NaN for a missing one.
    weights : array-like, optional
        Weights of the territories.

    Returns
    -------
    CoefficientOfVariation

    Examples
    --------
    >>> result = coefficient_of_variation([2, 4, 4, 4, 5, 5, 7, 9])
    >>> result.mean, result.std, result.value
    (5.0, 2.0, 0.4)
    >>> coefficient_of_variation([-1, 1, 3]).note
    "1 valeur(s) négative(s) : la mesure n'est définie que pour des valeurs positives ou nulles"
    """
    sample = observations(values, weights)
    problem = _common_problem(sample)
    if problem:
        return CoefficientOfVariation(mean=NAN, std=NAN, value=NAN,
                                      **_context(sample, problem))
    mean = _mean(sample)
    std = float(np.sqrt(np.dot(sample.shares, (sample.values - mean) ** 2)))
    problem = _domain_problem(sample, positive=False)
    return CoefficientOfVariation(mean=mean, std=std, value=NAN if problem else std / mean,
                                  **_context(sample, problem))


# -- Gini and Lorenz curve --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class Gini(InequalityResult):
    r"""Gini index: mean absolute difference between territories over twice the mean.

    .. math::

        G = \frac{\sum_i \sum_j w_i w_j |x_i - x_j|}{2 W^2 \mu}, \qquad
        W = \sum_i w_i

    Without weights this is the relative mean difference form of PySAL's
    ``inequality.gini.Gini``. Computed in :math:`O(n \log n)` on sorted values:
    :math:`G = \sum_i w_i x_i (2 C_i + w_i - W) / (W \sum_i w_i x_i)` where
    :math:`C_i` is the weight of the territories before :math:`i`.

    Attributes
    ----------
    value : float
        :math:`G` in [0, 1), NaN for negative values or a zero mean.
    """

    value: float


def gini(values: Any, weights: Any = None) -> Gini:
    """Gini index of the territories' values.

    Parameters
    ----------
    values : array-like
        One value per territory; NaN for a missing one.
    weights : array-like, optional
        Weights of the territories (population: the Gini of the inhabitants'
        distribution over territories).

    Returns
    -------
    Gini

    See Also
    --------
    lorenz_curve : the curve whose area the index measures.

    Examples
    --------
    >>> gini([1, 1, 1, 1]).value
    0.0
    >>> round(gini([0, 0, 0, 10]).value, 4)
    0.75
    >>> round(gini([1, 3], weights=[3, 1]).value, 4)
    0.25
    """
    sample = observations(values, weights)
    problem = _domain_problem(sample, positive=False)
    if problem:
        return Gini(value=NAN, **_context(sample, problem))
    order = np.argsort(sample.values, kind="stable")
    x, w = sample.values[order], sample.weights[order]
    before = np.cumsum(w) - w
    total_weight, total_value = w.sum(), np.dot(w, x)
    value = np.dot(w * x, 2 * before + w - total_weight) / (total_weight * total_value)
    return Gini(value=float(value), **_context(sample, None))


@dataclass(frozen=True, kw_only=True, eq=False)
class LorenzCurve(InequalityResult):
    r"""Points of the Lorenz curve, from (0, 0) to (1, 1).

    Territories are sorted by increasing value; point :math:`k` is the share of the
    population (or of the territories) living in the :math:`k` lowest territories and
    their share of the total.

    .. math::

        L_k = \frac{\sum_{i \le k} w_i x_i}{\sum_i w_i x_i}

    Attributes
    ----------
    population_share, value_share : ndarray
        Abscissae and ordinates, ``n + 1`` points each (empty when undefined).
    """

    population_share: np.ndarray
    value_share: np.ndarray


def lorenz_curve(values: Any, weights: Any = None) -> LorenzCurve:
    """Lorenz curve of the territories' values (for the inequality page's chart).

    Parameters
    ----------
    values : array-like
        One value per territory; NaN for a missing one.
    weights : array-like, optional
        Weights of the territories.

    Returns
    -------
    LorenzCurve

    Examples
    --------
    >>> curve = lorenz_curve([3, 1])
    >>> curve.population_share.tolist(), curve.value_share.tolist()
    ([0.0, 0.5, 1.0], [0.0, 0.25, 1.0])
    """
    sample = observations(values, weights)
    problem = _domain_problem(sample, positive=False)
    if problem:
        return LorenzCurve(population_share=np.array([]), value_share=np.array([]),
                           **_context(sample, problem))
    order = np.argsort(sample.values, kind="stable")
    x, w = sample.values[order], sample.weights[order]
    population = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
    share = np.concatenate([[0.0], np.cumsum(w * x) / np.dot(w, x)])
    return LorenzCurve(population_share=population, value_share=share,
                       **_context(sample, None))


@dataclass(frozen=True, kw_only=True, eq=False)
class ConcentrationCurve(InequalityResult):
    r"""Concentration curve and index of values ranked by another variable.

    Territories are sorted by increasing ``ranking`` (a need: poverty, unemployment);
    point :math:`k` is the share of the population living in the :math:`k` territories
    of lowest ranking and their share of the total :math:`\sum_i w_i x_i` (with
    values per inhabitant and population weights, their share of the money). Territories
    tied on the ranking make one point, so that their order does not matter. The index
    uses their fractional rank :math:`R_i` in the population (tied territories share
    the mean rank of their group):

    .. math::

        R_i = \frac{W_{<i} + W_{=i} / 2}{W}, \qquad
        C = \frac{2}{\mu} \sum_i p_i x_i R_i - 1
          = 1 - \sum_k p_k (L_{k-1} + L_k)

    :math:`C > 0` when the values concentrate where the ranking is high (money going
    where the needs are), :math:`C < 0` where it is low, 0 when they are spread in
    proportion to the population whatever the ranking; :math:`-1 < C < 1`. Ranked by
    the values themselves, the curve is the Lorenz curve and :math:`C` the Gini index.

    Attributes
    ----------
    population_share, value_share : ndarray
        Abscissae and ordinates, one point per distinct ranking value plus (0, 0).
    ranking : ndarray
        The ranking value of each point after the first.
    index : float
        :math:`C`, NaN for negative values or a zero total.
    """

    population_share: np.ndarray
    value_share: np.ndarray
    ranking: np.ndarray
    index: float


def concentration_curve(values: Any, ranking: Any, weights: Any = None) -> ConcentrationCurve:
    """Concentration curve and index of ``values`` ranked by ``ranking``.

    Parameters
    ----------
    values : array-like
        One non-negative value per territory (funding per inhabitant); NaN for a
        missing one.
    ranking : array-like
        What territories are ranked by (a need); a territory without it is dropped
        (counted in ``n_missing``). Series are matched to ``values`` by label.
    weights : array-like, optional
        Weights of the territories (their population).

    Returns
    -------
    ConcentrationCurve

    See Also
    --------
    lorenz_curve, gini : the same, ranked by the values themselves.

    Examples
    --------
    >>> curve = concentration_curve([30, 10], ranking=[1, 2])
    >>> curve.population_share.tolist(), curve.value_share.tolist(), curve.index
    ([0.0, 0.5, 1.0], [0.0, 0.75, 1.0], -0.25)
    >>> round(concentration_curve([1, 2, 3, 4], ranking=[1, 2, 3, 4]).index, 4)
    0.25
    """
    # a territory without a ranking is dropped like one without a value
    ranks = aligned(values, ranking, "ranking")
    unranked = np.isnan(as_vector(ranks, "ranking"))
    kept = values.astype(float).where(~unranked) if isinstance(values, pd.Series) else \
        np.where(unranked, np.nan, as_vector(values))
    # grouping by ranking value orders the groups by increasing ranking, ties together
    sample = observations(kept, weights, partition=ranks)
    problem = _domain_problem(sample, positive=False)
    if problem:
        return ConcentrationCurve(population_share=np.array([]), value_share=np.array([]),
                                  ranking=np.array([]), index=NAN,
                                  **_context(sample, problem))
    assert sample.groups is not None and sample.group_labels is not None
    weight = np.bincount(sample.groups, sample.weights)
    amount = np.bincount(sample.groups, sample.weights * sample.values)
    total_weight, total_amount = weight.sum(), amount.sum()
    rank = (np.cumsum(weight) - weight / 2) / total_weight
    return ConcentrationCurve(
        population_share=np.concatenate([[0.0], np.cumsum(weight) / total_weight]),
        value_share=np.concatenate([[0.0], np.cumsum(amount) / total_amount]),
        ranking=sample.group_labels.astype(float),
        index=float(2 * np.dot(amount, rank) / total_amount - 1),
        **_context(sample, None))


# -- Theil ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class TheilIndex(InequalityResult):
    r"""Theil index and its exact decomposition between and within groups.

    With population shares :math:`p_i`, value shares
    :math:`s_i = p_i x_i / \mu` and, for a group :math:`g`, :math:`p_g`,
    :math:`s_g` and :math:`\mu_g` the sums and mean over its territories:

    .. math::

        T &= \sum_i s_i \ln \frac{s_i}{p_i}
           = \underbrace{\sum_g s_g \ln \frac{s_g}{p_g}}_{\text{between}}
           + \underbrace{\sum_g s_g T_g}_{\text{within}} \\
        L &= \sum_i p_i \ln \frac{p_i}{s_i}
           = \underbrace{\sum_g p_g \ln \frac{p_g}{s_g}}_{\text{between}}
           + \underbrace{\sum_g p_g L_g}_{\text{within}}

    :math:`T` (Theil's first index) weighs each territory by its share of the total,
    :math:`L` (mean log deviation) by its share of the population. Without weights,
    :math:`p_i = 1/n` and :math:`T` is PySAL's ``inequality.theil.TheilD``.
    :math:`T` accepts zero values (:math:`0 \ln 0 = 0`); :math:`L` does not.

    Attributes
    ----------
    kind : {"T", "L"}
    total, between, within : float
        ``between`` and ``within`` are NaN without a partition.
    groups : DataFrame or None
        One row per group: ``group, n, population_share, value_share, mean, index``
        (the group's own index :math:`T_g` or :math:`L_g`) and ``within_contribution``
        (:math:`s_g T_g` or :math:`p_g L_g`).
    """

    kind: Literal["T", "L"]
    total: float
    between: float
    within: float
    groups: pd.DataFrame | None

    @property
    def between_share(self) -> float:
        """Share of the total explained by differences between groups."""
        return self.between / self.total if self.total > 0 else NAN


def _xlogx(x: np.ndarray) -> np.ndarray:
    r""":math:`x \ln x` with its limit 0 at :math:`x = 0`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def theil(values: Any, weights: Any = None, partition: Any = None,
          kind: Literal["T", "L"] = "T") -> TheilIndex:
    """Theil index, decomposed between and within the groups of a partition.

    Parameters
    ----------
    values : array-like
        One value per territory; NaN for a missing one.
    weights : array-like, optional
        Weights of the territories.
    partition : array-like, optional
        A group label per territory (région, density class, QPV or not…). Every
        territory with a value needs a group.
    kind : {"T", "L"}
        Theil's :math:`T` (default) or the mean log deviation :math:`L`.

    Returns
    -------
    TheilIndex

    Examples
    --------
    >>> result = theil([1, 1, 4, 4], partition=["a", "a", "b", "b"])
    >>> round(result.total, 6), round(result.between, 6), result.within
    (0.192745, 0.192745, 0.0)
    >>> theil([0, 1, 2], kind="L").note  # doctest: +ELLIPSIS
    "1 valeur(s) nulle(s) : la mesure prend le logarithme de chaque valeur et n'est ..."
    """
    check_option(kind, ("T", "L"), "kind")
    sample = observations(values, weights, partition)
    problem = _domain_problem(sample, positive=kind == "L")
    if problem:
        return TheilIndex(kind=kind, total=NAN, between=NAN, within=NAN, groups=None,
                          **_context(sample, problem))
    # a territory of zero weight has no influence; dropping it keeps every group's
    # population share positive
    used = sample.weights > 0
    x, p = sample.values[used], sample.shares[used]
    mean = np.dot(p, x)
    ratio = x / mean
    total = float(np.dot(p, _xlogx(ratio))) if kind == "T" else float(-np.dot(p, np.log(ratio)))
    if sample.groups is None:
        return TheilIndex(kind=kind, total=total, between=NAN, within=NAN, groups=None,
                          **_context(sample, None))
    codes, groups = np.unique(sample.groups[used], return_inverse=True)
    population = np.bincount(groups, p)
    share = np.bincount(groups, p * ratio)
    group_mean = np.bincount(groups, p * x) / population
    group_ratio = x / group_mean[groups]
    if kind == "T":
        own = np.bincount(groups, p * _xlogx(group_ratio)) / population
        between_terms = _xlogx(share) - share * np.log(population)
        contribution = share * own
    else:
        own = np.bincount(groups, -p * np.log(group_ratio)) / population
        between_terms = population * np.log(population / share)
        contribution = population * own
    table = pd.DataFrame({
        "group": sample.group_labels[codes], "n": np.bincount(groups),
        "population_share": population, "value_share": share, "mean": group_mean,
        "index": own, "within_contribution": contribution})
    return TheilIndex(kind=kind, total=total, between=float(between_terms.sum()),
                      within=float(contribution.sum()), groups=table,
                      **_context(sample, None))


# -- Atkinson ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class Atkinson(InequalityResult):
    r"""Atkinson index: the share of the mean society would give up for equality.

    .. math::

        EDE_\varepsilon = \Big(\sum_i p_i x_i^{1-\varepsilon}\Big)^{1/(1-\varepsilon)}
        \ (\varepsilon \ne 1), \qquad
        EDE_1 = \exp \sum_i p_i \ln x_i, \qquad
        A_\varepsilon = 1 - EDE_\varepsilon / \mu

    Attributes
    ----------
    epsilon : float
        Inequality aversion :math:`\varepsilon \ge 0`.
    index : float
        :math:`A_\varepsilon` in [0, 1]; NaN for negative values, or zero values when
        :math:`\varepsilon \ge 1` (the index would be 1 whatever the other values).
    equally_distributed_equivalent : float
        :math:`EDE_\varepsilon`.
    mean : float
        :math:`\mu`.
    """

    epsilon: float
    index: float
    equally_distributed_equivalent: float
    mean: float


def atkinson(values: Any, epsilon: float = 1.0, weights: Any = None) -> Atkinson:
    r"""Atkinson index of the territories' values.

    Parameters
    ----------
    values : array-like
        One value per territory; NaN for a missing one.
    epsilon : float
        Inequality aversion, :math:`\varepsilon \ge 0`: the higher, the more the index
        reacts to the lowest values.
    weights : array-like, optional
        Weights of the territories.

    Returns
    -------
    Atkinson

    Examples
    --------
    >>> round(atkinson([10, 20, 30, 40, 50], 0.5).index, 5)
    0.06315
    >>> round(atkinson([10, 20, 30, 40, 50], 1).index, 5)
    0.13161
    """
    if not np.isfinite(epsilon) or epsilon < 0:
        raise AnalysisInputError(f"epsilon doit être un nombre fini ≥ 0 ; reçu {epsilon!r}")
    sample = observations(values, weights)
    problem = _domain_problem(sample, positive=epsilon >= 1)
    if problem:
        return Atkinson(epsilon=epsilon, index=NAN, equally_distributed_equivalent=NAN,
                        mean=NAN, **_context(sample, problem))
    p, x = sample.shares, sample.values
    mean = float(np.dot(p, x))
    if epsilon == 1:
        ede = float(np.exp(np.dot(p, np.log(x))))
    else:
        ede = float(np.dot(p, x ** (1 - epsilon)) ** (1 / (1 - epsilon)))
    return Atkinson(epsilon=epsilon, index=1 - ede / mean, equally_distributed_equivalent=ede,
                    mean=mean, **_context(sample, None))


# -- max / min --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class MaxMinRatio(InequalityResult):
    r"""Highest and lowest value and their ratio.

    .. math:: \text{ratio} = \max_i x_i / \min_i x_i

    Attributes
    ----------
    minimum, maximum : float
    ratio : float
        NaN unless the minimum is positive.
    """

    minimum: float
    maximum: float
    ratio: float

    @property
    def gap(self) -> float:
        r""":math:`\max - \min`, in the unit of the values (the ANCT « écart »)."""
        return self.maximum - self.minimum


def max_min_ratio(values: Any) -> MaxMinRatio:
    """Ratio of the highest to the lowest territory value (weights change nothing here).

    Parameters
    ----------
    values : array-like
        One value per territory; NaN for a missing one.

    Returns
    -------
    MaxMinRatio

    Examples
    --------
    >>> result = max_min_ratio([3.3, 26.4, 10.0])
    >>> round(result.ratio, 3), round(result.gap, 1)
    (8.0, 23.1)
    """
    sample = observations(values)
    problem = _common_problem(sample)
    if problem:
        return MaxMinRatio(minimum=NAN, maximum=NAN, ratio=NAN, **_context(sample, problem))
    low, high = float(sample.values.min()), float(sample.values.max())
    note = None if low > 0 else (f"le minimum {low:g} n'est pas strictement positif : le "
                                   "rapport max/min n'a pas de sens")
    return MaxMinRatio(minimum=low, maximum=high, ratio=high / low if low > 0 else NAN,
                       **_context(sample, note))


# -- everything at once -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class InequalitySummary(InequalityResult):
    """Every inequality measure of one set of territories.

    Attributes
    ----------
    interdecile : InterdecileRatio
    variation : CoefficientOfVariation
    gini : Gini
    theil_t, theil_l : TheilIndex
        Decomposed when a partition was given.
    atkinson : tuple of Atkinson
        One per inequality aversion asked for.
    extremes : MaxMinRatio
    """

    interdecile: InterdecileRatio
    variation: CoefficientOfVariation
    gini: Gini
    theil_t: TheilIndex
    theil_l: TheilIndex
    atkinson: tuple[Atkinson, ...]
    extremes: MaxMinRatio

    def to_frame(self) -> pd.DataFrame:
        """One row per figure: ``measure, value, note`` (the note says why NaN)."""
        rows: list[tuple[str, float, str | None]] = [
            ("n", self.n, None), ("n_missing", self.n_missing, None),
            ("mean", self.variation.mean, self.variation.note if np.isnan(
                self.variation.mean) else None),
            ("std", self.variation.std, None),
            ("minimum", self.extremes.minimum, None),
            ("maximum", self.extremes.maximum, None),
            ("max_min_ratio", self.extremes.ratio, self.extremes.note),
            ("d1", self.interdecile.d1, None), ("d9", self.interdecile.d9, None),
            ("interdecile_ratio", self.interdecile.ratio, self.interdecile.note),
            ("coefficient_of_variation", self.variation.value, self.variation.note),
            ("gini", self.gini.value, self.gini.note)]
        for name, result in (("theil_t", self.theil_t), ("theil_l", self.theil_l)):
            rows.append((name, result.total, result.note))
            if result.groups is not None:
                rows += [(f"{name}_between", result.between, None),
                         (f"{name}_within", result.within, None),
                         (f"{name}_between_share", result.between_share, None)]
        rows += [(f"atkinson_{a.epsilon:g}", a.index, a.note) for a in self.atkinson]
        return pd.DataFrame(rows, columns=["measure", "value", "note"])


def inequality_summary(values: Any, weights: Any = None, partition: Any = None, *,
                       epsilons: Sequence[float] = (0.5, 1.0, 2.0),
                       quantile_method: str | None = None) -> InequalitySummary:
    """Every inequality measure of the territories' values, for a table or a page.

    Parameters
    ----------
    values : array-like
        One value per territory; NaN for a missing one.
    weights : array-like, optional
        Weights of the territories (the extremes are never weighted).
    partition : array-like, optional
        A group label per territory, to decompose the Theil indices.
    epsilons : sequence of float
        Inequality aversions of the Atkinson indices.
    quantile_method : str, optional
        See :func:`interdecile_ratio`.

    Returns
    -------
    InequalitySummary

    Examples
    --------
    >>> summary = inequality_summary([1, 2, 3, 4], partition=["a", "a", "b", "b"])
    >>> table = summary.to_frame().set_index("measure")["value"]
    >>> float(table["gini"]), round(float(table["theil_t_between_share"]), 3)
    (0.25, 0.773)
    """
    sample = observations(values, weights, partition)
    return InequalitySummary(
        interdecile=interdecile_ratio(values, weights, method=quantile_method),
        variation=coefficient_of_variation(values, weights),
        gini=gini(values, weights),
        theil_t=theil(values, weights, partition, "T"),
        theil_l=theil(values, weights, partition, "L"),
        atkinson=tuple(atkinson(values, e, weights) for e in epsilons),
        extremes=max_min_ratio(observations(values, weights).values),
        **_context(sample, _common_problem(sample)))
