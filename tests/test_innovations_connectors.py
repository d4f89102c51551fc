"""Connectors: their YAML, the readers of each format, and what a layout change does.

The HTML pages, the RSS feed and the JSON-LD graph of these tests are written here from
real rows of the Transiscope export (``../shared/data``: name, description, tags,
site, point), served by the loopback site of ``test_innovations_fetching``; their
connectors are in ``tests/data/innovations/``. The only content not taken from the
export is the attack a test adds on purpose to a description (a ``<script>`` and an
``onerror`` handler), to check that it never reaches a record.
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from cohesion.errors import CohesionError, InputFileError
from cohesion.innovations.connectors import SOURCES
from cohesion.innovations.connectors.base import builtin_connectors, load_connector, web_address
from cohesion.innovations.connectors.spec import load_spec
from cohesion.innovations.harvest import harvest
from cohesion.innovations.records import fold
from cohesion.innovations.taxonomy import ConceptTree, Taxonomy
from conftest import shared
from test_innovations_fetching import TRANSISCOPE, LocalSite, quick, serve_site

FIXTURES = Path(__file__).parent / "data" / "innovations"
TREE = "social_innovation/gogocarto_transiscope_sample/taxonomy-transiscope.js"
ATTACK = '<script>alert("moisson")</script><img src="x" onerror="alert(1)">'



@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSite]:
    """The loopback web site of the real data (see ``test_innovations_fetching``)."""
    yield from serve_site(tmp_path_factory)

@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """The first 12 rows of the export that have a name and a description."""
    table = pd.read_csv(shared(TRANSISCOPE), dtype=str, keep_default_na=False)
    return table[(table["name"] != "") & (table["description"] != "")].head(12)


def tags_of(row: pd.Series) -> list[str]:
    return [t.strip() for t in f"{row['taxonomy']};{row['tags']}".replace(";", ",").split(",")
            if t.strip()]


def item_html(row: pd.Series, attack: str = "", title: str = "h2") -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in row["description"].split("\n")
                         if p.strip())
    site = f'<a class="site" href="{html.escape(row["site"])}">site</a>' if row["site"] else ""
    tags = "".join(f"<li>{html.escape(t)}</li>" for t in tags_of(row))
    return (f'<article class="initiative"><{title}>{html.escape(row["name"])}</{title}>'
            f'<div class="description">{paragraphs}{attack}</div>{site}'
            f'<ul class="etiquettes">{tags}</ul>'
            f'<span class="carte" data-lat="{row["lat"]}" data-lon="{row["lon"]}"></span>'
            "</article>")


def write_pages(site: LocalSite, rows: pd.DataFrame, item: str = "article.initiative",
                title: str = "h2") -> None:
    """Two list pages of the rows, the first linking to the second."""
    first, second = rows.iloc[:7], rows.iloc[7:]
    for number, part, link in ((1, first, '<a class="suivante" href="initiatives-2.html">'
                                "Suivante</a>"), (2, second, "")):
        items = "".join(item_html(row, ATTACK if n == 0 else "", title)
                        for n, (_, row) in enumerate(part.iterrows()))
        if item != "article.initiative":
            items = items.replace('<article class="initiative">', '<div class="fiche">') \
                .replace("</article>", "</div>")
        site.page(f"initiatives-{number}.html",
                  f"<!doctype html><html><body><main>{items}</main>{link}</body></html>")


def run(site: LocalSite, connector: object) -> object:
    return harvest(connector, site.url + "/", fetcher=quick())  # type: ignore[arg-type]


# -- the YAML ---------------------------------------------------------------------------


def test_the_shipped_connectors_load() -> None:
    assert builtin_connectors() == ["dotations-2019", "postes-politique-ville", "transiscope"]
    kinds = {name: type(load_connector(name)).__name__ for name in builtin_connectors()}
    assert kinds == {"dotations-2019": "DotationsConnector",
                     "postes-politique-ville": "PostesConnector", "transiscope": "Connector"}
    for path in FIXTURES.glob("*.yaml"):
        assert load_spec(path).name == path.stem


@pytest.mark.parametrize(("text", "message", "line"), [
    ("formt: csv\n", "clé inconnue 'formt' ; vouliez-vous dire 'format' ?", 2),
    ("fields:\n  title: name\n  title: nom\n", "clé 'title' donnée deux fois", 4),
    ("fields:\n  title: {from: name, transforms: [premiere_phrase]}\n",
     "transformation inconnue 'premiere_phrase'", 3),
    ("fields:\n  title: {select: h2}\n", "select ne sert qu'aux sources HTML", 3),
    ("fields:\n  summary: name\n", "le champ title est obligatoire", 2),
    ("fields:\n  title: {from: name, transforms: [{shorten: 3}]}\n",
     "argument de shorten invalide", 3),
    ("fields:\n  title: name\n  siren: siren\n", "clé inconnue 'siren'", 4),
])
def test_connector_files_are_checked_with_line_and_key(tmp_path: Path, text: str,
                                                       message: str, line: int) -> None:
    base = ("name: essai\nversion: 1\ntitle: Essai\nproducer: Moi\nlicence: ODbL\n"
            "format: csv\nlocation: a.csv\nkey: {title: true}\n")
    lines = base.splitlines(keepends=True)
    document = "".join(lines[:1]) + text + "".join(
        line_ for line_ in lines[1:] if not line_.startswith(text.split(":")[0] + ":"))
    path = tmp_path / "essai.yaml"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        load_spec(path)
    assert message in str(caught.value)
    assert caught.value.line == line


def test_a_connector_class_must_be_a_cohesion_connector(tmp_path: Path) -> None:
    text = (SOURCES / "transiscope.yaml").read_text(encoding="utf-8")
    path = tmp_path / "ailleurs.yaml"
    path.write_text(text.replace("format: csv", "format: csv\nclass: os:system"),
                    encoding="utf-8")
    with pytest.raises(CohesionError, match="classe de connecteur refusée"):
        load_connector(path)
    with pytest.raises(CohesionError, match="connecteur inconnu 'transiscop'"):
        load_connector("transiscop")


# -- CSV --------------------------------------------------------------------------------


def test_a_csv_in_another_encoding_than_declared_names_the_line(site: LocalSite) -> None:
    data = shared(TRANSISCOPE).read_bytes()
    latin = data.decode("utf-8").encode("cp1252", errors="replace")
    first = next(i for i, byte in enumerate(latin) if byte >= 0x80)
    line = latin.count(b"\n", 0, first) + 1
    site.page("transiscope-cp1252.csv", latin)
    spec = load_connector("transiscope").spec
    wrong = load_connector("transiscope")
    wrong.spec = dataclasses.replace(spec, locations=("pages/transiscope-cp1252.csv",),
                                     tree=f"donnees/{TREE}")
    result = run(site, wrong)
    assert result.records == []
    assert f"transiscope-cp1252.csv, ligne {line} : le fichier n'est pas en utf-8" in result.error
    assert "0x" in result.error
    # the other way round: declared cp1252, written in UTF-8 (« Ã© » otherwise)
    wrong.spec = dataclasses.replace(spec, locations=(f"donnees/{TRANSISCOPE}",),
                                     tree=f"donnees/{TREE}", encoding="cp1252")
    result = run(site, wrong)
    first_utf8 = next(i for i, byte in enumerate(data) if byte >= 0x80)
    line = data.count(b"\n", 0, first_utf8) + 1
    assert f"ligne {line} : le fichier est en UTF-8" in result.error


def test_a_missing_column_fails_the_run(site: LocalSite) -> None:
    text = shared(TRANSISCOPE).read_text(encoding="utf-8")
    site.page("sans-nom.csv", text.replace("name,description", "nom,description", 1))
    connector = load_connector("transiscope")
    connector.spec = dataclasses.replace(connector.spec, locations=("pages/sans-nom.csv",),
                                         tree=f"donnees/{TREE}")
    result = run(site, connector)
    assert result.records == [] and result.failures == []
    assert "colonne 'name' absente, nécessaire pour le connecteur transiscope" in result.error


def test_a_web_page_instead_of_a_csv_is_refused(site: LocalSite) -> None:
    site.page("erreur.csv", "<!DOCTYPE html><html><body>Connexion requise</body></html>")
    connector = load_connector("transiscope")
    connector.spec = dataclasses.replace(connector.spec, locations=("pages/erreur.csv",))
    assert "page web au lieu des données" in run(site, connector).error


# -- HTML pages -------------------------------------------------------------------------


def test_html_pages_are_read_through_their_next_links(site: LocalSite,
                                                      rows: pd.DataFrame) -> None:
    write_pages(site, rows)
    result = run(site, FIXTURES / "transiscope-pages.yaml")
    assert result.error is None, result.error
    assert [r.title for r in result.records] == [" ".join(n.split()) for n in rows["name"]]
    assert len(result.fetched) == 3  # two pages and the category tree
    first = result.records[0]
    assert first.description.startswith(rows["description"].iloc[0].split("\n")[0].strip())
    for record in result.records:
        assert "<" not in record.description and "alert" not in record.description
        # nor in the raw payload, whose markup is kept but made safe
        assert "<script" not in json.dumps(record.as_dict())
        assert "onerror" not in json.dumps(record.as_dict())
    assert first.source_url == f"{site.url}/pages/initiatives-1.html"
    assert result.records[-1].source_url == f"{site.url}/pages/initiatives-2.html"
    assert first.lat == float(rows["lat"].iloc[0])
    # links are resolved as a browser does (a bare « www.x.org » is relative to the page)
    with_site = [(r, s) for r, s in zip(result.records, rows["site"], strict=True)
                 if s.startswith("http")]
    assert with_site and all(r.url == s for r, s in with_site)
    # the tags are mapped: « education » is a Transiscope category code
    assert first.tags[0] == "Education" and "education-formation" in first.domaines


def test_html_selectors_that_match_nothing_fail_the_run(site: LocalSite,
                                                        rows: pd.DataFrame) -> None:
    write_pages(site, rows, item="div.fiche")
    result = run(site, FIXTURES / "transiscope-pages.yaml")
    assert result.records == []
    assert "le sélecteur d'entrées 'article.initiative' ne trouve rien" in result.error
    write_pages(site, rows, title="h3")
    result = run(site, FIXTURES / "transiscope-pages.yaml")
    assert "le sélecteur 'h2' du champ title ne trouve rien dans aucune entrée" in result.error


# -- RSS and JSON-LD --------------------------------------------------------------------


def test_an_rss_feed(site: LocalSite, rows: pd.DataFrame) -> None:
    items = "".join(
        f"<item><title>{html.escape(row['name'])}</title>"
        + (f"<link>{html.escape(row['site'])}</link>" if row["site"] else "")
        + f"<description>{html.escape(row['description'] + (ATTACK if n == 0 else ''))}"
        "</description>"
        + "".join(f"<category>{html.escape(t)}</category>" for t in tags_of(row))
        + "<pubDate>Fri, 31 May 2024 08:00:00 +0200</pubDate></item>"
        for n, (_, row) in enumerate(rows.iterrows()))
    site.page("initiatives.rss", '<?xml version="1.0" encoding="utf-8"?><rss version="2.0">'
              f"<channel><title>Initiatives</title>{items}</channel></rss>")
    result = run(site, FIXTURES / "transiscope-flux.yaml")
    assert result.error is None, result.error
    assert len(result.records) == len(rows)
    by_url = {r.url: r for r in result.records if r.url}
    assert set(by_url) == {web_address(s) for s in rows["site"] if s}
    for record in by_url.values():
        assert record.id.startswith("transiscope-flux:url:")
    assert all("alert" not in r.description for r in result.records)
    assert {r.updated for r in result.records} == {"2024-05-31T06:00:00Z"}
    assert result.records[0].tags == ["Education", "Associations", "Solidarité", "Parentalité"]


def jsonld_graph(rows: pd.DataFrame) -> dict[str, object]:
    nodes: list[dict[str, object]] = []
    for n, (_, row) in enumerate(rows.iterrows()):
        project = {"@id": f"#projet-{n}", "@type": "schema:Project", "name": row["name"],
                   "description": row["description"], "keywords": tags_of(row),
                   "location": {"@id": f"#lieu-{n}"}}
        if row["site"]:
            project["url"] = row["site"]
        nodes += [project, {"@id": f"#lieu-{n}", "@type": "Place", "geo": {
            "@type": "GeoCoordinates", "latitude": float(row["lat"]),
            "longitude": float(row["lon"])}}]
    return {"@context": "https://schema.org", "@graph": nodes}


def test_a_json_ld_graph_in_a_file_or_in_a_page(site: LocalSite, rows: pd.DataFrame) -> None:
    graph = jsonld_graph(rows)
    site.page("initiatives.jsonld", json.dumps(graph, ensure_ascii=False))
    result = run(site, FIXTURES / "transiscope-jsonld.yaml")
    assert result.error is None, result.error
    assert [r.title for r in result.records] == [" ".join(n.split()) for n in rows["name"]]
    assert [r.lon for r in result.records] == [float(v) for v in rows["lon"]]
    # the same graph in a web page's script
    site.page("initiatives.html", "<!doctype html><html><head><script type="
              f'"application/ld+json">{json.dumps(graph)}</script></head><body></body></html>')
    connector = load_connector(FIXTURES / "transiscope-jsonld.yaml")
    connector.spec = dataclasses.replace(connector.spec, locations=("pages/initiatives.html",))
    again = run(site, connector)
    assert [r.id for r in again.records] == [r.id for r in result.records]


# -- taxonomy ---------------------------------------------------------------------------


def test_the_transiscope_tree_is_read_as_data_and_checked() -> None:
    text = shared(TREE).read_text(encoding="utf-8")
    tree = ConceptTree.from_javascript(text, TREE)
    assert len(tree.parents) == 50
    assert tree.ancestors("Culture") == ["Culture", "culture, medias et lien social",
                                         "domaines"]
    vocabulary = Taxonomy.load().vocabulary("transiscope", tree)
    # « Espaces de rencontres… » is listed; « Développement personnel, bien-être » takes
    # the facets of its parent « bien-être physique et personnel »
    assert vocabulary.meanings[fold("Développement personnel, bien-être")].domaines == \
        ("sante",)
    renamed = text.replace('"prefLabel": "Finance éthique"', '"prefLabel": "Finance"')
    with pytest.raises(CohesionError, match="absentes de l'arbre de la source : Finance éthique"):
        Taxonomy.load().vocabulary("transiscope", ConceptTree.from_javascript(renamed, TREE))
    with pytest.raises(InputFileError, match="pas d'arbre de catégories"):
        ConceptTree.from_javascript("alert('pas un arbre')", TREE)


@pytest.fixture
def broken_taxonomy(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "taxonomy.yaml"
    text = (Path(SOURCES).parent / "taxonomy.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("{domaines: [lien-social], publics: [habitants-qpv], "
                                 "actions: [mediation]}",
                                 "{domaines: [lien_social], publics: [habitants-qpv]}"),
                    encoding="utf-8")
    yield path


def test_the_taxonomy_refuses_an_unknown_facet_value(broken_taxonomy: Path) -> None:
    with pytest.raises(InputFileError, match="valeur de domaines inconnue") as caught:
        Taxonomy.load(broken_taxonomy)
    assert caught.value.column == "vocabulaires.postes-politique-ville.categories." \
        "adultes-relais.domaines"
