"""Search of innovations: the same behaviour on both backends, tantivy and PostgreSQL.

The documents are built from real records: the Transiscope export (700 initiatives) and
the ANCT dotations d'investissement 2019 of five départements (1,592 funded projects),
by the loader the search benchmark shares (``benchmarks/bench_search.py``). The service
feeds the index with entity documents merged from harvested records (connectors and
deduplication are tested elsewhere); this loader only shapes the sample rows into the
same fields. The samples have no update dates: the loader gives each document a synthetic
one (stated as such) so that the date order can be tested.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import tantivy
from benchmarks.bench_search import dotations_documents, transiscope_documents
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cohesion.errors import BusyError, CohesionError, ConflictError, ErrorKind, NotFoundError
from cohesion.innovations import fold
from cohesion.innovations.search import (
    FACETS,
    SearchIndex,
    SearchQuery,
    haversine_km,
    open_index,
    sort_facet,
)
from cohesion.innovations.search.postgres_index import PostgresIndex
from cohesion.innovations.search.tantivy_index import TantivyIndex
from conftest import shared

TRANSISCOPE = "social_innovation/gogocarto_transiscope_sample/elements_pwa_alternatives.csv"
DOTATIONS = ("subventions/anct_dotations_investissement_2019/"
             "projets_dotations_investissement_2019.xlsx")
DEPARTEMENTS = {"14", "19", "23", "31", "87"}
BACKENDS = ["tantivy", "postgres"]


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return [*transiscope_documents(shared(TRANSISCOPE)),
            *dotations_documents(shared(DOTATIONS), DEPARTEMENTS)]


@pytest.fixture(scope="module")
def by_id(corpus: list[dict]) -> dict[str, dict]:
    return {doc["id"]: doc for doc in corpus}


@pytest.fixture(scope="module")
def postgres_url(postgres_server) -> str:
    return postgres_server.create_database("innovations_search_tests")


@pytest.fixture(scope="module")
def tantivy_main(corpus: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with TantivyIndex(tmp_path_factory.mktemp("search") / "index") as index:
        index.rebuild(corpus)
        yield index


@pytest.fixture(scope="module")
def postgres_main(corpus: list[dict], postgres_url: str) -> Iterator:
    with PostgresIndex(postgres_url, table="search_main") as index:
        index.rebuild(corpus)
        yield index


@pytest.fixture(params=BACKENDS)
def index(request: pytest.FixtureRequest) -> SearchIndex:
    """The index of the whole corpus, on each backend (read only)."""
    return request.getfixturevalue(f"{request.param}_main")


_tables = itertools.count()


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchIndex]:
    """An empty index of each backend, for the tests that write."""
    if request.param == "tantivy":
        target = tmp_path / "index"
        options = {}
    else:
        target = request.getfixturevalue("postgres_url")
        options = {"table": f"search_fresh_{next(_tables)}"}
    with open_index(target, **options) as index:
        yield index


def text_of(doc: dict) -> str:
    """The searchable text of a document, folded (lower case, no accents)."""
    return fold(" ".join([doc["title"], doc.get("description") or "",
                          doc.get("porteur") or "", doc.get("commune_name") or "",
                          *doc.get("tags", []), *doc.get("domaines", [])]))


def all_ids(index: SearchIndex, **query) -> list[str]:
    """Every hit of a query, page by page."""
    ids, page = [], 1
    while True:
        result = index.search(SearchQuery(page=page, per_page=100, **query))
        ids += [hit.id for hit in result.hits]
        if len(result.hits) < 100:
            assert len(ids) == result.total
            return ids
        page += 1


def test_open_index_picks_the_backend(tantivy_main, postgres_url: str, tmp_path: Path):
    with open_index(tmp_path / "embedded") as embedded:
        assert isinstance(embedded, TantivyIndex)
    with open_index(postgres_url, table="search_open") as server:
        assert isinstance(server, PostgresIndex)


def test_the_whole_corpus_is_indexed(index: SearchIndex, corpus: list[dict]):
    assert len(index) == len(corpus) == 2292
    assert index.get("transiscope:1")["title"] == "1,2,3...Parents"
    assert index.get("nowhere:1") is None


def test_accents_are_folded(index: SearchIndex, corpus: list[dict]):
    expected = {doc["id"] for doc in corpus
                if re.search(r"\bcreches?\b", text_of(doc))}
    assert len(expected) >= 6
    assert set(all_ids(index, text="creche")) == expected
    assert set(all_ids(index, text="CRÈCHES")) == expected


def test_words_are_stemmed(index: SearchIndex, corpus: list[dict]):
    found = set(all_ids(index, text="jardins partagés"))
    singular = {doc["id"] for doc in corpus if "jardin partage " in text_of(doc) + " "}
    plural = {doc["id"] for doc in corpus if "jardins partages" in text_of(doc)}
    assert singular and plural
    assert singular | plural <= found


@pytest.mark.parametrize(("typed", "meant"), [
    ("epiceire solidaire", "epicerie solidaire"),  # a transposition
    ("maisson de santé", "maison de sante"),  # a letter too many
    ("pluridiciplinaire", "pluridisciplinaire"),  # two edits allowed on a long word
    ("associaton parentalité", "association parentalite"),  # in the stemmed suffix
    ("educaiton populaire", "education populaire"),
])
def test_typos_are_tolerated(index: SearchIndex, by_id: dict, typed: str, meant: str):
    hits = index.search(SearchQuery(text=typed, per_page=5)).hits
    assert hits
    for hit in hits:
        assert all(re.search(rf"\b{word}", text_of(by_id[hit.id])) for word in meant.split())


def test_a_known_word_is_taken_as_typed(index: SearchIndex, by_id: dict):
    # « santé » is one edit from « saint », which names many communes: not a typo
    for doc_id in all_ids(index, text="santé"):
        assert "sante" in text_of(by_id[doc_id])


def test_phrases_keep_their_words_together(index: SearchIndex, corpus: list[dict]):
    phrase = set(all_ids(index, text='"maison de santé"'))
    words = set(all_ids(index, text="maison santé"))
    expected = {doc["id"] for doc in corpus
                if re.search(r"\bmaisons? de sante", text_of(doc))}
    assert phrase == expected
    assert phrase < words


def test_prefixes(index: SearchIndex, by_id: dict):
    found = all_ids(index, text="recycl*")
    assert "transiscope:188" in found  # Recyclabulle
    for doc_id in found:
        assert re.search(r"\brecycl", text_of(by_id[doc_id]))
    with pytest.raises(CohesionError, match="au moins 2 lettres") as raised:
        index.search(SearchQuery(text="r*"))
    assert raised.value.kind is ErrorKind.INVALID


def test_search_as_you_type_completes_the_last_word(index: SearchIndex):
    typed = index.search(SearchQuery(text="maison de sa", as_you_type=True, per_page=30))
    assert any("santé" in hit.title for hit in typed.hits)
    assert typed.total < index.search(SearchQuery(text="maison")).total


def test_excluded_words(index: SearchIndex, by_id: dict):
    kept = all_ids(index, text="jardin -souvenir")
    assert kept and not any("souvenir" in text_of(by_id[i]) for i in kept)
    assert len(kept) == (index.search(SearchQuery(text="jardin")).total
                         - index.search(SearchQuery(text="jardin souvenir")).total)


def facet_values(doc: dict, name: str) -> list[str]:
    if name == "departement":
        return [doc["departement"]] if doc.get("departement") else []
    if name == "qpv":
        return ["oui" if doc.get("qpv") else "non"]
    return list(dict.fromkeys(doc.get(name, [])))


@pytest.mark.parametrize("text", ["", "jardin", "maison de sante"])
def test_facet_counts_are_those_of_the_hits(index: SearchIndex, by_id: dict, text: str):
    ids = all_ids(index, text=text)
    result = index.search(SearchQuery(text=text, facets=FACETS, facet_limit=200))
    for name in FACETS:
        counted = Counter(v for i in ids for v in facet_values(by_id[i], name))
        assert result.facets[name] == sort_facet(counted.items(), 200), name


def test_facet_filters(index: SearchIndex, corpus: list[dict]):
    filters = {"sources": ["dotations-2019"], "programmes": ["DSIL", "DSID"]}
    expected = {doc["id"] for doc in corpus if "dotations-2019" in doc["sources"]
                and set(doc.get("programmes", [])) & {"DSIL", "DSID"}}
    assert expected
    assert set(all_ids(index, filters=filters)) == expected
    with pytest.raises(CohesionError, match="facette inconnue"):
        SearchQuery(filters={"couleur": ["bleu"]})


@pytest.mark.parametrize("territory", ["DEP:87", "EPCI:241927201", "COM:31555"])
def test_territory_filters(index: SearchIndex, corpus: list[dict], territory: str):
    level, code = territory.split(":")
    key = {"DEP": "departement", "COM": "commune"}.get(level)
    expected = {doc["id"] for doc in corpus
                if (doc.get(key) == code if key else territory in doc.get("territories", []))}
    assert expected
    assert set(all_ids(index, territories=[territory])) == expected


def test_map_bounds(index: SearchIndex, corpus: list[dict]):
    bbox = (0.8, 45.4, 2.0, 46.2)  # around Limoges
    expected = {doc["id"] for doc in corpus
                if bbox[0] <= doc["lon"] <= bbox[2] and bbox[1] <= doc["lat"] <= bbox[3]}
    assert 10 < len(expected) < len(corpus) / 2
    assert set(all_ids(index, bbox=bbox)) == expected
    assert set(all_ids(index, bbox=bbox, text="association")) < expected


def test_date_order(index: SearchIndex):
    updated = [hit.document["updated"] for page in (1, 2, 3) for hit in index.search(
        SearchQuery(text="travaux", sort="date", page=page, per_page=25)).hits]
    assert len(updated) == 75 and updated == sorted(updated, reverse=True)


def test_proximity_order(index: SearchIndex, corpus: list[dict]):
    limoges = (1.2611, 45.8336)
    hits = [hit for page in (1, 2, 3) for hit in index.search(
        SearchQuery(text="jardin", sort="proximity", point=limoges, page=page,
                    per_page=10)).hits]
    distances = [hit.distance_km for hit in hits]
    assert distances == sorted(distances)
    nearest = min(haversine_km(*limoges, doc["lon"], doc["lat"]) for doc in corpus
                  if re.search(r"\bjardin", text_of(doc)) and doc["id"] in {h.id for h in hits})
    assert distances[0] == pytest.approx(nearest)
    everything = index.search(SearchQuery(sort="proximity", point=limoges, per_page=5))
    assert everything.total == len(corpus)
    assert everything.hits[0].distance_km == pytest.approx(min(
        haversine_km(*limoges, doc["lon"], doc["lat"]) for doc in corpus))
    with pytest.raises(CohesionError, match="demande un point"):
        SearchQuery(sort="proximity")


@pytest.mark.parametrize(("text", "sort"), [("jardin", "relevance"), ("", "date"),
                                            ("maison", "relevance")])
def test_pages_are_stable(index: SearchIndex, text: str, sort: str):
    whole = [h.id for h in index.search(SearchQuery(text=text, sort=sort, per_page=63)).hits]
    paged = [h.id for page in range(1, 10) for h in index.search(
        SearchQuery(text=text, sort=sort, page=page, per_page=7)).hits]
    assert paged == whole and len(set(whole)) == len(whole)
    again = [h.id for h in index.search(SearchQuery(text=text, sort=sort, per_page=63)).hits]
    assert again == whole


def test_a_page_past_the_end_is_empty(index: SearchIndex):
    total = index.search(SearchQuery(text="crèche")).total
    beyond = index.search(SearchQuery(text="crèche", page=5, per_page=100))
    assert beyond.hits == [] and beyond.total == total


def test_hits_carry_highlighted_snippets(index: SearchIndex):
    hit = index.search(SearchQuery(text="épicerie solidaire")).hits[0]
    assert "<mark>épicerie</mark>" in hit.snippet and "<mark>solidaire</mark>" in hit.snippet
    assert hit.document["id"] == hit.id and hit.score > 0


@pytest.mark.parametrize("text", ["creche", "jardins partagés", '"maison de santé"',
                                  "epiceire solidaire", "recycl*", "jardin -souvenir"])
def test_both_backends_find_the_same(tantivy_main, postgres_main, text: str):
    assert set(all_ids(tantivy_main, text=text)) == set(all_ids(postgres_main, text=text))


def test_similar_innovations_are_explained(index: SearchIndex, by_id: dict):
    similar = index.similar("transiscope:1", k=5)  # « 1,2,3...Parents », parentalité
    assert [s.id for s in similar][:2] == ["transiscope:49", "transiscope:38"]
    assert "transiscope:1" not in [s.id for s in similar]
    assert [s.score for s in similar] == sorted((s.score for s in similar), reverse=True)
    source = text_of(by_id["transiscope:1"])
    for found in similar:
        assert found.terms
        for term in found.terms:
            assert fold(term) in source and fold(term)[:5] in text_of(by_id[found.id])
    with pytest.raises(NotFoundError):
        index.similar("nowhere:1")
    with pytest.raises(CohesionError, match="entre 1 et 50"):
        index.similar("transiscope:1", k=0)


def test_similar_elsewhere_leaves_the_commune_out(index: SearchIndex, corpus: list[dict]):
    doc = next(d for d in corpus if d["id"] == "dotations-2019:di19_com14272")
    communes = {d["id"]: d.get("commune") for d in corpus}
    elsewhere = index.similar(doc["id"], k=20)
    assert elsewhere and doc["commune"] not in {communes[s.id] for s in elsewhere}


def test_upsert_replaces_and_delete_removes(fresh: SearchIndex, corpus: list[dict]):
    assert fresh.rebuild(corpus[:50]) == 50 and len(fresh) == 50
    before = all_ids(fresh, text="friperie")
    changed = {**corpus[3], "title": "Accorderie du Val de l'Aurence", "qpv": "QN08705I",
               "description": "Échange de services entre habitants du quartier", "tags": []}
    assert changed["id"] in before
    assert fresh.upsert([changed]) == 1
    assert len(fresh) == 50
    assert set(all_ids(fresh, text="friperie")) == set(before) - {changed["id"]}
    assert changed["id"] in all_ids(fresh, text="aurence")
    in_qpv = fresh.search(SearchQuery(territories=["QPV:QN08705I"], facets=["qpv"]))
    assert [h.id for h in in_qpv.hits] == [changed["id"]]
    assert in_qpv.facets["qpv"] == [("oui", 1)]
    assert fresh.delete([changed["id"], "nowhere:1"]) == 1
    assert len(fresh) == 49 and fresh.get(changed["id"]) is None
    assert changed["id"] not in all_ids(fresh, text="aurence")
    assert fresh.search(SearchQuery(territories=["QPV:QN08705I"])).total == 0
    assert fresh.delete([changed["id"]]) == 0


def test_the_last_of_two_documents_with_one_id_wins(fresh: SearchIndex, corpus: list[dict]):
    first, second = {**corpus[0], "title": "Premier"}, {**corpus[0], "title": "Second"}
    fresh.upsert([first, second])
    assert len(fresh) == 1 and fresh.get(corpus[0]["id"])["title"] == "Second"


def test_a_bad_document_changes_nothing(fresh: SearchIndex, corpus: list[dict]):
    fresh.rebuild(corpus[:10])
    bad = {**corpus[20], "lat": 123.0}
    with pytest.raises(CohesionError, match="hors des coordonnées") as raised:
        fresh.upsert([corpus[10], bad])
    assert raised.value.kind is ErrorKind.INVALID and str(corpus[20]["id"]) in str(raised.value)
    with pytest.raises(CohesionError, match="date de mise à jour"):
        fresh.rebuild([corpus[11], {**corpus[12], "updated": "hier"}])
    assert len(fresh) == 10 and fresh.get(corpus[10]["id"]) is None


def test_snippets_are_html_safe(fresh: SearchIndex):
    fresh.upsert([{"id": "x:1", "title": "Crèche",
                   "description": "<script>alert(1)</script> une crèche parentale"}])
    snippet = fresh.search(SearchQuery(text="creche")).hits[0].snippet
    assert "<mark>crèche</mark>" in snippet
    assert "<" not in re.sub(r"</?mark>", "", snippet)  # escaped (tantivy) or left out


@pytest.mark.parametrize(("query", "message"), [
    ({"text": '"jardin partagé'}, "guillemets sans les fermer"),
    ({"text": "jar*din"}, "qu'en fin de mot"),
    ({"text": " ".join(["mot"] * 21)}, "20 au plus"),
])
def test_unreadable_queries_get_a_french_error(index: SearchIndex, query: dict, message: str):
    with pytest.raises(CohesionError, match=message) as raised:
        index.search(SearchQuery(**query))
    assert raised.value.kind is ErrorKind.INVALID


@pytest.mark.parametrize(("options", "message"), [
    ({"text": "x" * 301}, "300 au plus"),
    ({"per_page": 101}, "entre 1 et 100"),
    ({"per_page": 0}, "entre 1 et 100"),
    ({"page": 0}, "commencent à 1"),
    ({"page": 200, "per_page": 100}, "préciser la recherche"),
    ({"sort": "hasard"}, "tri inconnu"),
    ({"bbox": (2.0, 45.0, 1.0, 46.0)}, "ouest < est"),
    ({"point": (1.0, 95.0)}, "longitude, latitude"),
    ({"territories": ["Limoges"]}, "identifiant de territoire"),
    ({"facets": ["couleur"]}, "facette inconnue"),
    ({"facet_limit": 0}, "facet_limit"),
])
def test_queries_are_checked_at_the_boundary(options: dict, message: str):
    with pytest.raises(CohesionError, match=message) as raised:
        SearchQuery(**options)
    assert raised.value.kind is ErrorKind.INVALID


#: Letters, accents, the query syntax, what SQL and tsquery give a meaning to, NUL.
QUERY_TEXT = st.lists(st.sampled_from([*"abcéèçœß0 -*\"':!&|()<>\\%_\x00", "jardin", "saint",
                                       "de", " OR ", "ǅ", "😀"]), max_size=30).map("".join)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=QUERY_TEXT, as_you_type=st.booleans())
def test_any_text_gets_a_result_or_a_french_error(index: SearchIndex, text: str,
                                                  as_you_type: bool):
    try:
        result = index.search(SearchQuery(text=text, as_you_type=as_you_type,
                                          facets=["domaines"]))
    except CohesionError as error:
        assert error.kind is ErrorKind.INVALID
    else:
        assert result.total >= len(result.hits)


def test_nul_characters_are_dropped(fresh: SearchIndex):
    fresh.upsert([{"id": "x:1", "title": "Crèche\x00 parentale", "tags": ["a\x00b"]}])
    assert fresh.get("x:1")["title"] == "Crèche parentale"
    assert fresh.search(SearchQuery(text="crèche\x00")).total == 1


def test_a_second_writer_waits_its_turn(tmp_path: Path, corpus: list[dict]):
    with TantivyIndex(tmp_path / "index") as index:
        index.upsert(corpus[:2])
        held = tantivy.Index.open(str(tmp_path / "index")).writer(15_000_000, 1)
        with pytest.raises(BusyError, match="réessayer") as raised:
            index.upsert(corpus[2:4])
        assert raised.value.kind is ErrorKind.BUSY
        held.wait_merging_threads()  # releases the lock
        assert index.upsert(corpus[2:4]) == 2 and len(index) == 4


def test_a_folder_that_is_not_an_index_is_refused(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("rien", encoding="utf-8")
    with pytest.raises(ConflictError, match="dossier non vide"):
        TantivyIndex(tmp_path)
