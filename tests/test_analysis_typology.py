"""Typologies (PCA, Ward, k-means): hand cases, edge cases, scikit-learn and scipy cross-checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.cluster import hierarchy
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from cohesion.analysis import (
    AnalysisInputError,
    NotEnoughDataError,
    adjusted_rand_index,
    class_profiles,
    principal_components,
    typology,
    weighted_ward,
)
from cohesion.indicators.engine import IndicatorEngine
from cohesion.store import Warehouse

INDICATORS = {"revenu_median": "2019", "taux_chomage_15_64": "2018",
              "part_logements_vacants": "2018", "part_residences_secondaires": "2018",
              "taux_activite_15_64": "2018", "evolution_population": "2013-2018"}


def blobs(sizes: tuple[int, ...] = (40, 60, 30), seed: int = 0) -> pd.DataFrame:
    """Well separated groups of territories on three indicators."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [8, 1, -6], [-3, 9, 5]])
    rows = np.vstack([rng.normal(c, 1, (n, 3)) for c, n in zip(centres, sizes, strict=True)])
    return pd.DataFrame(rows, columns=["a", "b", "c"],
                        index=[f"T{i:03d}" for i in range(len(rows))])


def truth(sizes: tuple[int, ...] = (40, 60, 30)) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


# -- pieces ---------------------------------------------------------------------------


def test_weighted_ward_with_unit_sizes_is_scipy_ward() -> None:
    points = np.random.default_rng(1).normal(size=(60, 4))
    ours = weighted_ward(points, np.ones(60))
    reference = hierarchy.ward(points)
    assert ours[:, 2] == pytest.approx(reference[:, 2], rel=1e-10)
    assert (ours[:, [0, 1, 3]] == reference[:, [0, 1, 3]]).all()


def test_weighted_ward_counts_sizes() -> None:
    # two groups of 3 identical points merge exactly as six points would
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    weighted = weighted_ward(centres, np.array([3, 3, 1]))
    points = np.repeat(centres, [3, 3, 1], axis=0)
    last = hierarchy.ward(points)[-1, 2]
    assert weighted[-1, 2] == pytest.approx(last)


def test_adjusted_rand_index_equals_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    for _ in range(20):
        first, second = rng.integers(0, 4, 200), rng.integers(0, 6, 200)
        second[:120] = first[:120]
        assert adjusted_rand_index(first, second) == pytest.approx(
            adjusted_rand_score(first, second), abs=1e-12)
    assert adjusted_rand_index([1, 1, 1], [2, 2, 2]) == adjusted_rand_score([1, 1, 1],
                                                                            [2, 2, 2]) == 1.0


def test_v_tests_by_hand() -> None:
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0]})
    profile = class_profiles(data, pd.Series([1, 1, 1, 2, 2, 2, 2]))
    mean, variance = data["x"].mean(), data["x"].var(ddof=0)
    expected = (2.0 - mean) / np.sqrt(variance / 3 * (7 - 3) / (7 - 1))
    first = profile[profile["class"] == 1].iloc[0]
    assert first["v_test"] == pytest.approx(expected)
    assert first["class_mean"] == 2.0 and first["overall_mean"] == pytest.approx(mean)


# -- the typology ---------------------------------------------------------------------


def test_separated_groups_are_found_numbered_and_stable() -> None:
    data = blobs()
    result = typology(data, 3, bootstrap=10, seed=0)
    assert adjusted_rand_index(result.classes, truth()) == 1.0
    assert result.sizes.sum() == len(data)
    # numbered by increasing first principal coordinate
    assert result.centres["PC1"].is_monotonic_increasing
    assert result.stability.mean_adjusted_rand > 0.95
    assert (result.stability.class_jaccard > 0.9).all()
    assert result.between_inertia_share > 0.85
    assert result.inertia_gains.index[0] == 2 and result.inertia_gains.is_monotonic_decreasing
    # paragons are members of their class, nearest first
    for _, row in result.paragons.iterrows():
        assert result.classes[row["id"]] == row["class"]
    assert result.paragons.groupby("class")["distance"].apply(
        lambda d: d.is_monotonic_increasing).all()
    described = result.characteristic()
    assert set(described["class"]) == {1, 2, 3}


def test_consolidation_is_a_k_means_fixed_point() -> None:
    data = blobs((50, 50, 50), seed=4) + np.random.default_rng(4).normal(0, 3, (150, 3))
    result = typology(data, 3, bootstrap=0)
    points = result.pca.scores.to_numpy()
    centres = result.centres.to_numpy()
    nearest = ((points[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1) + 1
    assert (nearest == result.classes.to_numpy()).all()
    for label, centre in result.centres.iterrows():
        assert points[result.classes.to_numpy() == label].mean(axis=0) == pytest.approx(
            centre.to_numpy())


def test_pre_partition_finds_the_same_classes() -> None:
    sizes = (300, 400, 200)
    data = blobs(sizes, seed=5)
    direct = typology(data, 3, pre_clusters=None, bootstrap=0)
    pre = typology(data, 3, pre_clusters=60, bootstrap=3, seed=1)
    assert pre.pre_clusters == 60 and len(pre.linkage) == 59
    assert adjusted_rand_index(direct.classes, pre.classes) == 1.0
    assert adjusted_rand_index(pre.classes, truth(sizes)) == 1.0


def test_bootstrap_weights_count_like_repeated_territories() -> None:
    # resamples are clustered on their distinct points weighted by their draws
    from cohesion.analysis.typology import _kmeans

    points = blobs(seed=6).to_numpy()
    draws = np.random.default_rng(6).integers(1, 4, len(points))
    start = points[[0, 50, 120]]
    weighted = _kmeans(points, start, 100, weights=draws.astype(float))
    repeated = _kmeans(np.repeat(points, draws, axis=0), start, 100)
    assert (np.repeat(weighted[0], draws) == repeated[0]).all()
    assert weighted[1] == pytest.approx(repeated[1])


def test_missing_and_constant_indicators() -> None:
    data = blobs()
    data.iloc[[3, 50], 1] = np.nan
    result = typology(data, 3, bootstrap=0)
    assert result.excluded == ("T003", "T050") and len(result.classes) == len(data) - 2
    with pytest.raises(AnalysisInputError, match="'flat' a la même valeur"):
        typology(data.assign(flat=1.0), 3)
    with pytest.raises(AnalysisInputError, match="indicateur manquant"):
        principal_components(data)
    with pytest.raises(NotEnoughDataError, match="trop peu pour 3 classes"):
        typology(data.head(3), 3)
    with pytest.raises(AnalysisInputError, match="au moins 2"):
        typology(data, 1)
    with pytest.raises(AnalysisInputError, match="n_components"):
        typology(data, 3, n_components=5)
    duplicated = pd.DataFrame({"a": [1.0] * 5 + [2.0], "b": [3.0] * 5 + [4.0]})
    with pytest.raises(NotEnoughDataError, match="identiques"):
        typology(duplicated, 3, bootstrap=0)


# -- real data ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def brittany(loaded_warehouse_file: Path) -> pd.DataFrame:
    """Six indicators for the communes of Bretagne."""
    with Warehouse(loaded_warehouse_file, read_only=True) as warehouse:
        engine = IndicatorEngine(warehouse)
        columns = {indicator: engine.values(indicator, "COM", 2021, period,
                                            parent=("REG", "53")).frame.set_index(
            "code")["value"] for indicator, period in INDICATORS.items()}
    return pd.DataFrame(columns)


def test_pca_equals_scikit_learn_up_to_sign(brittany: pd.DataFrame) -> None:
    data = brittany.dropna()
    assert len(data) > 1000
    ours = principal_components(data)
    reference = PCA().fit(StandardScaler().fit_transform(data))
    n = len(data)
    assert ours.explained_variance_ratio == pytest.approx(
        reference.explained_variance_ratio_, rel=1e-10)
    assert ours.eigenvalues * n / (n - 1) == pytest.approx(reference.explained_variance_,
                                                           rel=1e-10)
    signs = np.sign((ours.loadings.to_numpy() * reference.components_).sum(axis=1))
    assert np.abs(signs).min() == 1
    assert ours.loadings.to_numpy() == pytest.approx(signs[:, None] * reference.components_,
                                                     abs=1e-10)
    scores = reference.transform(StandardScaler().fit_transform(data))
    assert ours.scores.to_numpy() == pytest.approx(scores * signs, abs=1e-8)
    assert ours.transform(data.head(5)).to_numpy() == pytest.approx(
        ours.scores.head(5).to_numpy(), abs=1e-12)
    assert ours.correlations.loc["taux_chomage_15_64", "PC1"] == pytest.approx(np.corrcoef(
        data["taux_chomage_15_64"], ours.scores["PC1"])[0, 1], abs=1e-10)


def test_typology_of_real_communes(brittany: pd.DataFrame) -> None:
    result = typology(brittany, 5, bootstrap=5, seed=0)
    assert len(result.classes) + len(result.excluded) == len(brittany)
    assert len(result.excluded) == int(brittany.isna().any(axis=1).sum()) > 0
    assert result.sizes.min() > 10
    assert 0.3 < result.stability.mean_adjusted_rand <= 1
    coastal = result.profiles.query("indicator == 'part_residences_secondaires'")
    assert coastal["v_test"].max() > 10  # a class of seaside communes stands out


def test_typology_command(loaded_warehouse_file: Path, tmp_path: Path) -> None:
    from cohesion.cli import main
    from cohesion.cli.analysis import analysis

    if "analysis" not in main.commands:
        main.add_command(analysis)
    output = tmp_path / "classes.csv"
    result = CliRunner().invoke(main, [
        "--warehouse", str(loaded_warehouse_file), "analysis", "typology", *INDICATORS,
        "--classes", "4", "--vintage", "2021", "--within", "DEP:35@2021", "--bootstrap", "3",
        "-o", str(output)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "Parangons" in result.output and "indice de Rand ajusté" in result.output
    table = pd.read_csv(output, dtype={"code": str})
    assert set(table["classe"]) == {1, 2, 3, 4}
    assert table["code"].str.startswith("35").all()
    single = CliRunner().invoke(main, ["--warehouse", str(loaded_warehouse_file), "analysis",
                                       "typology", "population", "--classes", "3"])
    assert single.exit_code == 2
