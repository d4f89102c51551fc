"""The embedded search index, the default: a folder of tantivy segments, no server.

French analysis
---------------
One analyzer, :func:`french_analyzer`, reads both the documents and the queries: words
split on anything that is not a letter or a digit, lower-cased, French stop words
dropped, accents folded (« crèche » → ``creche``), then stemmed by the Snowball French
stemmer (« jardins partagés » → ``jardin partag``). The same words, folded but not
stemmed, make a second field, ``words``: typos and prefixes are matched against them,
as written.

Typo tolerance, only for a word the index does not know
(:data:`~cohesion.innovations.search.KNOWN_WORD_DOCS`): the known words within the edit
distance :func:`~cohesion.innovations.search.typo_distance` allows (a transposition
counting one edit) and starting with the same letter are looked up in the vocabulary and
their stems searched, ranked as any word at half weight (so « associaton » finds
« associations » too); a fuzzy match (Levenshtein automaton) finds the rest, rare forms
and words misspelt on their first letter, at a low constant score. The misspelt word
itself is not ranked: as a rare word it would weigh more than its correction. Matching
typos against stems would miss the commonest ones: the stemmer strips « -tion » from
« association », not from « associaton ».

A prefix ``mot*`` (or the last word typed, searching as you type) is expanded into the
stems of the most frequent words starting with it (:data:`PREFIX_WORDS`), ranked as any
word at half weight; the rarer words starting with it are found at a constant score.
When the words before it follow each other as typed, the documents where they do too,
followed by one of the :data:`SEQUENCE_WORDS` most frequent completions
(« maison de sa » → « maison de santé »), come first (:data:`SEQUENCE_BOOST`): else a
two-letter prefix would rank the rare « saisonniers » above « santé ».

Fields
------
``title`` and ``body`` (all the searchable text, title included) are analyzed with
positions (phrases), ``words`` without (it only says which documents hold a word); the
facets and territories are kept verbatim (``raw``), the facets in columns (fast fields)
so that tantivy's terms aggregation counts them over the matching documents; ``lat``,
``lon`` and ``updated`` are numeric fast fields (bounds, distance, date order); the whole
document is stored as JSON.

Writes go through one short-lived writer (tantivy allows one per folder, across
processes): it is opened, used, committed and released at each call, so that a web
server and a command-line rebuild can share a folder one write at a time.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tantivy
from rapidfuzz.distance import OSA
from tantivy import Filter, Occur, Order, Query, TextAnalyzerBuilder, Tokenizer

from cohesion.errors import BusyError, ConflictError, NotFoundError
from cohesion.innovations.search import (
    COMMON_WORDS,
    FACETS,
    KNOWN_WORD_DOCS,
    Hit,
    IndexedDocument,
    ParsedText,
    Point,
    SearchIndex,
    SearchQuery,
    SearchResult,
    SimilarHit,
    check_similar_k,
    haversine_km,
    place_of,
    prepare_document,
    snippet_html,
    sort_facet,
    typo_distance,
)

#: Bumped when the schema or the analysis changes: an index of another version must be
#: rebuilt, its terms would not match the queries.
SCHEMA_VERSION = 1
ANALYZER = "fr_cohesion"
WORDS_ANALYZER = "fr_cohesion_words"
_VERSION_FILE = "cohesion-search.json"

#: Scores: a word in the title weighs twice a word of the body, a corrected word half a
#: word as typed; a fuzzy or prefix match adds a constant below most exact matches.
TITLE_BOOST = 2.0
CORRECTED_BOOST = 0.5
FUZZY_SCORE = 0.2
PREFIX_SCORE = 0.5
PREFIX_BOOST = 0.5
SEQUENCE_BOOST = 2.0
SEQUENCE_WORDS = 20
#: Corrections of a misspelt word kept, the most frequent first.
TYPO_CANDIDATES = 50
#: Words starting with a prefix whose stems are ranked, the most frequent first.
PREFIX_WORDS = 200

#: Similar documents: the most telling words of the first one, each found in at least
#: MLT_MIN_DOCS documents and at most MLT_MAX_SHARE of them, MLT_TERMS at most.
MLT_TERMS = 25
MLT_MIN_DOCS = 2
MLT_MAX_SHARE = 0.25
MLT_EXPLAIN = 5

#: Proximity order: the hits are looked for within growing distances of the point, so
#: that the nearest page is found without reading every hit's position.
RINGS_KM = (5, 20, 80, 320, 1280)
#: Enough for every value of a facet (taxonomies, sources, départements, tags).
FACET_BUCKETS = 10_000


def french_analyzer() -> tantivy.TextAnalyzer:
    """The analyzer of documents and queries (see the module docstring).

    Examples
    --------
    >>> french_analyzer().analyze("L'épicerie solidaire et les jardins partagés")
    ['epicer', 'solidair', 'jardin', 'partag']
    """
    return (TextAnalyzerBuilder(Tokenizer.simple())
            .filter(Filter.remove_long(40))
            .filter(Filter.lowercase())
            .filter(Filter.stopword("french"))
            .filter(Filter.ascii_fold())
            .filter(Filter.stemmer("french"))
            .build())


def words_analyzer() -> tantivy.TextAnalyzer:
    """:func:`french_analyzer` without the stemmer: its tokens are those of the former.

    Examples
    --------
    >>> words_analyzer().analyze("L'épicerie solidaire et les jardins partagés")
    ['epicerie', 'solidaire', 'jardins', 'partages']
    """
    return (TextAnalyzerBuilder(Tokenizer.simple())
            .filter(Filter.remove_long(40))
            .filter(Filter.lowercase())
            .filter(Filter.stopword("french"))
            .filter(Filter.ascii_fold())
            .build())


def _query_folder() -> tantivy.TextAnalyzer:
    """Lower case and accents folded, stop words kept: a prefix « sa* » is a prefix."""
    return (TextAnalyzerBuilder(Tokenizer.simple()).filter(Filter.remove_long(40))
            .filter(Filter.lowercase()).filter(Filter.ascii_fold()).build())


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("title", tokenizer_name=ANALYZER, index_option="position")
    builder.add_text_field("body", tokenizer_name=ANALYZER, index_option="position")
    builder.add_text_field("words", tokenizer_name=WORDS_ANALYZER, index_option="basic")
    for name in FACETS:
        builder.add_text_field(name, tokenizer_name="raw", fast=True, index_option="basic")
    builder.add_text_field("territories", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("commune", tokenizer_name="raw", index_option="basic")
    builder.add_float_field("lat", indexed=True, fast=True)
    builder.add_float_field("lon", indexed=True, fast=True)
    builder.add_integer_field("updated", indexed=True, fast=True)
    builder.add_bytes_field("source", stored=True)
    return builder.build()


@dataclass
class _Matcher:
    """Which tokens a query matched, to highlight them in snippets.

    Stems are compared with the words and phrases as analyzed, folded words with the
    prefixes and the misspelt words.
    """

    exact: set[str] = field(default_factory=set)
    fuzzy: list[tuple[str, int]] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)

    def __call__(self, stem: str, folded: str) -> bool:
        return (stem in self.exact
                or any(folded.startswith(prefix) for prefix in self.prefixes)
                or any(OSA.distance(folded, wanted, score_cutoff=d) <= d
                       for wanted, d in self.fuzzy))


def _const(query: Query) -> Query:
    """``query`` as a filter: it selects documents and adds nothing to their score."""
    return Query.const_score_query(query, 0.0)


class TantivyIndex(SearchIndex):
    """A search index in a folder (created when absent).

    Parameters
    ----------
    path : Path
        The folder of the index.
    threads : int
        Indexing threads of a write (the machine's cores are shared with the server).
    heap_mb : int
        Memory of the writer, in MiB, shared by its threads (15 MiB each at least).

    Raises
    ------
    ConflictError
        The folder holds something else, or an index of another schema version.
    """

    def __init__(self, path: Path, threads: int = 2, heap_mb: int = 128) -> None:
        self.path = Path(path)
        self.threads = threads
        self.heap_mb = max(heap_mb, 16 * threads)
        self.path.mkdir(parents=True, exist_ok=True)
        version_file = self.path / _VERSION_FILE
        if version_file.exists():
            found = json.loads(version_file.read_text(encoding="utf-8")).get("schema_version")
            if found != SCHEMA_VERSION:
                raise ConflictError(
                    f"l'index de recherche {self.path} est de la version {found} du schéma, "
                    f"attendu {SCHEMA_VERSION} : le reconstruire (rebuild)")
        elif any(self.path.iterdir()):
            raise ConflictError(f"{self.path} n'est pas un index de recherche de Cohésion "
                                "(dossier non vide) : choisir un dossier vide ou absent")
        self._schema = _schema()
        self._index = tantivy.Index(self._schema, str(self.path), reuse=True)
        if not version_file.exists():
            version_file.write_text(json.dumps({"schema_version": SCHEMA_VERSION}),
                                    encoding="utf-8")
        self._analyzer = french_analyzer()
        self._words = words_analyzer()
        self._folder = _query_folder()
        self._index.register_tokenizer(ANALYZER, self._analyzer)
        self._index.register_tokenizer(WORDS_ANALYZER, self._words)
        self._common = frozenset(self._analyzer.analyze(COMMON_WORDS))
        self._write_lock = threading.Lock()

    # -- writing ---------------------------------------------------------------------

    @contextmanager
    def _writer(self) -> Iterator[tantivy.IndexWriter]:
        """A writer, committed if the block succeeds, rolled back otherwise, released."""
        with self._write_lock:
            try:
                writer = self._index.writer(self.heap_mb * 2**20, self.threads)
            except ValueError as error:
                if "LockBusy" in str(error):
                    raise BusyError(f"l'index de recherche {self.path} est en cours "
                                    "d'écriture par un autre processus : réessayer quand "
                                    "il aura fini") from None
                raise
            try:
                yield writer
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()  # also releases the folder's lock
            self._index.reload()

    def _document(self, doc: IndexedDocument) -> tantivy.Document:
        text = [doc.title, doc.body]  # the title is searched as the rest, and boosted
        fields: dict[str, Any] = {"id": doc.id, "title": doc.title, "body": text, "words": text,
                                  "updated": doc.updated, "source": doc.source.encode()}
        fields.update({name: list(values) for name, values in doc.facets.items() if values})
        if doc.territories:
            fields["territories"] = list(doc.territories)
        if doc.commune:
            fields["commune"] = doc.commune
        if doc.lat is not None:
            fields["lat"], fields["lon"] = doc.lat, doc.lon
        return tantivy.Document(**fields)

    def upsert(self, documents: Iterable[Mapping[str, Any]]) -> int:
        written = 0
        with self._writer() as writer:
            for document in documents:
                doc = prepare_document(document)
                writer.delete_documents_by_term("id", doc.id)
                writer.add_document(self._document(doc))
                written += 1
        return written

    def delete(self, ids: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(i for i in ids if isinstance(i, str)))
        searcher = self._index.searcher()
        # a search, not doc_freq: the latter counts deleted documents until a merge
        present = [i for i in wanted if self._count(searcher, self._term("id", i))]
        if present:
            with self._writer() as writer:
                for doc_id in present:
                    writer.delete_documents_by_term("id", doc_id)
        return len(present)

    def rebuild(self, documents: Iterable[Mapping[str, Any]]) -> int:
        written = 0
        with self._writer() as writer:
            writer.delete_all_documents()
            for document in documents:
                writer.add_document(self._document(prepare_document(document)))
                written += 1
        return written

    # -- reading ---------------------------------------------------------------------

    def __len__(self) -> int:
        return self._index.searcher().num_docs

    def close(self) -> None:
        """Nothing to release: readers and writers are opened per call."""

    def _stored(self, searcher: tantivy.Searcher, address: tantivy.DocAddress) -> dict:
        return json.loads(searcher.doc(address).get_first("source"))

    def get(self, doc_id: str) -> dict[str, Any] | None:
        searcher = self._index.searcher()
        found = searcher.search(Query.term_query(self._schema, "id", doc_id), 1).hits
        return self._stored(searcher, found[0][1]) if found else None

    def _term(self, name: str, value: str) -> Query:
        return Query.term_query(self._schema, name, value)

    def _text_clauses(self, searcher: tantivy.Searcher,
                      parsed: ParsedText) -> tuple[list[tuple[Occur, Query]], _Matcher]:
        """The clauses of the words and phrases of the text, and what they highlight."""
        clauses: list[tuple[Occur, Query]] = []
        matcher = _Matcher()
        for word in parsed.words:
            stems = self._analyzer.analyze(word.text)
            stem = stems[0] if stems else None
            if word.excluded:
                if stem:
                    clauses.append((Occur.MustNot, self._term("body", stem)))
                continue
            folded = next(iter(self._folder.analyze(word.text)), None)
            distance = typo_distance(word.text)
            misspelt = bool(stem and folded and distance and not word.prefix
                            and searcher.doc_freq("words", folded) < KNOWN_WORD_DOCS)
            options = []
            ranked = {stem: 1.0} if stem and not misspelt else {}
            if word.prefix and folded:
                ranked.update((s, PREFIX_BOOST) for s in self._expansions(searcher, folded)
                              if s not in ranked)
                options.append(Query.const_score_query(Query.regex_query(
                    self._schema, "words", re.escape(folded) + ".*"), PREFIX_SCORE))
                matcher.prefixes.append(folded)
            if misspelt:
                ranked.update((s, CORRECTED_BOOST)
                              for s in self._corrections(searcher, folded, distance))
                options.append(Query.const_score_query(Query.fuzzy_term_query(
                    self._schema, "words", folded, distance, True), FUZZY_SCORE))
                matcher.fuzzy.append((folded, distance))
            for ranked_stem, weight in ranked.items():
                options += [Query.boost_query(self._term("title", ranked_stem),
                                              TITLE_BOOST * weight),
                            Query.boost_query(self._term("body", ranked_stem), weight)]
            matcher.exact.update(ranked)
            if options:
                clauses.append((Occur.Must, Query.boolean_query(
                    [(Occur.Should, option) for option in options])))
        sequence = self._sequence(searcher, parsed)
        if sequence is not None:
            clauses.append((Occur.Should, Query.boost_query(sequence, SEQUENCE_BOOST)))
        for phrase in parsed.phrases:
            tokens = self._analyzer.pre_tokenize(phrase.text).tokens
            if not tokens:
                continue
            if len(tokens) == 1:
                options = [Query.boost_query(self._term("title", tokens[0].text), TITLE_BOOST),
                           self._term("body", tokens[0].text)]
            else:
                words = [(t.position - tokens[0].position, t.text) for t in tokens]
                options = [Query.boost_query(Query.phrase_query(self._schema, "title", words),
                                             TITLE_BOOST),
                           Query.phrase_query(self._schema, "body", words)]
            query = Query.boolean_query([(Occur.Should, option) for option in options])
            clauses.append((Occur.MustNot if phrase.excluded else Occur.Must, query))
            if not phrase.excluded:
                matcher.exact.update(t.text for t in tokens)
        return clauses, matcher

    def _sequence(self, searcher: tantivy.Searcher, parsed: ParsedText) -> Query | None:
        """The words in the order typed, then a completion of the last; None if no prefix."""
        words = parsed.words
        if len(words) < 2 or not words[-1].prefix or any(w.excluded for w in words):
            return None
        tokens = self._analyzer.pre_tokenize(" ".join(w.text for w in words[:-1])).tokens
        folded = next(iter(self._folder.analyze(words[-1].text)), None)
        if not tokens or folded is None:
            return None
        # each word is one token, stop words counted in the positions
        before = [(t.position, t.text) for t in tokens]
        completions = [*self._analyzer.analyze(words[-1].text),
                       *self._expansions(searcher, folded)[:SEQUENCE_WORDS]]
        return Query.boolean_query([
            (Occur.Should, Query.phrase_query(self._schema, "body",
                                              [*before, (len(words) - 1, stem)]))
            for stem in dict.fromkeys(completions)])

    def _corrections(self, searcher: tantivy.Searcher, folded: str, distance: int) -> set[str]:
        """Stems of the known words within ``distance`` edits of ``folded``, same initial."""
        vocabulary = searcher.terms_with_prefix("words", folded[0])  # most frequent first
        close = [word for word, documents in vocabulary
                 if documents >= KNOWN_WORD_DOCS and abs(len(word) - len(folded)) <= distance
                 and OSA.distance(word, folded, score_cutoff=distance) <= distance]
        return {stem for word in close[:TYPO_CANDIDATES] for stem in self._analyzer.analyze(word)}

    def _expansions(self, searcher: tantivy.Searcher, prefix: str) -> list[str]:
        """Stems of the most frequent words starting with ``prefix``, most frequent first."""
        return list(dict.fromkeys(
            stem for word, _ in searcher.terms_with_prefix("words", prefix, limit=PREFIX_WORDS)
            for stem in self._analyzer.analyze(word)))

    def _bounds(self, west: float, south: float, east: float, north: float) -> Query:
        float_type = tantivy.FieldType.Float
        return Query.boolean_query([
            (Occur.Must, Query.range_query(self._schema, "lat", float_type, south, north)),
            (Occur.Must, Query.range_query(self._schema, "lon", float_type, west, east))])

    def _query(self, searcher: tantivy.Searcher,
               query: SearchQuery) -> tuple[Query, _Matcher]:
        """The tantivy query of ``query``: its text, facet filters, territories, bounds."""
        clauses, matcher = self._text_clauses(searcher, query.parsed())
        for name, values in query.filters.items():
            clauses.append((Occur.Must, _const(
                Query.term_set_query(self._schema, name, list(values)))))
        if query.territories:
            clauses.append((Occur.Must, _const(
                Query.term_set_query(self._schema, "territories", list(query.territories)))))
        if query.bbox is not None:
            clauses.append((Occur.Must, _const(self._bounds(*query.bbox))))
        if not any(occur == Occur.Must for occur, _ in clauses):
            clauses.append((Occur.Must, _const(Query.all_query())))
        return Query.boolean_query(clauses), matcher

    def _count(self, searcher: tantivy.Searcher, query: Query) -> int:
        return searcher.search(query, 1, count=True).count

    def _nearest(self, searcher: tantivy.Searcher, query: Query, point: tuple[float, float],
                 offset: int, limit: int) -> tuple[list[tuple[float, Any]], int]:
        """A page of hits in proximity order, and the total: rings of growing radius."""
        lon, lat = point
        has_point = _const(Query.range_query(self._schema, "lat", tantivy.FieldType.Float,
                                             -90.0, 90.0))
        located = Query.boolean_query([(Occur.Must, query), (Occur.Must, has_point)])
        total, with_point = self._count(searcher, query), self._count(searcher, located)
        wanted = min(offset + limit, with_point)
        page: list[tuple[float, Any]] = []
        for radius in (*RINGS_KM, None) if offset < with_point else ():
            ring = located
            if radius is not None:
                dlat = radius / 111.0
                dlon = min(180.0, radius / (111.0 * max(math.cos(math.radians(lat)), 0.01)))
                ring = Query.boolean_query([(Occur.Must, located), (Occur.Must, _const(
                    self._bounds(max(lon - dlon, -180), max(lat - dlat, -90),
                                 min(lon + dlon, 180), min(lat + dlat, 90))))])
                if self._count(searcher, ring) < wanted:
                    continue
            hits = searcher.search(ring, max(self._count(searcher, ring), 1)).hits
            addresses = [address for _, address in hits]
            lats = searcher.fast_field_values("lat", addresses)
            lons = searcher.fast_field_values("lon", addresses)
            near = sorted(
                (haversine_km(lon, lat, x, y), address.segment_ord, address.doc, score, address)
                for (score, address), x, y in zip(hits, lons, lats, strict=True))
            if radius is not None:
                near = [item for item in near if item[0] <= radius]
                if len(near) < wanted:
                    continue
            page = [(item[3], item[4]) for item in near[offset:offset + limit]]
            break
        if offset + limit > with_point:
            unlocated = Query.boolean_query([(Occur.Must, query), (Occur.MustNot, has_point)])
            skip = max(0, offset - with_point)
            page += searcher.search(unlocated, offset + limit - max(offset, with_point),
                                    offset=skip).hits
        return page, total

    def _facets(self, searcher: tantivy.Searcher, query: Query,
                wanted: SearchQuery) -> dict[str, list[tuple[str, int]]]:
        if not wanted.facets:
            return {}
        aggregations = {name: {"terms": {"field": name, "size": FACET_BUCKETS,
                                         "segment_size": FACET_BUCKETS}}
                        for name in wanted.facets}
        counted = searcher.aggregate(query, aggregations)
        return {name: sort_facet(((bucket["key"], bucket["doc_count"])
                                  for bucket in counted[name]["buckets"]), wanted.facet_limit)
                for name in wanted.facets}

    def _snippet(self, document: dict, matcher: _Matcher) -> str:
        text = (document.get("description") or document.get("summary") or "").strip()
        spans = [(stem.char_offset_from, stem.char_offset_to) for stem, folded in zip(
            self._analyzer.pre_tokenize(text).tokens, self._words.pre_tokenize(text).tokens,
            strict=True) if matcher(stem.text, folded.text)]
        return snippet_html(text, spans)

    def points(self, query: SearchQuery, limit: int) -> tuple[int, list[Point]]:
        searcher = self._index.searcher()
        tantivy_query, _ = self._query(searcher, query)
        has_point = _const(Query.range_query(self._schema, "lat", tantivy.FieldType.Float,
                                             -90.0, 90.0))
        located = Query.boolean_query([(Occur.Must, tantivy_query), (Occur.Must, has_point)])
        total = self._count(searcher, tantivy_query)
        found = []
        for _, address in searcher.search(located, max(limit, 1)).hits:
            document = self._stored(searcher, address)
            found.append(Point(document["id"], document.get("title") or "", document["lon"],
                               document["lat"], place_of(document)))
        return total, found

    def search(self, query: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        searcher = self._index.searcher()
        tantivy_query, matcher = self._query(searcher, query)
        order = query.order
        if order == "proximity":
            found, total = self._nearest(searcher, tantivy_query, query.point, query.offset,
                                         query.per_page)
        else:
            result = searcher.search(tantivy_query, query.per_page, count=True,
                                     offset=query.offset,
                                     order_by_field="updated" if order == "date" else None,
                                     order=Order.Desc)
            found, total = result.hits, result.count
        hits = []
        for score, address in found:
            document = self._stored(searcher, address)
            distance = None
            if query.point is not None and document.get("lat") is not None:
                distance = haversine_km(*query.point, document["lon"], document["lat"])
            hits.append(Hit(id=document["id"], title=document.get("title") or "",
                            score=float(score), snippet=self._snippet(document, matcher),
                            document=document, distance_km=distance))
        facets = self._facets(searcher, tantivy_query, query)
        return SearchResult(total=total, hits=hits, facets=facets,
                            took_ms=(time.perf_counter() - started) * 1000)

    def _weights(self, searcher: tantivy.Searcher,
                 text: str) -> tuple[dict[str, float], dict[str, str]]:
        """The most telling stems of ``text`` (tf-idf) and the word each was read from."""
        tokens = self._analyzer.pre_tokenize(text).tokens
        frequency = Counter(t.text for t in tokens)
        written: dict[str, str] = {}
        for token in tokens:
            written.setdefault(token.text,
                               text[token.char_offset_from:token.char_offset_to].lower())
        documents = searcher.num_docs
        weights = {}
        for stem, count in frequency.items():
            seen_in = searcher.doc_freq("body", stem)
            if (len(stem) >= 3 and stem not in self._common
                    and MLT_MIN_DOCS <= seen_in <= MLT_MAX_SHARE * documents):
                weights[stem] = count * math.log(documents / seen_in)
        best = sorted(weights, key=lambda stem: (-weights[stem], stem))[:MLT_TERMS]
        return {stem: weights[stem] for stem in best}, written

    def similar(self, doc_id: str, k: int = 10, elsewhere: bool = True) -> list[SimilarHit]:
        check_similar_k(k)
        document = self.get(doc_id)
        if document is None:
            raise NotFoundError(f"aucune innovation d'identifiant « {doc_id} » dans l'index")
        prepared = prepare_document(document)
        searcher = self._index.searcher()
        weights, written = self._weights(searcher, f"{prepared.title}\n{prepared.body}")
        if not weights:
            return []
        clauses = [(Occur.Should, Query.const_score_query(self._term("body", stem), weight))
                   for stem, weight in weights.items()]
        clauses.append((Occur.MustNot, self._term("id", prepared.id)))
        if elsewhere and prepared.commune:
            clauses.append((Occur.MustNot, self._term("commune", prepared.commune)))
        similar = []
        for score, address in searcher.search(Query.boolean_query(clauses), k).hits:
            other = self._stored(searcher, address)
            other_prepared = prepare_document(other)
            stems = set(self._analyzer.analyze(f"{other_prepared.title}\n{other_prepared.body}"))
            shared = [stem for stem in weights if stem in stems][:MLT_EXPLAIN]
            similar.append(SimilarHit(id=other["id"], title=other.get("title") or "",
                                      score=float(score), terms=[written[s] for s in shared],
                                      document=other))
        return similar
