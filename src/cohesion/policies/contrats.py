"""The passage between the contrats de ville 2015 (``CV…``) and 2024 (``CN…``).

Both generations are levels of the référentiel over the same communes (``CV2015`` and
``CV``, see :mod:`cohesion.importers.contrats_ville`). A contrat 2015 passes to the
contrats 2024 that share its communes, **weighted by the legal population of the shared
communes** over the population of all its communes that are in some contrat 2024: the
share of its inhabitants each contrat 2024 took over. Money of a contrat 2015 carried
through the passage is split by these weights; the money is never created or lost,
except that of a contrat 2015 sharing no commune with any contrat 2024, which the
passage lists apart (``to_code`` missing).

Examples
--------
>>> overlap = pd.DataFrame({"code": ["CV001", "CV001", "CV002"],
...                         "other_code": ["CN1", "CN2", "CN1"],
...                         "population": [300.0, 100.0, 50.0]})
>>> contrat_passage(overlap, ["CV001", "CV002", "CV003"])[["from_code", "to_code", "weight"]]
  from_code to_code  weight
0     CV001     CN1    0.75
1     CV001     CN2    0.25
2     CV002     CN1    1.00
3     CV003    None     NaN
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["carry_totals", "contrat_passage"]


def contrat_passage(overlap: pd.DataFrame, codes_2015: Sequence[str]) -> pd.DataFrame:
    """The passage table from the shared population of each pair of contrats.

    Parameters
    ----------
    overlap : DataFrame
        ``code`` (contrat 2015), ``other_code`` (contrat 2024), ``population`` of the
        communes they share (:meth:`~cohesion.store.Warehouse.population_overlap`).
    codes_2015 : sequence of str
        Every contrat 2015: one sharing no commune with a contrat 2024 gets a row
        without ``to_code``.

    Returns
    -------
    DataFrame
        ``from_code, to_code, population, weight`` (weights of a contrat sum to 1),
        sorted by ``from_code`` then largest weight first.
    """
    shared = overlap.rename(columns={"code": "from_code", "other_code": "to_code"})
    shared = shared[["from_code", "to_code", "population"]].astype({"population": "float64"})
    total = shared.groupby("from_code")["population"].transform("sum")
    shared["weight"] = np.where(total > 0, shared["population"] / total.where(total > 0),
                                1.0 / shared.groupby("from_code")["to_code"].transform("size"))
    alone = sorted(set(codes_2015) - set(shared["from_code"]))
    rows = pd.concat([shared, pd.DataFrame({"from_code": alone, "to_code": None,
                                            "population": np.nan, "weight": np.nan})],
                     ignore_index=True) if alone else shared
    return rows.sort_values(["from_code", "weight"], ascending=[True, False],
                            na_position="last").reset_index(drop=True)


def carry_totals(totals: pd.Series, passage: pd.DataFrame) -> tuple[pd.Series, float]:
    """Totals by contrat 2015 carried to the contrats 2024 through the passage.

    Parameters
    ----------
    totals : Series
        Amount (or posts) by contrat 2015 code.
    passage : DataFrame
        :func:`contrat_passage`.

    Returns
    -------
    carried : Series
        Amount by contrat 2024 code.
    left : float
        The amount of the contrats 2015 the passage takes nowhere (unknown to it, or
        sharing no commune with a contrat 2024).

    Examples
    --------
    >>> passage = pd.DataFrame({"from_code": ["CV001", "CV001"], "to_code": ["CN1", "CN2"],
    ...                         "population": [3.0, 1.0], "weight": [0.75, 0.25]})
    >>> carried, left = carry_totals(pd.Series({"CV001": 100.0, "CV009": 5.0}), passage)
    >>> carried.to_dict(), left
    ({'CN1': 75.0, 'CN2': 25.0}, 5.0)
    """
    linked = passage[passage["to_code"].notna()]
    amounts = linked["from_code"].map(totals).fillna(0.0) * linked["weight"]
    carried = amounts.groupby(linked["to_code"].to_numpy()).sum()
    left = float(totals[~totals.index.isin(linked["from_code"])].sum())
    return carried, left
