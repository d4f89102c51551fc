"""The three first sources harvested through their connectors, from a loopback HTTP server.

The real files of ``../shared/data`` are served by the site of
``test_innovations_fetching`` (with its robots.txt); each source is harvested once per
module, normalised with the QPV warehouse of the session (référentiel and QPV contours
of the samples), and its records are counted against the raw files, read here
independently. The normalisation is also checked on two real point sets: the France
Services of 2024 (which give postcode, commune name and INSEE code) and the DVF sales
near the QPV of Occitanie (which give the commune).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from cohesion.core import Observatory
from cohesion.innovations.harvest import HarvestRun, harvest
from cohesion.innovations.normalise import Normaliser
from cohesion.innovations.records import Record, fold
from conftest import SHARED_DATA, shared
from test_geo_locate import DVF, OCCITANIE, PACA_2024, exact_within, original
from test_innovations_fetching import TRANSISCOPE, LocalSite, quick, serve_site

DOTATIONS = ("subventions/anct_dotations_investissement_2019/"
             "projets_dotations_investissement_2019.xlsx")
POSTES = SHARED_DATA / "social_innovation" / "anct_politique_ville_postes"
FRANCE_SERVICES = "programmes/france_services/liste-fs-20240801_nocontact.csv"
FIXTURES = Path(__file__).parent / "data" / "innovations"



@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSite]:
    """The loopback web site of the real data (see ``test_innovations_fetching``)."""
    yield from serve_site(tmp_path_factory)

@pytest.fixture(scope="module")
def observatory(qpv_warehouse_file: Path) -> Iterator[Observatory]:
    core = Observatory(qpv_warehouse_file)
    yield core
    core.close()


@pytest.fixture(scope="module")
def normaliser(observatory: Observatory) -> Normaliser:
    return Normaliser(observatory)


@pytest.fixture(scope="module")
def runs(site: LocalSite, normaliser: Normaliser) -> dict[str, HarvestRun]:
    """Each shipped source harvested once, over HTTP, normalised."""
    steps: list[tuple[str, int, int | None]] = []
    found = {name: harvest(name, site.data, normaliser,
                           progress=lambda *step: steps.append(step), fetcher=quick())
             for name in ("transiscope", "dotations-2019", "postes-politique-ville")}
    found["progress"] = steps  # type: ignore[assignment]
    return found


# -- Transiscope ------------------------------------------------------------------------


def test_transiscope_700_rows_give_696_records_and_4_refusals(runs: dict[str, HarvestRun],
                                                              site: LocalSite) -> None:
    run = runs["transiscope"]
    assert run.error is None
    raw = pd.read_csv(shared(TRANSISCOPE), dtype=str, keep_default_na=False)
    assert len(raw) == 700
    assert len(run.records) + len(run.failures) == 700
    assert len(run.records) == 696
    assert run.summary()["echecs"] == {"identifiant en double": 3, "titre absent": 1}
    address = site.data + TRANSISCOPE
    # the row without a name (line 435 of the table), and three names written twice
    # (« Les vélos des Étangs » / « Les Vélos des Étangs »…): the second is refused
    where = {f.where.removeprefix(address + ", "): f.reason for f in run.failures}
    assert where["ligne 435"].startswith("titre absent")
    assert where["ligne 368"] == ("identifiant en double : transiscope:titre:5782969291a36197 "
                                  f"est déjà celui de {address}, ligne 350")
    unnamed = raw.index[raw["name"] == ""]
    assert list(unnamed + 2) == [435]
    assert run.fetched == [address, site.data + "social_innovation/gogocarto_transiscope_"
                           "sample/taxonomy-transiscope.js"]
    record = next(r for r in run.records if r.title == "1,2,3...Parents")
    assert record.licence == "ODbL 1.0" and record.source_url == address
    assert record.tags == ["Education", "Associations", "Solidarité", "Parentalité"]
    assert (record.domaines, record.publics) == (["education-formation", "solidarite"],
                                                 ["familles"])
    assert record.raw["source"] == "alternatiba"
    # tags no vocabulary term maps stay in the tags and are counted
    assert run.unmapped["Association"] == 21
    assert len(run.unmapped) == 354
    assert sum(1 for r in run.records if r.domaines) == 441


def test_transiscope_points_give_communes_and_no_qpv(runs: dict[str, HarvestRun]) -> None:
    run = runs["transiscope"]
    summary = run.summary()
    assert summary["avec_point"] == 696
    assert summary["avec_commune"] == 655
    # 39 initiatives of the CRID are abroad (Cameroun, Brésil, Québec…), two points of
    # Martigues lie on the shore of the Étang de Berre, out of the commune's contour
    elsewhere = Counter(r.raw["source"] for r in run.records if r.commune is None)
    assert elsewhere == {"CRID": 39, "alternatiba": 2}
    assert summary["dans_un_qpv"] == 0  # no initiative of the sample lies in a loaded QPV
    gueret = next(r for r in run.records if r.title == "1,2,3...Parents")
    assert (gueret.commune, gueret.departement) == ("23096", "23")
    assert gueret.commune_name == "Guéret"


# -- dotations d'investissement -----------------------------------------------------------


def test_dotations_one_record_per_funded_project(runs: dict[str, HarvestRun]) -> None:
    run = runs["dotations-2019"]
    assert run.error is None and run.failures == []
    workbook = CalamineWorkbook.from_path(str(shared(DOTATIONS)))
    sheet = next(name for name in workbook.sheet_names if name.startswith("Projets"))
    rows = workbook.get_sheet_by_name(sheet).height - 1  # the header
    assert rows == 24_811 == len(run.records)
    assert Counter(r.programme for r in run.records) == {"DETR": 20_382, "DSIL": 4_079,
                                                         "DSID": 350}
    levels = Counter(r.territories[0].split(":")[0] for r in run.records)
    assert levels == {"COM": 22_014, "EPCI": 2_440, "DEP": 357}
    assert run.unmapped == Counter()
    first = run.records[0]
    assert first.id == "dotations-2019:di19_dep000001"
    assert first.porteur == "Ain" and first.tags == ["Economie et emploi", "DSID"]
    assert first.description.endswith("Subvention DSID 2019 de 1 000 000,00 € pour un coût "
                                      "total de 4 000 000,00 € à Ain.")
    # the projects without description get a title from the grant
    untitled = [r for r in run.records if "id_projet" in r.raw and "description" not in r.raw]
    assert len(untitled) == 11
    assert all(re.fullmatch(r"(DETR|DSIL|DSID) 2019 : .+", r.title) for r in untitled)


def test_dotations_communes_are_brought_to_the_latest_vintage(
        runs: dict[str, HarvestRun], observatory: Observatory) -> None:
    run = runs["dotations-2019"]
    communes = [r for r in run.records if r.territories[0].startswith("COM:")]
    assert all(r.commune is not None for r in communes)
    merged = [r for r in communes if r.commune != r.territories[0].removeprefix("COM:")]
    assert len(merged) == 56  # communes merged since 2019: the commune nouvelle's code
    known = set(observatory.reader().names("COM", observatory.latest_vintage()))
    assert all(r.commune in known for r in communes)
    # the point is the centre of the collectivité: no QPV from it
    assert run.summary()["dans_un_qpv"] == 0
    assert sum(r.departement is None for r in run.records) == 1  # the Collectivité de Corse


# -- politique de la ville posts ----------------------------------------------------------


def raw_posts() -> pd.DataFrame:
    rows = []
    for path in sorted(POSTES.glob("*-20*.json")):
        for post in json.loads(path.read_text(encoding="utf-8")):
            rows.append({**post, "fonjep": "fonjep" in path.name})
    return pd.DataFrame(rows)


def test_posts_give_one_structure_per_siret(runs: dict[str, HarvestRun]) -> None:
    run = runs["postes-politique-ville"]
    assert run.error is None and run.failures == []
    posts = raw_posts()
    codes = posts["code_tiers"].astype("string").str.replace(r"\s", "", regex=True)
    sirets = set(codes[codes.str.fullmatch(r"\d{14}").fillna(False)])
    assert len(sirets) == 4_054
    with_siret = [r for r in run.records if r.siret]
    assert {r.siret for r in with_siret} == sirets and len(with_siret) == 4_054
    assert all(r.id == f"postes-politique-ville:{r.siret}" for r in with_siret)
    # FONJEP lists name their employer: 194 of them are the only adultes-relais employer
    # of that name in the département; the others are structures of their own
    programmes = Counter(r.programme for r in run.records)
    assert programmes == {"Adultes-relais": 3_860, "Adultes-relais et FONJEP": 194,
                          "FONJEP": 1_554}
    fonjep = posts[posts["fonjep"]]
    names = set(fonjep["raison_sociale"].map(fold) + "|" + fonjep["insee_dep"].fillna(""))
    assert len(names) == 1_554 + 194
    # every row of the files is in one structure's raw payload (exact duplicates once)
    assert sum(len(r.raw["postes"]) for r in run.records) == len(posts.drop_duplicates()) \
        == 40_029
    record = next(r for r in run.records if r.siret == "00665008900037")
    assert record.title == "HABITATIONS DE HAUTE PROVENCE"
    assert record.territories == ["CV:CN00402M", "CV:CV018", "DEP:04"]
    assert record.description.splitlines()[0] == "2020 : 2 postes d'adultes-relais (39 750,12 €)"
    assert (record.publics, record.actions) == (["habitants-qpv"], ["mediation"])


# -- ids and the run --------------------------------------------------------------------


def test_harvesting_again_changes_no_id(runs: dict[str, HarvestRun], site: LocalSite,
                                        normaliser: Normaliser) -> None:
    for name in ("transiscope", "postes-politique-ville"):
        again = harvest(name, site.data, normaliser, fetcher=quick())
        before = {r.id: r.content_hash() for r in runs[name].records}
        assert {r.id: r.content_hash() for r in again.records} == before
    # read from the folder rather than the web site: the same ids
    local = harvest("transiscope", SHARED_DATA)
    assert [r.id for r in local.records] == [r.id for r in runs["transiscope"].records]


def test_progress_is_reported(runs: dict[str, HarvestRun]) -> None:
    steps = runs["progress"]
    assert ("lecture", 12, 12) in steps  # the twelve yearly lists of posts
    assert ("fiches", 24_811, 24_811) in steps
    assert ("normalisation", 696, 696) in steps


def test_a_source_forbidden_by_robots_txt_fails_the_run(site: LocalSite) -> None:
    run = harvest("transiscope", site.url + "/interdit/", fetcher=quick())
    assert run.records == [] and "robots.txt" in run.error and "interdit" in run.error
    assert site.requested("/interdit/") == []
    assert run.finished >= run.started


def test_a_broken_connector_is_a_failed_run(tmp_path: Path) -> None:
    path = tmp_path / "casse.yaml"
    path.write_text("name: casse\nversion: 1\n", encoding="utf-8")
    run = harvest(path, SHARED_DATA)
    assert run.source == "casse" and run.records == []
    assert "clé 'title' absente ou vide" in run.error


# -- normalisation on real points ---------------------------------------------------------


def test_communes_from_postcode_and_name(site: LocalSite, normaliser: Normaliser) -> None:
    run = harvest(FIXTURES / "france-services.yaml", site.data, normaliser, fetcher=quick())
    truth = pd.read_csv(shared(FRANCE_SERVICES), dtype=str, keep_default_na=False)
    assert len(run.records) == len(truth) == 2_845
    expected = truth.set_index("id_fs")["insee_com"]
    communes = normaliser.communes()
    assert communes is not None
    current = expected.map(communes.current)
    found = pd.Series({r.source_key: r.commune for r in run.records})
    right = (found == current.reindex(found.index)).sum()
    assert right / len(found) > 0.99, found[found != current.reindex(found.index)]
    assert found.notna().all()


def test_qpv_of_points_in_a_2024_qpv(site: LocalSite, normaliser: Normaliser) -> None:
    run = harvest(FIXTURES / "france-services.yaml", site.data, normaliser, fetcher=quick())
    lon = np.array([r.lon for r in run.records], dtype=float)
    lat = np.array([r.lat for r in run.records], dtype=float)
    paca = original(PACA_2024)
    expected = exact_within(lon, lat, paca, "q")
    in_paca = np.array([r.departement in {"04", "05", "06", "13", "83", "84"}
                        for r in run.records])
    got = np.array([r.qpv for r in run.records], dtype=object)
    assert (got[in_paca] == expected[in_paca]).all()
    assert (expected[in_paca] != None).sum() > 0  # noqa: E711
    assert run.summary()["dans_un_qpv"] == int((got != None).sum())  # noqa: E711


def test_qpv_and_commune_of_real_sales(normaliser: Normaliser) -> None:
    sales = pd.read_excel(shared(DVF), dtype={"code_commune": str}).iloc[::25]
    records = [Record(id=f"dvf:{i}", source="dvf", source_key=str(i), title=str(m),
                      lon=x, lat=y) for i, (m, x, y) in enumerate(zip(
                          sales["id_mutation"], sales["longitude"], sales["latitude"],
                          strict=True))]
    normaliser.normalise(records)
    lon, lat = sales["longitude"].to_numpy(), sales["latitude"].to_numpy()
    expected = exact_within(lon, lat, original(OCCITANIE), "code_qp")
    assert [r.qpv for r in records] == list(expected)
    assert [r.commune for r in records] == sales["code_commune"].str.zfill(5).tolist()
    assert sum(r.qpv is not None for r in records) > 1000


def test_without_a_warehouse_only_the_departement_is_derived() -> None:
    records = [Record(id="x:1", source="x", source_key="1", title="a", commune="2A004",
                      lat=41.92, lon=8.74),
               Record(id="x:2", source="x", source_key="2", title="b", postcode="13001",
                      commune_name="Marseille")]
    assert Normaliser().normalise(records) == []
    assert [(r.commune, r.departement, r.qpv) for r in records] == [
        ("2A004", "2A", None), (None, None, None)]
