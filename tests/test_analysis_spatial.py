"""Contiguity weights and Moran statistics: hand-computed cases, edge cases, esda on real data."""

from __future__ import annotations

import warnings
from pathlib import Path

import esda
import libpysal
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from scipy import stats

from cohesion.analysis import (
    AnalysisInputError,
    ContiguityWeights,
    benjamini_hochberg,
    contiguity_weights,
    local_moran,
    moran,
)
from cohesion.indicators.engine import IndicatorEngine
from cohesion.store import Warehouse

ESDA_QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}


def grid(rows: int, columns: int) -> list[shapely.Polygon]:
    return [shapely.box(x, y, x + 1, y + 1) for y in range(rows) for x in range(columns)]


def pysal_weights(weights: ContiguityWeights) -> libpysal.weights.W:
    """The same neighbours as a libpysal W, in the same order."""
    return libpysal.weights.W(weights.neighbours(), id_order=list(weights.ids),
                              silence_warnings=True)


# -- weights --------------------------------------------------------------------------


def test_queen_and_rook_on_a_grid() -> None:
    queen = contiguity_weights(grid(3, 3), ids=list("abcdefghi"))
    rook = contiguity_weights(grid(3, 3), ids=list("abcdefghi"), kind="rook")
    assert queen.cardinalities.tolist() == [3, 5, 3, 5, 8, 5, 3, 5, 3]
    assert rook.cardinalities.tolist() == [2, 3, 2, 3, 4, 3, 2, 3, 2]
    assert rook.neighbours()["e"] == ["b", "d", "f", "h"]
    reference = libpysal.weights.lat2W(3, 3, rook=False)
    assert queen.cardinalities.tolist() == [reference.cardinalities[i] for i in range(9)]
    row = queen.matrix("row")
    assert np.allclose(row.sum(axis=1), 1)
    assert (queen.matrix("binary").toarray() == queen.matrix("binary").toarray().T).all()


def test_missing_contours_islands_and_overlaps_are_reported() -> None:
    shapes = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), None,
              shapely.Polygon(), shapely.box(5, 5, 6, 6),
              shapely.box(1.9, 0, 3, 1)]  # overlaps the second square a little
    weights = contiguity_weights(shapes, ids=["a", "b", "c", "d", "island", "e"], kind="rook")
    assert weights.missing_geometry == ("c", "d")
    assert weights.islands == ("island",)
    assert weights.neighbours()["b"] == ["a", "e"]
    subset = weights.subset(np.array([True, False, True, True]))
    assert list(subset.ids) == ["a", "island", "e"]
    assert subset.islands == ("a", "island", "e")
    with pytest.raises(AnalysisInputError, match="deux fois"):
        contiguity_weights(shapes[:2], ids=["a", "a"])
    with pytest.raises(AnalysisInputError, match="'queen', 'rook'"):
        contiguity_weights(shapes, kind="bishop")


# -- Moran by hand --------------------------------------------------------------------


def test_moran_by_hand_on_a_strip() -> None:
    weights = contiguity_weights(grid(1, 6))
    result = moran([1, 2, 3, 4, 5, 6], weights, permutations=0)
    # z = -2.5…2.5; row-standardised lags: -1.5, -1.5, -0.5, 0.5, 1.5, 1.5
    assert result.statistic == pytest.approx(12.5 / 17.5)
    assert result.expected == pytest.approx(-1 / 5)
    assert np.isnan(result.p_permutation)
    binary = moran([1, 2, 3, 4, 5, 6], weights, transform="binary", permutations=0)
    # z'Wz counts each of the 5 links twice: 2 × 8.75, over S0 = 10 and z'z = 17.5
    assert binary.statistic == pytest.approx(6 / 10 * 17.5 / 17.5)
    local = local_moran([1, 2, 3, 4, 5, 6], weights, permutations=0)
    z = (np.arange(1, 7) - 3.5) / np.std(np.arange(1, 7))
    lag = np.array([z[1], (z[0] + z[2]) / 2, (z[1] + z[3]) / 2, (z[2] + z[4]) / 2,
                    (z[3] + z[5]) / 2, z[4]])
    assert local.statistic == pytest.approx(5 * z * lag / 6)
    assert local.quadrant.tolist() == ["LL", "LL", "LL", "HH", "HH", "HH"]
    # with row-standardised weights (S0 = n) the local statistics sum to (n - 1) I
    assert local.statistic.sum() / 5 == pytest.approx(result.statistic)


def test_benjamini_hochberg_equals_scipy() -> None:
    p = np.random.default_rng(3).uniform(0, 0.2, 300) ** 2
    assert benjamini_hochberg(p) == pytest.approx(stats.false_discovery_control(p))
    with_missing = benjamini_hochberg([0.01, np.nan, 0.04])
    assert np.isnan(with_missing[1])
    assert with_missing[[0, 2]] == pytest.approx(stats.false_discovery_control([0.01, 0.04]))


def test_seed_makes_p_values_reproducible() -> None:
    weights = contiguity_weights(grid(6, 6))
    values = np.random.default_rng(0).normal(size=36)
    first = local_moran(values, weights, seed=7)
    assert (first.p_value == local_moran(values, weights, seed=7).p_value).all()
    assert (first.p_value != local_moran(values, weights, seed=8).p_value).any()
    assert moran(values, weights, seed=7).p_permutation == moran(
        values, weights, seed=7).p_permutation
    assert set(np.round(first.p_value * 1000)) <= set(range(1, 1001))


# -- edge cases -----------------------------------------------------------------------


def test_all_values_equal_gives_nan_with_a_reason() -> None:
    weights = contiguity_weights(grid(3, 3))
    result = moran([2.0] * 9, weights)
    assert np.isnan(result.statistic) and "même valeur" in result.note
    local = local_moran([2.0] * 9, weights)
    assert np.isnan(local.statistic).all() and "même valeur" in local.note


def test_too_few_territories() -> None:
    weights = contiguity_weights(grid(1, 3))
    assert "au moins 4" in moran([1.0, 2.0, 3.0], weights).note
    assert np.isnan(local_moran([1.0, 2.0, 3.0], weights).statistic).all()


def test_missing_values_remove_links_and_make_islands() -> None:
    weights = contiguity_weights(grid(1, 7), ids=list("abcdefg"))
    values = pd.Series({"a": 1.0, "b": np.nan, "c": 3.0, "d": 4.0, "e": 2.0, "f": 6.0,
                        "g": 7.0, "z": 9.0})
    result = moran(values, weights, permutations=0)
    assert result.excluded == {"missing_value": ("b",), "island": ("a",),
                               "no_geometry": ("z",)}
    assert result.n == 5
    alone = moran(values.drop(["a", "b", "z"]).to_numpy(), contiguity_weights(grid(1, 5)),
                  permutations=0)
    assert result.statistic == pytest.approx(alone.statistic)
    table = local_moran(values, weights, seed=0).to_frame()
    assert table.loc[["a", "b", "z"], "cluster"].tolist() == ["island", "missing_value",
                                                             "no_geometry"]
    assert table.loc["z", "value"] == 9.0
    with pytest.raises(AnalysisInputError, match="alignez"):
        moran([1.0, 2.0], weights)


# -- real data: esda ------------------------------------------------------------------


@pytest.fixture(scope="module")
def brittany(loaded_warehouse_file: Path) -> tuple[pd.Series, ContiguityWeights]:
    """Revenu médian 2019 of the communes of Côtes-d'Armor, Finistère and Morbihan.

    They include islands (Ouessant, Sein, Groix…) and communes whose median is secret.
    """
    with Warehouse(loaded_warehouse_file, read_only=True) as warehouse:
        codes = warehouse.query(
            "SELECT code FROM memberships WHERE vintage = 2021 AND level = 'COM' "
            "AND parent_level = 'DEP' AND parent_code IN ('22', '29', '56')")["code"].tolist()
        contours = warehouse.geometries("COM", 2021, codes)
        values = IndicatorEngine(warehouse).values("revenu_median", "COM", 2021, "2019")
    median = values.frame.set_index("code")["value"].reindex(codes)
    return median, contiguity_weights(contours["geometry"], contours["code"])


def used_weights(weights: ContiguityWeights, ids: np.ndarray) -> ContiguityWeights:
    kept = weights.subset(np.isin(weights.ids, ids))
    assert (kept.ids == ids).all()
    return kept


def test_real_weights_report_islands_and_missing_values(
        brittany: tuple[pd.Series, ContiguityWeights]) -> None:
    values, weights = brittany
    assert {"29082", "29083", "29155", "56069"} <= set(weights.islands)  # Molène, Ouessant…
    result = local_moran(values, weights, seed=0)
    assert len(result.excluded["missing_value"]) == int(values.isna().sum()) > 0
    assert set(result.excluded["island"]) <= set(weights.islands)
    assert len(result.ids) + sum(map(len, result.excluded.values())) == len(values)


def test_global_moran_equals_esda(brittany: tuple[pd.Series, ContiguityWeights]) -> None:
    values, weights = brittany
    ours = moran(values, weights, permutations=999, seed=1)
    left_out = [*ours.excluded["missing_value"], *ours.excluded["island"]]
    kept = weights.subset(~np.isin(weights.ids, left_out))
    y = values.reindex(kept.ids).to_numpy()
    reference = esda.Moran(y, pysal_weights(kept), permutations=999)
    assert ours.n == reference.n
    assert ours.statistic == pytest.approx(reference.I, abs=1e-12)
    assert ours.expected == pytest.approx(reference.EI, abs=1e-15)
    for mine, theirs in [(ours.variance_normality, reference.VI_norm),
                         (ours.variance_randomisation, reference.VI_rand),
                         (ours.z_normality, reference.z_norm),
                         (ours.z_randomisation, reference.z_rand)]:
        assert mine == pytest.approx(theirs, rel=1e-10)
    assert ours.p_permutation == reference.p_sim == pytest.approx(0.001)  # strong pattern


def test_moran_p_values_agree_with_esda_on_a_shuffled_variable(
        brittany: tuple[pd.Series, ContiguityWeights]) -> None:
    values, weights = brittany
    complete = values[values.notna() & values.index.isin(weights.ids)]
    kept = used_weights(weights, complete.index.to_numpy(dtype=object))
    kept = kept.subset(kept.cardinalities > 0)
    shuffled = np.random.default_rng(11).permutation(complete.reindex(kept.ids).to_numpy())
    ours = moran(shuffled, kept, permutations=9999, seed=2)
    np.random.seed(2)
    reference = esda.Moran(shuffled, pysal_weights(kept), permutations=9999)
    assert ours.statistic == pytest.approx(reference.I, abs=1e-12)
    assert ours.p_randomisation == pytest.approx(reference.p_rand, rel=1e-8)
    # two independent sets of 9,999 permutations: the pseudo p-values differ by noise only
    assert abs(ours.p_permutation - reference.p_sim) < 0.03
    assert abs(2 * ours.p_permutation - ours.p_randomisation) < 0.06


def test_local_moran_equals_esda(brittany: tuple[pd.Series, ContiguityWeights]) -> None:
    values, weights = brittany
    ours = local_moran(values, weights, permutations=999, seed=1)
    kept = used_weights(weights, ours.ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        reference = esda.Moran_Local(values.reindex(kept.ids).to_numpy(), pysal_weights(kept),
                                     permutations=999, seed=1)
    assert ours.statistic == pytest.approx(reference.Is, abs=1e-12)
    assert ours.expectation == pytest.approx(reference.EI, abs=1e-12)
    assert ours.variance == pytest.approx(reference.VI, rel=1e-10)
    assert ours.quadrant.tolist() == [ESDA_QUADRANTS[q] for q in reference.q]
    # conditional permutations drawn by two generators: consistent, not identical
    assert np.abs(ours.p_value - reference.p_sim).mean() < 0.02
    assert np.corrcoef(ours.p_value, reference.p_sim)[0, 1] > 0.98
    assert ((ours.p_value < 0.05) == (reference.p_sim < 0.05)).mean() > 0.95
    significant = benjamini_hochberg(reference.p_sim) <= 0.05
    assert abs(int(ours.significant.sum()) - int(significant.sum())) <= 0.1 * significant.sum()
    counts = ours.counts()
    assert counts["HH"] > 0 and counts["LL"] > 0 and counts.sum() == len(values)


def test_moran_command(loaded_warehouse_file: Path, tmp_path: Path) -> None:
    from cohesion.cli import main
    from cohesion.cli.analysis import analysis

    if "analysis" not in main.commands:
        main.add_command(analysis)
    output = tmp_path / "lisa.csv"
    result = CliRunner().invoke(main, [
        "--warehouse", str(loaded_warehouse_file), "analysis", "moran", "taux_chomage_15_64",
        "--vintage", "2021", "--within", "DEP:29@2021", "--permutations", "999", "-o",
        str(output)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "I de Moran" in result.output and "sans voisin" in result.output
    table = pd.read_csv(output, dtype={"code": str}).set_index("code")
    assert table.loc["29155", "groupe"] == "island"  # Ouessant
    assert {"HH", "not_significant"} <= set(table["groupe"])
