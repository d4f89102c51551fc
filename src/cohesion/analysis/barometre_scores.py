"""The baromètre's factor scores: a factor's composite score and its band of ranks.

A factor (solidarité, qualité de vie…) combines its oriented indicators into one score
per territory of a level (min-max normalisation, equal weights, arithmetic mean), with
the interval of ranks it takes across other normalisations, weightings and
aggregations (:func:`~cohesion.analysis.composite.composite_uncertainty`): a score is
presented with that band, never as a bare rank. Exported by
:mod:`cohesion.analysis.barometre` with the rest of the baromètre.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cohesion.analysis.barometre_definition import Factor
from cohesion.analysis.composite import composite_index, composite_uncertainty

__all__ = ["FactorScore", "factor_score"]

NAN = float("nan")


@dataclass(frozen=True, eq=False)
class FactorScore:
    """A factor's composite score for one territory, with its uncertainty band.

    Attributes
    ----------
    factor : Factor
    code : str
    indicators : tuple of str
        The factor's indicators the score combines (oriented and available at this
        level); the others are listed in ``left_out`` with the reason.
    score : float
        0 to 100 among the territories of the level (min-max normalisation, equal
        weights, arithmetic mean); NaN when the territory lacks an indicator.
    rank : int or None
        Rank of the score (1 = most favourable) among ``n`` territories.
    n : int
    rank_low, rank_high : int or None
        The uncertainty band: the interval holding 90 % of the territory's ranks across
        the variants of normalisation, weighting and aggregation.
    best_rank, worst_rank : int or None
    scenarios : int
        Variants computed.
    left_out : dict of str to str
        Indicator → why it is not in the score.
    note : str or None
        Why there is no score.
    """

    factor: Factor
    code: str
    indicators: tuple[str, ...]
    score: float
    rank: int | None
    n: int
    rank_low: int | None
    rank_high: int | None
    best_rank: int | None
    worst_rank: int | None
    scenarios: int
    left_out: dict[str, str] = field(default_factory=dict)
    note: str | None = None


def factor_score(factor: Factor, data: pd.DataFrame, code: Any, *,
                 reference: Mapping[str, float] | None = None,
                 left_out: Mapping[str, str] | None = None,
                 coverage: float = 0.9) -> FactorScore:
    """Composite score of territory ``code`` on ``factor``, with its band of ranks.

    Parameters
    ----------
    factor : Factor
    data : DataFrame
        One row per territory of the level, one column per indicator id of the factor
        available there (latest values). Neutral indicators are left out.
    code : str
        The territory.
    reference : mapping, optional
        France's value of each indicator (for the distance-to-reference variants).
    left_out : mapping, optional
        Indicators already known to be missing at this level, with the reason.
    coverage : float
        Share of the variants' ranks the band holds.

    Returns
    -------
    FactorScore
        Without a score (``note`` says why) when no oriented indicator is available, or
        the territory lacks one of them, or fewer than two territories have them all.

    Examples
    --------
    >>> import pandas as pd
    >>> from cohesion.analysis.barometre import load_barometre
    >>> barometre = load_barometre()
    >>> data = pd.DataFrame({"part_65_ans_et_plus": [15.0, 20.0, 25.0, 30.0],
    ...                      "chomage_longue_duree": [40.0, 35.0, 45.0, 50.0]},
    ...                     index=list("abcd"))
    >>> score = factor_score(barometre.factor("solidarite"), data, "a")
    >>> score.rank, score.n, (score.rank_low, score.rank_high)
    (1, 4, (1, 1))
    """
    reasons = dict(left_out or {})
    directions = {}
    for indicator in factor.indicators:
        if indicator.id not in data.columns:
            reasons.setdefault(indicator.id, "pas de valeur à cet échelon")
        elif indicator.sign == 0:
            reasons[indicator.id] = "indicateur sans sens favorable (neutre)"
        else:
            directions[indicator.id] = indicator.sign
    used = data[list(directions)].apply(pd.to_numeric, errors="coerce") if directions else None

    def without(note: str) -> FactorScore:
        return FactorScore(factor=factor, code=str(code), indicators=tuple(directions),
                           score=NAN, rank=None, n=0, rank_low=None, rank_high=None,
                           best_rank=None, worst_rank=None, scenarios=0, left_out=reasons,
                           note=note)

    if used is None:
        return without("aucun indicateur orienté de ce facteur n'a de valeur à cet échelon")
    # an indicator equal everywhere does not discriminate: it is left out, not an error
    for column in list(used.columns):
        if used[column].notna().sum() == 0:
            reasons[column] = "pas de valeur à cet échelon"
            used = used.drop(columns=column)
            directions.pop(column)
        elif used[column].nunique(dropna=True) < 2:
            reasons[column] = "valeur identique pour tous les territoires"
            used = used.drop(columns=column)
            directions.pop(column)
    if used.empty:
        return without("aucun indicateur de ce facteur ne distingue les territoires")
    if code not in used.index or used.loc[code].isna().any():
        return without("le territoire n'a pas de valeur pour tous les indicateurs du facteur")
    complete = used.dropna()
    if len(complete) < 2:
        return without("moins de deux territoires ont toutes les valeurs")
    baseline = composite_index(complete, directions=directions, bounds=(0.0, 100.0))
    known_reference = None
    if reference is not None:
        known_reference = {k: float(v) for k, v in reference.items()
                           if k in directions and v is not None and not math.isnan(v)}
        if set(known_reference) != set(directions):
            known_reference = None
    normalisations = ("min-max", "z-score") + (
        ("distance-to-reference",) if known_reference else ())
    weightings = ("equal", "pca") if len(directions) > 1 else ("equal",)
    uncertainty = composite_uncertainty(
        complete, directions=directions, reference=known_reference,
        normalisations=normalisations, weightings=weightings, coverage=coverage)
    summary = uncertainty.summary.loc[code]
    return FactorScore(
        factor=factor, code=str(code), indicators=tuple(directions),
        score=float(baseline.scores[code]), rank=int(baseline.ranks[code]),
        n=len(complete), rank_low=int(summary["lower_rank"]),
        rank_high=int(summary["upper_rank"]), best_rank=int(summary["best_rank"]),
        worst_rank=int(summary["worst_rank"]), scenarios=len(uncertainty.scenarios),
        left_out=reasons)
