"""Inequality and convergence measures: hand-computed cases, edge cases, PySAL on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from inequality.atkinson import atkinson as pysal_atkinson
from inequality.gini import Gini as PysalGini
from inequality.theil import TheilD
from scipy import stats

from cohesion.analysis import (
    AnalysisInputError,
    NotEnoughDataError,
    atkinson,
    beta_convergence,
    breakdown_by_class,
    coefficient_of_variation,
    convergence_fact_sheet,
    gini,
    inequality_summary,
    interdecile_ratio,
    lorenz_curve,
    max_min_ratio,
    sigma_convergence,
    theil,
    two_date_contrast,
)
from cohesion.indicators.engine import IndicatorEngine
from cohesion.store import Warehouse

# -- hand-computed cases --------------------------------------------------------------


def test_gini_by_hand() -> None:
    # mean absolute difference of (1, 2, 3, 4) over all 16 ordered pairs is 20/16
    assert gini([1, 2, 3, 4]).value == pytest.approx(20 / 16 / (2 * 2.5))
    assert gini([0, 0, 0, 10]).value == pytest.approx(0.75)
    # a weight of 3 is the same as three territories with that value
    assert gini([1, 3], weights=[3, 1]).value == pytest.approx(gini([1, 1, 1, 3]).value)


def test_theil_by_hand() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0])
    ratio = values / values.mean()
    assert theil(values).total == pytest.approx(np.mean(ratio * np.log(ratio)))
    assert theil(values, kind="L").total == pytest.approx(-np.mean(np.log(ratio)))
    result = theil(values, partition=["a", "a", "b", "b"])
    # groups a (mean 1.5) and b (mean 3.5) hold 30 % and 70 % of the total, half the people
    assert result.between == pytest.approx(0.3 * np.log(0.3 / 0.5) + 0.7 * np.log(0.7 / 0.5))
    within_a = np.mean([1 / 1.5 * np.log(1 / 1.5), 2 / 1.5 * np.log(2 / 1.5)])
    within_b = np.mean([3 / 3.5 * np.log(3 / 3.5), 4 / 3.5 * np.log(4 / 3.5)])
    assert result.within == pytest.approx(0.3 * within_a + 0.7 * within_b)
    assert result.groups["index"].tolist() == pytest.approx([within_a, within_b])
    assert result.between + result.within == pytest.approx(result.total, abs=1e-15)


def test_interdecile_ratio_and_variation_by_hand() -> None:
    result = interdecile_ratio(np.arange(10.0, 111.0, 10.0))
    assert (result.d1, result.d9, result.ratio, result.gap) == (20.0, 100.0, 5.0, 80.0)
    # with weights the deciles are those of the population (inverted CDF)
    weighted = interdecile_ratio([1.0, 2.0, 3.0], weights=[10, 70, 20])
    assert (weighted.d1, weighted.d9, weighted.method) == (1.0, 3.0, "inverted_cdf")
    variation = coefficient_of_variation([2, 4, 4, 4, 5, 5, 7, 9])
    assert (variation.mean, variation.std, variation.value) == (5.0, 2.0, 0.4)
    assert coefficient_of_variation([1, 3], weights=[3, 1]).std == pytest.approx(
        np.std([1, 1, 1, 3]))
    with pytest.raises(AnalysisInputError, match="inverted_cdf"):
        interdecile_ratio([1.0, 2.0], weights=[1, 1], method="linear")


def test_atkinson_lorenz_and_extremes_by_hand() -> None:
    values = [10, 20, 30, 40, 50]
    for epsilon in (0.5, 1.0, 2.0):
        assert atkinson(values, epsilon).index == pytest.approx(pysal_atkinson(
            np.array(values), epsilon), rel=1e-12)
    result = atkinson([1, 4], 1.0)
    assert result.equally_distributed_equivalent == pytest.approx(2.0)  # geometric mean
    assert result.index == pytest.approx(1 - 2 / 2.5)
    assert atkinson(values, 0).index == pytest.approx(0.0)
    curve = lorenz_curve([1, 3], weights=[3, 1])
    assert curve.population_share.tolist() == [0.0, 0.75, 1.0]
    assert curve.value_share.tolist() == [0.0, 0.5, 1.0]
    extremes = max_min_ratio([3.3, 26.4, np.nan, 10.0])
    assert (extremes.ratio, extremes.n, extremes.n_missing) == (pytest.approx(8.0), 3, 1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.1, 1000), st.integers(1, 4), st.sampled_from("abc")),
                min_size=2, max_size=25))
def test_weights_count_like_repeated_territories(rows: list[tuple[float, int, str]]) -> None:
    values = np.array([r[0] for r in rows])
    weights = np.array([r[1] for r in rows])
    groups = np.array([r[2] for r in rows])
    repeated = np.repeat(values, weights)
    repeated_groups = np.repeat(groups, weights)
    assert gini(values, weights).value == pytest.approx(gini(repeated).value, abs=1e-12)
    for kind in ("T", "L"):
        weighted = theil(values, weights, groups, kind)
        plain = theil(repeated, partition=repeated_groups, kind=kind)
        assert weighted.total == pytest.approx(plain.total, abs=1e-12)
        assert weighted.between == pytest.approx(plain.between, abs=1e-12)
        assert weighted.between + weighted.within == pytest.approx(weighted.total, abs=1e-12)
    assert atkinson(values, 2.0, weights).index == pytest.approx(
        atkinson(repeated, 2.0).index, abs=1e-12)
    assert coefficient_of_variation(values, weights).value == pytest.approx(
        coefficient_of_variation(repeated).value, abs=1e-12)


# -- edge cases -----------------------------------------------------------------------

RELATIVE = {
    "gini": lambda v, w=None: gini(v, w).value,
    "theil_t": lambda v, w=None: theil(v, w).total,
    "theil_l": lambda v, w=None: theil(v, w, kind="L").total,
    "cv": lambda v, w=None: coefficient_of_variation(v, w).value,
    "atkinson_0.5": lambda v, w=None: atkinson(v, 0.5, w).index,
    "atkinson_2": lambda v, w=None: atkinson(v, 2.0, w).index,
}


@pytest.mark.parametrize("measure", RELATIVE)
def test_all_values_equal_means_no_inequality(measure: str) -> None:
    assert RELATIVE[measure]([7.3] * 5) == pytest.approx(0.0, abs=1e-12)
    assert RELATIVE[measure]([7.3] * 5, [1, 5, 2, 1, 9]) == pytest.approx(0.0, abs=1e-12)


def test_all_values_equal_for_ratios() -> None:
    assert interdecile_ratio([4.0] * 6).ratio == 1.0
    assert max_min_ratio([4.0] * 6).ratio == 1.0


@pytest.mark.parametrize("values", [[5.0], [5.0, np.nan], []])
def test_fewer_than_two_territories_give_nan_with_a_reason(values: list[float]) -> None:
    summary = inequality_summary(values)
    table = summary.to_frame().set_index("measure")
    assert table.loc[["gini", "theil_t", "theil_l", "interdecile_ratio",
                      "coefficient_of_variation", "max_min_ratio"], "value"].isna().all()
    assert "au moins 2 territoires" in summary.note
    assert "au moins 2 territoires" in gini(values).note


def test_missing_values_are_dropped_and_counted() -> None:
    with_missing = [1.0, np.nan, 3.0, None, 4.0]
    result = gini(pd.Series(with_missing, dtype=object))
    assert (result.n, result.n_missing) == (3, 2)
    assert result.value == pytest.approx(gini([1.0, 3.0, 4.0]).value)
    # a missing weight drops the territory too
    weighted = theil([1.0, 2.0, 3.0], weights=[1.0, np.nan, 1.0])
    assert (weighted.n, weighted.n_missing) == (2, 1)


def test_series_are_matched_by_label() -> None:
    values = pd.Series({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0})
    groups = pd.Series({"d": "y", "c": "y", "b": "x", "a": "x"})
    weights = pd.Series({"d": 1.0, "c": 2.0, "b": 3.0})  # no weight for "a"
    result = theil(values, weights, groups)
    expected = theil([2.0, 3.0, 4.0], [3.0, 2.0, 1.0], ["x", "y", "y"])
    assert (result.total, result.between) == (expected.total, expected.between)
    assert result.n_missing == 1
    with pytest.raises(AnalysisInputError, match="deux fois"):
        gini(values, pd.Series([1.0, 1.0, 1.0, 1.0], index=list("aabc")))


def test_zero_values() -> None:
    values = [0.0, 1.0, 2.0, 5.0]
    # Theil T, Gini, Atkinson with ε < 1 are defined (0 ln 0 = 0); log-based ones are not
    assert theil(values).total == pytest.approx(
        TheilD(np.array(values), np.zeros(4)).T, abs=1e-12)
    assert np.isfinite(gini(values).value) and np.isfinite(atkinson(values, 0.5).index)
    for result in (theil(values, kind="L"), atkinson(values, 1.0), atkinson(values, 2.0)):
        assert "valeur(s) nulle(s)" in result.note
    for figure in (theil(values, kind="L").total, atkinson(values, 1.0).index):
        assert np.isnan(figure)
    assert np.isnan(interdecile_ratio([0.0] * 3 + [1.0] * 7).ratio)
    zeros = gini([0.0, 0.0, 0.0])
    assert np.isnan(zeros.value) and zeros.note == "la moyenne est nulle"


def test_negative_values() -> None:
    growth = [-1.2, 0.3, 0.8, 2.5]
    for measure in RELATIVE.values():
        assert np.isnan(measure(growth))
    assert "valeur(s) négative(s)" in gini(growth).note
    # dispersion measures that need no ratio stay defined
    assert coefficient_of_variation(growth).std == pytest.approx(np.std(growth))
    assert interdecile_ratio(growth).gap > 0
    assert np.isnan(interdecile_ratio(growth).ratio)
    assert np.isnan(max_min_ratio(growth).ratio) and max_min_ratio(growth).gap == 3.7


def test_arguments_that_do_not_fit() -> None:
    with pytest.raises(AnalysisInputError, match="weights compte 2 éléments pour 3"):
        gini([1, 2, 3], weights=[1, 2])
    with pytest.raises(AnalysisInputError, match="finies, positives ou nulles"):
        gini([1, 2, 3], weights=[1, -2, 1])
    with pytest.raises(AnalysisInputError, match="aucun groupe"):
        theil([1, 2, 3], partition=["a", None, "b"])
    # a territory without a value needs no group
    assert theil([1, np.nan, 3], partition=["a", None, "b"]).n == 2
    with pytest.raises(AnalysisInputError, match="'T', 'L'"):
        theil([1, 2], kind="X")
    with pytest.raises(AnalysisInputError, match="epsilon"):
        atkinson([1, 2], -1)
    with pytest.raises(AnalysisInputError, match="une dimension"):
        gini([[1, 2], [3, 4]])
    with pytest.raises(AnalysisInputError, match="infinie"):
        gini([1, np.inf])


# -- convergence ----------------------------------------------------------------------


def test_sigma_convergence() -> None:
    panel = pd.DataFrame({"2013": [10.0, 20.0, 30.0, np.nan],
                          "2018": [15.0, 20.0, 25.0, 40.0]})
    result = sigma_convergence(panel, measure="std")
    assert result.dispersion.tolist() == pytest.approx([np.std([10, 20, 30]),
                                                        np.std([15, 20, 25])])
    assert (result.n, result.n_dropped, result.converging) == (3, 1, True)
    logs = sigma_convergence(panel, measure="std_log")
    assert logs.dispersion["2013"] == pytest.approx(np.std(np.log([10, 20, 30])))
    negative = sigma_convergence(panel - 16, measure="std_log")
    assert negative.dispersion.isna().all()
    assert "pas strictement positives" in negative.notes["2013"]
    with pytest.raises(AnalysisInputError, match="measure"):
        sigma_convergence(panel, measure="variance")


def test_beta_convergence_matches_scipy_linregress() -> None:
    rng = np.random.default_rng(5)
    start = rng.lognormal(10, 0.3, 200)
    end = start * np.exp(0.1 - 0.3 * (np.log(start) - 10) + rng.normal(0, 0.02, 200))
    result = beta_convergence(start, end, years=5)
    reference = stats.linregress(np.log(start), (np.log(end) - np.log(start)) / 5)
    assert result.beta == pytest.approx(reference.slope, rel=1e-10)
    assert result.intercept == pytest.approx(reference.intercept, rel=1e-10)
    assert result.std_error == pytest.approx(reference.stderr, rel=1e-10)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-8, abs=1e-300)
    assert result.r_squared == pytest.approx(reference.rvalue ** 2, rel=1e-10)
    assert result.converging and result.speed > 0 and result.half_life > 0
    # HC1: White's sandwich for a single regressor, times n / (n - 2)
    level = np.log(start) - np.log(start).mean()
    residuals = ((np.log(end) - np.log(start)) / 5 - result.intercept
                 - result.beta * np.log(start))
    hc0 = np.sum(level ** 2 * residuals ** 2) / np.sum(level ** 2) ** 2
    assert result.robust_std_error == pytest.approx(np.sqrt(hc0 * 200 / 198), rel=1e-10)


def test_weighted_beta_convergence_counts_like_repeated_territories() -> None:
    start, end, weights = [10.0, 20.0, 40.0, 80.0], [20.0, 30.0, 44.0, 85.0], [1, 3, 2, 1]
    weighted = beta_convergence(start, end, years=5, weights=weights)
    repeated = beta_convergence(np.repeat(start, weights), np.repeat(end, weights), years=5)
    assert weighted.beta == pytest.approx(repeated.beta, rel=1e-12)
    assert weighted.intercept == pytest.approx(repeated.intercept, rel=1e-12)


def test_beta_convergence_edge_cases() -> None:
    assert "pas strictement positive" in beta_convergence([0.0, 1.0, 2.0], [1.0, 1.0, 2.0], 3).note
    in_points = beta_convergence([0.0, 1.0, 2.0], [1.0, 1.5, 2.2], 3, log=False)
    assert in_points.beta == pytest.approx(stats.linregress([0, 1, 2], [1 / 3, 0.5 / 3,
                                                                         0.2 / 3]).slope)
    assert np.isnan(in_points.speed)
    assert "au moins 3" in beta_convergence([1.0, np.nan], [2.0, 3.0], 1).note
    assert "même niveau" in beta_convergence([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], 1).note
    with pytest.raises(AnalysisInputError, match="years"):
        beta_convergence([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 0)


def test_two_date_contrast_and_breakdown() -> None:
    first = pd.Series({"94": 3.4, "04": 25.9, "93": 10.0, "11": 5.0, "06": np.nan})
    second = pd.Series({"94": 3.3, "04": 26.4, "93": 11.0, "11": 5.5, "06": 30.0})
    contrast = two_date_contrast(first, second, "2016", "2018")
    assert (contrast.n, contrast.n_dropped) == (4, 1)
    assert contrast.first_extremes.highest == "04" and contrast.second_extremes.lowest == "94"
    assert contrast.first_extremes.gap == pytest.approx(22.5)
    assert contrast.second_extremes.gap == pytest.approx(23.1)
    assert contrast.gap_change == pytest.approx(0.6)
    assert contrast.interdecile_ratio_change == pytest.approx(
        interdecile_ratio(second.drop("06")).ratio - interdecile_ratio(first.dropna()).ratio)
    table = contrast.to_frame().set_index("measure")
    assert table.loc["gap", "change"] == pytest.approx(0.6)
    # with denominators as weights, a class's value is the ratio of its sums
    numerators = pd.Series({"a": 10.0, "b": 30.0, "c": 5.0})
    denominators = pd.Series({"a": 100.0, "b": 200.0, "c": 10.0})
    table = breakdown_by_class(numerators / denominators, numerators / denominators,
                               pd.Series({"a": "rural", "b": "rural", "c": "urbain"}),
                               weights_first=denominators, weights_second=denominators)
    by_class = table.set_index("class")
    assert by_class.loc["rural", "first"] == pytest.approx(40 / 300)
    assert by_class.loc["all", "first"] == pytest.approx(45 / 310)
    with pytest.raises(NotEnoughDataError, match="au moins 2"):
        two_date_contrast(first.head(1), second, "2016", "2018")
    with pytest.raises(AnalysisInputError, match="aucune classe"):
        breakdown_by_class(numerators, numerators, pd.Series({"a": "rural"}))


# -- real data: PySAL inequality ------------------------------------------------------


@pytest.fixture(scope="module")
def communes(loaded_warehouse_file: Path) -> pd.DataFrame:
    """Revenu médian, taux de chômage and population of communes, with their département."""
    with Warehouse(loaded_warehouse_file, read_only=True) as warehouse:
        engine = IndicatorEngine(warehouse)
        columns = {
            name: engine.values(indicator, "COM", 2021, period).frame.set_index("code")["value"]
            for name, indicator, period in [("revenu", "revenu_median", "2019"),
                                            ("chomage", "taux_chomage_15_64", "2018"),
                                            ("population", "population", "2018")]}
        memberships = warehouse.query(
            "SELECT code, parent_level, parent_code FROM memberships WHERE vintage = 2021 "
            "AND level = 'COM' AND parent_level IN ('DEP', 'REG')")
    frame = pd.DataFrame(columns)
    parents = memberships.pivot(index="code", columns="parent_level", values="parent_code")
    return frame.join(parents, how="inner")


@pytest.mark.parametrize(("column", "partition"), [("revenu", "DEP"), ("chomage", "REG"),
                                                   ("chomage", "DEP")])
def test_gini_and_theil_decomposition_equal_pysal(communes: pd.DataFrame, column: str,
                                                  partition: str) -> None:
    data = communes.dropna(subset=[column])
    values, groups = data[column].to_numpy(), data[partition].to_numpy()
    assert len(values) > 30000
    ours = theil(values, partition=groups)
    reference = TheilD(values, groups)
    assert ours.total == pytest.approx(float(reference.T), abs=1e-9)
    assert ours.between == pytest.approx(float(reference.bg[0]), abs=1e-9)
    assert ours.within == pytest.approx(float(reference.wg[0]), abs=1e-9)
    assert gini(values).value == pytest.approx(PysalGini(values).g, abs=1e-9)


def test_missing_values_of_real_data_are_reported(communes: pd.DataFrame) -> None:
    summary = inequality_summary(communes["revenu"], communes["population"], communes["REG"])
    assert summary.n_missing == int(communes["revenu"].isna().sum()) > 3000  # secret
    assert summary.theil_t.groups["n"].sum() == summary.n
    # population weighting gives more weight to the large, richer communes
    assert summary.theil_t.total != pytest.approx(theil(communes["revenu"]).total)


def test_convergence_fact_sheet_on_real_populations(loaded_warehouse_file: Path) -> None:
    with Warehouse(loaded_warehouse_file, read_only=True) as warehouse:
        engine = IndicatorEngine(warehouse)
        first, second = (engine.values("population", "DEP", 2021, year).frame.set_index(
            "code")["value"] for year in ("2013", "2018"))
    sheet = convergence_fact_sheet(first, second, "2013", "2018")
    assert sheet.beta.years == 5.0 and sheet.beta.n == sheet.contrast.n == 100  # no Mayotte
    assert sheet.contrast.first_extremes.highest == "59"  # Nord
    assert sheet.sigma.dispersion["2018"] > sheet.sigma.dispersion["2013"]


def test_inequality_command(loaded_warehouse_file: Path, tmp_path: Path) -> None:
    from cohesion.cli import main
    from cohesion.cli.analysis import analysis

    if "analysis" not in main.commands:
        main.add_command(analysis)
    measures, groups = tmp_path / "mesures.csv", tmp_path / "groupes.csv"
    result = CliRunner().invoke(main, [
        "--warehouse", str(loaded_warehouse_file), "analysis", "inequality",
        "taux_chomage_15_64", "--level", "EPCI", "--vintage", "2021", "--partition", "DEP",
        "--weight", "population", "-o", str(measures), "--groups-output", str(groups)],
        env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Indice de Gini" in result.output and "Theil T entre groupes" in result.output
    assert "plusieurs DEP" in result.output  # EPCI spanning two départements
    table = pd.read_csv(measures).set_index("measure")["value"]
    assert 0 < table["theil_t_between_share"] < 1
    assert len(pd.read_csv(groups, dtype={"code": str})) >= 95  # 92, 93, 94 in Grand Paris
    unknown = CliRunner().invoke(main, ["--warehouse", str(loaded_warehouse_file), "analysis",
                                        "inequality", "taux_chomage"])
    assert unknown.exit_code == 4
