"""Where the money goes against where the needs are: pure functions on territories' values.

For one year and one level, each territory has a **need** (a poverty or unemployment
rate…), a **funding** (money per inhabitant…) and a **weight** (its population, the
denominator of the funding). Two views answer « does the money go where the needs
are? »:

- the **concentration curve and index** of the funding ranked by need, population
  weighted (:func:`cohesion.analysis.inequality.concentration_curve`): a positive
  index means the money concentrates in the territories of highest need;
- the **quadrants**: territories with high needs and low funding, and the reverse,
  against the medians of the territories (or thresholds the user declares), with their
  counts, population and share of the money.

Nothing here reads the warehouse: :class:`cohesion.core.policies.PoliciesService`
gathers the values.

Examples
--------
>>> need = pd.Series({"A": 30.0, "B": 10.0, "C": 20.0, "D": 25.0})
>>> funding = pd.Series({"A": 5.0, "B": 1.0, "C": 0.5, "D": 0.0})
>>> result = needs_vs_funding(need, funding, pd.Series(1.0, index=need.index))
>>> result.counts()[["quadrant", "territoires"]].values.tolist()
... # doctest: +NORMALIZE_WHITESPACE
[['besoins_eleves_financement_faible', 1], ['besoins_eleves_financement_eleve', 1],
 ['besoins_faibles_financement_eleve', 1], ['besoins_faibles_financement_faible', 1],
 ['non_classe', 0]]
>>> round(result.curve.index, 4)
0.4423
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cohesion.analysis._inputs import aligned
from cohesion.analysis.inequality import ConcentrationCurve, concentration_curve

__all__ = ["QUADRANTS", "UNCLASSIFIED", "NeedsFunding", "needs_vs_funding", "quadrants"]

#: The quadrants, by id, with their French label: needs first, then funding.
QUADRANTS = {
    "besoins_eleves_financement_faible": "Besoins élevés, financement faible",
    "besoins_eleves_financement_eleve": "Besoins élevés, financement élevé",
    "besoins_faibles_financement_eleve": "Besoins faibles, financement élevé",
    "besoins_faibles_financement_faible": "Besoins faibles, financement faible",
}
#: The territories without a need or a funding value.
UNCLASSIFIED = "non_classe"
LABELS = {**QUADRANTS, UNCLASSIFIED: "Non classé (besoin ou financement manquant)"}


def quadrants(need: pd.Series, funding: pd.Series, need_threshold: float | None = None,
              funding_threshold: float | None = None) -> tuple[pd.Series, float, float]:
    """The quadrant of each territory, and the thresholds used.

    A need (or a funding) is high when it is strictly above its threshold: by default
    the median of the territories that have both values, each territory counting once.

    Parameters
    ----------
    need, funding : Series
        One value per territory, indexed by code (matched by label); NaN when missing.
    need_threshold, funding_threshold : float, optional
        Declared thresholds instead of the medians.

    Returns
    -------
    quadrant : Series
        A key of :data:`QUADRANTS`, or :data:`UNCLASSIFIED`, by code of ``need``.
    need_threshold, funding_threshold : float

    Examples
    --------
    >>> found, a, b = quadrants(pd.Series({"A": 3.0, "B": 1.0, "C": None}),
    ...                         pd.Series({"A": 1.0, "B": 2.0, "C": 1.0}))
    >>> found.tolist()
    ['besoins_eleves_financement_faible', 'besoins_faibles_financement_eleve', 'non_classe']
    >>> a, b
    (2.0, 1.5)
    """
    funding = aligned(need, funding, "funding")
    both = need.notna() & funding.notna()
    need_cut = float(need[both].median()) if need_threshold is None else float(need_threshold)
    funding_cut = (float(funding[both].median()) if funding_threshold is None
                   else float(funding_threshold))
    high_need = np.where(need > need_cut, "besoins_eleves", "besoins_faibles")
    high_funding = np.where(funding > funding_cut, "financement_eleve", "financement_faible")
    found = pd.Series([f"{a}_{b}" for a, b in zip(high_need, high_funding, strict=True)],
                      index=need.index, dtype=object)
    return found.where(both, UNCLASSIFIED), need_cut, funding_cut


@dataclass
class NeedsFunding:
    """Funding against needs over the territories of one level.

    Attributes
    ----------
    territories : DataFrame
        One row per territory: ``code, nom, besoin, financement, poids, quadrant,
        quadrant_libelle`` (the table a page lists and a CSV holds), sorted by
        decreasing need.
    curve : ConcentrationCurve
        Of the funding ranked by need, weighted by ``poids``.
    need_threshold, funding_threshold : float
        What « high » means.
    declared_thresholds : bool
        Whether the thresholds were declared (else the medians).
    context : dict
        What the values are (indicators, periods, level…), copied into :meth:`to_dict`.
    """

    territories: pd.DataFrame
    curve: ConcentrationCurve
    need_threshold: float
    funding_threshold: float
    declared_thresholds: bool
    context: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> pd.DataFrame:
        """Per quadrant: ``quadrant, libelle, territoires, population, part_financement``.

        The counts add up to the number of territories; ``part_financement`` is the
        quadrant's share of the money (funding × weight) of the classified territories.
        """
        table = self.territories
        money = table["financement"] * table["poids"]
        classified = table["quadrant"] != UNCLASSIFIED
        total = money[classified].sum()
        rows = []
        for quadrant, label in LABELS.items():
            chosen = table["quadrant"] == quadrant
            rows.append({"quadrant": quadrant, "libelle": label,
                         "territoires": int(chosen.sum()),
                         "population": float(table.loc[chosen, "poids"].sum()),
                         "part_financement": (float(money[chosen].sum() / total)
                                              if quadrant != UNCLASSIFIED and total > 0
                                              else None)})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data: context, index, curve, thresholds, counts, rows."""
        curve = self.curve
        return {**self.context,
                "concentration_index": None if np.isnan(curve.index) else curve.index,
                "note": curve.note, "territoires_comptes": curve.n,
                "territoires_manquants": curve.n_missing,
                "curve": [{"population": float(x), "financement": float(y)}
                          for x, y in zip(curve.population_share, curve.value_share,
                                          strict=True)],
                "thresholds": {"besoin": self.need_threshold,
                               "financement": self.funding_threshold,
                               "declares": self.declared_thresholds},
                "quadrants": _records(self.counts()),
                "territories": _records(self.territories)}


def needs_vs_funding(need: pd.Series, funding: pd.Series, weights: pd.Series,
                     names: pd.Series | None = None, need_threshold: float | None = None,
                     funding_threshold: float | None = None,
                     context: dict[str, Any] | None = None) -> NeedsFunding:
    """Compare the funding of territories with their needs.

    Parameters
    ----------
    need : Series
        The need of each territory (a rate), indexed by code; NaN when missing.
    funding : Series
        Its funding per unit of ``weights`` (€ per inhabitant), matched by code.
    weights : Series
        Its weight (population); the curve's abscissa and the quadrants' population.
    names : Series, optional
        Territory names, by code.
    need_threshold, funding_threshold : float, optional
        Declared thresholds for the quadrants (default: the medians).
    context : dict, optional
        What the values are, carried into :meth:`NeedsFunding.to_dict`.

    Returns
    -------
    NeedsFunding

    Raises
    ------
    AnalysisInputError
        When a Series cites a territory twice (from
        :func:`~cohesion.analysis._inputs.aligned`).
    """
    funding = aligned(need, funding, "funding")
    weights = aligned(need, weights, "weights")
    found, need_cut, funding_cut = quadrants(need, funding, need_threshold, funding_threshold)
    named = aligned(need, names, "names") if names is not None else \
        pd.Series(None, index=need.index, dtype=object)
    table = pd.DataFrame({
        "code": need.index.astype(str),
        "nom": named.astype(object).where(named.notna(), None).to_numpy(),
        "besoin": need.to_numpy(dtype="float64"),
        "financement": funding.to_numpy(dtype="float64"),
        "poids": weights.to_numpy(dtype="float64"), "quadrant": found.to_numpy(),
        "quadrant_libelle": found.map(LABELS).to_numpy()})
    table = table.sort_values(["besoin", "code"], ascending=[False, True],
                              na_position="last").reset_index(drop=True)
    return NeedsFunding(territories=table,
                        curve=concentration_curve(funding, need, weights),
                        need_threshold=need_cut, funding_threshold=funding_cut,
                        declared_thresholds=need_threshold is not None
                        or funding_threshold is not None,
                        context=dict(context or {}))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts (NaN → None, numpy numbers → Python)."""
    return [{key: None if pd.isna(value) else value.item() if isinstance(value, np.generic)
             else value for key, value in row.items()} for row in frame.to_dict("records")]
