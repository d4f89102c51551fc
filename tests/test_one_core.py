"""The command line and the HTTP API give the same figures for the same request.

Both interfaces only parse input and render output around the one core
(:class:`cohesion.core.Observatory`). Each test sends one request through ``cohesion``
(in-process, click's runner) and through the API (the ASGI application in-process), on
the same copy of a warehouse loaded with real data, and compares what comes out: the
same tables where both write a file, the same numbers where the CLI prints a table.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from cohesion.cli import main
from cohesion.cli.output import cell
from cohesion.core import Observatory
from cohesion.store import Warehouse
from cohesion.web.app import create_app
from conftest import shared
from test_analysis_barometre import import_barometre_2018
from test_geo_locate import DVF

CLICHY_2021 = "COM:93014@2021"
CLICHY = "COM:93014@2026"


@pytest.fixture(scope="module")
def warehouse_file(loaded_warehouse_file: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loaded warehouse with the 2018 baromètre tables."""
    path = tmp_path_factory.mktemp("one-core") / "core.duckdb"
    shutil.copy(loaded_warehouse_file, path)
    with Warehouse(path) as warehouse:
        import_barometre_2018(warehouse)
    return path


def api_client(path: Path) -> Iterator[TestClient]:
    observatory = Observatory(path)
    with TestClient(create_app(observatory, warm=False)) as client:
        yield client
    observatory.close()


@pytest.fixture(scope="module")
def api(warehouse_file: Path) -> Iterator[TestClient]:
    yield from api_client(warehouse_file)


def cli(warehouse: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["--warehouse", str(warehouse), *args],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result


def get_json(api: TestClient, url: str, **params: object) -> dict:
    answer = api.get(url, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize(("level", "within"), [("DEP", None), ("COM", "DEP:93@2021")])
def test_export_is_the_api_csv(api: TestClient, warehouse_file: Path, tmp_path: Path,
                               level: str, within: str | None) -> None:
    output = tmp_path / "export.csv"
    options = ["--within", within] if within else []
    cli(warehouse_file, "export", "taux_chomage_15_64", "--level", level, "--vintage",
        "2021", *options, "-o", str(output))
    params = {"indicator": "taux_chomage_15_64", "level": level, "vintage": 2021,
              "format": "csv"} | ({"within": within} if within else {})
    answer = api.get("/api/values", params=params)
    assert answer.status_code == 200, answer.text
    exported = pd.read_csv(output, dtype={"code": str})
    served = pd.read_csv(io.StringIO(answer.text), dtype={"code": str})
    pd.testing.assert_frame_equal(exported, served)
    assert len(exported) == (101 if level == "DEP" else 40)
    assert exported["taux_chomage_15_64"].notna().sum() >= len(exported) - 1  # Mayotte


def test_portrait_shows_the_api_figures(api: TestClient, warehouse_file: Path) -> None:
    shown = cli(warehouse_file, "territory", "show", CLICHY_2021).output
    portrait = get_json(api, f"/api/portrait/{CLICHY_2021}")
    compared = 0
    for item in portrait["figures"]:
        if item.get("period") is None:
            assert item["loaded"] is False
            continue
        for value in (item, *item["comparisons"].values()):
            expected = cell(value["value"]) if value["missing"] is None \
                else value["missing_label"]
            assert expected in shown, (item["indicator"], expected)
            compared += 1
    assert compared >= 20


def test_search_lists_the_same_territories(api: TestClient, warehouse_file: Path) -> None:
    shown = cli(warehouse_file, "territory", "search", "clichy", "--limit", "5").output
    found = get_json(api, "/api/territories", q="clichy", limit=5)
    ids = [item["id"] for item in found]
    assert len(ids) >= 2
    assert [shown.index(tid) for tid in ids] == sorted(shown.index(tid) for tid in ids)


def test_inequality_measures_are_the_api_measures(api: TestClient, warehouse_file: Path,
                                                  tmp_path: Path) -> None:
    """Weighted, with a partition: the period and weight rules are the core's."""
    measures, groups = tmp_path / "mesures.csv", tmp_path / "groupes.csv"
    shown = cli(warehouse_file, "analysis", "inequality", "taux_pauvrete", "--level", "COM",
                "--partition", "DEP", "--weight", "population", "-o", str(measures),
                "--groups-output", str(groups)).output
    document = get_json(api, "/api/analysis/inequality", indicator="taux_pauvrete",
                        level="COM", partition="DEP", weights="population")
    written = pd.read_csv(measures).set_index("measure")["value"]
    served = pd.Series({m["measure"]: m["value"] for m in document["measures"]},
                       dtype=float)
    pd.testing.assert_series_equal(written.astype(float), served.loc[written.index],
                                   check_names=False)
    assert document["weights"]["period"] in shown
    written_groups = pd.read_csv(groups, dtype={"code": str}).set_index("code")
    served_groups = pd.DataFrame(document["groups"]).set_index("code")
    assert list(written_groups.index) == list(served_groups.index)
    assert np.allclose(written_groups["theil_l"], served_groups["theil_l"], rtol=1e-12,
                       atol=0, equal_nan=True)


def test_lisa_clusters_are_the_api_clusters(api: TestClient, warehouse_file: Path,
                                            tmp_path: Path) -> None:
    output = tmp_path / "lisa.csv"
    cli(warehouse_file, "analysis", "moran", "taux_chomage_15_64", "--level", "COM",
        "--within", "DEP:93@2026", "--permutations", "99", "--seed", "3", "-o", str(output))
    document = get_json(api, "/api/analysis/lisa", indicator="taux_chomage_15_64",
                        level="COM", parent="DEP:93@2026", permutations=99, seed=3)
    written = pd.read_csv(output, dtype={"code": str}).set_index("code")
    served = pd.DataFrame(document["territories"]).set_index("code")
    assert len(written) >= 39 and list(written.index) == list(served.index)
    assert (written["groupe"] == served["cluster"]).all()
    assert np.allclose(written["valeur"], served["value"], rtol=1e-12, atol=0)


def test_barometre_tables_are_the_pages_tables(api: TestClient, warehouse_file: Path,
                                               tmp_path: Path) -> None:
    positions, scores = tmp_path / "barometre.csv", tmp_path / "scores.csv"
    cli(warehouse_file, "analysis", "barometre", CLICHY, "-o", str(positions),
        "--scores-output", str(scores))
    for path, table in ((positions, "barometre"), (scores, "scores")):
        served = api.get(f"/barometre/{CLICHY}/{table}.csv")
        assert served.status_code == 200
        assert served.text == path.read_text(), table
    document = get_json(api, f"/api/barometre/{CLICHY}")
    values = {i["id"]: i.get("value") for f in document["factors"]
              for i in f["indicators"]}
    written = pd.read_csv(positions).set_index("indicateur")["valeur"]
    assert written.notna().sum() >= 10
    for indicator, value in written.dropna().items():
        assert values[indicator] == pytest.approx(value, rel=1e-12)


def test_qpv_location_is_the_api_location(qpv_warehouse_file: Path, tmp_path: Path) -> None:
    sales = pd.read_excel(shared(DVF)).head(2_000)
    points = tmp_path / "ventes.csv"
    sales[["longitude", "latitude"]].assign(id=range(len(sales))).to_csv(points, index=False)
    output = tmp_path / "sortie.csv"
    shown = cli(qpv_warehouse_file, "qpv", "locate", str(points), "-o", str(output),
                "--lon", "longitude", "--lat", "latitude").output
    client = next(api_client(qpv_warehouse_file))
    try:
        answer = client.post("/api/qpv/locate.csv",
                             files={"file": ("ventes.csv", points.read_bytes(), "text/csv")},
                             data={"lon": "longitude", "lat": "latitude"})
    finally:
        client.app.state.observatory.close()
    assert answer.status_code == 200, answer.text
    assert answer.text == output.read_text(encoding="utf-8")
    summary = json.loads(answer.headers["x-qpv-resume"])
    assert summary["lignes"] == len(sales)
    inside = int(pd.read_csv(output, dtype=str)["qpv_2015"].notna().sum())
    assert inside > 1_000 and f"{inside:,}".replace(",", "\u202f") in shown


def test_access_table_and_bands_are_the_api_ones(access_warehouse_file: Path,
                                                 tmp_path: Path) -> None:
    table = tmp_path / "acces.csv"
    shown = cli(access_warehouse_file, "access", "show", "d201_marche_vol_oiseau",
                "--threshold", "10", "--level", "EPCI", "-o", str(table)).output
    bands = tmp_path / "bandes.csv"
    cli(access_warehouse_file, "access", "bands", "osm_amenity_pharmacy", "-o", str(bands))
    client = next(api_client(access_warehouse_file))
    try:
        answer = client.get("/api/access/measures/d201_marche_vol_oiseau/table",
                            params={"level": "EPCI", "threshold": 10, "format": "csv"})
        zones = get_json(client, "/api/access/measures/d201_marche_vol_oiseau/zones",
                         threshold=10)
        located = client.get("/api/access/bands/osm_amenity_pharmacy",
                             params={"format": "csv"})
    finally:
        client.app.state.observatory.close()
    assert answer.status_code == 200, answer.text
    assert answer.text == table.read_text(encoding="utf-8")
    ensemble = next(z for z in zones["zones"] if z["zone"] == "ensemble")
    assert cell(ensemble["share"]) in shown
    assert located.status_code == 200, located.text
    assert located.text == bands.read_text(encoding="utf-8")
