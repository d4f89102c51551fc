"""Shared fixtures: a référentiel built once per test session from the real packages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cohesion.config import node_modules
from cohesion.store import Warehouse
from cohesion.territory.build import build_referentiel

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared(relative: str) -> Path:
    """Path of a real data file in ../shared/data (skip if the folder is absent)."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.fail(f"real data file missing: {path}")
    return path


@pytest.fixture(scope="session")
def built_warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse file holding the référentiel of every vintage (built once)."""
    path = tmp_path_factory.mktemp("warehouse") / "referentiel.duckdb"
    with Warehouse(path) as warehouse:
        build_referentiel(warehouse, node_modules())
    return path


@pytest.fixture
def warehouse(built_warehouse_file: Path, tmp_path: Path) -> Warehouse:
    """A private copy of the built warehouse, safe to write to."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse_file, copy)
    with Warehouse(copy) as opened:
        yield opened


def table_fingerprint(warehouse: Warehouse) -> dict[str, int]:
    """Row counts and a content hash of every table, to check nothing changed."""
    tables = warehouse.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    )["table_name"]
    return {
        name: warehouse.connection.execute(
            f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {name} t").fetchone()
        for name in tables
    }


COMPARATEUR = "commune_indicators/comparateur_rp2018_filo2019/base_cc_comparateur.CSV"
FILOSOFI_2019 = "commune_indicators/filosofi2019_com/cc_filosofi_2019_COM.CSV"
FILOSOFI_2020 = "commune_indicators/filosofi2020_com/cc_filosofi_2020_COM.csv"


@pytest.fixture(scope="session")
def loaded_warehouse_file(built_warehouse_file: Path,
                          tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The référentiel plus the Comparateur and Filosofi 2019/2020 commune files."""
    from cohesion.importers import run_import
    from cohesion.importers.insee import Comparateur, FilosofiCommunes

    path = tmp_path_factory.mktemp("loaded") / "loaded.duckdb"
    shutil.copy(built_warehouse_file, path)
    with Warehouse(path) as warehouse:
        run_import(warehouse, Comparateur(), shared(COMPARATEUR))
        run_import(warehouse, FilosofiCommunes(), shared(FILOSOFI_2019))
        run_import(warehouse, FilosofiCommunes(), shared(FILOSOFI_2020))
    return path


@pytest.fixture
def loaded(loaded_warehouse_file: Path) -> Warehouse:
    """The loaded warehouse, opened read-only (tests that write use a copy)."""
    with Warehouse(loaded_warehouse_file, read_only=True) as opened:
        yield opened


QPV_OCCITANIE = "qpv/hackaviz2021_occitanie/qp.geojson"
QPV_MARSEILLE = "qpv/icu_mediapart/marseille.gpkg"
QPV_PACA_2024 = "qpv/qpv2024_paca/qpv-paca.geojson"
QPV_LOOKUP_2024 = "qpv/qpv2024_communes/polygone-4326_qpv.geojson"
QPV_VINTAGE = 2026


@pytest.fixture(scope="session")
def qpv_warehouse_file(built_warehouse_file: Path,
                       tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The référentiel plus the QPV contours of the samples, imported by the importer."""
    from cohesion.importers import run_import
    from cohesion.importers.qpv import QpvContours

    path = tmp_path_factory.mktemp("qpv") / "qpv.duckdb"
    shutil.copy(built_warehouse_file, path)
    with Warehouse(path) as warehouse:
        for sample in (QPV_OCCITANIE, QPV_MARSEILLE, QPV_PACA_2024):
            run_import(warehouse, QpvContours(), shared(sample))
    return path


@pytest.fixture(scope="session")
def qpv_index(qpv_warehouse_file: Path):
    """The QPV index of both generations, with the 2024 commune → QPV lookup."""
    from cohesion.geo import QpvIndex

    with Warehouse(qpv_warehouse_file, read_only=True) as warehouse:
        return QpvIndex.from_warehouse(warehouse, vintage=QPV_VINTAGE,
                                       lookups=[shared(QPV_LOOKUP_2024)])
