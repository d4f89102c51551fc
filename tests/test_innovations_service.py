"""The Carrefour's service end to end on real data, embedded and in server mode.

``observatory.innovations`` harvests the real Transiscope sample through its connector,
places the records with the référentiel and the QPV contours, links them and indexes
them; the same run is made with SQLite + tantivy (the default) and with PostgreSQL for
both the store and the index (the server mode, a server the project starts itself).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cohesion.cli import main
from cohesion.core import Observatory
from cohesion.core.innovations import entity_document
from cohesion.innovations.records import Record
from cohesion.innovations.search import SearchQuery
from cohesion.settings import Settings
from conftest import SHARED_DATA

TRANSISCOPE = "social_innovation/gogocarto_transiscope_sample/elements_pwa_alternatives.csv"


@pytest.fixture(scope="module", params=["embarque", "postgresql"])
def mode(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, str]:
    folder = tmp_path_factory.mktemp(f"carrefour-{request.param}")
    if request.param == "embarque":
        return {"carrefour": f"sqlite:///{folder / 'carrefour.sqlite'}",
                "carrefour_index": str(folder / "index")}
    server = request.getfixturevalue("postgres_server")
    url = server.create_database(f"carrefour_{uuid.uuid4().hex[:8]}")
    return {"carrefour": url, "carrefour_index": url}


@pytest.fixture(scope="module")
def core(qpv_warehouse_file: Path, mode: dict[str, str],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observatory]:
    copy = tmp_path_factory.mktemp("entrepot") / "entrepot.duckdb"
    shutil.copy(qpv_warehouse_file, copy)
    opened = Observatory(copy, Settings.from_environ().but(**mode))
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def first(core: Observatory):
    return core.innovations.harvest(["transiscope"], SHARED_DATA)


def test_a_harvest_stores_links_and_indexes(core: Observatory, first) -> None:
    (_, report), = first.reports
    assert (report.records, report.new, report.failed) == (696, 696, 4)
    assert report.alert is None
    reasons = sorted(f.reason.split(" :")[0] for f in report.failures)
    assert reasons == ["identifiant en double"] * 3 + ["titre absent"]
    assert first.linkage is not None and first.linkage.records == 696
    assert first.indexed == len(core.innovations.index) <= 696
    placed = [r for r in core.innovations.store.records() if r.commune]
    assert len(placed) > 600  # communes from the points, through the référentiel


def test_rerunning_a_harvest_changes_no_id(core: Observatory, first) -> None:
    before = core.innovations.store.entity_mapping()
    again = core.innovations.harvest(["transiscope"], SHARED_DATA)
    (_, report), = again.reports
    assert (report.new, report.updated, report.gone, report.unchanged) == (0, 0, 0, 696)
    assert again.linkage is None  # nothing changed: nothing linked nor indexed again
    assert core.innovations.store.entity_mapping() == before


def test_a_source_that_yields_nothing_raises_an_alert_and_loses_nothing(
        core: Observatory, first, tmp_path: Path) -> None:
    empty = tmp_path / TRANSISCOPE
    empty.parent.mkdir(parents=True)
    header = (SHARED_DATA / TRANSISCOPE).read_text(encoding="utf-8").splitlines()[0]
    empty.write_text(header + "\n", encoding="utf-8")
    outcome = core.innovations.harvest(["transiscope"], tmp_path)
    (_, report), = outcome.reports
    assert report.records == 0 and report.gone == 0
    assert "la source ne contient aucune entrée" in report.alert
    health = {h.source: h for h in core.innovations.store.source_health()}
    assert health["transiscope"].alert == report.alert
    assert health["transiscope"].counts.get("published") == 696
    assert core.innovations.search(SearchQuery("jardin")).total > 0


def test_search_with_facets_and_territories(core: Observatory, first) -> None:
    result = core.innovations.search(SearchQuery("velo", facets=["domaines", "departement"]))
    assert result.total > 0
    departements = dict(result.facets["departement"])
    top, count = max(departements.items(), key=lambda item: item[1])
    within = core.innovations.search(SearchQuery("velo", territories=[f"DEP:{top}"]))
    assert within.total == count
    hit = within.hits[0]
    project = core.innovations.project(hit.id)
    assert project.records and all(r.source == "transiscope" for r in project.records)
    assert project.document["title"] == hit.title


def test_the_cli_reads_the_same_service(core: Observatory, first, mode: dict[str, str]
                                        ) -> None:
    env = {"COHESION_CARREFOUR": mode["carrefour"],
           "COHESION_CARREFOUR_INDEX": mode["carrefour_index"]}
    result = CliRunner().invoke(main, ["--warehouse", str(core.path), "innovations",
                                       "search", "velo", "--per-page", "3"], env=env)
    assert result.exit_code == 0, result.output
    total = core.innovations.search(SearchQuery("velo")).total
    assert result.output.startswith(f"{total} innovations")
    sources = CliRunner().invoke(main, ["--warehouse", str(core.path), "innovations",
                                        "sources"], env=env)
    assert sources.exit_code == 0 and "transiscope" in sources.output


def test_an_entity_document_merges_its_records() -> None:
    contribution = Record("contribution:1", "contribution", "1", "Atelier vélo solidaire",
                          description="Réparer ensemble.", domaines=["mobilite"],
                          commune="33063", updated="2026-01-02T00:00:00Z")
    harvested = Record("transiscope:x", "transiscope", "x", "Atelier vélo",
                       description="Un atelier participatif de réparation de vélos.",
                       domaines=["reemploi-dechets", "mobilite"], lat=44.8, lon=-0.57,
                       programme=None, updated="2025-06-01T00:00:00Z")
    document = entity_document("E1", [harvested, contribution],
                               {"33063": ["EPCI:243300316", "DEP:33"]})
    assert document["title"] == "Atelier vélo solidaire"  # the contribution speaks first
    assert document["description"] == "Réparer ensemble."
    assert document["lat"] == 44.8 and document["commune"] == "33063"
    assert document["domaines"] == ["mobilite", "reemploi-dechets"]
    assert document["sources"] == ["contribution", "transiscope"]
    assert document["territories"] == ["COM:33063", "EPCI:243300316", "DEP:33"]
    assert document["updated"] == "2026-01-02"
