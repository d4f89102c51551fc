"""Where the money goes against where the needs are: the pure functions.

Tiny hand-computed cases, the links with the inequality engine (ranked by itself, the
concentration curve is the Lorenz curve and its index the Gini), then the real
adultes-relais posts of 2024 against the poverty of the départements, both computed
from the raw files with pandas, the index checked against a direct numpy computation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohesion.analysis import AnalysisInputError, concentration_curve, gini, lorenz_curve
from cohesion.policies.needs import QUADRANTS, UNCLASSIFIED, needs_vs_funding, quadrants
from conftest import COMPARATEUR, FILOSOFI_2020, shared
from test_importers_funding import POSTS, raw_posts
from test_policies_indicators import ARRONDISSEMENTS, departement_of


def direct_index(funding: np.ndarray, need: np.ndarray, weights: np.ndarray) -> float:
    """2 cov(f, R) / mean(f), population weighted, R the mean fractional rank by need."""
    order = np.argsort(need, kind="stable")
    f, n, p = funding[order], need[order], weights[order] / weights.sum()
    cumulated = np.cumsum(p)
    rank = cumulated - p / 2
    for value in np.unique(n):  # tied needs share their group's mean rank
        tied = n == value
        rank[tied] = cumulated[tied][-1] - p[tied].sum() / 2
    mean = np.dot(p, f)
    return float(2 * np.dot(p, (f - mean) * (rank - np.dot(p, rank))) / mean)


# -- concentration curve --------------------------------------------------------------------

def test_a_hand_computed_curve() -> None:
    # two territories of equal population; the needier one gets a quarter of the money
    curve = concentration_curve([30.0, 10.0], ranking=[1.0, 2.0])
    assert curve.population_share.tolist() == [0.0, 0.5, 1.0]
    assert curve.value_share.tolist() == [0.0, 0.75, 1.0]
    assert curve.index == pytest.approx(-0.25)  # 1 - (0.5 × 0.75 + 0.5 × 1.75)
    # weighted: 3 inhabitants at 1 €, 1 at 5 € with the higher need
    weighted = concentration_curve([1.0, 5.0], ranking=[0.1, 0.9], weights=[3.0, 1.0])
    assert weighted.value_share.tolist() == pytest.approx([0.0, 0.375, 1.0])
    assert weighted.index == pytest.approx(1 - (0.75 * 0.375 + 0.25 * 1.375))


def test_ranked_by_itself_it_is_the_lorenz_curve_and_the_gini() -> None:
    rng = np.random.default_rng(7)
    values, weights = rng.gamma(2.0, 3.0, 200), rng.integers(100, 10_000, 200)
    curve = concentration_curve(values, ranking=values, weights=weights)
    lorenz = lorenz_curve(values, weights)
    assert curve.value_share == pytest.approx(lorenz.value_share, abs=1e-12)
    assert curve.index == pytest.approx(gini(values, weights).value, rel=1e-12)


def test_ties_in_need_do_not_depend_on_order() -> None:
    funding, need = np.array([5.0, 1.0, 2.0, 8.0]), np.array([1.0, 2.0, 2.0, 3.0])
    first = concentration_curve(funding, need)
    swapped = concentration_curve(funding[[0, 2, 1, 3]], need[[0, 2, 1, 3]])
    assert first.index == pytest.approx(swapped.index)
    assert len(first.population_share) == 4  # (0, 0) and one point per need value
    assert first.index == pytest.approx(direct_index(funding, need, np.ones(4)))


def test_missing_values_and_alignment_by_code() -> None:
    funding = pd.Series({"A": 1.0, "B": np.nan, "C": 3.0, "D": 2.0})
    need = pd.Series({"D": 4.0, "C": 3.0, "B": 2.0, "A": np.nan})  # another order
    curve = concentration_curve(funding, need, weights=pd.Series(1.0, index=list("ABCD")))
    assert (curve.n, curve.n_missing) == (2, 2)  # A has no need, B no funding
    assert curve.index == pytest.approx(direct_index(np.array([3.0, 2.0]),
                                                     np.array([3.0, 4.0]), np.ones(2)))
    assert "au moins 2 territoires" in concentration_curve([1.0], [1.0]).note
    assert np.isnan(concentration_curve([-1.0, 2.0], [1.0, 2.0]).index)


# -- quadrants ------------------------------------------------------------------------------

def test_quadrants_against_medians_and_declared_thresholds() -> None:
    need = pd.Series({"A": 30.0, "B": 10.0, "C": 20.0, "D": 25.0, "E": np.nan})
    funding = pd.Series({"A": 5.0, "B": 1.0, "C": 0.5, "D": 0.0, "E": 2.0})
    found, need_cut, funding_cut = quadrants(need, funding)
    assert (need_cut, funding_cut) == (22.5, 0.75)
    assert found.to_dict() == {"A": "besoins_eleves_financement_eleve",
                               "B": "besoins_faibles_financement_eleve",
                               "C": "besoins_faibles_financement_faible",
                               "D": "besoins_eleves_financement_faible",
                               "E": UNCLASSIFIED}
    declared, *_ = quadrants(need, funding, need_threshold=15.0, funding_threshold=1.0)
    assert declared["C"] == "besoins_eleves_financement_faible"
    assert declared["B"] == "besoins_faibles_financement_faible"  # 1.0 is not above 1.0


def test_the_result_for_a_page_and_a_csv() -> None:
    need = pd.Series({"A": 30.0, "B": 10.0, "C": 20.0, "D": 25.0, "E": np.nan})
    funding = pd.Series({"A": 5.0, "B": 1.0, "C": 0.5, "D": 0.0, "E": 2.0})
    weights = pd.Series({"A": 100.0, "B": 300.0, "C": 200.0, "D": 400.0, "E": 50.0})
    result = needs_vs_funding(need, funding, weights, names=pd.Series({"A": "Alpha"}),
                              context={"year": "2024"})
    table = result.territories
    assert table["code"].tolist() == ["A", "D", "C", "B", "E"]  # needs first, high to low
    assert table.loc[0, "nom"] == "Alpha" and table.loc[1, "nom"] is None
    counts = result.counts().set_index("quadrant")
    assert counts["territoires"].sum() == 5
    assert counts.loc["besoins_eleves_financement_faible", "population"] == 400.0
    money = 500.0 + 300.0 + 100.0  # A, B, C (D has none)
    assert counts.loc["besoins_eleves_financement_eleve", "part_financement"] == \
        pytest.approx(500 / money)
    document = result.to_dict()
    assert document["year"] == "2024" and document["territoires_manquants"] == 1
    assert [q["quadrant"] for q in document["quadrants"]] == [*QUADRANTS, UNCLASSIFIED]
    assert document["territories"][-1]["besoin"] is None  # NaN → None
    with pytest.raises(AnalysisInputError, match="deux fois"):
        needs_vs_funding(need, pd.concat([funding, funding]), weights)


# -- real data: adultes-relais 2024 against poverty, from the raw files ---------------------

@pytest.fixture(scope="module")
def departements() -> pd.DataFrame:
    """Per département: poverty rate (Filosofi 2020), population 2018, posts' money 2024."""
    filosofi = pd.read_csv(shared(FILOSOFI_2020), sep=";", dtype=str)
    filosofi = filosofi[~filosofi["CODGEO"].str.match(ARRONDISSEMENTS)]
    rate = pd.to_numeric(filosofi["TP6020"].str.replace(",", "."), errors="coerce")
    persons = pd.to_numeric(filosofi["NBPERSMENFISC20"], errors="coerce")
    published = rate.notna()
    by_dep = departement_of(filosofi["CODGEO"])
    poverty = 100 * (rate * persons / 100)[published].groupby(by_dep[published]).sum() / \
        persons[published].groupby(by_dep[published]).sum()
    census = pd.read_csv(shared(COMPARATEUR), sep=";", dtype={"CODGEO": str})
    census = census[~census["CODGEO"].str.match(ARRONDISSEMENTS)]
    population = census.groupby(departement_of(census["CODGEO"]))["P18_POP"].sum()
    _, posts = raw_posts(shared(f"{POSTS}/adulte-relais-2024.json"))
    money = posts.dropna(subset=["insee_dep"]).groupby("insee_dep")["montant"].sum()
    return pd.DataFrame({"besoin": poverty, "population": population,
                         "financement": money / population})


def test_real_posts_go_where_poverty_is(departements: pd.DataFrame) -> None:
    result = needs_vs_funding(departements["besoin"], departements["financement"],
                              departements["population"])
    used = departements.dropna()
    assert result.curve.n == len(used) > 90
    assert result.curve.index == pytest.approx(direct_index(
        used["financement"].to_numpy(), used["besoin"].to_numpy(),
        used["population"].to_numpy()), rel=1e-9)
    # the money of the adultes-relais goes to the poorest départements
    assert 0.1 < result.curve.index < 0.5
    counts = result.counts()
    assert counts["territoires"].sum() == len(departements)
    assert counts.loc[counts["quadrant"] == UNCLASSIFIED, "territoires"].item() == \
        len(departements) - len(used)
    classified = counts[counts["quadrant"] != UNCLASSIFIED]
    # against the medians, high needs are half the classified territories
    high = classified[classified["quadrant"].str.startswith("besoins_eleves")]
    assert high["territoires"].sum() == (used["besoin"] > used["besoin"].median()).sum()
    assert classified["part_financement"].sum() == pytest.approx(1.0)
