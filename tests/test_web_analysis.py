"""The analysis endpoints and pages, on the loaded warehouse (référentiel, Comparateur,
Filosofi 2019 and 2020).

The endpoints must give the figures of the pure functions of :mod:`cohesion.analysis`
fed with the same values (read here directly through the indicator engine), refuse bad
parameters with a 4xx answer and a French message, and the pages must show the Lorenz
curve, the LISA cluster map with its legend and the typology's profiles in a real
browser (screenshots in ``artefacts/screenshots/``).
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from cohesion.analysis import (
    beta_convergence,
    contiguity_weights,
    inequality_summary,
    local_moran,
    lorenz_curve,
    moran,
    sigma_convergence,
    typology,
)
from cohesion.core.analyses import CLUSTER_COLOURS
from cohesion.core.analysis_inputs import AnalysisRequestError, closest_period_on_or_before
from cohesion.core.caching import ResultCache
from cohesion.indicators.engine import IndicatorEngine
from cohesion.store import Warehouse
from cohesion.web.analysis.api import parse_indicator_list
from cohesion.web.analysis.pages import DEFAULT_TYPOLOGY, figure_text
from conftest import open_page, screenshot, wait_until

VINTAGE = 2026
FINISTERE = f"DEP:29@{VINTAGE}"
BRETAGNE = f"REG:53@{VINTAGE}"


@pytest.fixture(scope="module")
def client(loaded_warehouse_file: Path, client_on_copy) -> Iterator[TestClient]:
    yield from client_on_copy(loaded_warehouse_file)


@pytest.fixture(scope="module")
def reference(loaded_warehouse_file: Path) -> Iterator[Warehouse]:
    """The same warehouse read directly, to feed the pure functions."""
    with Warehouse(loaded_warehouse_file, read_only=True) as opened:
        yield opened


def values_of(warehouse: Warehouse, indicator: str, level: str, period: str,
              within: tuple[str, str] | None = None) -> pd.Series:
    frame = IndicatorEngine(warehouse).values(indicator, level, VINTAGE, period, within).frame
    return frame.set_index("code")["value"].astype(float)


def regions_of(warehouse: Warehouse, level: str) -> pd.Series:
    found = warehouse.query("SELECT code, parent_code FROM memberships WHERE vintage = ? "
                            "AND level = ? AND parent_level = 'REG'", [VINTAGE, level])
    return found.set_index("code")["parent_code"]


def measures(answer: dict) -> dict[str, float | None]:
    return {row["measure"]: row["value"] for row in answer["measures"]}


def ok(client: TestClient, path: str, **params: object) -> dict:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# -- inequality -------------------------------------------------------------------------


def test_inequality_of_communes_equals_the_pure_functions(client: TestClient,
                                                          reference: Warehouse) -> None:
    answer = ok(client, "/api/analysis/inequality", indicator="revenu_median", level="COM",
                period="2019", partition="REG", weights="population")
    revenu = values_of(reference, "revenu_median", "COM", "2019")
    population = values_of(reference, "population", "COM", "2018").reindex(revenu.index)
    regions = regions_of(reference, "COM").reindex(revenu.index)
    expected = inequality_summary(revenu, population, regions).to_frame()
    got = measures(answer)
    assert set(got) == set(expected["measure"])
    for row in expected.itertuples():
        assert got[row.measure] == pytest.approx(row.value, rel=1e-12, abs=1e-15), row.measure
    # the weight is the population of the last census before the incomes (2018)
    assert answer["weights"]["id"] == "population" and answer["weights"]["period"] == "2018"
    assert answer["partition"] == {"level": "REG", "label": "Région"}
    assert answer["indicator"]["producer"] == "INSEE" and answer["period"] == "2019"
    # the groups add up to the decomposition
    groups = answer["groups"]
    assert len(groups) == 15  # 13 metropolitan régions, Martinique and La Réunion
    assert sum(g["contribution_intra"] for g in groups) == pytest.approx(
        got["theil_t_within"], rel=1e-9)
    assert sum(g["territoires"] for g in groups) == got["n"]
    assert {"code": "53", "name": "Bretagne"}.items() <= next(
        g for g in groups if g["code"] == "53").items()
    # about a fifth of the inequality lies between régions (docs/analysis.md)
    assert 0.1 < got["theil_t_between_share"] < 0.3
    # the Lorenz curve of 31,000 communes is sampled, ends exact, increasing
    lorenz = answer["lorenz"]
    assert len(lorenz["population_share"]) <= 501 and lorenz["weighted"] is True
    assert lorenz["population_share"][0] == 0 and lorenz["value_share"][-1] == pytest.approx(1)
    assert np.all(np.diff(lorenz["value_share"]) >= 0)


def test_inequality_of_departements_sends_the_whole_lorenz_curve(
        client: TestClient, reference: Warehouse) -> None:
    answer = ok(client, "/api/analysis/inequality", indicator="taux_chomage_15_64",
                level="DEP", metropole="true")
    chomage = values_of(reference, "taux_chomage_15_64", "DEP", "2018")
    metro = reference.query("SELECT code FROM territories WHERE vintage = ? AND level = 'DEP' "
                            "AND zone = 'metro'", [VINTAGE])["code"]
    chomage = chomage[chomage.index.isin(metro)]
    assert measures(answer)["n"] == 96
    assert measures(answer)["gini"] == pytest.approx(
        inequality_summary(chomage).gini.value, rel=1e-12)
    curve = lorenz_curve(chomage)
    assert answer["lorenz"]["value_share"] == pytest.approx(curve.value_share.tolist(), rel=1e-12)
    assert answer["groups"] is None and answer["partition"] is None


def test_inequality_within_a_territory_through_its_communes(client: TestClient,
                                                             reference: Warehouse) -> None:
    answer = ok(client, "/api/analysis/inequality", indicator="taux_chomage_15_64",
                level="EPCI", parent=BRETAGNE, partition="DEP")
    assert answer["parent"] == {"id": BRETAGNE, "level": "REG", "name": "Bretagne"}
    assert answer["bounds"][0][0] < -4 < answer["bounds"][1][0]  # Brittany's extent
    codes = IndicatorEngine(reference).members(("REG", "53"), "EPCI", VINTAGE)
    chomage = values_of(reference, "taux_chomage_15_64", "EPCI", "2018")
    assert measures(answer)["n"] == chomage[chomage.index.isin(codes)].notna().sum()
    # EPCI are assigned to the département holding most of their inhabitants; Cap
    # Atlantique has communes in Morbihan, most of its inhabitants in Loire-Atlantique
    assert {"22", "29", "35", "56"} <= {g["code"] for g in answer["groups"]} <= {
        "22", "29", "35", "56", "44"}


# -- the period and weight rules --------------------------------------------------------

WEIGHT_PERIODS = [
    (["2013", "2018", "2020"], "2019", "2018"),  # the closest on or before the values'
    (["2013", "2018", "2020"], "2020", "2020"),  # the values' own period
    (["2019", "2020"], "2013", "2019"),  # every period after the values': the earliest
    (["2013-2018", "2014"], "2016", "2014"),  # as text, 2013-2018 would come before 2016
    (["2022-12-01", "2022-03-31"], "2022-06", "2022-03-31"),
]


@pytest.mark.parametrize(("loaded", "values_period", "expected"), WEIGHT_PERIODS)
def test_the_weight_period_is_the_closest_on_or_before_the_values(
        loaded: list[str], values_period: str, expected: str) -> None:
    assert closest_period_on_or_before(loaded, values_period) == expected


@pytest.mark.parametrize(("indicator", "period", "weights", "asked", "expected"), [
    ("revenu_median", "2020", "population", None, "2018"),
    ("revenu_median", "2019", "population", "2013", "2013"),
    ("population", "2018", "population", None, "2018"),
    ("population", "2013", "revenu_median", None, "2019"),
])
def test_an_inequality_answer_names_the_weight_period_it_used(
        client: TestClient, indicator: str, period: str, weights: str, asked: str | None,
        expected: str) -> None:
    analyses = client.app.state.observatory.analyses
    # what the loaded warehouse holds: the censuses 2013 and 2018, Filosofi 2019 and 2020
    assert sorted(analyses.indicator("population")["periods"]) == ["2013", "2018"]
    assert sorted(analyses.indicator("revenu_median")["periods"]) == ["2019", "2020"]
    document = analyses.inequality(indicator, "COM", VINTAGE, period, FINISTERE,
                                   weights=weights, weight_period=asked)
    assert document["period"] == period and document["weights"]["id"] == weights
    assert document["weights"]["period"] == expected
    assert f"pondération : {weights} ({expected})" in document["notes"]


def test_the_latest_period_is_the_default_and_a_weight_period_must_be_loaded(
        client: TestClient) -> None:
    analyses = client.app.state.observatory.analyses
    assert analyses.period("revenu_median", None) == "2020"
    with pytest.raises(AnalysisRequestError, match="la période 2016 n'est pas chargée "
                       r"pour population \(périodes disponibles : 2013, 2018\)"):
        analyses.weight_period("population", "2019", asked="2016")


def test_the_command_line_and_the_api_take_the_same_weight_period(
        client: TestClient, loaded_warehouse_file: Path, tmp_path: Path) -> None:
    from cohesion.cli import main
    from cohesion.cli.analysis import analysis
    from cohesion.cli.output import figure

    if "analysis" not in main.commands:
        main.add_command(analysis)
    answer = ok(client, "/api/analysis/inequality", indicator="revenu_median", level="COM",
                period="2020", parent=FINISTERE, weights="population")
    copy = tmp_path / "cli.duckdb"
    shutil.copy(loaded_warehouse_file, copy)
    result = CliRunner().invoke(main, [
        "--warehouse", str(copy), "analysis", "inequality", "revenu_median", "--period",
        "2020", "--within", FINISTERE, "--weight", "population"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert answer["weights"]["period"] == "2018"
    assert "pondération : population (2018)" in result.output
    assert figure(measures(answer)["gini"]) in result.output


# -- convergence ------------------------------------------------------------------------


def test_convergence_of_departement_populations(client: TestClient,
                                                reference: Warehouse) -> None:
    answer = ok(client, "/api/analysis/convergence", indicator="population", level="DEP",
                partition="REG")
    first = values_of(reference, "population", "DEP", "2013")
    second = values_of(reference, "population", "DEP", "2018")
    panel = pd.DataFrame({"2013": first, "2018": second})
    sigma = sigma_convergence(panel)
    assert [v["value"] for v in answer["sigma"]["values"]] == pytest.approx(
        sigma.dispersion.tolist(), rel=1e-12)
    assert answer["sigma"]["converging"] is False  # 0.756 then 0.762 (docs/analysis.md)
    complete = panel.dropna()
    beta = beta_convergence(complete["2013"], complete["2018"], 5)
    assert answer["beta"]["beta"] == pytest.approx(beta.beta, rel=1e-10)
    assert answer["beta"]["p_value"] == pytest.approx(beta.p_value, rel=1e-8)
    rows = {row["measure"]: row for row in answer["contrast"]["rows"]}
    assert rows["interdecile_ratio"]["first"] == pytest.approx(7.497, abs=1e-3)
    assert answer["contrast"]["extremes"]["last"]["highest"]["name"] == "Nord"
    assert answer["by_class"][-1]["name"] == "Ensemble"
    assert answer["by_class"][-1]["n"] == answer["contrast"]["n"]


# -- spatial autocorrelation ------------------------------------------------------------


def test_lisa_in_finistere_equals_the_pure_functions(client: TestClient,
                                                     reference: Warehouse) -> None:
    answer = ok(client, "/api/analysis/lisa", indicator="taux_chomage_15_64", level="COM",
                parent=FINISTERE, permutations=999, seed=0)
    chomage = values_of(reference, "taux_chomage_15_64", "COM", "2018", ("DEP", "29"))
    contours = reference.geometries("COM", VINTAGE, sorted(chomage.index))
    weights = contiguity_weights(contours["geometry"], contours["code"])
    expected_global = moran(chomage, weights, permutations=999, seed=0)
    expected = local_moran(chomage, weights, permutations=999, seed=0).to_frame()
    assert answer["moran"]["statistic"] == pytest.approx(expected_global.statistic, rel=1e-12)
    assert answer["moran"]["p_permutation"] == pytest.approx(expected_global.p_permutation)
    territories = pd.DataFrame(answer["territories"]).set_index("code")
    assert territories["cluster"].to_dict() == expected["cluster"].astype(str).to_dict()
    assert territories.loc["29019", "cluster"] == "HL"  # Brest, high among low neighbours
    assert territories.loc["29155", "cluster"] == "island"  # Ouessant
    assert territories.loc["29019", "name"] == "Brest"
    counts = {c["cluster"]: c["count"] for c in answer["clusters"]}
    assert counts["HH"] > 0 and counts["LL"] > 0 and counts["island"] == 4
    assert sum(counts.values()) == len(territories)


def test_lisa_explains_why_nothing_is_significant(client: TestClient) -> None:
    # 1,250 EPCI with 99 permutations: the smallest p-value (0.01) cannot pass the FDR
    answer = ok(client, "/api/analysis/lisa", indicator="taux_chomage_15_64", level="EPCI",
                permutations=99)
    counts = {c["cluster"]: c["count"] for c in answer["clusters"]}
    assert counts["HH"] == counts["LL"] == 0
    assert any("augmentez les permutations" in note for note in answer["notes"])
    assert answer["moran"]["statistic"] > 0.5


# -- typology ---------------------------------------------------------------------------


def test_typology_of_breton_epci_equals_the_pure_function(client: TestClient,
                                                           reference: Warehouse) -> None:
    indicators = ",".join(DEFAULT_TYPOLOGY)
    answer = ok(client, "/api/analysis/typology", indicators=indicators, level="EPCI",
                parent=BRETAGNE, k=4, bootstrap=5, seed=3)
    codes = IndicatorEngine(reference).members(("REG", "53"), "EPCI", VINTAGE)
    periods = {i: max(IndicatorEngine(reference).periods(
        IndicatorEngine(reference).indicator(i))) for i in DEFAULT_TYPOLOGY}
    data = pd.DataFrame({i: values_of(reference, i, "EPCI", p) for i, p in periods.items()})
    data = data[data.index.isin(codes)]
    expected = typology(data, 4, bootstrap=5, seed=3)
    got = pd.Series(answer["territories"]["class"], index=answer["territories"]["code"])
    assert got.to_dict() == expected.classes.to_dict()
    assert answer["sizes"] == {str(k): int(v) for k, v in expected.sizes.items()}
    profiles = pd.DataFrame(answer["profiles"])
    merged = profiles.merge(expected.profiles, on=["class", "indicator"])
    assert len(merged) == 4 * len(DEFAULT_TYPOLOGY)
    assert merged["v_test_x"].to_numpy() == pytest.approx(merged["v_test_y"].to_numpy())
    assert answer["stability"]["mean_adjusted_rand"] == pytest.approx(
        expected.stability.mean_adjusted_rand)
    paragons = pd.DataFrame(answer["paragons"])
    assert paragons["code"].tolist() == expected.paragons["id"].tolist()
    assert paragons["name"].str.len().min() > 0
    assert [i["id"] for i in answer["indicators"]] == list(DEFAULT_TYPOLOGY)


def test_typology_results_are_cached(client: TestClient) -> None:
    params = {"indicators": "taux_chomage_15_64,part_logements_vacants", "level": "DEP",
              "k": 3, "bootstrap": 20}
    started = time.perf_counter()
    first = ok(client, "/api/analysis/typology", **params)
    computed = time.perf_counter() - started
    started = time.perf_counter()
    again = ok(client, "/api/analysis/typology", **params)
    assert again == first
    assert time.perf_counter() - started < max(computed, 0.05)


def test_a_result_is_computed_once_when_asked_twice_at_the_same_time() -> None:
    cache = ResultCache(4)
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "classes"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["classes"] * 4 and len(calls) == 1


def test_indicator_list_and_figures() -> None:
    assert parse_indicator_list("revenu_median:2019,population") == [
        ("revenu_median", "2019"), ("population", None)]
    assert figure_text(0.014103) == "0,0141" and figure_text(None) == "—"
    assert figure_text(2.5e-5) == "0,000025"


# -- bad parameters ---------------------------------------------------------------------


BAD_REQUESTS = [
    ("/api/analysis/inequality", {"indicator": "pas_un_indicateur"}, 404,
     "indicateur inconnu"),
    ("/api/analysis/inequality", {"indicator": "population", "level": "XYZ"}, 400,
     "échelon 'XYZ' non analysable"),
    ("/api/analysis/inequality", {"indicator": "population", "level": "com"}, 422,
     "paramètre invalide"),
    ("/api/analysis/inequality", {"indicator": "revenu_median", "period": "2017"}, 400,
     "la période 2017 n'est pas chargée"),
    ("/api/analysis/inequality", {"indicator": "population", "level": "REG",
                                  "partition": "DEP"}, 400, "ne peuvent pas être regroupés"),
    ("/api/analysis/inequality", {"indicator": "population", "parent": "DEP:29@2021",
                                  "vintage": 2026}, 400, "millésime"),
    ("/api/analysis/inequality", {"indicator": "population", "vintage": 1999}, 400,
     "millésime 1999 inconnu"),
    ("/api/analysis/inequality", {"indicator": "population", "level": "REG",
                                  "parent": FINISTERE}, 400, "ne contient aucun territoire"),
    ("/api/analysis/inequality", {"indicator": "population", "parent": "DEP:99@2026"}, 404,
     ""),
    ("/api/analysis/inequality", {"indicator": "population", "weights": "DROP TABLE"}, 422,
     "paramètre invalide"),
    ("/api/analysis/convergence", {"indicator": "taux_chomage_15_64"}, 400,
     "au moins deux périodes"),
    ("/api/analysis/convergence", {"indicator": "population", "measure": "variance"}, 422,
     "paramètre invalide"),
    ("/api/analysis/lisa", {"indicator": "taux_chomage_15_64", "level": "COM",
                            "permutations": 9999}, 400, "limite de calcul"),
    ("/api/analysis/lisa", {"indicator": "taux_chomage_15_64", "permutations": 5}, 422,
     "paramètre invalide"),
    ("/api/analysis/lisa", {"indicator": "taux_chomage_15_64", "contiguity": "hexagone"},
     422, "paramètre invalide"),
    ("/api/analysis/typology", {"indicators": "population"}, 400, "2 à 10 indicateurs"),
    ("/api/analysis/typology", {"indicators": ",".join(["population"] * 2)}, 400,
     "demandé deux fois"),
    ("/api/analysis/typology", {"indicators": ",".join(
        ["population", "densite_population", "taux_chomage_15_64", "taux_activite_15_64",
         "part_logements_vacants", "part_residences_secondaires", "evolution_population",
         "part_15_64_ans", "emplois_pour_100_actifs", "taille_moyenne_menages",
         "revenu_median"])}, 400, "2 à 10 indicateurs, 11"),
    ("/api/analysis/typology", {"indicators": "revenu_median,taux_chomage_15_64",
                                "level": "EPCI"}, 400, "aucune valeur à l'échelon EPCI"),
    ("/api/analysis/typology", {"indicators": "population,revenu_median:1990"}, 400,
     "la période 1990 n'est pas chargée"),
    ("/api/analysis/typology", {"indicators": "population,densite_population", "k": 13},
     422, "paramètre invalide"),
    ("/api/analysis/typology", {"indicators": "population,densite_population",
                                "bootstrap": 51}, 422, "paramètre invalide"),
    ("/api/analysis/typology", {"indicators": "population,densite_population",
                                "components": 3}, 400, "axes de l'ACP entre 1 et 2"),
    ("/api/analysis/typology", {"indicators": "population;densite_population"}, 422,
     "paramètre invalide"),
    ("/api/analysis/typology", {"indicators": "population,densite_population", "k": 5,
                                "level": "DEP", "parent": BRETAGNE}, 400, "trop peu"),
]


@pytest.mark.parametrize(("path", "params", "status", "message"), BAD_REQUESTS,
                         ids=[f"{p.rsplit('/', 1)[1]}-{m or s}" for p, _, s, m in BAD_REQUESTS])
def test_bad_parameters_get_a_4xx_answer_in_french(client: TestClient, path: str,
                                                   params: dict, status: int,
                                                   message: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and message in body["error"]


def test_the_endpoints_are_in_the_openapi_document(client: TestClient) -> None:
    paths = ok(client, "/api/openapi.json")["paths"]
    for name in ("inequality", "convergence", "lisa", "typology"):
        assert f"/api/analysis/{name}" in paths
    assert not any(p.startswith("/analyse") for p in paths)


def test_the_map_pages_name_a_tile_address_the_application_serves(client: TestClient) -> None:
    page = client.get("/analyse/lisa")
    assert page.status_code == 200
    template = re.search(r'"tiles": ?"([^"]+)"', page.text).group(1)
    tile = client.get(template.replace("{level}", "DEP").replace("{vintage}", str(VINTAGE))
                      .replace("{z}/{x}/{y}", "5/16/11"))
    assert tile.status_code == 200 and len(tile.content) > 100


def test_the_inequality_page_renders_its_figures_without_script(client: TestClient) -> None:
    page = client.get("/analyse", params={"indicator": "taux_chomage_15_64", "level": "DEP",
                                          "partition": "REG"})
    assert page.status_code == 200
    answer = ok(client, "/api/analysis/inequality", indicator="taux_chomage_15_64",
                level="DEP", partition="REG")
    gini = figure_text(measures(answer)["gini"])
    assert re.search(r'data-measure="gini">.*?' + re.escape(gini), page.text, re.S)
    assert "Décomposition de l'indice de Theil" in page.text and "Bretagne" in page.text
    assert "INSEE" in page.text and "IGN" in page.text
    assert 'id="convergence"' not in page.text  # one census only for unemployment
    population = client.get("/analyse", params={"indicator": "population", "level": "DEP",
                                                "metropole": "true"})
    sigma = ok(client, "/api/analysis/convergence", indicator="population", level="DEP",
               metropole="true")["sigma"]
    assert "Évolution des écarts entre 2013 et 2018" in population.text
    assert f"à <strong>{figure_text(sigma['values'][1]['value'])}</strong>" in population.text
    assert "s'éloignent (divergence σ)" in population.text
    refused = client.get("/analyse", params={"indicator": "revenu_median", "level": "EPCI"})
    assert refused.status_code == 200  # a median is not aggregated: every value is missing
    assert "non définie" in refused.text or "—" in refused.text


# -- in the browser ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(loaded_warehouse_file: Path, serve_copy) -> Iterator[str]:
    yield from serve_copy(loaded_warehouse_file)


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:
    yield from open_page(browser, server)


READY = "window.cohesionAnalysisReady === true"


def test_inequality_page_draws_the_lorenz_curve(page) -> None:
    page.goto("/analyse?indicator=revenu_median&level=COM&partition=REG&weights=population")
    wait_until(page, "document.body.dataset.chartsReady === 'true'")
    curve = page.locator("#lorenz svg.courbe-lorenz")
    assert curve.count() == 1 and curve.locator("path").count() >= 2
    assert "Part cumulée de la population" in curve.text_content()
    table = page.locator("#mesures").inner_text()
    assert "Indice de Gini" in table and "Rapport interdécile D9 / D1" in table
    assert "Auvergne-Rhône-Alpes" in page.locator("#groupes").inner_text()
    assert "Filosofi" in page.locator("figcaption").inner_text()
    screenshot(page, "analyse-inegalites")
    # choosing another indicator offers its own periods
    page.select_option("#choix-indicateur", "population")
    assert page.locator("#choix-periode option").all_inner_texts() == ["2018", "2013"]


def test_lisa_map_shows_clusters_legend_and_moran(page) -> None:
    page.goto(f"/analyse/lisa?indicator=taux_chomage_15_64&level=COM&parent={FINISTERE}")
    wait_until(page, READY)
    legend = page.locator("#lisa-legende")
    assert "haut entouré de hauts" in legend.inner_text()
    assert legend.locator("li[data-cluster=island]").inner_text().strip().endswith("4")
    assert "I de Moran : 0,309" in page.locator("#lisa-moran").inner_text()
    assert "INSEE" in page.locator("#lisa-source").inner_text()
    # each commune is coloured by its cluster: Brest (high among low) and Ouessant (island)
    colour = """code => window.cohesionAnalysisMap.getFeatureState(
        {source: 'territoires', sourceLayer: 'territoires', id: code}).c"""
    assert page.evaluate(colour, "29019") == CLUSTER_COLOURS["HL"]
    assert page.evaluate(colour, "29155") == CLUSTER_COLOURS["island"]
    box = page.locator("#lisa-carte").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_selector("#lisa-infobulle:not([hidden])")
    tooltip = page.locator("#lisa-infobulle").inner_text()
    assert re.search(r"29\d{3}", tooltip) and "Groupe" in tooltip
    screenshot(page, "analyse-lisa", full_page=False)
    # the address keeps the parameters, so a map can be shared
    assert "parent=DEP%3A29%402026" in page.url or "parent=DEP:29@2026" in page.url


def test_typology_page_shows_classes_and_profiles(page) -> None:
    chosen = ",".join(DEFAULT_TYPOLOGY)
    page.goto(f"/analyse/typologie?indicators={chosen}&level=EPCI&k=5&bootstrap=5"
              "&metropole=true")
    wait_until(page, READY)
    assert page.locator("#typologie-legende li").count() == 5
    assert re.search(r"EPCI en 5 classes", page.locator("#typologie-resume").inner_text())
    assert "(5 rééchantillonnages)" in page.locator("#typologie-stabilite").inner_text()
    rows = page.locator("#profils-tableau tbody tr")
    assert rows.count() == len(DEFAULT_TYPOLOGY)
    assert "Taux de chômage" in page.locator("#profils-tableau").inner_text()
    assert page.locator("#profils-graphique svg").count() >= 1
    assert page.locator("#parangons li").count() == 25
    assert "indice de Rand ajusté" in page.locator("#typologie-stabilite").inner_text()
    assert "INSEE" in page.locator("#profils-source").inner_text()
    screenshot(page, "analyse-typologie")
    # an indicator published for communes only gets an explained refusal
    page.click("label[for=ind-revenu_median]")
    page.click("#typologie-formulaire button[type=submit]")
    page.wait_for_selector("#typologie-erreur .fr-alert")
    assert "aucune valeur à l'échelon EPCI" in page.locator("#typologie-erreur").inner_text()
