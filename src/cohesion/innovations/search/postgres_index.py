"""The server mode of the search index: a table of a PostgreSQL database.

French analysis
---------------
A text search configuration ``fr_unaccent``, a copy of PostgreSQL's ``french`` whose
words go through ``unaccent`` before the Snowball French stemmer, turns the title
(weight A) and the rest of the text (weight B) into a generated ``tsvector`` column,
indexed by GIN. A second configuration, ``fr_words`` (``simple`` after ``unaccent``),
lists the words as written, folded. Two vocabulary tables, kept up to date by every
write, count the documents holding each lexeme (``{table}_lexemes``, for similarity)
and each folded word with its lexeme (``{table}_words``, with a ``pg_trgm`` index).

Typo tolerance: a query word the index does not know
(:data:`~cohesion.innovations.search.KNOWN_WORD_DOCS`) also matches the lexemes of the
known words trigram-similar to it that are within the edit distance
:func:`~cohesion.innovations.search.typo_distance` allows. A prefix ``mot*`` matches the
lexemes starting with it (``mot:*``) and the shorter lexemes of words starting with it
(« partage* » → ``partag``, the most frequent :data:`PREFIX_WORDS`): a lexeme is the
start of its word, or starts with the prefix. Phrases are ``phraseto_tsquery``. Same
rules as the embedded index.

Facets and territories are one ``text[]`` column of ``facet=value`` keys (one GIN index
answers every filter, one ``unnest`` counts every facet); the point has a GiST index for
map bounds.

The setup (extensions, configuration, tables) is idempotent and runs at opening; it needs
the right to create the ``unaccent`` and ``pg_trgm`` extensions (a superuser, or an
administrator who created them beforehand) — Debian's ``postgresql`` package ships them.

One :class:`PostgresIndex` holds one connection and serialises its calls: a web server
with several workers opens one per worker.
"""

from __future__ import annotations

import html
import math
import re
import threading
import time
import zlib
from collections.abc import Iterable, Mapping
from itertools import count
from typing import Any

from rapidfuzz.distance import OSA

from cohesion.errors import CohesionError, ConflictError, NotFoundError, UnavailableError
from cohesion.innovations.search import (
    COMMON_WORDS,
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
    sort_facet,
    typo_distance,
)

#: Written as the table's comment; a table of another version must be rebuilt.
SCHEMA_VERSION = "cohesion-search 1"
CONFIGURATION = "fr_unaccent"
WORDS_CONFIGURATION = "fr_words"

#: Lexemes trigram-similar to a misspelt stem, looked at before the edit distance
#: decides; and the similarity below which a lexeme is not even looked at.
TYPO_CANDIDATES = 50
TRIGRAM_THRESHOLD = 0.2
#: Words starting with a prefix whose lexeme is shorter than it, taken by a prefix query,
#: the most frequent first (lexemes starting with it are matched besides, without limit).
PREFIX_WORDS = 200

#: Similar documents: as in the embedded index.
MLT_TERMS = 25
MLT_MIN_DOCS = 2
MLT_MAX_SHARE = 0.25
MLT_EXPLAIN = 5

_TABLE = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
_HEADLINE = ("StartSel=\x02, StopSel=\x03, MaxWords=35, MinWords=15, MaxFragments=2, "
             'FragmentDelimiter=" … "')
#: Distinguishes the write locks of two tables of a database (pg_advisory_xact_lock).
_LOCK_NAMESPACE = 7_315_004


def _conninfo(url: str) -> str:
    """A libpq address from a SQLAlchemy one (``postgresql+psycopg://`` → ``postgresql://``)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def _lexeme(text: str) -> str:
    """``text`` quoted as one lexeme of a ``tsquery``."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _any(options: Iterable[str]) -> str:
    return "(" + " | ".join(options) + ")"


class PostgresIndex(SearchIndex):
    """A search index in table ``table`` of a PostgreSQL database (created when absent).

    Parameters
    ----------
    url : str
        ``postgresql://user@host:port/database``, or its SQLAlchemy form
        ``postgresql+psycopg://…``.
    table : str
        Name of the table (lower case letters, digits, ``_``); ``{table}_lexemes`` and
        ``{table}_words`` hold its vocabulary.

    Raises
    ------
    UnavailableError
        The server does not answer, or lacks the ``unaccent`` or ``pg_trgm`` extension.
    ConflictError
        The table exists and is of another version: rebuild it.
    """

    def __init__(self, url: str, table: str = "innovations_search") -> None:
        import psycopg

        if not _TABLE.match(table):
            raise CohesionError(f"nom de table « {table} » invalide : lettres minuscules, "
                                "chiffres et _ seulement")
        self.table = table
        try:
            self._connection = psycopg.connect(_conninfo(url), autocommit=True)
        except psycopg.OperationalError as error:
            raise UnavailableError(f"le serveur PostgreSQL de l'index de recherche ne répond "
                                   f"pas : {error}") from None
        self._lock = threading.Lock()
        self._lock_key = zlib.crc32(table.encode()) & 0x7FFFFFFF
        self._setup()
        self._common = frozenset(self._lexemes(COMMON_WORDS))

    def _sql(self, statement: str, params: Iterable[Any] = ()) -> list[tuple]:
        cursor = self._connection.execute(statement, list(params))
        return cursor.fetchall() if cursor.description else []

    def _setup(self) -> None:
        import psycopg

        t = self.table
        try:
            with self._lock, self._connection.transaction():
                self._sql("SELECT pg_advisory_xact_lock(%s, 0)", [_LOCK_NAMESPACE])
                self._sql("CREATE EXTENSION IF NOT EXISTS unaccent")
                self._sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                if not self._sql("SELECT 1 FROM pg_ts_config WHERE cfgname = %s",
                                 [CONFIGURATION]):
                    self._sql(f"CREATE TEXT SEARCH CONFIGURATION {CONFIGURATION} "
                              "(COPY = french)")
                    self._sql(f"ALTER TEXT SEARCH CONFIGURATION {CONFIGURATION} ALTER "
                              "MAPPING FOR hword, hword_part, word WITH unaccent, french_stem")
                if not self._sql("SELECT 1 FROM pg_ts_config WHERE cfgname = %s",
                                 [WORDS_CONFIGURATION]):
                    self._sql(f"CREATE TEXT SEARCH CONFIGURATION {WORDS_CONFIGURATION} "
                              "(COPY = simple)")
                    self._sql(f"ALTER TEXT SEARCH CONFIGURATION {WORDS_CONFIGURATION} ALTER "
                              "MAPPING FOR hword_part, word WITH unaccent, simple")
                    # compounds are listed by their parts, as the embedded index splits them
                    self._sql(f"ALTER TEXT SEARCH CONFIGURATION {WORDS_CONFIGURATION} DROP "
                              "MAPPING FOR hword, asciihword, numhword")
                present, comment = self._sql(
                    "SELECT to_regclass(%s) IS NOT NULL, "
                    "obj_description(to_regclass(%s), 'pg_class')", [t, t])[0]
                if present and comment != SCHEMA_VERSION:
                    raise ConflictError(f"la table {t} n'est pas un index de recherche de "
                                        f"cette version ({comment or 'sans version'}) : la "
                                        "supprimer ou choisir une autre table")
                self._sql(f"""
                    CREATE TABLE IF NOT EXISTS {t} (
                        id text PRIMARY KEY,
                        document jsonb NOT NULL,
                        title text NOT NULL,
                        body text NOT NULL,
                        tsv tsvector GENERATED ALWAYS AS (
                            setweight(to_tsvector('{CONFIGURATION}'::regconfig, title), 'A')
                            || setweight(to_tsvector('{CONFIGURATION}'::regconfig, body), 'B')
                        ) STORED,
                        words tsvector GENERATED ALWAYS AS (to_tsvector(
                            '{WORDS_CONFIGURATION}'::regconfig, title || ' ' || body)) STORED,
                        keys text[] NOT NULL,
                        commune text,
                        lat double precision,
                        lon double precision,
                        updated integer NOT NULL)""")
                self._sql(f"COMMENT ON TABLE {t} IS '{SCHEMA_VERSION}'")
                self._sql(f"CREATE INDEX IF NOT EXISTS {t}_tsv ON {t} USING gin (tsv)")
                self._sql(f"CREATE INDEX IF NOT EXISTS {t}_keys ON {t} USING gin (keys)")
                self._sql(f"CREATE INDEX IF NOT EXISTS {t}_point ON {t} "
                          "USING gist (point(lon, lat))")
                self._sql(f"CREATE INDEX IF NOT EXISTS {t}_updated ON {t} (updated DESC, id)")
                self._sql(f"CREATE TABLE IF NOT EXISTS {t}_lexemes ("
                          "lexeme text PRIMARY KEY, ndoc integer NOT NULL)")
                self._sql(f"CREATE TABLE IF NOT EXISTS {t}_words ("
                          "word text PRIMARY KEY, lexeme text, ndoc integer NOT NULL)")
                self._sql(f"CREATE INDEX IF NOT EXISTS {t}_words_trgm ON {t}_words "
                          "USING gin (word gin_trgm_ops)")
                self._sql(f"CREATE INDEX IF NOT EXISTS {t}_words_prefix ON {t}_words "
                          "(word text_pattern_ops)")
            self._sql("SELECT set_config('pg_trgm.similarity_threshold', %s, false)",
                      [str(TRIGRAM_THRESHOLD)])
        except (psycopg.errors.FeatureNotSupported, psycopg.errors.UndefinedFile,
                psycopg.errors.InsufficientPrivilege) as error:
            raise UnavailableError(
                f"PostgreSQL : les extensions unaccent et pg_trgm sont requises ({error}) ; "
                "les installer (Debian : paquet postgresql) et les créer en "
                "super-utilisateur : CREATE EXTENSION unaccent; CREATE EXTENSION pg_trgm;"
            ) from None

    def _lexemes(self, text: str) -> list[str]:
        return [row[0] for row in self._sql(
            f"SELECT unnest(tsvector_to_array(to_tsvector('{CONFIGURATION}', %s)))", [text])]

    # -- writing ---------------------------------------------------------------------

    def _stage(self, documents: Iterable[Mapping[str, Any]]) -> int:
        """Copy the documents, checked, into a temporary table of this transaction."""
        self._sql("CREATE TEMP TABLE search_stage (seq integer, id text, document text, "
                  "title text, body text, keys text[], commune text, lat double precision, "
                  "lon double precision, updated integer) ON COMMIT DROP")
        written = 0
        with self._connection.cursor() as cursor, cursor.copy(
                "COPY search_stage FROM STDIN") as copy:
            copy.set_types(["int4", "text", "text", "text", "text", "text[]", "text",
                            "float8", "float8", "int4"])
            for seq, document in zip(count(), documents):
                doc = prepare_document(document)
                copy.write_row((seq, doc.id, doc.source, doc.title, doc.body, _keys(doc),
                                doc.commune, doc.lat, doc.lon, doc.updated))
                written += 1
        return written

    def _count_words(self, sign: str) -> None:
        """Add (``+``) or take away (``-``) the lexemes and words of the staged ids' rows."""
        t = self.table
        self._sql(f"""
            INSERT INTO {t}_lexemes (lexeme, ndoc)
            SELECT lexeme, {sign}count(*) FROM {t} d,
                   unnest(tsvector_to_array(d.tsv)) AS lexeme
            WHERE d.id IN (SELECT id FROM search_stage) GROUP BY lexeme
            ON CONFLICT (lexeme) DO UPDATE SET ndoc = {t}_lexemes.ndoc + excluded.ndoc""")
        self._sql(f"""
            INSERT INTO {t}_words (word, lexeme, ndoc)
            SELECT word, {_lexeme_of("word")}, {sign}count(*) FROM {t} d,
                   unnest(tsvector_to_array(d.words)) AS word
            WHERE d.id IN (SELECT id FROM search_stage) GROUP BY word
            ON CONFLICT (word) DO UPDATE SET ndoc = {t}_words.ndoc + excluded.ndoc""")
        if sign == "-":
            self._sql(f"DELETE FROM {t}_lexemes WHERE ndoc <= 0")
            self._sql(f"DELETE FROM {t}_words WHERE ndoc <= 0")

    def _insert_staged(self) -> None:
        self._sql(f"""
            INSERT INTO {self.table} (id, document, title, body, keys, commune, lat, lon,
                                      updated)
            SELECT DISTINCT ON (id) id, document::jsonb, title, body, keys, commune, lat,
                   lon, updated
            FROM search_stage ORDER BY id, seq DESC
            ON CONFLICT (id) DO UPDATE SET document = excluded.document,
                title = excluded.title, body = excluded.body, keys = excluded.keys,
                commune = excluded.commune, lat = excluded.lat, lon = excluded.lon,
                updated = excluded.updated""")

    def _write_lock(self) -> None:
        self._sql("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, self._lock_key])

    def upsert(self, documents: Iterable[Mapping[str, Any]]) -> int:
        with self._lock, self._connection.transaction():
            self._write_lock()
            written = self._stage(documents)
            self._count_words("-")
            self._insert_staged()
            self._count_words("+")
        return written

    def delete(self, ids: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(i for i in ids if isinstance(i, str)))
        t = self.table
        with self._lock, self._connection.transaction():
            self._write_lock()
            self._sql("CREATE TEMP TABLE search_stage ON COMMIT DROP AS "
                      "SELECT unnest(%s::text[]) AS id", [wanted])
            self._count_words("-")
            deleted = self._connection.execute(
                f"DELETE FROM {t} WHERE id IN (SELECT id FROM search_stage)").rowcount
        return deleted

    def rebuild(self, documents: Iterable[Mapping[str, Any]]) -> int:
        t = self.table
        with self._lock:
            with self._connection.transaction():
                self._write_lock()
                self._sql(f"TRUNCATE {t}, {t}_lexemes, {t}_words")
                written = self._stage(documents)
                self._insert_staged()
                self._sql(f"INSERT INTO {t}_lexemes (lexeme, ndoc) "
                          f"SELECT word, ndoc FROM ts_stat('SELECT tsv FROM {t}')")
                self._sql(f"INSERT INTO {t}_words (word, lexeme, ndoc) SELECT word, "
                          f"{_lexeme_of('word')}, ndoc FROM ts_stat('SELECT words FROM {t}')")
            for table in (t, f"{t}_lexemes", f"{t}_words"):
                self._sql(f"ANALYZE {table}")
        return written

    # -- reading ---------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return self._sql(f"SELECT count(*) FROM {self.table}")[0][0]

    def close(self) -> None:
        self._connection.close()

    def get(self, doc_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._sql(f"SELECT document FROM {self.table} WHERE id = %s", [doc_id])
        return found[0][0] if found else None

    def _tsquery(self, parsed: ParsedText) -> tuple[str | None, str | None]:
        """The ``tsquery`` of the text (None: no condition), and its positive part."""
        if parsed.empty:
            return None, None
        t = self.table
        analysed: dict[int, tuple[str, int, list[str]]] = {}
        if parsed.words:
            for i, folded, ndoc, stems in self._sql(f"""
                    SELECT w.i, f.folded, coalesce(k.ndoc, 0),
                           tsvector_to_array(to_tsvector('{CONFIGURATION}', w.word))
                    FROM unnest(%s::text[]) WITH ORDINALITY AS w(word, i)
                    CROSS JOIN LATERAL (SELECT unaccent(lower(w.word)) AS folded) AS f
                    LEFT JOIN {t}_words k ON k.word = f.folded""",
                    [[word.text for word in parsed.words]]):
                analysed[i - 1] = (folded, ndoc, stems)
        misspelt = [i for i, word in enumerate(parsed.words)
                    if not word.prefix and not word.excluded and analysed[i][2]
                    and typo_distance(word.text) and analysed[i][1] < KNOWN_WORD_DOCS]
        prefixes = [i for i, word in enumerate(parsed.words)
                    if word.prefix and not word.excluded]
        extra: dict[int, set[str]] = {i: set() for i in misspelt + prefixes}
        if extra:
            for i, word, lexeme, is_typo in self._sql(f"""
                    SELECT q.i, c.word, c.lexeme, true
                    FROM unnest(%s::int[], %s::text[]) AS q(i, folded)
                    CROSS JOIN LATERAL (
                        SELECT word, lexeme FROM {t}_words
                        WHERE word %% q.folded AND lexeme IS NOT NULL
                        ORDER BY similarity(word, q.folded) DESC, word
                        LIMIT {TYPO_CANDIDATES}) AS c
                    UNION ALL
                    SELECT q.i, c.word, c.lexeme, false
                    FROM unnest(%s::int[], %s::text[]) AS q(i, folded)
                    CROSS JOIN LATERAL (
                        SELECT word, lexeme FROM {t}_words
                        WHERE word LIKE q.folded || '%%' AND lexeme IS NOT NULL
                          AND left(lexeme, length(q.folded)) <> q.folded
                        ORDER BY ndoc DESC, word LIMIT {PREFIX_WORDS}) AS c""",
                    [misspelt, [analysed[i][0] for i in misspelt],
                     prefixes, [analysed[i][0] for i in prefixes]]):
                distance = typo_distance(parsed.words[i].text)
                if not is_typo or OSA.distance(word, analysed[i][0],
                                               score_cutoff=distance) <= distance:
                    extra[i].add(lexeme)
        positive, negative = [], []
        for i, word in enumerate(parsed.words):
            folded, _, stems = analysed[i]
            exact = " & ".join(_lexeme(stem) for stem in stems)
            if word.excluded:
                if exact:
                    negative.append(f"!({exact})")
                continue
            options = [f"({exact})"] if exact else []
            options += [_lexeme(lexeme) for lexeme in sorted(extra.get(i, ()))
                        if lexeme not in stems]
            if word.prefix and folded:
                options.append(_lexeme(folded) + ":*")
            if options:
                positive.append(_any(options))
        if parsed.phrases:
            phrases = self._sql(f"SELECT phraseto_tsquery('{CONFIGURATION}', p)::text "
                                "FROM unnest(%s::text[]) AS p",
                                [[phrase.text for phrase in parsed.phrases]])
            for phrase, (text,) in zip(parsed.phrases, phrases, strict=True):
                if text:
                    (negative if phrase.excluded else positive).append(
                        f"!({text})" if phrase.excluded else f"({text})")
        if not positive and not negative:
            return None, None
        return " & ".join(positive + negative), " & ".join(positive) or None

    def _where(self, query: SearchQuery, tsquery: str | None) -> tuple[str, list[Any]]:
        conditions, params = ["true"], []
        if tsquery:
            conditions.append("tsv @@ %s::tsquery")
            params.append(tsquery)
        for name, values in query.filters.items():
            conditions.append("keys && %s::text[]")
            params.append([f"{name}={value}" for value in values])
        if query.territories:
            conditions.append("keys && %s::text[]")
            params.append([f"territories={territory}" for territory in query.territories])
        if query.bbox is not None:
            conditions.append("point(lon, lat) <@ box(point(%s, %s), point(%s, %s))")
            params += list(query.bbox)
        return " AND ".join(conditions), params

    def points(self, query: SearchQuery, limit: int) -> tuple[int, list[Point]]:
        with self._lock:
            tsquery, _ = self._tsquery(query.parsed())
            where, params = self._where(query, tsquery)
            total = self._sql(f"SELECT count(*) FROM {self.table} WHERE {where}", params)[0][0]
            rows = self._sql(f"""
                SELECT id, document FROM {self.table}
                WHERE {where} AND lat IS NOT NULL ORDER BY updated DESC, id LIMIT %s""",
                [*params, max(limit, 1)])
        return total, [Point(doc_id, document.get("title") or "", document["lon"],
                             document["lat"], place_of(document)) for doc_id, document in rows]

    def search(self, query: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        t = self.table
        with self._lock:
            tsquery, positive = self._tsquery(query.parsed())
            where, params = self._where(query, tsquery)
            # ranked on the positive part: ts_rank gives 0 to anything under a NOT
            score = "ts_rank(tsv, %s::tsquery)" if positive else "0.0"
            score_params = [positive] if positive else []
            distance, distance_params = "NULL::float8", []
            if query.point is not None:
                lon, lat = query.point
                distance = ("2 * 6371.0088 * asin(least(1, sqrt(power(sin(radians(lat - %s) / 2)"
                            ", 2) + cos(radians(%s)) * cos(radians(lat)) * power(sin(radians("
                            "lon - %s) / 2), 2))))")
                distance_params = [lat, lat, lon]
            order = {"relevance": "{p}score DESC, {p}id",
                     "date": "{p}updated DESC, {p}id",
                     "proximity": "{p}distance ASC NULLS LAST, {p}score DESC, {p}id"
                     }[query.order]
            text = "coalesce(nullif(d.document->>'description', ''), d.document->>'summary', '')"
            headline = (f"ts_headline('{CONFIGURATION}', {text}, %s::tsquery, %s)"
                        if positive else f"left({text}, 220)")
            # the page is chosen on narrow rows, counted on the way; its documents and
            # snippets are read afterwards
            rows = self._sql(f"""
                SELECT page.id, d.document, page.score, {headline}, page.total
                FROM (SELECT id, updated, {score} AS score, {distance} AS distance,
                             count(*) OVER () AS total
                      FROM {t} WHERE {where}
                      ORDER BY {order.format(p="")} LIMIT %s OFFSET %s) AS page
                JOIN {t} d ON d.id = page.id
                ORDER BY {order.format(p="page.")}""",
                ([positive, _HEADLINE] if positive else []) + score_params + distance_params
                + params + [query.per_page, query.offset])
            if rows or not query.offset:
                total = rows[0][4] if rows else 0
            else:  # a page past the end
                total = self._sql(f"SELECT count(*) FROM {t} WHERE {where}", params)[0][0]
            facets = self._facets(query, where, params)
        hits = [Hit(id=doc_id, title=document.get("title") or "", score=float(score),
                    snippet=_marked(snippet or ""), document=document,
                    distance_km=None if query.point is None or document.get("lat") is None
                    else haversine_km(*query.point, document["lon"], document["lat"]))
                for doc_id, document, score, snippet, _ in rows]
        return SearchResult(total=total, hits=hits, facets=facets,
                            took_ms=(time.perf_counter() - started) * 1000)

    def _facets(self, query: SearchQuery, where: str,
                params: list[Any]) -> dict[str, list[tuple[str, int]]]:
        if not query.facets:
            return {}
        counts: dict[str, list[tuple[str, int]]] = {name: [] for name in query.facets}
        for key, number in self._sql(
                f"SELECT k, count(*) FROM {self.table}, unnest(keys) AS k "
                f"WHERE {where} AND k LIKE ANY(%s) GROUP BY k",
                [*params, [f"{name}=%" for name in query.facets]]):
            name, value = key.split("=", 1)
            counts[name].append((value, number))
        return {name: sort_facet(values, query.facet_limit) for name, values in counts.items()}

    def similar(self, doc_id: str, k: int = 10, elsewhere: bool = True) -> list[SimilarHit]:
        check_similar_k(k)
        t = self.table
        with self._lock:
            source = self._sql(f"SELECT title || E'\\n' || body, commune FROM {t} "
                               "WHERE id = %s", [doc_id])
            if not source:
                raise NotFoundError(f"aucune innovation d'identifiant « {doc_id} » dans "
                                    "l'index")
            text, commune = source[0]
            documents = self._sql(f"SELECT count(*) FROM {t}")[0][0]
            weights = {lexeme: tf * math.log(documents / ndoc) for lexeme, tf, ndoc in self._sql(
                f"""SELECT l.lexeme, coalesce(array_length(l.positions, 1), 1),
                          coalesce(w.ndoc, 0)
                   FROM {t} d CROSS JOIN LATERAL unnest(d.tsv) AS l
                   LEFT JOIN {t}_lexemes w ON w.lexeme = l.lexeme
                   WHERE d.id = %s""", [doc_id])
                if len(lexeme) >= 3 and lexeme not in self._common
                and MLT_MIN_DOCS <= ndoc <= MLT_MAX_SHARE * documents}
            best = sorted(weights, key=lambda lexeme: (-weights[lexeme], lexeme))[:MLT_TERMS]
            if not best:
                return []
            written: dict[str, str] = {}
            for token, lexeme in self._sql(
                    f"SELECT p.token, l.lexeme FROM ts_parse('default', %s) AS p "
                    f"CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector("
                    f"'{CONFIGURATION}', p.token))) AS l(lexeme) "
                    "WHERE position('-' IN p.token) = 0", [text]):
                written.setdefault(lexeme, token.lower())
            found = self._sql(f"""
                WITH terms(lexeme, weight) AS (
                    SELECT * FROM unnest(%s::text[], %s::float8[]))
                SELECT d.id, d.document, sum(terms.weight) AS score,
                       array_agg(terms.lexeme ORDER BY terms.weight DESC, terms.lexeme)
                FROM {t} d CROSS JOIN LATERAL unnest(tsvector_to_array(d.tsv)) AS l(lexeme)
                JOIN terms ON terms.lexeme = l.lexeme
                WHERE d.tsv @@ %s::tsquery AND d.id <> %s
                  AND (NOT %s OR d.commune IS DISTINCT FROM %s)
                GROUP BY d.id ORDER BY score DESC, d.id LIMIT %s""",
                [best, [weights[lexeme] for lexeme in best],
                 " | ".join(_lexeme(lexeme) for lexeme in best), doc_id,
                 elsewhere and commune is not None, commune, k])
        return [SimilarHit(id=other_id, title=document.get("title") or "", score=float(score),
                           terms=[written.get(lexeme, lexeme)
                                  for lexeme in shared[:MLT_EXPLAIN]],
                           document=document)
                for other_id, document, score, shared in found]


def _lexeme_of(word: str) -> str:
    """SQL: the lexeme of the folded word in column ``word`` (NULL for a stop word)."""
    return (f"(SELECT min(l) FROM unnest(tsvector_to_array(to_tsvector('{CONFIGURATION}', "
            f"{word}))) AS l)")


def _keys(doc: IndexedDocument) -> list[str]:
    """The ``facet=value`` and ``territories=id`` keys of a document."""
    keys = [f"{name}={value}" for name, values in doc.facets.items() for value in values]
    return keys + [f"territories={territory}" for territory in doc.territories]


def _marked(headline: str) -> str:
    """``ts_headline``'s output, HTML-escaped, its sentinels turned into ``<mark>``."""
    escaped = html.escape(headline, quote=False)
    return " ".join(escaped.replace("\x02", "<mark>").replace("\x03", "</mark>").split())
