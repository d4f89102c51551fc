"""Politique de la ville over HTTP, on the command line and in a browser.

On the warehouse of ``tests/test_policies_indicators.py`` (the référentiel, the INSEE
commune files, the contrats de ville 2024 and every ANCT / DGCL funding file of
``/work/shared/data`` imported by the importers), the API answers what
:class:`~cohesion.core.policies.PoliciesService` answers, its CSV equals its JSON, the
command line prints the same figures, invalid parameters are refused in French, and the
three pages open in Debian's Chromium under the application's Content-Security-Policy.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import cohesion.cli.policies  # noqa: F401  (registers `cohesion policies` on main)
from cohesion.cli import main
from cohesion.cli.output import cell
from cohesion.core import Observatory
from conftest import open_page, screenshot, wait_until
from test_policies_indicators import funding_warehouse_file  # noqa: F401  (the fixture)

YEAR = 2024
INDICATOR = "montant_adultes_relais_par_habitant"
NEED = "part_personnes_pauvres"
READY = "window.cohesionPolicyReady === true"
#: The Bouches-du-Rhône's adultes-relais of 2024 per inhabitant (docs/policies.md).
BOUCHES_DU_RHONE_2024 = 3.55


@pytest.fixture(scope="module")
def client(funding_warehouse_file: Path, client_on_copy) -> Iterator[TestClient]:  # noqa: F811
    yield from client_on_copy(funding_warehouse_file)


@pytest.fixture(scope="module")
def core_file(funding_warehouse_file: Path,  # noqa: F811
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policies-cli") / "policies.duckdb"
    shutil.copy(funding_warehouse_file, path)
    return path


@pytest.fixture(scope="module")
def core(core_file: Path) -> Iterator[Observatory]:
    opened = Observatory(core_file)
    yield opened
    opened.close()


def get(client: TestClient, url: str, **params: object) -> object:
    answer = client.get(url, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype={"code": str})


def cli(core_file: Path, *arguments: str) -> str:
    result = CliRunner().invoke(main, ["--warehouse", str(core_file), "policies", *arguments],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


# -- the API equals the service ---------------------------------------------------------


def test_years_and_indicators_are_the_services(client: TestClient, core: Observatory) -> None:
    assert get(client, "/api/policies/years") == core.policies.years()
    body = get(client, "/api/policies/indicators", level="DEP", year=YEAR)
    table = core.policies.funding_indicators("DEP", YEAR)
    assert body["year"] == str(YEAR) and body["level"] == "DEP"
    rows = pd.DataFrame(body["rows"]).set_index("code")
    assert rows.loc["13", INDICATOR] == pytest.approx(
        table.set_index("code").loc["13", INDICATOR], rel=1e-12)
    assert rows.loc["13", INDICATOR] == pytest.approx(BOUCHES_DU_RHONE_2024, abs=0.005)
    assert body["indicators"][INDICATOR]["inputs"] == [
        f"montant_adultes_relais@{YEAR}", "population@2018"]

    csv = client.get("/api/policies/indicators", params={"level": "DEP", "year": YEAR,
                                                          "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    parsed = read_csv(csv.text).set_index("code")
    assert parsed[INDICATOR].dropna().to_dict() == pytest.approx(
        rows[INDICATOR].dropna().to_dict(), rel=1e-12)


def test_the_map_values_and_their_population(client: TestClient) -> None:
    body = get(client, "/api/policies/map", level="DEP", year=YEAR, indicator=INDICATOR)
    assert body["indicator"]["id"] == INDICATOR and body["year"] == str(YEAR)
    rows = pd.DataFrame(body["rows"]).set_index("code")
    marseille = rows.loc["13"]
    amount, population = marseille[f"montant_adultes_relais@{YEAR}"], marseille["population@2018"]
    assert marseille["valeur"] == pytest.approx(amount / population, rel=1e-9)
    # no post listed in the Seine-Saint-Denis in 2024: no value, not zero
    assert pd.isna(rows.loc["93", "valeur"])
    assert any("2018" in note for note in body["notes"])

    csv = read_csv(client.get("/api/policies/map", params={
        "level": "DEP", "year": YEAR, "indicator": INDICATOR, "format": "csv"}).text)
    assert csv["code"].tolist() == rows.index.tolist()
    assert csv.set_index("code")["valeur"].dropna().to_dict() == pytest.approx(
        rows["valeur"].dropna().to_dict(), rel=1e-12)


def test_needs_equal_the_service(client: TestClient, core: Observatory) -> None:
    body = get(client, "/api/policies/needs", level="DEP", year=YEAR, need=NEED,
               funding=INDICATOR)
    expected = core.policies.needs_vs_funding(YEAR, "DEP", NEED, INDICATOR)
    assert body["concentration_index"] == pytest.approx(expected["concentration_index"])
    assert body["concentration_index"] == pytest.approx(0.204, abs=0.001)
    counts = {q["quadrant"]: q["territoires"] for q in body["quadrants"]}
    assert counts["besoins_eleves_financement_faible"] == 14
    assert sum(counts.values()) == len(body["territories"])

    csv = read_csv(client.get("/api/policies/needs", params={
        "level": "DEP", "year": YEAR, "need": NEED, "funding": INDICATOR,
        "format": "csv"}).text)
    rows = pd.DataFrame(body["territories"])
    assert csv["code"].tolist() == rows["code"].tolist()
    assert csv["quadrant"].tolist() == rows["quadrant"].tolist()
    assert csv["financement"].dropna().tolist() == pytest.approx(
        rows["financement"].dropna().tolist())


def test_a_departement_and_its_csv(client: TestClient, core: Observatory) -> None:
    body = get(client, "/api/policies/territories/DEP:13", year=YEAR)
    assert body["territory"]["id"] == "DEP:13@2026" and body["year"] == str(YEAR)
    dispositifs = pd.DataFrame(body["dispositifs"])
    expected = core.policies.funding_by_dispositif("DEP:13@2026")
    assert dispositifs["montant"].tolist() == pytest.approx(expected["montant"].tolist())
    adultes = dispositifs.set_index(["dispositif", "annee"]).loc[("adultes-relais", str(YEAR))]
    assert adultes["montant_par_habitant"] == pytest.approx(BOUCHES_DU_RHONE_2024, abs=0.005)
    indicators = {i["id"]: i["value"] for i in body["indicators"]}
    assert indicators[INDICATOR] == pytest.approx(adultes["montant_par_habitant"])

    beneficiaries = body["beneficiaries"]
    service = core.policies.beneficiaries("DEP:13@2026", YEAR)
    assert beneficiaries["total"] == pytest.approx(service.attrs["total"])
    assert [r["montant"] for r in beneficiaries["rows"]] == pytest.approx(
        service["montant"].tolist())

    csv = read_csv(client.get("/api/policies/territories/DEP:13/dispositifs",
                              params={"format": "csv"}).text)
    assert csv["montant"].tolist() == pytest.approx(dispositifs["montant"].tolist())
    csv = read_csv(client.get("/api/policies/territories/DEP:13@2026/beneficiaries",
                              params={"year": YEAR, "format": "csv"}).text)
    assert csv["montant"].tolist() == pytest.approx(service["montant"].tolist())


def test_a_contrat_de_ville(client: TestClient) -> None:
    codes = pd.DataFrame(get(client, "/api/policies/map", level="CV", year=YEAR)["rows"])
    code = codes.dropna(subset=["valeur"]).sort_values("valeur").iloc[-1]["code"]
    body = get(client, f"/api/policies/territories/CV:{code}", year=YEAR)
    assert body["territory"]["level"] == "CV"
    assert body["beneficiaries"]["total"] > 0


def test_the_openapi_document_lists_the_routes(client: TestClient) -> None:
    paths = get(client, "/api/openapi.json")["paths"]
    for path in ("/api/policies/years", "/api/policies/indicators", "/api/policies/map",
                 "/api/policies/needs", "/api/policies/territories/{territory}",
                 "/api/policies/territories/{territory}/dispositifs",
                 "/api/policies/territories/{territory}/beneficiaries"):
        assert path in paths
    assert "/politique-de-la-ville" not in paths


@pytest.mark.parametrize(("url", "params", "status", "words"), [
    ("/api/policies/map", {"level": "COM"}, 422, "level"),
    ("/api/policies/map", {"year": 1850}, 422, "year"),
    ("/api/policies/map", {"year": "deux-mille"}, 422, "year"),
    ("/api/policies/map", {"indicator": "population"}, 422, "indicator"),
    ("/api/policies/needs", {"funding": "montant_detr"}, 422, "funding"),
    ("/api/policies/needs", {"need": "Pauvreté;"}, 422, "need"),
    ("/api/policies/needs", {"need": "inconnu_du_catalogue"}, 404, "indicateur inconnu"),
    ("/api/policies/territories/DEP:13;drop", {}, 422, "territory"),
    ("/api/policies/territories/DEP:13/beneficiaries", {"limit": 0}, 422, "limit"),
    ("/api/policies/territories/DEP:999", {}, 404, ""),
    ("/api/policies/indicators", {"format": "xlsx"}, 422, "format"),
])
def test_invalid_parameters_are_refused_in_french(client: TestClient, url: str,
                                                  params: dict[str, object], status: int,
                                                  words: str) -> None:
    answer = client.get(url, params=params)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert words in error
    assert "invalide" in error or "inconnu" in error or "introuvable" in error \
        or status == 404


# -- the command line prints the API's figures ----------------------------------------


def test_the_command_line_prints_the_same_figures(client: TestClient, core_file: Path,
                                                  tmp_path: Path) -> None:
    value = get(client, "/api/policies/map", level="DEP", year=YEAR)["rows"]
    marseille = next(r for r in value if r["code"] == "13")["valeur"]
    output = tmp_path / "funding.csv"
    printed = cli(core_file, "funding", "--level", "DEP", "--year", str(YEAR),
                  "--indicator", INDICATOR, "-o", str(output))
    assert "Bouches-du-Rhône" in printed and cell(marseille) in printed
    written = read_csv(output.read_text(encoding="utf-8")).set_index("code")
    assert written.loc["13", INDICATOR] == pytest.approx(marseille, rel=1e-12)

    needs = get(client, "/api/policies/needs", level="DEP", year=YEAR)
    printed = cli(core_file, "needs", "--level", "DEP", "--year", str(YEAR), "--need", NEED,
                  "--funding", INDICATOR)
    assert f"{needs['concentration_index']:.4g}" in printed
    assert "Besoins élevés, financement faible" in printed

    body = get(client, "/api/policies/territories/DEP:13", year=YEAR)
    printed = cli(core_file, "territory", "DEP:13", "--year", str(YEAR))
    assert "Bouches-du-Rhône" in printed
    assert cell(body["beneficiaries"]["rows"][0]["montant"]) in printed


def test_the_command_line_refuses_a_bad_year(core_file: Path) -> None:
    result = CliRunner().invoke(main, ["--warehouse", str(core_file), "policies", "funding",
                                       "--year", "1850"])
    assert result.exit_code != 0 and "1850" in result.output


# -- the pages ------------------------------------------------------------------------


def test_the_pages_render_the_apis_figures(client: TestClient) -> None:
    page = client.get("/politique-de-la-ville", params={"level": "DEP", "year": YEAR})
    assert page.status_code == 200
    assert "Bouches-du-Rhône" in page.text and "Licence Ouverte" in page.text
    assert "/api/policies/map?level=DEP&amp;year=2024" in page.text
    needs = client.get("/politique-de-la-ville/besoins", params={"year": YEAR})
    assert needs.status_code == 200
    assert "argent va nettement aux territoires les plus pauvres" in needs.text.replace(
        "&#39;", "'")
    assert "<polyline" in needs.text
    territory = client.get("/politique-de-la-ville/territoire/DEP:13", params={"year": YEAR})
    assert territory.status_code == 200 and "Adultes-relais" in territory.text
    assert client.get("/politique-de-la-ville", params={"level": "ZZ"}).status_code == 422
    assert client.get("/politique-de-la-ville/territoire/DEP:999").status_code == 404


@pytest.fixture(scope="module")
def server(funding_warehouse_file: Path, serve_copy) -> Iterator[str]:  # noqa: F811
    yield from serve_copy(funding_warehouse_file, warm=False)


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:
    yield from open_page(browser, server)


def test_the_pages_in_a_browser(page) -> None:
    page.goto(f"/politique-de-la-ville?level=DEP&year={YEAR}&indicator={INDICATOR}")
    wait_until(page, READY)
    assert page.locator("#politique-legende .fr-alert--error").count() == 0
    assert page.locator("#politique-legende .legende-classes li").count() >= 5
    painted = page.evaluate("""() => window.cohesionPolicyMap.getFeatureState(
        {source: 'territoires', sourceLayer: 'territoires', id: '13'}).c""")
    assert painted and painted.startswith("#")
    screenshot(page, "politique-carte")

    page.goto(f"/politique-de-la-ville/besoins?level=DEP&year={YEAR}")
    wait_until(page, READY)
    assert "plus pauvres" in page.locator("#besoins-phrase").inner_text()
    screenshot(page, "politique-besoins")

    page.goto(f"/politique-de-la-ville/territoire/DEP:13?year={YEAR}")
    wait_until(page, READY)
    assert page.locator("#politique-dispositifs tbody tr").count() >= 6
    screenshot(page, "politique-territoire")
