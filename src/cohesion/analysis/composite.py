"""Composite indices following the JRC/OECD *Handbook on constructing composite indicators*.

A composite index combines several indicators in three choices, each of which the
handbook (OECD/JRC 2008) documents:

- **normalisation** (:data:`NORMALISATIONS`): ``min-max`` rescales each indicator to
  ``bounds``; ``z-score`` centres and divides by the standard deviation;
  ``distance-to-reference`` divides by a reference value (France, a target) × 100;
- **weighting** (:data:`WEIGHTINGS`): ``equal``; ``expert`` (given weights, rescaled to sum
  to 1); ``pca`` (from the principal components of the indicators, handbook §6.1);
- **aggregation** (:data:`AGGREGATIONS`): ``arithmetic`` mean (full compensability) or
  ``geometric`` mean (a poor score is compensated less; needs positive normalised
  values).

After normalisation every indicator reads "higher is better": ``directions`` says which
indicators are turned round. Because each choice is debatable, :func:`composite_uncertainty`
computes the index under every valid combination and reports, for each territory, the
interval of its ranks: a territory ranked 3rd to 40th should not be called 3rd.

Territories lacking an indicator get no score (their normalisation would not be
comparable) and are listed in ``excluded``; normalisation statistics use the complete
territories only.

Examples
--------
>>> import pandas as pd
>>> from cohesion.analysis import composite_index
>>> data = pd.DataFrame({"revenu": [18.0, 22.0, 30.0], "chomage": [14.0, 9.0, 6.0]},
...                     index=["A", "B", "C"])
>>> index = composite_index(data, directions={"revenu": 1, "chomage": -1})
>>> index.scores.round(3).to_dict(), index.ranks.to_dict()
({'A': 0.0, 'B': 0.479, 'C': 1.0}, {'A': 3, 'B': 2, 'C': 1})
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cohesion.analysis._inputs import check_option
from cohesion.analysis.errors import AnalysisInputError, NotEnoughDataError

__all__ = [
    "AGGREGATIONS",
    "NORMALISATIONS",
    "WEIGHTINGS",
    "CompositeIndex",
    "CompositeUncertainty",
    "aggregate",
    "composite_index",
    "composite_uncertainty",
    "composite_weights",
    "normalise",
]

NORMALISATIONS = ("min-max", "z-score", "distance-to-reference")
WEIGHTINGS = ("equal", "expert", "pca")
AGGREGATIONS = ("arithmetic", "geometric")

#: Min-max bounds of the uncertainty analysis: positive, so geometric means exist.
UNCERTAINTY_BOUNDS = (1.0, 100.0)

_HIGHER = {1, "1", "+1", "higher_is_better", "higher"}
_LOWER = {-1, "-1", "lower_is_better", "lower"}


def _numeric(data: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame) or data.shape[1] == 0:
        raise AnalysisInputError("data doit être un DataFrame avec une colonne par indicateur")
    return data.apply(pd.to_numeric, errors="coerce").astype(float)


def _signs(columns: pd.Index, directions: Mapping[str, Any] | None) -> pd.Series:
    """+1 for an indicator where higher is better, -1 where lower is better."""
    if directions is None:
        return pd.Series(1.0, index=columns)
    signs = {}
    for column in columns:
        if column not in directions:
            raise AnalysisInputError(f"aucun sens pour l'indicateur {column!r} (attendu 1 ou "
                                     "'higher_is_better', -1 ou 'lower_is_better')")
        given = directions[column]
        if given in _HIGHER:
            signs[column] = 1.0
        elif given in _LOWER:
            signs[column] = -1.0
        else:
            raise AnalysisInputError(
                f"le sens {given!r} de {column!r} ne peut pas entrer dans un indice composite "
                "(attendu 1 ou 'higher_is_better', -1 ou 'lower_is_better')")
    return pd.Series(signs, dtype=float)


def _reference_values(data: pd.DataFrame, reference: Any) -> pd.Series:
    if reference is None:
        raise AnalysisInputError("distance-to-reference exige une référence : une valeur par "
                                 "indicateur, ou le code d'un territoire de référence")
    if isinstance(reference, Mapping | pd.Series):
        values = pd.Series(reference, dtype=float).reindex(data.columns)
    elif reference in data.index:
        values = data.loc[reference]
    else:
        raise AnalysisInputError(f"la référence {reference!r} n'est ni une valeur par "
                                 "indicateur ni un territoire des données")
    if values.isna().any():
        raise AnalysisInputError(
            f"aucune valeur de référence pour {values.index[values.isna()][0]!r}")
    return values


# -- the three choices ------------------------------------------------------------------


def normalise(data: pd.DataFrame, method: str = "min-max", *,
              directions: Mapping[str, Any] | None = None, reference: Any = None,
              bounds: tuple[float, float] = (0.0, 1.0)) -> pd.DataFrame:
    r"""Put indicators on a common scale where higher is better.

    With :math:`d_j = \pm 1` the direction of indicator :math:`j`:

    .. math::

        \text{min-max: } & l + (u - l) \frac{x - \min}{\max - \min}
            \ (d = 1), \quad l + (u - l) \frac{\max - x}{\max - \min} \ (d = -1) \\
        \text{z-score: } & d \, (x - \bar x) / s \\
        \text{distance-to-reference: } & 100\, x / x_{ref} \ (d = 1), \quad
            100\, x_{ref} / x \ (d = -1)

    (:math:`s` without :math:`n - 1` correction). Missing values stay missing.

    Parameters
    ----------
    data : DataFrame
        One row per territory, one column per indicator.
    method : str
        One of :data:`NORMALISATIONS`.
    directions : mapping, optional
        Indicator → ``1`` / ``"higher_is_better"`` or ``-1`` / ``"lower_is_better"``
        (default: every indicator higher is better).
    reference : mapping, Series or label, optional
        For ``distance-to-reference``: a value per indicator, or the label of a row.
    bounds : (float, float)
        Target interval of ``min-max``.

    Returns
    -------
    DataFrame

    Raises
    ------
    AnalysisInputError
        An indicator with a single value (min-max, z-score), or a value or reference
        that is not positive (distance to reference).

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"chomage": [5.0, 10.0, 15.0]})
    >>> normalise(data, directions={"chomage": -1})["chomage"].tolist()
    [1.0, 0.5, 0.0]
    >>> normalise(data, "distance-to-reference", reference={"chomage": 10.0},
    ...           directions={"chomage": -1})["chomage"].tolist()
    [200.0, 100.0, 66.66666666666666]
    """
    check_option(method, NORMALISATIONS, "method")
    data = _numeric(data)
    signs = _signs(data.columns, directions)
    higher_is_better = np.broadcast_to(signs.to_numpy() > 0, data.shape)
    if method == "distance-to-reference":
        reference_values = _reference_values(data, reference)
        bad = [c for c in data.columns
               if (data[c] <= 0).any() or not reference_values[c] > 0]
        if bad:
            raise AnalysisInputError(
                f"distance-to-reference divise par les valeurs : {bad[0]!r} a une valeur ou une "
                "référence qui n'est pas strictement positive ; utilisez min-max ou z-score "
                "pour cet indicateur")
        ratio = data / reference_values
        return 100 * ratio.where(higher_is_better, 1 / ratio)
    spread = (data.max() - data.min()) if method == "min-max" else data.std(ddof=0)
    constant = spread.index[~(spread > 0)].tolist()
    if constant:
        raise AnalysisInputError(
            f"l'indicateur {constant[0]!r} n'a qu'une seule valeur : il ne peut pas être "
            f"normalisé ({method}) et ne distingue pas les territoires ; retirez-le")
    if method == "z-score":
        return (data - data.mean()) / spread * signs
    low, high = bounds
    if not high > low:
        raise AnalysisInputError(
            f"bounds doit être croissant (borne basse < borne haute) ; reçu {bounds}")
    share = (data - data.min()) / spread
    return low + (high - low) * share.where(higher_is_better, 1 - share)


def _varimax(loadings: np.ndarray, max_iter: int = 500, tol: float = 1e-10) -> np.ndarray:
    """Varimax rotation (Kaiser 1958) of a loadings matrix, without row normalisation."""
    rows, factors = loadings.shape
    rotation = np.eye(factors)
    criterion = 0.0
    for _ in range(max_iter):
        rotated = loadings @ rotation
        target = rotated ** 3 - rotated * (rotated ** 2).sum(axis=0) / rows
        left, singular, right = np.linalg.svd(loadings.T @ target)
        rotation = left @ right
        if singular.sum() < criterion * (1 + tol):
            break
        criterion = singular.sum()
    return loadings @ rotation


def _pca_weights(data: pd.DataFrame) -> pd.Series:
    """Weights from principal components, following the handbook (§6.1, table 18).

    Factors are kept when their eigenvalue exceeds 1 and they explain more than 10 % of
    the variance (at least one); their loadings are varimax-rotated; an indicator's
    weight is its squared loading scaled to unit sum within the factor it loads most
    on, times that factor's share of the variance the kept factors explain.
    """
    correlation = np.corrcoef(data.to_numpy(), rowvar=False)
    eigenvalues, vectors = np.linalg.eigh(correlation)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = eigenvalues[order], vectors[:, order]
    share = eigenvalues / eigenvalues.sum()
    kept = max(1, int(np.sum((eigenvalues > 1) & (share > 0.1))))
    loadings = vectors[:, :kept] * np.sqrt(eigenvalues[:kept])
    rotated = _varimax(loadings) if kept > 1 else loadings
    squared = rotated ** 2
    scaled = squared / squared.sum(axis=0)
    factor_share = squared.sum(axis=0) / squared.sum()
    strongest = scaled.argmax(axis=1)
    weights = factor_share[strongest] * scaled[np.arange(len(scaled)), strongest]
    return pd.Series(weights / weights.sum(), index=data.columns)


def composite_weights(data: pd.DataFrame, method: str = "equal", *,
                      expert: Mapping[str, float] | None = None) -> pd.Series:
    """Weights of the indicators, summing to 1.

    Parameters
    ----------
    data : DataFrame
        The indicators (raw or normalised: ``pca`` weights depend on their correlations
        only, which neither normalisation nor direction changes).
    method : str
        One of :data:`WEIGHTINGS`.
    expert : mapping, optional
        Indicator → weight, for ``expert`` (non-negative, rescaled to sum to 1).

    Returns
    -------
    Series

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 2.0]})
    >>> composite_weights(data, "expert", expert={"a": 3, "b": 1}).to_dict()
    {'a': 0.75, 'b': 0.25}
    """
    check_option(method, WEIGHTINGS, "method")
    data = _numeric(data)
    if method == "equal":
        return pd.Series(1 / data.shape[1], index=data.columns)
    if method == "pca":
        complete = data.dropna()
        if len(complete) < 3 or (complete.std() == 0).any():
            raise AnalysisInputError("la pondération pca exige au moins 3 territoires complets "
                                     "et des indicateurs qui varient")
        return _pca_weights(complete)
    if expert is None:
        raise AnalysisInputError(
            "la pondération expert exige des poids d'expert (indicateur → poids)")
    weights = pd.Series(expert, dtype=float).reindex(data.columns)
    if weights.isna().any():
        raise AnalysisInputError(
            f"aucun poids d'expert pour {weights.index[weights.isna()][0]!r}")
    if (weights < 0).any() or not weights.sum() > 0:
        raise AnalysisInputError("les poids d'expert doivent être positifs ou nuls, de "
                                 "somme strictement positive")
    return weights / weights.sum()


def aggregate(normalised: pd.DataFrame, weights: pd.Series,
              method: str = "arithmetic") -> pd.Series:
    r"""Combine normalised indicators into one score per territory.

    .. math::

        \text{arithmetic: } \sum_j w_j y_j, \qquad
        \text{geometric: } \prod_j y_j^{w_j}

    with weights summing to 1. A territory lacking an indicator gets NaN.

    Parameters
    ----------
    normalised : DataFrame
    weights : Series
        Indexed by indicator.
    method : str
        One of :data:`AGGREGATIONS`.

    Returns
    -------
    Series

    Raises
    ------
    AnalysisInputError
        ``geometric`` on values that are not positive (min-max from 0, z-scores).

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"a": [1.0, 4.0], "b": [4.0, 4.0]})
    >>> aggregate(data, pd.Series({"a": 0.5, "b": 0.5}), "geometric").tolist()
    [2.0, 4.0]
    """
    check_option(method, AGGREGATIONS, "method")
    weights = weights.reindex(normalised.columns)
    if method == "arithmetic":
        return normalised.mul(weights, axis=1).sum(axis=1, min_count=normalised.shape[1])
    if (normalised <= 0).any().any():
        raise AnalysisInputError(
            "la moyenne géométrique exige des valeurs normalisées strictement positives ; "
            "utilisez min-max avec des bornes au-dessus de 0 (par exemple (1, 100)) ou "
            "distance-to-reference")
    return np.exp(np.log(normalised).mul(weights, axis=1).sum(
        axis=1, min_count=normalised.shape[1]))


# -- one index --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class CompositeIndex:
    """A composite index and how it was built.

    Attributes
    ----------
    scores : Series
        Score of each complete territory.
    ranks : Series
        Rank (1 = best score; ties share the best rank).
    weights : Series
        Weight of each indicator (sum 1).
    normalised : DataFrame
        The normalised indicators.
    normalisation, weighting, aggregation : str
    excluded : tuple
        Territories left out for a missing indicator.
    """

    scores: pd.Series
    ranks: pd.Series
    weights: pd.Series
    normalised: pd.DataFrame
    normalisation: str
    weighting: str
    aggregation: str
    excluded: tuple[Any, ...]


def _complete(data: pd.DataFrame) -> tuple[pd.DataFrame, tuple[Any, ...]]:
    data = _numeric(data)
    complete = data.notna().all(axis=1)
    if complete.sum() < 2:
        raise NotEnoughDataError(
            f"{int(complete.sum())} territoire(s) ont tous les indicateurs ; il en faut au "
            "moins 2")
    return data[complete], tuple(data.index[~complete])


def _ranks(scores: pd.Series) -> pd.Series:
    return scores.rank(ascending=False, method="min").astype(int)


def composite_index(data: pd.DataFrame, *, directions: Mapping[str, Any],
                    normalisation: str = "min-max", weighting: str = "equal",
                    aggregation: str = "arithmetic",
                    expert_weights: Mapping[str, float] | None = None, reference: Any = None,
                    bounds: tuple[float, float] = (0.0, 1.0)) -> CompositeIndex:
    """A composite index of territories from several indicators.

    Parameters
    ----------
    data : DataFrame
        One row per territory, one column per indicator.
    directions : mapping
        Indicator → ``1`` / ``"higher_is_better"`` or ``-1`` / ``"lower_is_better"``.
    normalisation, weighting, aggregation : str
        See :func:`normalise`, :func:`composite_weights`, :func:`aggregate`.
    expert_weights : mapping, optional
        For ``weighting="expert"``.
    reference : mapping, Series or label, optional
        For ``normalisation="distance-to-reference"``.
    bounds : (float, float)
        For ``normalisation="min-max"``.

    Returns
    -------
    CompositeIndex
    """
    used, excluded = _complete(data)
    normalised = normalise(used, normalisation, directions=directions, reference=reference,
                           bounds=bounds)
    weights = composite_weights(used, weighting, expert=expert_weights)
    scores = aggregate(normalised, weights, aggregation)
    return CompositeIndex(scores=scores, ranks=_ranks(scores), weights=weights,
                          normalised=normalised, normalisation=normalisation,
                          weighting=weighting, aggregation=aggregation, excluded=excluded)


# -- uncertainty ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class CompositeUncertainty:
    """Ranks of each territory under every valid combination of choices.

    Attributes
    ----------
    scenarios : DataFrame
        ``scenario, normalisation, weighting, aggregation`` of each combination computed.
    ranks : DataFrame
        Territories × scenarios.
    summary : DataFrame
        Per territory: ``baseline_rank`` (the baseline scenario), ``median_rank``,
        ``best_rank``, ``worst_rank`` and the interval ``lower_rank`` – ``upper_rank``
        holding the central share of the scenarios' ranks; sorted by baseline rank.
    skipped : dict of str to str
        Combinations not computed, with the reason (no expert weights, z-scores under a
        geometric mean…).
    baseline : str
    excluded : tuple
        Territories left out for a missing indicator.
    """

    scenarios: pd.DataFrame
    ranks: pd.DataFrame
    summary: pd.DataFrame
    skipped: dict[str, str]
    baseline: str
    excluded: tuple[Any, ...]


def composite_uncertainty(data: pd.DataFrame, *, directions: Mapping[str, Any],
                          expert_weights: Mapping[str, float] | None = None,
                          reference: Any = None,
                          normalisations: Sequence[str] = NORMALISATIONS,
                          weightings: Sequence[str] = WEIGHTINGS,
                          aggregations: Sequence[str] = AGGREGATIONS,
                          baseline: tuple[str, str, str] = ("min-max", "equal", "arithmetic"),
                          coverage: float = 0.9) -> CompositeUncertainty:
    """Rank intervals of territories across normalisations, weightings and aggregations.

    Every combination of the given choices is computed (min-max with bounds
    :data:`UNCERTAINTY_BOUNDS`, positive so that geometric means exist; ranks do not
    depend on the bounds). Combinations that cannot be computed are skipped with the
    reason: ``expert`` without ``expert_weights``, ``distance-to-reference`` without a
    reference or on values that are not positive, z-scores under a geometric mean.

    Parameters
    ----------
    data : DataFrame
        One row per territory, one column per indicator.
    directions : mapping
        Indicator → direction (see :func:`normalise`).
    expert_weights : mapping, optional
    reference : mapping, Series or label, optional
    normalisations, weightings, aggregations : sequence of str
        The choices to vary.
    baseline : (str, str, str)
        The combination whose ranks are reported as ``baseline_rank``.
    coverage : float
        Central share of the scenarios' ranks in the interval (0.9: from the 5th to
        the 95th percentile).

    Returns
    -------
    CompositeUncertainty

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"revenu": [18.0, 22.0, 30.0, 26.0],
    ...                      "chomage": [14.0, 8.0, 11.0, 10.0],
    ...                      "vacance": [9.0, 7.0, 8.0, 12.0]}, index=list("ABCD"))
    >>> result = composite_uncertainty(
    ...     data, directions={"revenu": 1, "chomage": -1, "vacance": -1},
    ...     reference={"revenu": 22.0, "chomage": 10.0, "vacance": 8.0})
    >>> len(result.ranks.columns), sorted(result.skipped)[0]
    (10, 'expert')
    >>> result.summary[["baseline_rank", "best_rank", "worst_rank"]]
       baseline_rank  best_rank  worst_rank
    B              1          1           2
    C              2          1           2
    D              3          3           3
    A              4          4           4
    """
    for choices, options, name in ((normalisations, NORMALISATIONS, "normalisations"),
                                   (weightings, WEIGHTINGS, "weightings"),
                                   (aggregations, AGGREGATIONS, "aggregations")):
        for choice in choices:
            check_option(choice, options, name)
    if not 0 < coverage <= 1:
        raise AnalysisInputError(f"coverage doit être dans ]0, 1] ; reçu {coverage}")
    used, excluded = _complete(data)
    normalised: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}
    for method in normalisations:
        try:
            normalised[method] = normalise(used, method, directions=directions,
                                           reference=reference, bounds=UNCERTAINTY_BOUNDS)
        except AnalysisInputError as error:
            skipped[method] = str(error)
    weights: dict[str, pd.Series] = {}
    for method in weightings:
        try:
            weights[method] = composite_weights(used, method, expert=expert_weights)
        except AnalysisInputError as error:
            skipped[method] = str(error)
    ranks, rows = {}, []
    for normalisation, weighting, aggregation in itertools.product(
            normalisations, weightings, aggregations):
        name = f"{normalisation} / {weighting} / {aggregation}"
        if normalisation not in normalised or weighting not in weights:
            continue
        if aggregation == "geometric" and normalisation == "z-score":
            skipped[name] = ("les z-scores sont négatifs pour la moitié des territoires : pas de "
                             "moyenne géométrique")
            continue
        scores = aggregate(normalised[normalisation], weights[weighting], aggregation)
        ranks[name] = _ranks(scores)
        rows.append((name, normalisation, weighting, aggregation))
    baseline_name = " / ".join(baseline)
    if baseline_name not in ranks:
        raise AnalysisInputError(f"le scénario de référence {baseline_name!r} ne fait pas "
                                 f"partie des scénarios calculés ({', '.join(ranks) or 'aucun'})")
    table = pd.DataFrame(ranks)
    tail = (1 - coverage) / 2
    summary = pd.DataFrame({
        "baseline_rank": table[baseline_name],
        "median_rank": table.median(axis=1),
        "best_rank": table.min(axis=1),
        "worst_rank": table.max(axis=1),
        "lower_rank": table.quantile(tail, axis=1, interpolation="lower"),
        "upper_rank": table.quantile(1 - tail, axis=1, interpolation="higher")})
    return CompositeUncertainty(
        scenarios=pd.DataFrame(rows, columns=["scenario", "normalisation", "weighting",
                                              "aggregation"]),
        ranks=table, summary=summary.sort_values("baseline_rank", kind="stable"),
        skipped=skipped, baseline=baseline_name, excluded=excluded)
