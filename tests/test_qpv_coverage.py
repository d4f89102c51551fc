"""« Hors QPV » only where it is a fact: the coverage of the loaded QPV contours.

A warehouse holding the 2015 contours of Occitanie only (the real ANCT layer, imported by
the importer) must not call a point of Paris « hors QPV »: Paris has QPV, whose contours
are not loaded. The coverage the import records (the départements of the file, or one
the user declares), the index's rule, and the summaries of the command line and the API
are checked on real points.
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
from cohesion.errors import InputFileError
from cohesion.geo import QpvIndex
from cohesion.importers import ImportOptions, run_import
from cohesion.importers.qpv import QpvContours
from cohesion.store import Warehouse
from cohesion.store.schema import SCHEMA_VERSION
from conftest import QPV_OCCITANIE, shared, table_fingerprint

OCCITANIE_DEPARTEMENTS = {"09", "11", "12", "30", "31", "32", "34", "46", "65", "66", "81",
                          "82"}

# (lon, lat, commune): real places
LA_CHAPELLE = (2.3615, 48.8935, "75056")  # Paris 18e, which has QPV (not loaded)
BELLEVILLE = (2.3800, 48.8720, "75056")
PARIS_13 = (2.3600, 48.8250, "75056")
SAINT_DENIS = (2.3580, 48.9360, "93066")
PETIT_BARD = (3.83764, 43.61625, "34172")  # inside QP034006 Petit Bard Pergola, Montpellier
MOSSON = (3.82, 43.6321, "34172")  # inside QP034005 Mosson, Montpellier
HERAULT_VILLAGE = (3.5497, 43.7339, "34261")  # Saint-Guilhem-le-Désert: no QPV
LOZERE = (3.5, 44.5, "48137")  # Saint-Bauzile, Lozère: no QPV in Occitanie's file

MIXED = [LA_CHAPELLE, BELLEVILLE, PARIS_13, SAINT_DENIS, PETIT_BARD, MOSSON, HERAULT_VILLAGE,
         LOZERE]


def import_occitanie(path: Path, **extra: object) -> list[str]:
    """Import Occitanie's 2015 contours into ``path``; return the import's notes."""
    with Warehouse(path) as warehouse:
        report = run_import(warehouse, QpvContours(), shared(QPV_OCCITANIE),
                            options=ImportOptions(extra=extra))
    return report.notes


@pytest.fixture(scope="module")
def occitanie_file(built_warehouse_file: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The référentiel and the 2015 QPV contours of Occitanie, nothing else."""
    path = tmp_path_factory.mktemp("coverage") / "occitanie.duckdb"
    shutil.copy(built_warehouse_file, path)
    import_occitanie(path)
    return path


@pytest.fixture(scope="module")
def index(occitanie_file: Path) -> QpvIndex:
    with Warehouse(occitanie_file, read_only=True) as warehouse:
        return QpvIndex.from_warehouse(warehouse)


def locate(index: QpvIndex, *places: tuple[float, float, str]) -> pd.DataFrame:
    """The result columns of ``places``, checking each lies in the commune expected."""
    found = index.locate(np.array([p[0] for p in places]), np.array([p[1] for p in places]))
    assert found.commune.tolist() == [p[2] for p in places]
    return found.to_frame()


def cli(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result


# -- the coverage recorded at import ----------------------------------------------------


def test_import_records_the_departements_of_the_file(occitanie_file: Path) -> None:
    with Warehouse(occitanie_file, read_only=True) as warehouse:
        assert warehouse.qpv_coverage(2015) == OCCITANIE_DEPARTEMENTS
        assert warehouse.qpv_coverage(2024) == set()
        recorded = warehouse.query("SELECT DISTINCT dataset_id FROM qpv_coverage")
        assert recorded["dataset_id"].tolist() == [int(warehouse.datasets()["dataset_id"][0])]


def test_bad_declarations_are_refused_and_change_nothing(warehouse: Warehouse) -> None:
    before = table_fingerprint(warehouse)
    for declared, message in (("75,7X", "département inconnu du référentiel (7X)"),
                              ("france,75", "ambiguë"), ("", "couverture déclarée invalide"),
                              ("99", "département inconnu du référentiel (99)")):
        with pytest.raises(InputFileError, match=message.replace("(", r"\(").replace(
                ")", r"\)")) as raised:
            run_import(warehouse, QpvContours(), shared(QPV_OCCITANIE),
                       options=ImportOptions(extra={"couverture": declared}))
        assert raised.value.column == "couverture"
    assert table_fingerprint(warehouse) == before


# -- the rule ---------------------------------------------------------------------------


def test_paris_is_not_covered_by_occitanie_contours(index: QpvIndex) -> None:
    found = locate(index, LA_CHAPELLE, SAINT_DENIS, LOZERE)
    assert found["qualite_qpv_2015"].tolist() == ["non couvert"] * 3
    assert found["bande_onpv_2015"].isna().all()
    assert found["distance_qpv_2015_m"].isna().all()
    assert found["qpv_proche_2015"].isna().all() and found["qpv_2015"].isna().all()


def test_covered_departements_keep_their_answers(index: QpvIndex) -> None:
    found = locate(index, PETIT_BARD, MOSSON, HERAULT_VILLAGE)
    assert found["qpv_2015"].tolist() == ["QP034006", "QP034005", None]
    assert found["qualite_qpv_2015"].tolist() == ["sûr", "sûr", "hors QPV"]
    assert found["bande_onpv_2015"].tolist() == ["dans un QPV", "dans un QPV", "ailleurs"]
    assert found["distance_qpv_2015_m"].tolist()[:2] == [0.0, 0.0]


def test_a_point_in_no_commune_is_not_covered_by_regional_contours(index: QpvIndex) -> None:
    # in the Mediterranean off Montpellier: no commune, hence no département
    found = index.locate(np.array([3.9]), np.array([43.4]))
    assert found.commune.tolist() == [None] and found.error.tolist() == [None]
    assert found.generations[2015].quality.tolist() == ["non couvert"]


# -- the summaries: command line and API ---------------------------------------------------


@pytest.fixture(scope="module")
def mixed_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Paris, Saint-Denis, Montpellier, the Hérault and the Lozère, and a bad row."""
    path = tmp_path_factory.mktemp("mixed") / "points.csv"
    lines = ["id;lon;lat", *(f"{n};{lon};{lat}" for n, (lon, lat, _) in enumerate(MIXED)),
             "erreur;abc;43.6"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


EXPECTED_NOT_COVERED = {"lignes": 5, "departements": {"48": 1, "75": 3, "93": 1},
                        "motif": "contours 2015 non chargés pour les départements 48, 75, 93"}


def test_command_line_summary_counts_covered_rows_only(occitanie_file: Path, mixed_csv: Path,
                                                       tmp_path: Path) -> None:
    output = tmp_path / "sortie.csv"
    shown = cli("--warehouse", str(occitanie_file), "qpv", "locate", str(mixed_csv), "-o",
                str(output), "--lon", "lon", "--lat", "lat").output
    assert "9 lignes écrites" in shown and "dont 1 en erreur" in shown
    assert "QPV 2015 : 2 lignes dans un QPV (66,7 % des 3 lignes couvertes) ; sûr 2, " \
           "hors QPV 1" in shown
    assert "QPV 2015 : 5 lignes non couvertes (contours 2015 non chargés pour les " \
           "départements 48, 75, 93)" in shown
    written = pd.read_csv(output, sep=";", dtype=str, keep_default_na=False)
    assert written["qualite_qpv_2015"].tolist() == [
        "non couvert", "non couvert", "non couvert", "non couvert", "sûr", "sûr", "hors QPV",
        "non couvert", ""]


@pytest.fixture(scope="module")
def client(occitanie_file: Path, client_on_copy) -> Iterator[TestClient]:
    yield from client_on_copy(occitanie_file)


def test_api_summaries_count_covered_rows_only(client: TestClient, mixed_csv: Path) -> None:
    response = client.post("/api/qpv/locate.csv",
                           files={"file": ("points.csv", mixed_csv.read_bytes(), "text/csv")},
                           data={"lon": "lon", "lat": "lat"})
    assert response.status_code == 200, response.text
    summary = json.loads(response.headers["x-qpv-resume"])
    assert summary["lignes"] == 9 and summary["erreurs"] == 1
    assert summary["dans_qpv"] == {"2015": 2} and summary["couverts"] == {"2015": 3}
    assert summary["part_dans_qpv"] == {"2015": pytest.approx(2 / 3, abs=1e-6)}
    assert summary["qualites"]["2015"]["non couvert"] == 5
    assert summary["non_couverts"] == {"2015": EXPECTED_NOT_COVERED}
    rows = pd.read_csv(io.StringIO(response.text), sep=";", dtype=str, keep_default_na=False)
    assert (rows["qualite_qpv_2015"] == "non couvert").sum() == 5

    points = [{"id": str(n), "lon": lon, "lat": lat} for n, (lon, lat, _) in enumerate(MIXED)]
    answer = client.post("/api/qpv/locate", json={"points": points})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["resume"]["dans_qpv"] == {"2015": 2}
    assert body["resume"]["couverts"] == {"2015": 3}
    assert body["resume"]["part_dans_qpv"]["2015"] == pytest.approx(2 / 3)
    assert body["resume"]["non_couverts"] == {"2015": EXPECTED_NOT_COVERED}
    chapelle = body["resultats"][0]["qpv"]["2015"]
    assert chapelle == {"code": None, "nom": None, "qualite": "non couvert", "distance_m": None,
                        "qpv_proche": None, "bande": None}


# -- a declared coverage -------------------------------------------------------------------


def test_declared_coverage_replaces_the_departements_of_the_file(
        built_warehouse_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "declared.duckdb"
    shutil.copy(built_warehouse_file, path)
    shown = cli("--warehouse", str(path), "import", "qpv", str(shared(QPV_OCCITANIE)),
                "--couverture", "75").output
    assert "couverture déclarée : départements 75" in shown
    assert "105 QPV hors de la couverture déclarée" in shown
    with Warehouse(path, read_only=True) as warehouse:
        assert warehouse.qpv_coverage(2015) == {"75"}
        found = locate(QpvIndex.from_warehouse(warehouse), LA_CHAPELLE, PETIT_BARD,
                       HERAULT_VILLAGE)
    # the user says the file holds every QPV of Paris: Paris is « hors QPV »
    assert found["qualite_qpv_2015"].tolist() == ["hors QPV", "sûr", "non couvert"]
    assert found["bande_onpv_2015"].tolist() == ["ailleurs", "dans un QPV", None]


def test_a_national_declaration_covers_every_departement(built_warehouse_file: Path,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "national.duckdb"
    shutil.copy(built_warehouse_file, path)
    notes = import_occitanie(path, couverture="France")
    assert "couverture déclarée : la France entière" in notes
    with Warehouse(path, read_only=True) as warehouse:
        assert warehouse.qpv_coverage(2015) == {"*"}
        index = QpvIndex.from_warehouse(warehouse)
    found = locate(index, LA_CHAPELLE, LOZERE, PETIT_BARD)
    assert found["qualite_qpv_2015"].tolist() == ["hors QPV", "hors QPV", "sûr"]
    at_sea = index.locate(np.array([3.9]), np.array([43.4])).generations[2015]
    assert at_sea.quality.tolist() == ["hors QPV"] and at_sea.band.tolist() == [None]


# -- a warehouse written before the coverage was recorded ----------------------------------


def test_an_older_warehouse_covers_the_departements_of_its_qpv(occitanie_file: Path,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "older.duckdb"
    shutil.copy(occitanie_file, path)
    with Warehouse(path) as warehouse:  # as schema version 1 left it
        warehouse.connection.execute("DROP TABLE qpv_coverage")
        warehouse.connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with Warehouse(path, read_only=True) as warehouse:  # read-only: the table stays missing
        assert warehouse.qpv_coverage(2015) == OCCITANIE_DEPARTEMENTS
        found = locate(QpvIndex.from_warehouse(warehouse), LA_CHAPELLE, HERAULT_VILLAGE)
    assert found["qualite_qpv_2015"].tolist() == ["non couvert", "hors QPV"]
    with Warehouse(path) as warehouse:  # read-write: the table is created, empty
        assert warehouse.query("SELECT count(*) AS n FROM qpv_coverage")["n"].item() == 0
        assert warehouse.query("SELECT value FROM meta WHERE key = 'schema_version'"
                               )["value"].item() == SCHEMA_VERSION
        assert warehouse.qpv_coverage(2015) == OCCITANIE_DEPARTEMENTS


# -- the 2024 commune lookup -------------------------------------------------------------


def test_the_2024_commune_lookup_still_tells_uncovered_communes(qpv_index: QpvIndex) -> None:
    # 2024: PACA's contours and ANCT's national list of the communes with a 2024 QPV
    montpellier = (3.8767, 43.6108, "34172")  # has 2024 QPV, contours not loaded
    found = locate(qpv_index, montpellier, HERAULT_VILLAGE, LA_CHAPELLE)
    assert found["qualite_qpv_2024"].tolist() == ["non couvert", "hors QPV", "non couvert"]
    # the list says the village has no 2024 QPV: how far the nearest one lies is unknown
    assert found["bande_onpv_2024"].isna().all()
    assert found["distance_qpv_2024_m"].isna().all()
    # 2015 has no national list: Paris is not covered by Occitanie's and Marseille's files
    assert found["qualite_qpv_2015"].tolist() == ["hors QPV", "hors QPV", "non couvert"]
