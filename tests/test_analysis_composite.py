"""Composite indices (JRC/OECD handbook): hand cases, edge cases, real départements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohesion.analysis import (
    AnalysisInputError,
    NotEnoughDataError,
    aggregate,
    composite_index,
    composite_uncertainty,
    composite_weights,
    normalise,
)
from cohesion.analysis.composite import _varimax
from cohesion.indicators.api import HIGHER_IS_BETTER, LOWER_IS_BETTER
from cohesion.indicators.engine import IndicatorEngine
from cohesion.store import Warehouse

DATA = pd.DataFrame({"revenu": [18.0, 22.0, 30.0, 26.0], "chomage": [14.0, 8.0, 11.0, 10.0],
                     "vacance": [9.0, 7.0, 8.0, 12.0]}, index=list("ABCD"))
DIRECTIONS = {"revenu": HIGHER_IS_BETTER, "chomage": LOWER_IS_BETTER, "vacance": -1}
REFERENCE = {"revenu": 22.0, "chomage": 10.0, "vacance": 8.0}


def test_normalisations_by_hand() -> None:
    minmax = normalise(DATA, directions=DIRECTIONS)
    assert minmax["revenu"].tolist() == pytest.approx([0.0, 1 / 3, 1.0, 2 / 3])
    assert minmax["chomage"].tolist() == pytest.approx([0.0, 1.0, 0.5, 4 / 6])
    assert normalise(DATA, bounds=(1, 100), directions=DIRECTIONS)["revenu"].min() == 1.0
    z = normalise(DATA, "z-score", directions=DIRECTIONS)
    assert z["chomage"].tolist() == pytest.approx(
        list(-(DATA["chomage"] - 10.75) / DATA["chomage"].std(ddof=0)))
    assert z.mean().abs().max() < 1e-12
    distance = normalise(DATA, "distance-to-reference", directions=DIRECTIONS,
                         reference=REFERENCE)
    assert distance.loc["B", "revenu"] == 100.0 and distance.loc["B", "chomage"] == 125.0
    # a reference territory instead of reference values
    assert normalise(DATA, "distance-to-reference", directions=DIRECTIONS,
                     reference="B").loc["B"].tolist() == [100.0, 100.0, 100.0]


def test_weights_by_hand() -> None:
    assert composite_weights(DATA).tolist() == pytest.approx([1 / 3] * 3)
    expert = composite_weights(DATA, "expert", expert={"revenu": 2, "chomage": 1,
                                                       "vacance": 1})
    assert expert.tolist() == [0.5, 0.25, 0.25]
    pca = composite_weights(DATA, "pca")
    assert pca.sum() == pytest.approx(1.0) and (pca > 0).all()


def test_pca_weights_follow_the_handbook() -> None:
    # two blocks of correlated indicators: each block is one rotated factor
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=500), rng.normal(size=500)
    data = pd.DataFrame({"a1": first + rng.normal(0, 0.3, 500),
                         "a2": first + rng.normal(0, 0.3, 500),
                         "a3": first + rng.normal(0, 0.3, 500),
                         "b1": second + rng.normal(0, 0.3, 500),
                         "b2": second + rng.normal(0, 0.3, 500)})
    weights = composite_weights(data, "pca")
    # factor a explains about 3/5 of the retained variance, split in 3; factor b 2/5 in 2
    assert weights[["a1", "a2", "a3"]].sum() == pytest.approx(0.6, abs=0.03)
    assert weights["b1"] == pytest.approx(0.2, abs=0.02)


def test_varimax_is_an_orthogonal_rotation_that_simplifies() -> None:
    loadings = np.array([[0.7, 0.5], [0.7, 0.5], [0.6, -0.6], [0.5, -0.6]])
    rotated = _varimax(loadings)
    # communalities (row sums of squares) are unchanged by a rotation
    assert (rotated ** 2).sum(axis=1) == pytest.approx((loadings ** 2).sum(axis=1))

    def criterion(matrix: np.ndarray) -> float:
        return float(((matrix ** 2).var(axis=0)).sum())

    assert criterion(rotated) > criterion(loadings)


def test_aggregations_by_hand() -> None:
    normalised = pd.DataFrame({"a": [1.0, 4.0], "b": [4.0, np.nan]})
    weights = pd.Series({"a": 0.25, "b": 0.75})
    assert aggregate(normalised, weights).tolist()[0] == pytest.approx(3.25)
    geometric = aggregate(normalised, weights, "geometric")
    assert geometric.iloc[0] == pytest.approx(4 ** 0.75)
    assert np.isnan(geometric.iloc[1])  # a missing indicator: no score
    with pytest.raises(AnalysisInputError, match="strictement positives"):
        aggregate(normalised.fillna(0.0), weights, "geometric")


def test_composite_index() -> None:
    index = composite_index(DATA, directions=DIRECTIONS)
    expected = normalise(DATA, directions=DIRECTIONS).mean(axis=1)
    assert index.scores.tolist() == pytest.approx(expected.tolist())
    assert index.ranks.to_dict() == {"A": 4, "B": 1, "C": 2, "D": 3}
    with_missing = DATA.copy()
    with_missing.loc["E"] = [20.0, np.nan, 9.0]
    assert composite_index(with_missing, directions=DIRECTIONS).excluded == ("E",)


def test_invalid_choices_and_inputs() -> None:
    with pytest.raises(AnalysisInputError, match="aucun sens pour l'indicateur 'vacance'"):
        normalise(DATA, directions={"revenu": 1, "chomage": -1})
    with pytest.raises(AnalysisInputError, match="ne peut pas entrer dans un indice composite"):
        normalise(DATA, directions={**DIRECTIONS, "vacance": "neutral"})
    with pytest.raises(AnalysisInputError, match="'min-max', 'z-score'"):
        normalise(DATA, "rank")
    with pytest.raises(AnalysisInputError, match="une seule valeur"):
        normalise(DATA.assign(flat=3.0))
    with pytest.raises(AnalysisInputError, match="pas strictement positive"):
        normalise(DATA - 10, "distance-to-reference", reference=REFERENCE)
    with pytest.raises(AnalysisInputError, match="exige une référence"):
        normalise(DATA, "distance-to-reference")
    with pytest.raises(AnalysisInputError, match="aucun poids d'expert pour 'vacance'"):
        composite_weights(DATA, "expert", expert={"revenu": 1, "chomage": 1})
    with pytest.raises(NotEnoughDataError):
        composite_index(DATA.head(1), directions=DIRECTIONS)


def test_uncertainty_over_every_valid_combination() -> None:
    result = composite_uncertainty(DATA, directions=DIRECTIONS, reference=REFERENCE,
                                   expert_weights={"revenu": 2, "chomage": 1, "vacance": 1})
    # 3 normalisations × 3 weightings × 2 aggregations, minus z-scores under a geometric mean
    assert len(result.scenarios) == 15
    assert set(result.skipped) == {f"z-score / {w} / geometric"
                                   for w in ("equal", "expert", "pca")}
    summary = result.summary
    assert (summary["best_rank"] <= summary["baseline_rank"]).all()
    assert (summary["baseline_rank"] <= summary["worst_rank"]).all()
    assert (summary["lower_rank"] <= summary["upper_rank"]).all()
    assert summary.loc["B", "best_rank"] == 1 and summary.loc["C", "best_rank"] == 1
    without = composite_uncertainty(DATA, directions=DIRECTIONS)
    assert "expert" in without.skipped and "distance-to-reference" in without.skipped
    assert len(without.scenarios) == 6
    with pytest.raises(AnalysisInputError, match="scénario de référence"):
        composite_uncertainty(DATA, directions=DIRECTIONS,
                              baseline=("z-score", "equal", "geometric"))


def test_uncertainty_on_real_departements(loaded_warehouse_file: Path) -> None:
    indicators = {"taux_chomage_15_64": LOWER_IS_BETTER, "taux_activite_15_64": HIGHER_IS_BETTER,
                  "part_logements_vacants": LOWER_IS_BETTER,
                  "emplois_pour_100_actifs": HIGHER_IS_BETTER}
    with Warehouse(loaded_warehouse_file, read_only=True) as warehouse:
        engine = IndicatorEngine(warehouse)
        results = engine.compute(list(indicators), ["DEP", "FRA"], 2021, "2018")
    departements = pd.DataFrame({r.indicator.id: r.frame.set_index("code")["value"]
                                 for r in results if r.level == "DEP"})
    france = {r.indicator.id: r.frame["value"].item() for r in results if r.level == "FRA"}
    result = composite_uncertainty(departements, directions=indicators, reference=france)
    assert result.excluded == ("976",)  # Mayotte has no census figures in this file
    assert len(result.summary) == 100 and len(result.scenarios) == 10
    widths = result.summary["worst_rank"] - result.summary["best_rank"]
    assert widths.max() > 5  # some ranks depend a lot on the choices
    # the choices reorder territories, yet every scenario tells much the same story
    assert result.ranks.corr(method="spearman").min().min() > 0.5
